//! GET /api/v1/user/audit_log: a page of the caller's account's audit log, newest first
//! (admins of an account whose package includes logs).

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::clock;
use crate::domain::error::{ApiError, ErrorCode};
use crate::edge::auth::caller_with_account;
use crate::edge::http::Reply;
use crate::features::audit::{self, Action, Entry, LogQuery};

/// The identity (once per warm container), then the caller with their account (one
/// round). Then one concurrent round: the day counters of the range and the counts of its
/// two partial days (Queries); then one Query per day the page falls in, usually one. With
/// `userId`, a single Query of that user's copies instead. A refusal (not an admin, or a
/// package without logs) is recorded with one TransactWriteItems.
///
/// Parameter errors are reported only to a caller who may read the log: anyone else hears
/// 401 or ACCESS first, whatever the parameters.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let (caller, account) = caller_with_account(db, &req).await?;
    crate::edge::auth::require_admin(db, &req, &caller, None).await?;
    if !account.limits.logs {
        let entry = Entry::new(Action::AccessDenied, Some(caller.user.id), None);
        audit::record_refusal(
            db,
            caller.user.account_id,
            entry,
            &crate::edge::http::origin(&req),
        )
        .await;
        return Err(ApiError::app(
            ErrorCode::Access,
            "The account's package does not include logs.",
        ));
    }
    let query = LogQuery::from_query(&crate::edge::http::query(&req))?;
    let log = audit::read_log(db, caller.user.account_id, &query, clock::now()).await?;
    Reply::json(&log)
}
