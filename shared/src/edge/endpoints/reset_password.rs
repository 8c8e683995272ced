//! POST /api/v1/user/reset_password: the caller changes their own password with the
//! current one (Cognito ChangePassword with their access token), then is told by email.

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::Db;
use crate::adapters::idp::IdentityProvider;
use crate::adapters::mail::Mailer;
use crate::domain::error::{ApiError, ErrorCode};
use crate::edge::auth::caller;
use crate::edge::http::{bearer_token, json_body, Reply};
use crate::features::audit::{self, Action, Entry};
use crate::features::self_service::{change_password, notify, password_changed_email};

/// The longest password Cognito accepts.
const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetPasswordBody {
    password: String,
    current_password: String,
}

/// Five sequential calls: identity, user, ChangePassword, TransactWriteItems (the audit
/// record), SendEmail.
pub async fn handle(
    db: &Db,
    idp: &dyn IdentityProvider,
    mailer: &dyn Mailer,
    req: Request,
) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    let body: ResetPasswordBody = json_body(&req)?;
    // Cognito takes passwords of 1 to 256 characters; longer ones are refused here, so
    // the answer does not depend on how the service words its validation error.
    let chars = |text: &str| text.chars().count();
    if !(1..=MAX_PASSWORD_CHARS).contains(&chars(&body.current_password)) {
        return Err(ApiError::app(
            ErrorCode::Default,
            format!("currentPassword must be 1 to {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    if !(1..=MAX_PASSWORD_CHARS).contains(&chars(&body.password)) {
        return Err(ApiError::app(
            ErrorCode::Security,
            format!("password must be 1 to {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    let origin = crate::edge::http::origin(&req);
    let (account, me) = (caller.user.account_id, caller.user.id);
    let changed = change_password(
        idp,
        bearer_token(&req)?,
        &body.current_password,
        &body.password,
    )
    .await;
    if let Err(err) = changed {
        if matches!(
            err,
            ApiError::App {
                code: ErrorCode::Auth,
                ..
            }
        ) {
            let entry = Entry::new(Action::PasswordRejected, Some(me), Some(me));
            audit::record_refusal(db, account, entry, &origin).await;
        }
        return Err(err);
    }
    tracing::info!(user_id = %caller.user.id, "password changed");
    // The password lives in Cognito, outside any DynamoDB transaction: its record follows
    // the change (see docs/api.md). No password or part of one is ever recorded.
    let entry = Entry::new(Action::PasswordChanged, Some(me), Some(me));
    audit::record_after(db, account, entry, &origin).await;
    notify(mailer, &caller.user, password_changed_email(&caller.user)).await;
    Ok(Reply::Empty)
}
