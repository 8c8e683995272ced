//! The claim of a username across all accounts (`USERNAME#<username>`).

use super::{key, s, to_item, tx, ApiError};
use crate::adapters::db::model::{self, UserItem, UsernameItem};

/// Claims the user's username; nobody may hold it yet.
pub fn claim(table: &str, user: &UserItem) -> Result<tx::Write, ApiError> {
    tx::put(
        table,
        to_item(&UsernameItem {
            pk: model::username_pk(&user.username),
            sk: model::USERNAME_SK.into(),
            kind: model::KIND_USERNAME.into(),
            account_id: user.account_id,
            user_id: user.id,
        })?,
        Some("attribute_not_exists(pk)"),
        vec![],
    )
}

/// Gives back the claim of an invitation being undone: it must be this user's.
pub fn release(table: &str, user: &UserItem) -> Result<tx::Write, ApiError> {
    tx::delete(
        table,
        key(model::username_pk(&user.username), model::USERNAME_SK),
        Some("userId = :user"),
        vec![(":user", s(user.id.to_string()))],
    )
}

/// Gives back the claim of a user being deleted, if it is there and still theirs.
pub fn release_if_held(table: &str, user: &UserItem) -> Result<tx::Write, ApiError> {
    tx::delete(
        table,
        key(model::username_pk(&user.username), model::USERNAME_SK),
        Some("attribute_not_exists(pk) OR userId = :user"),
        vec![(":user", s(user.id.to_string()))],
    )
}
