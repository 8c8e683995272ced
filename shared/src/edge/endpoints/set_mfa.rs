//! POST /api/v1/user/set_mfa: switches software-token MFA on (with a code from the
//! authenticator) or off, in Cognito and in the user's `mfa` flag, then tells the user.
//!
//! Cognito first, then the flag, in both directions. Cognito enforces MFA and checks the
//! caller's access token, so nothing is written for a code or a token it refuses (a
//! token revoked by a sign-out everywhere still passes the JWT check). If the flag write
//! fails after Cognito changed, the answer is an error and the record lags behind; both
//! steps set a value (never toggle), so calling again brings the two in step.
//!
//! One change at a time per user: a call first takes a short lease on the user item, and
//! the flag write releases it. Without it, two concurrent calls (one on, one off) could
//! reach Cognito in one order and the flag in the other, leaving `mfa: false` while
//! sign-in asks for a code. A call that finds the lease held answers 429 Retry-After 1.
//!
//! The flag the change starts from is the one the lease found: no other MFA change can
//! alter it while the lease holds, and the flag write is conditioned on the lease. So the
//! audit record's "before" is the value the write replaces, and a call that asks for the
//! flag the user already has records nothing and sends no email (Cognito is still set,
//! which brings it in step if an earlier call failed half-way).

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::indexed;
use crate::adapters::db::model::UserItem;
use crate::adapters::db::{leases::Lease, users, Db, TxError};
use crate::adapters::idp::IdentityProvider;
use crate::adapters::mail::Mailer;
use crate::domain::clock;
use crate::domain::error::{ApiError, ErrorCode};
use crate::edge::auth::{admit, caller};
use crate::edge::http::{bearer_token, json_body, Reply};
use crate::features::audit::{self, Action, AuditRecord, Entry};
use crate::features::self_service::{disable_mfa, enable_mfa, mfa_changed_email, notify, TotpCode};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetMfaBody {
    enabled: bool,
    /// Read only when enabling: when disabling it is ignored whatever it holds.
    #[serde(default)]
    user_code: serde_json::Value,
}

/// On: identity (cold only), user, UpdateItem lease, VerifySoftwareToken,
/// SetUserMFAPreference, GetItem list shard, TransactWriteItems, SendEmail. Off: the same
/// without VerifySoftwareToken.
pub async fn handle(
    db: &Db,
    idp: &dyn IdentityProvider,
    mailer: &dyn Mailer,
    req: Request,
) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    let body: SetMfaBody = json_body(&req)?;
    let access_token = bearer_token(&req)?;
    let code = if body.enabled {
        Some(match &body.user_code {
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
        })
    } else {
        None
    };
    let (lease, user) = take_mfa_lease(db, &caller.user).await?;
    let changes = user.mfa != body.enabled;
    let origin = crate::edge::http::origin(&req);
    let changed = async {
        match &code {
            Some(code) => enable_mfa(idp, access_token, code).await?,
            None => disable_mfa(idp, access_token).await?,
        }
        if !changes {
            db.release_lease(&user, Lease::Mfa, &lease).await;
            return Ok(());
        }
        let record = AuditRecord::new(
            user.account_id,
            Entry::new(Action::MfaChanged, Some(user.id), Some(user.id)).field(
                "mfa",
                user.mfa,
                body.enabled,
            ),
            &origin,
            clock::now(),
        );
        set_mfa_flag(db, &user, body.enabled, &lease, record).await
    }
    .await;
    if let Err(err) = changed {
        // The code was well formed (parsed above), so TOTP here is Cognito's mismatch.
        if matches!(
            err,
            ApiError::App {
                code: ErrorCode::Totp,
                ..
            }
        ) {
            let entry = Entry::new(
                Action::MfaCodeRejected,
                Some(caller.user.id),
                Some(caller.user.id),
            );
            audit::record_refusal(db, caller.user.account_id, entry, &origin).await;
        }
        // Given back at once, so the caller may simply try again.
        db.release_lease(&user, Lease::Mfa, &lease).await;
        return Err(err);
    }
    tracing::info!(user_id = %user.id, enabled = body.enabled, changed = changes, "MFA preference set");
    if changes {
        notify(mailer, &user, mfa_changed_email(&user, body.enabled)).await;
    }
    Ok(Reply::Empty)
}

/// How long one MFA change holds the user: a call that crashed blocks others this long
/// at most; a call takes well under a second.
const MFA_LEASE_SECONDS: i64 = 15;

/// Takes the user's MFA lease while the user is live and active and no other change holds
/// it (or its holder's time is over): the lease and the user as it found them.
async fn take_mfa_lease(db: &Db, user: &UserItem) -> Result<(String, UserItem), ApiError> {
    let lease = uuid::Uuid::new_v4().to_string();
    if let Some(leased) = db.take_mfa_lease(user, &lease, MFA_LEASE_SECONDS).await? {
        return Ok((lease, leased));
    }
    match db.get_user(user.account_id, user.id).await?.map(admit) {
        // Deleted or deactivated since the request began.
        Some(Ok(_)) => Err(ApiError::contended(
            "another MFA change of this user is in progress",
        )),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Sets the user's `mfa` flag (and its list row) and releases the lease, while the user
/// is still live and active and the lease still this call's.
async fn set_mfa_flag(
    db: &Db,
    user: &UserItem,
    enabled: bool,
    lease: &str,
    record: AuditRecord,
) -> Result<(), ApiError> {
    let now = clock::now_iso();
    let flag = users::set_mfa(db.table(), user, enabled, lease, &now)?;
    match indexed::transact_indexed(db, vec![flag.write], user.account_id, &flag.row, &[record])
        .await
    {
        Ok(()) => Ok(()),
        Err(TxError::ConditionFailed(_)) => {
            match db.get_user(user.account_id, user.id).await?.map(admit) {
                // The lease ran out and another change took it: that change decides.
                Some(Ok(_)) => Err(ApiError::contended(
                    "the MFA lease ran out before the flag was written",
                )),
                // Deleted or deactivated since the request began: they may no longer sign in.
                _ => Err(ApiError::Unauthorized),
            }
        }
        Err(TxError::Other(err)) => Err(err),
    }
}
