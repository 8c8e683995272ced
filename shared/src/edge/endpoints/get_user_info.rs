//! GET /api/v1/user/userinfo: the caller's profile with account metadata.

use lambda_http::Request;

use crate::auth::caller_with_account;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::Reply;
use crate::views::UserInfo;

/// Two sequential calls: the identity pointer, then the user and account together.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let (caller, account) = caller_with_account(db, &req).await?;
    Reply::json(&UserInfo::new(&caller.user, &account))
}
