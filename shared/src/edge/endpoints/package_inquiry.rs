//! GET /api/v1/user/package_inquiry: what is left of the account's package.

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::domain::views::PackageInquiry;
use crate::edge::auth::caller_with_account;
use crate::edge::http::Reply;

/// Any active user of the account may ask. User seats are counted by the same
/// transactions that create, retype and delete users, so the account item is enough.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let (_caller, account) = caller_with_account(db, &req).await?;
    Reply::json(&PackageInquiry::from(&account))
}
