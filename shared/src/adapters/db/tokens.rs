//! Signup tokens, stored only as their SHA-256 (`TOKEN#<hash>`), gone at `expiresAt` (TTL).

use super::{key, to_item, tx, ApiError};
use crate::adapters::db::model::{self, TokenItem, UserItem};

/// Stores a new token of `user`; the hash must be new.
pub fn store(
    table: &str,
    hash: &str,
    user: &UserItem,
    expires_at: i64,
) -> Result<tx::Write, ApiError> {
    tx::put(
        table,
        to_item(&TokenItem {
            pk: model::token_pk(hash),
            sk: model::TOKEN_SK.into(),
            kind: model::KIND_TOKEN.into(),
            account_id: user.account_id,
            user_id: user.id,
            expires_at,
        })?,
        Some("attribute_not_exists(pk)"),
        vec![],
    )
}

/// Removes a token, whether or not it is still there (replaced, undone, its user deleted).
pub fn remove(table: &str, hash: &str) -> Result<tx::Write, ApiError> {
    tx::delete(
        table,
        key(model::token_pk(hash), model::TOKEN_SK),
        None,
        vec![],
    )
}

/// Uses up a token at signup: it must still be there.
pub fn consume(table: &str, hash: &str) -> Result<tx::Write, ApiError> {
    tx::delete(
        table,
        key(model::token_pk(hash), model::TOKEN_SK),
        Some("attribute_exists(pk)"),
        vec![],
    )
}
