//! GET /api/v1/user/get_all_users: a page of the caller's account's users (admins only).

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::domain::views::{Collection, User};
use crate::edge::endpoints::lists::{admin_and_rows, list_params};
use crate::edge::http::Reply;
use crate::features::listing::page_of_users;
use crate::features::listing::reads::{read_unindexed, Rows};

/// The identity (once per warm container), then one concurrent round: the caller with
/// their account, and the account's list index (one Query page up to ~25,000 users).
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let params = list_params(db, &req).await?;
    let (caller, rows, ()) = admin_and_rows(db, &req, |_| async { Ok(()) }).await?;
    let rows = match rows {
        Rows::Indexed(rows) => rows,
        Rows::Unindexed => {
            read_unindexed(db, caller.user.account_id, true)
                .await?
                .users
        }
    };
    let page = page_of_users(&rows, &params);
    Reply::json(&Collection {
        data: page.data.into_iter().cloned().collect::<Vec<User>>(),
        total: page.total,
    })
}
