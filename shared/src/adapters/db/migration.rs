//! Brings a table written by an earlier version to the current layout, account by
//! account: relations move under their user (`REL#<userId>#...`), the list index's leaves
//! are built from the user items, the account is marked (from then on its lists read the
//! leaves), and the shards of the layout before leaves (`LIST#`) are removed. The audit
//! trail's day counters of that layout need nothing: the log sums every counter of a day.
//! Idempotent and resumable: run it again after any failure, or on a table already
//! migrated, and it does only what is left. Safe beside live traffic of the current code
//! (deploy first, then migrate): every leaf is written on the condition that no user
//! write touched it since it was read, and read again when one did.
//!
//! The same repair serves an index that drifted from its users (`repair_account`): rows
//! missing, stray or different are written as the users say, through the leaves' own
//! conditional writes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::adapters::db::list_leaves::{self, Leaf, RowChange};
use crate::adapters::db::model::{self, MembershipItem, PermissionItem, UserItem};
use crate::adapters::db::{self, key, tx, Db, Item, TxError};
use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::domain::{AccountId, UserId};

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub accounts: usize,
    pub relations_moved: usize,
    pub leaves_written: usize,
    pub accounts_marked: usize,
    pub old_shards_removed: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accounts={} relations_moved={} leaves_written={} accounts_marked={} old_shards_removed={}",
            self.accounts,
            self.relations_moved,
            self.leaves_written,
            self.accounts_marked,
            self.old_shards_removed
        )
    }
}

/// Rounds of leaf writes before giving up (run it again): each round reads the users and
/// the leaves and writes up to `ROWS_PER_WRITE` rows into every leaf that needs them, so
/// an index of 100,000 users is built in about five rounds.
const REPAIR_ROUNDS: usize = 40;

/// Rows one transaction applies to one leaf: with the rows already there, their leaf
/// splits into at most a few dozen items, well inside a transaction's 100.
pub(crate) const ROWS_PER_WRITE: usize = 400;

/// Every account of the table. A Scan, which no request path does: this is an operator's
/// one-off tool.
pub async fn accounts(db: &Db) -> Result<Vec<AccountId>, ApiError> {
    let mut found = Vec::new();
    for item in db.scan_kind(model::KIND_ACCOUNT, None).await? {
        if let Some(AttributeValue::S(id)) = item.get("id") {
            found.push(AccountId::parse(id, "id")?);
        }
    }
    Ok(found)
}

/// Migrates every account of the table.
pub async fn migrate_table(db: &Db) -> Result<Report, ApiError> {
    let mut report = Report::default();
    for account in accounts(db).await? {
        let done = migrate_account(db, account).await?;
        report.accounts += 1;
        report.relations_moved += done.relations_moved;
        report.leaves_written += done.leaves_written;
        report.accounts_marked += done.accounts_marked;
        report.old_shards_removed += done.old_shards_removed;
    }
    Ok(report)
}

/// Migrates one account.
pub async fn migrate_account(db: &Db, account: AccountId) -> Result<Report, ApiError> {
    let mut report = Report {
        accounts: 1,
        ..Report::default()
    };
    report.relations_moved = move_relations(db, account).await?;
    report.leaves_written = repair_account(db, account).await?;
    report.accounts_marked = mark_indexed(db, account).await?;
    report.old_shards_removed = remove_old_shards(db, account).await?;
    Ok(report)
}

/// The key a relation has in the current layout, from its own fields.
fn current_sk(item: &Item) -> Result<Option<String>, ApiError> {
    let kind = match item.get("kind") {
        Some(AttributeValue::S(kind)) => kind.as_str(),
        _ => return Ok(None),
    };
    Ok(match kind {
        model::KIND_MEMBERSHIP => {
            let membership: MembershipItem = db::from_item(item.clone())?;
            Some(model::membership_sk(
                membership.user_id,
                &membership.group_id,
            ))
        }
        model::KIND_PROJECT_PERMISSION | model::KIND_DRIVE_PERMISSION => {
            let permission: PermissionItem = db::from_item(item.clone())?;
            match (&permission.project_id, &permission.drive_id) {
                (Some(project), _) if kind == model::KIND_PROJECT_PERMISSION => {
                    Some(model::project_permission_sk(permission.user_id, project))
                }
                (_, Some(drive)) => Some(model::drive_permission_sk(permission.user_id, drive)),
                _ => None,
            }
        }
        _ => None,
    })
}

/// Moves each relation still under its old key: the copy under the new key and the
/// removal of the old one in one transaction (a relation is never missing or doubled).
async fn move_relations(db: &Db, account: AccountId) -> Result<usize, ApiError> {
    let items = db.query_partition(model::account_pk(account), None).await?;
    let mut moved = 0;
    for item in items {
        let Some(new_sk) = current_sk(&item)? else {
            continue;
        };
        let Some(AttributeValue::S(old_sk)) = item.get(model::SK).cloned() else {
            continue;
        };
        if old_sk == new_sk {
            continue;
        }
        let mut copy = item.clone();
        copy.insert(model::SK.to_owned(), db::s(&new_sk));
        let writes = vec![
            tx::put(db.table(), copy, None, vec![])?,
            tx::delete(
                db.table(),
                key(model::account_pk(account), old_sk),
                Some("attribute_exists(pk)"),
                vec![],
            )?,
        ];
        match db.transact(writes).await {
            Ok(()) => moved += 1,
            // Moved by another run meanwhile.
            Err(TxError::ConditionFailed(_)) => {}
            Err(TxError::Other(err)) => return Err(err),
        }
    }
    Ok(moved)
}

/// Makes the account's index equal its user items: every row that is missing, stray or
/// different is written through the leaves' own conditional writes (splitting them as
/// they grow), round after round until nothing differs. Live writes that land meanwhile
/// move a leaf's version: that leaf is read again in the next round. Returns the leaf
/// writes made.
pub async fn repair_account(db: &Db, account: AccountId) -> Result<usize, ApiError> {
    let mut written = 0;
    for _ in 0..REPAIR_ROUNDS {
        // A leaf that does not decode counts as empty: its users' rows are written anew.
        let mut tree = list_leaves::read_tree(db, account).await?;
        let mut leaves = std::mem::take(&mut tree.leaves);
        leaves.extend(tree.unreadable.drain(..).map(|(leaf, _)| leaf));
        let users = user_items(db, account).await?;
        let changes = differences(leaves.iter().flat_map(|leaf| &leaf.rows), &users);
        if changes.is_empty() {
            return Ok(written);
        }
        // Each change goes to the leaf its user's path reaches in the tree read.
        let mut by_leaf: HashMap<String, Vec<RowChange>> = HashMap::new();
        for change in changes {
            by_leaf
                .entry(tree.path_for(change.user()))
                .or_default()
                .push(change);
        }
        let mut current: HashMap<String, Leaf> = leaves
            .into_iter()
            .map(|leaf| (leaf.path.clone(), leaf))
            .collect();
        for (path, changes) in by_leaf {
            let mut leaf = current
                .remove(&path)
                .unwrap_or_else(|| Leaf::empty(account, path));
            for change in changes.iter().take(ROWS_PER_WRITE) {
                leaf.apply(change);
            }
            match db.transact(leaf.writes(db.table())?).await {
                Ok(()) => written += 1,
                // A live write moved the leaf: the next round reads it again.
                Err(TxError::ConditionFailed(_)) => {}
                Err(TxError::Other(err)) => return Err(err),
            }
        }
    }
    Err(ApiError::internal(format!(
        "account {account}: the list index still differs after {REPAIR_ROUNDS} rounds; run the repair again"
    )))
}

/// The changes that make these rows of the index equal these users: a put of every row
/// missing or different, a removal of every row without a user.
pub(crate) fn differences<'a>(
    rows: impl IntoIterator<Item = &'a User>,
    users: &[UserItem],
) -> Vec<RowChange> {
    let mut indexed: HashMap<UserId, &User> = rows.into_iter().map(|row| (row.id, row)).collect();
    let mut changes = Vec::new();
    for user in users {
        let expected = User::from(user);
        if indexed.remove(&user.id) != Some(&expected) {
            changes.push(RowChange::Put(expected));
        }
    }
    changes.extend(indexed.into_keys().map(RowChange::Remove));
    changes
}

/// Removes the shards of the layout before leaves (`LIST#`), once the account is marked:
/// nothing reads them any more.
async fn remove_old_shards(db: &Db, account: AccountId) -> Result<usize, ApiError> {
    let pk = model::account_pk(account);
    let old = db
        .query_partition(pk.clone(), Some(model::LIST_SK_PREFIX))
        .await?;
    let mut removed = 0;
    for batch in old.chunks(25) {
        let deletes = batch
            .iter()
            .filter_map(|item| db::string_attribute(item, model::SK))
            .map(|sk| tx::delete(db.table(), key(&pk, sk), None, vec![]))
            .collect::<Result<Vec<_>, _>>()?;
        removed += deletes.len();
        db.transact(deletes).await?;
    }
    Ok(removed)
}

async fn user_items(db: &Db, account: AccountId) -> Result<Vec<UserItem>, ApiError> {
    db.query_partition(model::account_pk(account), Some(model::USER_SK_PREFIX))
        .await?
        .into_iter()
        .map(db::from_item)
        .collect()
}

/// From now on the account's lists read the index.
async fn mark_indexed(db: &Db, account: AccountId) -> Result<usize, ApiError> {
    let mark = tx::update(
        db.table(),
        key(model::account_pk(account), model::ACCOUNT_SK),
        "SET listLeaves = :true",
        Some("attribute_exists(pk) AND (attribute_not_exists(listLeaves) OR listLeaves = :false)"),
        vec![],
        vec![(":true", db::b(true)), (":false", db::b(false))],
    )?;
    match db.transact(vec![mark]).await {
        Ok(()) => Ok(1),
        // Already marked (or the account is gone).
        Err(TxError::ConditionFailed(_)) => Ok(0),
        Err(TxError::Other(err)) => Err(err),
    }
}

/// The differences between an account's index and its user items (none when they agree):
/// for tests and for an operator who wants to be sure.
pub async fn check_account(db: &Db, account: AccountId) -> Result<Vec<String>, ApiError> {
    let mut tree = list_leaves::read_tree(db, account).await?;
    let mut problems: Vec<String> = tree
        .unreadable
        .iter()
        .map(|(leaf, err)| format!("leaf {:?}: unreadable ({err})", leaf.path))
        .collect();
    let mut indexed: HashMap<_, User> = std::mem::take(&mut tree.leaves)
        .into_iter()
        .flat_map(|leaf| leaf.rows)
        .map(|row| (row.id, row))
        .collect();
    let unreadable_paths: Vec<&str> = tree
        .unreadable
        .iter()
        .map(|(leaf, _)| leaf.path.as_str())
        .collect();
    for user in user_items(db, account).await? {
        let expected = User::from(&user);
        match indexed.remove(&user.id) {
            Some(row) if row == expected => {}
            Some(row) => problems.push(format!("user {}: index has {row:?}", user.id)),
            // A user of an unreadable leaf is reported with the leaf.
            None if unreadable_paths.contains(&tree.path_for(user.id).as_str()) => {}
            None => problems.push(format!("user {}: not in the index", user.id)),
        }
    }
    for id in indexed.keys() {
        problems.push(format!("index row {id}: no such user"));
    }
    Ok(problems)
}
