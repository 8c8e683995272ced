//! POST /api/v1/user/resend_user_email: a new invitation for a pending user (no auth).
//! Open to the internet, so resends are limited per username (429 with Retry-After).

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::Db;
use crate::adapters::mail::Mailer;
use crate::domain::config::Config;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::Email;
use crate::edge::http::{json_body, Reply};
use crate::features::invitations::resend_invitation;

#[derive(Deserialize)]
struct ResendBody {
    username: String,
}

/// GetItem username claim, BatchGetItem user + account, UpdateItem resend counter (two
/// when a window is open), TransactWriteItems token swap, SendEmail.
pub async fn handle(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    req: Request,
) -> Result<Reply, ApiError> {
    let body: ResendBody = json_body(&req)?;
    // A username that is not an email address cannot belong to a pending user.
    let username = Email::parse(&body.username, "username").map_err(|_| {
        ApiError::bad_request(ErrorCode::NotFound, "No pending user with this username.")
    })?;
    resend_invitation(
        db,
        mailer,
        config,
        &username,
        &crate::edge::http::origin(&req),
    )
    .await?;
    Ok(Reply::Empty)
}
