//! What an identity-provider `sub` (an access token's subject) points at (`IDENTITY#<sub>`).

use super::{s, to_item, tx, ApiError};
use crate::adapters::db::model::{self, IdentityItem, UserItem};

/// Points `sub` at `user`, unless it points at another user.
pub fn point_at(table: &str, sub: &str, user: &UserItem) -> Result<tx::Write, ApiError> {
    tx::put(
        table,
        to_item(&IdentityItem {
            pk: model::identity_pk(sub),
            sk: model::IDENTITY_SK.into(),
            kind: model::KIND_IDENTITY.into(),
            account_id: user.account_id,
            user_id: user.id,
        })?,
        Some("attribute_not_exists(pk) OR userId = :user"),
        vec![(":user", s(user.id.to_string()))],
    )
}
