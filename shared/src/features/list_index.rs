//! The list index as the lists and the user writes use it: every user of an account as a
//! compact row in the leaves of `db::list_leaves`, written in the same transaction as
//! each change of a user. Get All Users reads the index instead of the users: about a
//! third of the bytes, in one Query page up to ~15,000 users (see docs/data-model.md for
//! the figures that chose this layout).
//!
//! A user write reads the user's leaf, applies its change to the row, and writes the
//! leaf on the condition that its version is still the one read (splitting it when it
//! outgrows its bound). Every write of a user goes through `transact_indexed`, so a
//! leaf's version moves whenever any of its users changes, and a write that raced another
//! one in the same leaf is tried again with the fresh leaf.

use std::time::Duration;

use crate::adapters::db::list_leaves::{self, find_leaf};
use crate::adapters::db::model;
use crate::adapters::db::{self, audit_records, tx, Db, Item, TxError};
use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::domain::AccountId;
use crate::edge::auth::{self, Caller};
use crate::features::audit::AuditRecord;
use crate::features::listing::{AccountItems, ListParams, Resources};

pub use crate::adapters::db::list_leaves::{leaf_items, RowChange, RowUpdate};

/// Tries of a write whose only failed condition was its leaf's version.
const ATTEMPTS: u32 = 10;

/// Every row of the account's index, from one paged Query of its leaves. Rows come out in
/// no particular order.
pub async fn read_rows(db: &Db, account: AccountId) -> Result<Vec<User>, ApiError> {
    Ok(list_leaves::read_leaves(db, account)
        .await?
        .into_iter()
        .flat_map(|leaf| leaf.rows)
        .collect())
}

/// The list parameters of a request. Refused parameters are reported only to a caller
/// who may list at all: anyone else hears 401 or ACCESS first, whatever the parameters.
pub async fn list_params(db: &Db, req: &lambda_http::Request) -> Result<ListParams, ApiError> {
    match ListParams::from_query(&crate::edge::http::query(req)) {
        Ok(params) => Ok(params),
        Err(invalid) => {
            let caller = auth::caller(db, req).await?;
            crate::features::audit::require_admin(db, req, &caller, None).await?;
            Err(invalid)
        }
    }
}

/// How many relation Queries With Details keeps in flight: a page of 50 is one round.
const RELATION_QUERIES_IN_FLIGHT: usize = 64;

/// What a list reads its rows from.
pub enum Rows {
    /// The account's list index, decoded.
    Indexed(Vec<User>),
    /// The account predates the index and the migration has not reached it yet: the list
    /// reads the item collection as before (`listing::AccountItems`).
    Unindexed,
}

/// The caller, checked to be an admin, with every row of their account's list index, and
/// what `also` reads of the account at the same time. When the container knows the
/// caller's identity, the caller's record, the index and `also` are one concurrent round;
/// the caller is checked before anything read is used. A caller this container refused
/// before is checked first, so that a non-admin calling a list in a loop costs one read
/// of their own record per call, not a read of the whole index.
pub async fn admin_and_rows<F, T>(
    db: &Db,
    req: &lambda_http::Request,
    also: impl FnOnce(AccountId) -> F,
) -> Result<(Caller, Rows, T), ApiError>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let identity = auth::identity(db, req).await?;
    let account_id = identity.account_id;
    let (caller, account, indexed, extra) = if refused_non_admins::contains(identity.user_id) {
        let (caller, account) = auth::user_with_account(db, &identity).await?;
        crate::features::audit::require_admin(db, req, &caller, None).await?;
        refused_non_admins::forget(identity.user_id);
        let (indexed, extra) = tokio::join!(read_rows(db, account_id), also(account_id));
        (caller, account, indexed, extra)
    } else {
        let (checked, indexed, extra) = tokio::join!(
            auth::user_with_account(db, &identity),
            read_rows(db, account_id),
            also(account_id)
        );
        let (caller, account) = checked?;
        if let Err(refused) = crate::features::audit::require_admin(db, req, &caller, None).await {
            refused_non_admins::remember(identity.user_id);
            return Err(refused);
        }
        (caller, account, indexed, extra)
    };
    let rows = if account.list_leaves {
        Rows::Indexed(indexed?)
    } else {
        Rows::Unindexed
    };
    Ok((caller, rows, extra?))
}

/// The callers this container refused as non-admins, so their next list call checks
/// them before reading the index. Bounded: emptied when full (it only saves reads).
mod refused_non_admins {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};

    use crate::domain::UserId;

    const CAPACITY: usize = 4096;

    fn set() -> &'static Mutex<HashSet<UserId>> {
        static SET: OnceLock<Mutex<HashSet<UserId>>> = OnceLock::new();
        SET.get_or_init(Default::default)
    }

    pub fn contains(user: UserId) -> bool {
        set().lock().is_ok_and(|set| set.contains(&user))
    }

    pub fn remember(user: UserId) {
        if let Ok(mut set) = set().lock() {
            if set.len() >= CAPACITY {
                set.clear();
            }
            set.insert(user);
        }
    }

    pub fn forget(user: UserId) {
        if let Ok(mut set) = set().lock() {
            set.remove(&user);
        }
    }
}

/// An unindexed account's item collection (users only, or everything), sorted by kind.
pub async fn read_unindexed(
    db: &Db,
    account: AccountId,
    users_only: bool,
) -> Result<AccountItems, ApiError> {
    let prefix = users_only.then_some(model::USER_SK_PREFIX);
    AccountItems::from_items(
        db.query_partition(model::account_pk(account), prefix)
            .await?,
    )
}

/// The account's groups, projects and drives: three Queries at once.
pub async fn read_resources(db: &Db, account: AccountId) -> Result<Resources, ApiError> {
    let pk = model::account_pk(account);
    let (groups, projects, drives) = tokio::try_join!(
        db.query_partition(pk.clone(), Some(model::GROUP_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::PROJECT_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::DRIVE_SK_PREFIX)),
    )?;
    let mut resources = Resources::default();
    resources.add_items(groups)?;
    resources.add_items(projects)?;
    resources.add_items(drives)?;
    Ok(resources)
}

/// The relations of these users, one Query per user (their `REL#<id>#` range), at most
/// `RELATION_QUERIES_IN_FLIGHT` at once. Each user's relations stay in key order.
pub async fn read_relations(
    db: &Db,
    account: AccountId,
    users: &[&User],
) -> Result<Vec<Item>, ApiError> {
    let pk = model::account_pk(account);
    let prefixes: Vec<String> = users
        .iter()
        .map(|user| model::relations_prefix(user.id))
        .collect();
    let mut per_user = Vec::with_capacity(users.len());
    for batch in prefixes.chunks(RELATION_QUERIES_IN_FLIGHT) {
        let queries: Vec<_> = batch
            .iter()
            .map(|prefix| db.query_partition(pk.clone(), Some(prefix)))
            .collect();
        per_user.extend(futures_util::future::try_join_all(queries).await?);
    }
    Ok(per_user.into_iter().flatten().collect())
}

/// Runs a transaction that changes one user, together with the audit records of the
/// change and the write of that user's index leaf. Failed conditions are reported with
/// the positions of `operations`, as `Db::transact` does; a write that lost only the
/// leaf's version to a concurrent write is tried again with the leaf read afresh.
pub async fn transact_indexed(
    db: &Db,
    operations: Vec<tx::Write>,
    account: AccountId,
    change: &RowChange,
    records: &[AuditRecord],
) -> Result<(), TxError> {
    let changes = operations.len();
    let mut base = operations;
    base.extend(
        audit_records::writes(db.table(), records, db.audit_retention()).map_err(TxError::Other)?,
    );
    let leaf_from = base.len();
    for attempt in 1..=ATTEMPTS {
        let mut leaf = find_leaf(db, account, change.user())
            .await
            .map_err(TxError::Other)?;
        leaf.apply(change);
        let mut writes = base.clone();
        writes.extend(leaf.writes(db.table()).map_err(TxError::Other)?);
        match db.transact(writes).await {
            Ok(()) => return Ok(()),
            Err(TxError::ConditionFailed(failed)) => {
                let (of_change, others): (Vec<usize>, Vec<usize>) = failed
                    .into_iter()
                    .filter(|&position| position < leaf_from)
                    .partition(|&position| position < changes);
                if !of_change.is_empty() {
                    return Err(TxError::ConditionFailed(of_change));
                }
                if !others.is_empty() {
                    return Err(TxError::Other(ApiError::internal(format!(
                        "audit record writes failed their conditions at {others:?}"
                    ))));
                }
                tracing::info!(
                    attempt,
                    leaf = leaf.path.as_str(),
                    "list index leaf moved, trying again"
                );
                // Exponential, with jitter over the whole step, so that writers that met
                // on one leaf spread out instead of meeting again.
                let step = 5u64 << attempt.min(6);
                tokio::time::sleep(Duration::from_millis(
                    step / 2 + u64::from(db::clock_nanos()) % step,
                ))
                .await;
            }
            Err(other) => return Err(other),
        }
    }
    Err(TxError::Other(ApiError::contended(format!(
        "list index leaf of user {} kept changing after {ATTEMPTS} attempts",
        change.user()
    ))))
}
