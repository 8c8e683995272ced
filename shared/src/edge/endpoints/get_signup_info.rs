//! GET /api/v1/user/signupinfo?token=: the pending user an invitation token belongs to.
//! Only reads: link previews and mail scanners open the link before the person does.
//! `token` is read by the one rule of query parameters (`http::Query`): any case, a
//! repeat of the same value counts once.

use lambda_http::Request;

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::edge::http::{query, Reply};
use crate::features::invitations::pending_user_for_token;

pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let query = query(&req);
    let token = query
        .known(&["token"])?
        .get("token")
        .copied()
        .unwrap_or_default();
    let user = pending_user_for_token(db, token).await?;
    Reply::json(&User::from(&user))
}
