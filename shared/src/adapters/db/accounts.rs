//! The account item (`ACCOUNT`): its name, package and seat counts (see `seats`).

use super::{key, s, to_item, tx, ApiError};
use crate::adapters::db::model::{self, AccountItem};
use crate::domain::AccountId;

/// Stores a new account; its id must be new.
pub fn create(table: &str, account: &AccountItem) -> Result<tx::Write, ApiError> {
    tx::put(
        table,
        to_item(account)?,
        Some("attribute_not_exists(pk)"),
        vec![],
    )
}

/// Removes an account whose creation is undone (its owner's invitation failed).
pub fn remove(table: &str, account: AccountId) -> Result<tx::Write, ApiError> {
    tx::delete(
        table,
        key(model::account_pk(account), model::ACCOUNT_SK),
        None,
        vec![],
    )
}

/// Renames an existing account that still has the name `replaced` (the one the caller
/// records as "before").
pub fn rename(
    table: &str,
    account: AccountId,
    replaced: &str,
    name: &str,
    now_iso: &str,
) -> Result<tx::Write, ApiError> {
    tx::update(
        table,
        key(model::account_pk(account), model::ACCOUNT_SK),
        "SET #name = :name, updateDate = :now",
        Some("attribute_exists(pk) AND #name = :replaced"),
        vec![("#name", "name")],
        vec![
            (":name", s(name)),
            (":replaced", s(replaced)),
            (":now", s(now_iso)),
        ],
    )
}
