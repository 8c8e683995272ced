//! GET /api/v1/user/signupinfo?token=: the pending user an invitation token belongs to.
//! Only reads: link previews and mail scanners open the link before the person does.

use lambda_http::Request;

use crate::db::Db;
use crate::error::ApiError;
use crate::http::{query, Reply};
use crate::invitations::pending_user_for_token;
use crate::views::User;

pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let token = query(&req)?.remove("token").unwrap_or_default();
    let user = pending_user_for_token(db, &token).await?;
    Reply::json(&User::from(&user))
}
