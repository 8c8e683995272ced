//! The scheduled check of the list indexes (`functions/check-list-index`): finds rows that
//! drifted from their users and rewrites them, a bounded number of steps per run, with no
//! person involved.
//!
//! The walk goes account by account (a Scan page of account items per step when the
//! accounts of the last page are done, so each item is read once a walk), and through
//! each account leaf by leaf in id order. One step
//! reads the leaf that holds the next unchecked id, then the users of its id range (at
//! most `USERS_PER_STEP`), and compares the two. What differs is rewritten as the users
//! say, by the leaf's own conditional write: the leaf is read before the users, so a user
//! write that lands between the reads moves the leaf's version and the rewrite fails its
//! condition instead of writing a stale row (it is counted as raced; the next cycle sees
//! that leaf again). Only rewrites that committed are counted as drift repaired.
//!
//! Where the walk stands is one item (`model::IndexCheckCursorItem`), saved at the end of
//! each run on the condition that no other run saved it meanwhile.

use std::time::Instant;

use crate::adapters::db::list_leaves::{self, Leaf};
use crate::adapters::db::migration::{differences, ROWS_PER_WRITE};
use crate::adapters::db::model::{self, IndexCheckCursorItem, UserItem};
use crate::adapters::db::{self, tx, Db, TxError};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, UserId};

/// Users one step compares at most: a leaf holds a few dozen; more means a lost subtree,
/// rebuilt this many rows per write, as the migration's repair does.
const USERS_PER_STEP: usize = ROWS_PER_WRITE;

/// Items one Scan page of the account walk reads at most (before its filter).
const ACCOUNTS_SCAN_PAGE: i32 = 1_000;

/// What one run did (also the scheduled function's answer).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub steps: usize,
    pub leaves_checked: usize,
    /// Rows missing, stray or different that a committed rewrite fixed.
    pub rows_repaired: usize,
    /// Leaves whose rows did not decode, rewritten from their users.
    pub unreadable_leaves: usize,
    /// Rewrites that lost to a user write (their leaf is checked again next cycle).
    pub repairs_raced: usize,
    pub accounts_finished: usize,
    /// Walks over every account that ended in this run.
    pub cycles_finished: usize,
}

impl std::fmt::Display for RunReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "steps={} leaves_checked={} rows_repaired={} unreadable_leaves={} repairs_raced={} accounts_finished={} cycles_finished={}",
            self.steps,
            self.leaves_checked,
            self.rows_repaired,
            self.unreadable_leaves,
            self.repairs_raced,
            self.accounts_finished,
            self.cycles_finished
        )
    }
}

/// Runs up to `steps` steps of the walk (fewer if `deadline` comes first, or if the walk
/// ends: one run never starts a new cycle), and saves where it stopped.
pub async fn run(db: &Db, steps: usize, deadline: Option<Instant>) -> Result<RunReport, ApiError> {
    let stored: Option<IndexCheckCursorItem> = db
        .get(model::INDEX_CHECK_PK.to_owned(), model::INDEX_CHECK_SK)
        .await?;
    let read_version = stored.as_ref().map_or(0, |cursor| cursor.version);
    let mut cursor = stored.unwrap_or_else(|| IndexCheckCursorItem {
        pk: model::INDEX_CHECK_PK.into(),
        sk: model::INDEX_CHECK_SK.into(),
        kind: model::KIND_INDEX_CHECK_CURSOR.into(),
        version: 0,
        account: None,
        next_user: None,
        pending_accounts: Vec::new(),
        scan_after_pk: None,
        scan_after_sk: None,
        scan_done: false,
        cycles: 0,
    });
    let mut report = RunReport::default();
    loop {
        if cursor.account.is_none() && !cursor.pending_accounts.is_empty() {
            cursor.account = Some(cursor.pending_accounts.remove(0));
            cursor.next_user = None;
        }
        if cursor.account.is_none() && cursor.scan_done {
            // Every account the Scan found is checked: the walk is over.
            cursor.scan_done = false;
            cursor.cycles += 1;
            report.cycles_finished += 1;
            break;
        }
        if report.steps >= steps || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            break;
        }
        report.steps += 1;
        match cursor.account {
            Some(account) => {
                let from = cursor.next_user.unwrap_or(UserId(uuid::Uuid::nil()));
                let checked = check_step(db, account, from).await?;
                report.leaves_checked += 1;
                report.rows_repaired += checked.rows_repaired;
                report.unreadable_leaves += usize::from(checked.unreadable);
                report.repairs_raced += usize::from(checked.raced);
                cursor.next_user = checked.next;
                if checked.next.is_none() {
                    cursor.account = None;
                    report.accounts_finished += 1;
                }
            }
            None => {
                // One Scan page; every account it holds is kept, so no item of the table
                // is read twice in a walk.
                let start = cursor.scan_after_pk.take().zip(cursor.scan_after_sk.take());
                let (accounts, next) = db
                    .scan_kind_page(
                        model::KIND_ACCOUNT,
                        Some("listLeaves"),
                        start,
                        Some(ACCOUNTS_SCAN_PAGE),
                    )
                    .await?;
                cursor.pending_accounts = accounts
                    .iter()
                    .map(|item| {
                        AccountId::parse(db::string_attribute(item, "id").unwrap_or_default(), "id")
                    })
                    .collect::<Result<_, _>>()?;
                match next {
                    Some((pk, sk)) => {
                        cursor.scan_after_pk = Some(pk);
                        cursor.scan_after_sk = Some(sk);
                    }
                    None => cursor.scan_done = true,
                }
            }
        }
    }
    save(db, cursor, read_version).await?;
    Ok(report)
}

/// Saves the walk's position, unless another run saved it since this one read it (runs
/// are meant not to overlap: the template gives the function a concurrency of one).
async fn save(
    db: &Db,
    mut cursor: IndexCheckCursorItem,
    read_version: u64,
) -> Result<(), ApiError> {
    cursor.version = read_version + 1;
    let item = db::to_item(&cursor)?;
    let write = if read_version == 0 {
        tx::put(db.table(), item, Some("attribute_not_exists(pk)"), vec![])?
    } else {
        tx::put(
            db.table(),
            item,
            Some("version = :read"),
            vec![(":read", db::n(read_version))],
        )?
    };
    match db.transact(vec![write]).await {
        Ok(()) => Ok(()),
        Err(TxError::ConditionFailed(_)) => {
            tracing::warn!(
                "another run of the index check saved its position first; this run's is dropped"
            );
            Ok(())
        }
        Err(TxError::Other(err)) => Err(err),
    }
}

/// What one step found and did.
#[derive(Debug, Default)]
struct StepResult {
    rows_repaired: usize,
    unreadable: bool,
    raced: bool,
    /// The lowest id the next step checks (None: the account is done).
    next: Option<UserId>,
}

/// Checks the users of `account` from id `from` to the end of the leaf that holds it (or
/// the first `USERS_PER_STEP` of them) against that leaf's rows, and rewrites what differs.
async fn check_step(db: &Db, account: AccountId, from: UserId) -> Result<StepResult, ApiError> {
    let mut result = StepResult::default();
    let mut leaf: Leaf = match list_leaves::locate_leaf(db, account, from).await? {
        Ok(leaf) => leaf,
        Err((leaf, err)) => {
            tracing::warn!(%account, path = %leaf.path, error = %err, "list index leaf does not decode; rewriting it from its users");
            result.unreadable = true;
            leaf
        }
    };
    let (_, leaf_end) = list_leaves::id_range(&leaf.path);
    let pk = model::account_pk(account);
    let mut users: Vec<UserItem> = db
        .query_range(
            &pk,
            &model::user_sk(from),
            &model::user_sk(leaf_end),
            false,
            None,
            Some(USERS_PER_STEP as u64 + 1),
        )
        .await?
        .into_iter()
        .map(db::from_item)
        .collect::<Result<_, _>>()?;
    // Only the ids this step read the users of are compared; the leaf's other rows wait
    // for their own step.
    let end = if users.len() > USERS_PER_STEP {
        users.truncate(USERS_PER_STEP);
        users.last().map_or(leaf_end, |user| user.id)
    } else {
        leaf_end
    };
    result.next = next_id(end);
    let compared = leaf
        .rows
        .iter()
        .filter(|row| from <= row.id && row.id <= end);
    let changes = differences(compared, &users);
    if changes.is_empty() && !result.unreadable {
        return Ok(result);
    }
    for change in &changes {
        leaf.apply(change);
    }
    match db.transact(leaf.writes(db.table())?).await {
        Ok(()) => {
            result.rows_repaired = changes.len();
            if !changes.is_empty() {
                tracing::warn!(%account, path = %leaf.path, rows = changes.len(), "list index drift repaired");
            }
        }
        Err(TxError::ConditionFailed(_)) => result.raced = true,
        Err(TxError::Other(err)) => return Err(err),
    }
    Ok(result)
}

/// The id after `id`, if any.
fn next_id(id: UserId) -> Option<UserId> {
    id.0.as_u128()
        .checked_add(1)
        .map(|next| UserId(uuid::Uuid::from_u128(next)))
}
