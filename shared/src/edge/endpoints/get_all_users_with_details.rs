//! GET /api/v1/user/get_all_users_with_details: the page of Get All Users, each row with
//! the user's groups, project permissions and drive permissions (admins only).
//!
//! No N+1 in rounds: the page comes from the list index; the relations of each user on it
//! are keyed under that user (`REL#<userId>#`), so they are one Query per user, all in
//! flight at once; the groups, projects and drives are read beside the index.

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::edge::endpoints::lists::{admin_and_rows, list_params};
use crate::edge::http::Reply;
use crate::features::listing::details::{details_page, page_with_details};
use crate::features::listing::page_of_users;
use crate::features::listing::reads::{read_relations, read_resources, read_unindexed, Rows};

/// The identity (once per warm container), then two concurrent rounds: the caller with
/// their account, the list index and the account's groups, projects and drives; then the
/// relations of the page's users.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let params = list_params(db, &req).await?;
    let (caller, rows, resources) =
        admin_and_rows(db, &req, |account| read_resources(db, account)).await?;
    let account = caller.user.account_id;
    let rows = match rows {
        Rows::Indexed(rows) => rows,
        Rows::Unindexed => {
            let items = read_unindexed(db, account, false).await?;
            return Reply::json(&page_with_details(items, &params)?);
        }
    };
    let page = page_of_users(&rows, &params);
    let relations = read_relations(db, account, &page.data).await?;
    Reply::json(&details_page(page, relations, &resources)?)
}
