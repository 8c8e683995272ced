//! GET /api/v1/user/get_all_users_with_details: the page of Get All Users, each row with
//! the user's groups, project permissions and drive permissions (admins only).
//!
//! No N+1: the users, groups, projects, drives, memberships and permissions of an account
//! share its item collection, so one paged Query reads them all, whatever the page size
//! and however many relations the page's users have.

use lambda_http::Request;

use crate::auth::caller;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::{query, Reply};
use crate::listing::{page_with_details, AccountItems, ListParams};
use crate::model;

/// Three sequential calls and more only for a large account: the identity, the caller,
/// then the account's whole item collection by Query (one call per MB).
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    caller.require_admin()?;
    let params = ListParams::from_query(&query(&req))?;
    let items = db
        .query_partition(model::account_pk(caller.user.account_id), None)
        .await?;
    Reply::json(&page_with_details(
        AccountItems::from_items(items)?,
        &params,
    )?)
}
