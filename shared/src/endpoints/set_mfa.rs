//! POST /api/v1/user/set_mfa: switches software-token MFA on (with a code from the
//! authenticator) or off, in Cognito and in the user's `mfa` flag, then tells the user.
//!
//! Cognito first, then the flag, in both directions. Cognito enforces MFA and checks the
//! caller's access token, so nothing is written for a code or a token it refuses (a
//! token revoked by a sign-out everywhere still passes the JWT check). If the flag write
//! fails after Cognito changed, the answer is an error and the record lags behind; both
//! steps set a value (never toggle), so calling again brings the two in step.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::Request;
use serde::Deserialize;

use crate::auth::caller;
use crate::clock;
use crate::db::{key, n, s, tx, Db, TxError};
use crate::domain::UserStatus;
use crate::error::{ApiError, ErrorCode};
use crate::http::{bearer_token, json_body, Reply};
use crate::idp::IdentityProvider;
use crate::list_index::{self, RowChange, RowUpdate};
use crate::mail::Mailer;
use crate::model::UserItem;
use crate::self_service::{disable_mfa, enable_mfa, mfa_changed_email, notify, TotpCode};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetMfaBody {
    enabled: bool,
    /// Read only when enabling: when disabling it is ignored whatever it holds.
    #[serde(default)]
    user_code: serde_json::Value,
}

/// On: identity, user, VerifySoftwareToken, SetUserMFAPreference, GetItem list shard,
/// TransactWriteItems, SendEmail. Off: the same without VerifySoftwareToken.
pub async fn handle(
    db: &Db,
    idp: &dyn IdentityProvider,
    mailer: &dyn Mailer,
    req: Request,
) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    let body: SetMfaBody = json_body(&req)?;
    let access_token = bearer_token(&req)?;
    if body.enabled {
        let code = match &body.user_code {
            serde_json::Value::String(raw) => TotpCode::parse(raw)?,
            serde_json::Value::Null => {
                return Err(ApiError::app(
                    ErrorCode::Default,
                    "userCode is required when enabling MFA.",
                ))
            }
            _ => {
                return Err(ApiError::app(
                    ErrorCode::Default,
                    "userCode must be a string of 6 digits.",
                ))
            }
        };
        enable_mfa(idp, access_token, &code).await?;
    } else {
        disable_mfa(idp, access_token).await?;
    }
    set_mfa_flag(db, &caller.user, body.enabled).await?;
    tracing::info!(user_id = %caller.user.id, enabled = body.enabled, "MFA preference set");
    notify(
        mailer,
        &caller.user,
        mfa_changed_email(&caller.user, body.enabled),
    )
    .await;
    Ok(Reply::Empty)
}

/// Sets the user's `mfa` flag (and its list row) while the user is still live and active.
async fn set_mfa_flag(db: &Db, user: &UserItem, enabled: bool) -> Result<(), ApiError> {
    let now = clock::now_iso();
    let flag = tx::update(
        db.table(),
        key(&user.pk, &user.sk),
        "SET mfa = :mfa, updateDate = :now",
        Some("attribute_exists(pk) AND deleted = :false AND #status = :active"),
        vec![("#status", "status")],
        vec![
            (":mfa", AttributeValue::Bool(enabled)),
            (":now", s(&now)),
            (":false", AttributeValue::Bool(false)),
            (":active", n(UserStatus::ACTIVE.0)),
        ],
    )?;
    let change = RowChange::Update(
        user.id,
        RowUpdate {
            mfa: Some(enabled),
            ..RowUpdate::touched(&now)
        },
    );
    match list_index::transact_indexed(db, vec![flag], user.account_id, &change).await {
        Ok(()) => Ok(()),
        // Deleted or deactivated since the request began: they may no longer sign in.
        Err(TxError::ConditionFailed(_)) => Err(ApiError::Unauthorized),
        Err(TxError::Other(err)) => Err(err),
    }
}
