//! POST /api/v1/user/resend_user_email: a new invitation for a pending user (no auth).
//! Open to the internet, so resends are limited per username (429 with Retry-After).

use lambda_http::Request;
use serde::Deserialize;

use crate::audit::Origin;
use crate::config::Config;
use crate::db::Db;
use crate::domain::Email;
use crate::error::{ApiError, ErrorCode};
use crate::http::{json_body, Reply};
use crate::invitations::resend_invitation;
use crate::mail::Mailer;

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
    resend_invitation(db, mailer, config, &username, &Origin::of(&req)).await?;
    Ok(Reply::Empty)
}
