//! The list index's shard items (`LIST#<shard>` in the account; see `crate::list_index`
//! for what they hold): each is rewritten whole under an optimistic version.

use super::{from_item, key, n, string_attribute, tx, ApiError, Item};
use crate::domain::AccountId;
use crate::model::{self, ListShardItem};

/// The write of shard `number` read at `read_version` (0: it did not exist) as `next`
/// (`None`: it has no rows left), on the condition that nobody wrote it since it was
/// read. A shard left without rows is deleted, so an undone first invitation leaves
/// nothing behind.
pub fn write(
    table: &str,
    account: AccountId,
    number: u8,
    read_version: u64,
    next: Option<Item>,
) -> Result<tx::Write, ApiError> {
    let key = key(model::account_pk(account), model::list_shard_sk(number));
    let unchanged_since_read = vec![(":read", n(read_version))];
    match (read_version, next) {
        (0, None) => tx::check(table, key, "attribute_not_exists(pk)", vec![], vec![]),
        (0, Some(item)) => tx::put(table, item, Some("attribute_not_exists(pk)"), vec![]),
        (_, None) => tx::delete(table, key, Some("version = :read"), unchanged_since_read),
        (_, Some(item)) => tx::put(table, item, Some("version = :read"), unchanged_since_read),
    }
}

/// A shard item's number and stored form.
pub fn decode(item: Item) -> Result<(u8, ListShardItem), ApiError> {
    let corrupt = |what: &str| ApiError::internal(format!("list index shard: {what}"));
    let number = string_attribute(&item, model::SK)
        .ok_or_else(|| corrupt("no sort key"))?
        .strip_prefix(model::LIST_SK_PREFIX)
        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        .ok_or_else(|| corrupt("bad sort key"))?;
    Ok((number, from_item(item)?))
}
