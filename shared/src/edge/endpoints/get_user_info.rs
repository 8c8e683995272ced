//! GET /api/v1/user/userinfo: the caller's profile with account metadata.

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::domain::views::UserInfo;
use crate::edge::auth::caller_with_account;
use crate::edge::http::Reply;

/// Two sequential calls: the identity pointer, then the user and account together.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let (caller, account) = caller_with_account(db, &req).await?;
    Reply::json(&UserInfo::new(&caller.user, &account))
}
