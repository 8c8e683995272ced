//! Brings a table written before the list index to the current layout, account by account:
//! relations move under their user (`REL#<userId>#...`), the list index is built from the
//! user items, and the account is marked indexed (from then on its lists read the index).
//! Idempotent and resumable: run it again after any failure, or on a table already
//! migrated, and it does only what is left. Safe beside live traffic of the current code
//! (deploy first, then migrate): every shard is written on the condition that no user
//! write touched it since it was read, and read again when one did.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::db::{self, key, tx, Db, Item, TxError};
use crate::domain::AccountId;
use crate::error::ApiError;
use crate::list_index::{self, Shard, SHARDS};
use crate::model::{self, MembershipItem, PermissionItem, UserItem};
use crate::views::User;

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub accounts: usize,
    pub relations_moved: usize,
    pub shards_written: usize,
    pub accounts_marked: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accounts={} relations_moved={} shards_written={} accounts_marked={}",
            self.accounts, self.relations_moved, self.shards_written, self.accounts_marked
        )
    }
}

/// Rounds of shard writes that lost to live writes before giving up (run it again).
const SHARD_ROUNDS: usize = 20;

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
        report.shards_written += done.shards_written;
        report.accounts_marked += done.accounts_marked;
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
    report.shards_written = build_index(db, account).await?;
    report.accounts_marked = mark_indexed(db, account).await?;
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

/// Writes every shard whose rows differ from the user items. The shards are read before
/// the users, so a user write that lands after the shard read moves its version and the
/// conditional write of that shard fails: it is read and built again.
async fn build_index(db: &Db, account: AccountId) -> Result<usize, ApiError> {
    let mut written = 0;
    let mut pending: Vec<u8> = (0..SHARDS).collect();
    for _ in 0..SHARD_ROUNDS {
        let mut current: HashMap<u8, Shard> = list_index::read_shards(db, account)
            .await?
            .into_iter()
            .map(|shard| (shard.number, shard))
            .collect();
        let users = user_items(db, account).await?;
        let mut wanted: HashMap<u8, Vec<User>> = list_index::build_shards(account, &users)
            .into_iter()
            .map(|shard| (shard.number, shard.rows))
            .collect();
        let mut lost = Vec::new();
        for number in pending {
            let read = current
                .remove(&number)
                .unwrap_or_else(|| Shard::empty(account, number));
            let rows = wanted.remove(&number).unwrap_or_default();
            if read.rows == rows {
                continue;
            }
            let next = Shard { rows, ..read };
            match db.transact(vec![next.write(db.table())?]).await {
                Ok(()) => written += 1,
                Err(TxError::ConditionFailed(_)) => lost.push(number),
                Err(TxError::Other(err)) => return Err(err),
            }
        }
        if lost.is_empty() {
            return Ok(written);
        }
        pending = lost;
    }
    Err(ApiError::internal(format!(
        "account {account}: shards {pending:?} kept changing; run the migration again"
    )))
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
        "SET listIndex = :true",
        Some("attribute_exists(pk) AND (attribute_not_exists(listIndex) OR listIndex = :false)"),
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
    let mut indexed: HashMap<_, User> = list_index::read_rows(db, account)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let mut problems = Vec::new();
    for user in user_items(db, account).await? {
        let expected = User::from(&user);
        match indexed.remove(&user.id) {
            Some(row) if row == expected => {}
            Some(row) => problems.push(format!("user {}: index has {row:?}", user.id)),
            None => problems.push(format!("user {}: not in the index", user.id)),
        }
    }
    for id in indexed.keys() {
        problems.push(format!("index row {id}: no such user"));
    }
    Ok(problems)
}
