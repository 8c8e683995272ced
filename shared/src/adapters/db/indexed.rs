//! A change of one user written as one unit: the change's own writes, its audit records
//! and the write of the user's list-index leaf, in one transaction, tried again with the
//! leaf read afresh when only the leaf moved. Every write of a user goes through here, so
//! a leaf's version moves whenever any of its users changes.

use std::time::Duration;

use super::list_leaves::{find_leaf, RowChange};
use super::{audit_records, tx, Db, TxError};
use crate::domain::audit::AuditRecord;
use crate::domain::clock;
use crate::domain::error::ApiError;
use crate::domain::AccountId;

/// Tries of a write whose only failed condition was its leaf's version.
const ATTEMPTS: u32 = 10;

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
                    step / 2 + u64::from(clock::nanos()) % step,
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
