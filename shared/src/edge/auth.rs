//! Who is calling. The HTTP API's JWT authorizer has verified the access token; here the
//! caller's record is read (strongly consistent, by key) and must be live and active, so
//! a deleted or deactivated user is refused at once, even with an unexpired token.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use lambda_http::Request;

use crate::adapters::db::model::{self, IdentityItem, UserItem};
use crate::adapters::db::Db;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::{UserId, UserStatus};
use crate::edge::http::claims;
use crate::features::audit;

/// The signed-in, active user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserItem,
}

impl Caller {
    /// May manage the account's users: AccountAdmin, DesktopAdmin or the owner.
    pub fn is_admin(&self) -> bool {
        self.user.owner || self.user.user_type.is_admin()
    }

    /// Refuses non-admins with 499 ACCESS.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::app(
                ErrorCode::Access,
                "Only account administrators may do this.",
            ))
        }
    }
}

/// The Cognito subject of a request with an access token, or 401.
pub fn subject(req: &Request) -> Result<&str, ApiError> {
    let claims = claims(req).ok_or(ApiError::Unauthorized)?;
    if claims.get("token_use").map(String::as_str) != Some("access") {
        return Err(ApiError::Unauthorized);
    }
    claims
        .get("sub")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// Where an access token's subject points. The identity item never changes once written,
/// so a warm container reads it once per subject; the user record, which does change, is
/// read on every request.
pub async fn identity(db: &Db, req: &Request) -> Result<IdentityItem, ApiError> {
    const CAPACITY: usize = 4096;
    static KNOWN: OnceLock<Mutex<HashMap<(String, String), IdentityItem>>> = OnceLock::new();
    let sub = subject(req)?;
    let known = KNOWN.get_or_init(Default::default);
    let cache_key = (db.table().to_owned(), sub.to_owned());
    if let Some(found) = known
        .lock()
        .ok()
        .and_then(|map| map.get(&cache_key).cloned())
    {
        return Ok(found);
    }
    let identity: IdentityItem = db
        .get(model::identity_pk(sub), model::IDENTITY_SK)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Ok(mut map) = known.lock() {
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(cache_key, identity.clone());
    }
    Ok(identity)
}

/// Resolves the caller: the identity pointer (cached), then the user record by key.
pub async fn caller(db: &Db, req: &Request) -> Result<Caller, ApiError> {
    let identity = identity(db, req).await?;
    let user = db
        .get_user(identity.account_id, identity.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    admit(user).map(|user| Caller { user })
}

/// Only a live, active user may use a protected endpoint.
pub fn admit(user: UserItem) -> Result<UserItem, ApiError> {
    if user.deleted || user.status != UserStatus::ACTIVE {
        return Err(ApiError::Unauthorized);
    }
    Ok(user)
}

/// Resolves the caller and reads their account in the same round trip as their record:
/// one call when the identity is known to the container, two otherwise.
pub async fn caller_with_account(
    db: &Db,
    req: &Request,
) -> Result<(Caller, model::AccountItem), ApiError> {
    let identity = identity(db, req).await?;
    user_with_account(db, &identity).await
}

/// The user an identity points at, admitted, with their account, in one round trip.
pub async fn user_with_account(
    db: &Db,
    identity: &IdentityItem,
) -> Result<(Caller, model::AccountItem), ApiError> {
    let (user, account) = db
        .get_user_and_account(identity.account_id, identity.user_id)
        .await?;
    let user = admit(user.ok_or(ApiError::Unauthorized)?)?;
    let account = account.ok_or_else(|| {
        ApiError::internal(format!(
            "account {} of user {} is missing",
            user.account_id, user.id
        ))
    })?;
    Ok((Caller { user }, account))
}

// What the admin endpoints share.

/// 499 NOT_FOUND: no live user with this id in the caller's account. Another account's
/// user answers exactly so.
pub fn user_not_found() -> ApiError {
    ApiError::app(
        ErrorCode::NotFound,
        "There is no user with this id in your account.",
    )
}

/// The caller changed during the request: 401 if they may no longer sign in, 499 ACCESS
/// if they are no longer an admin, else the fresh caller to try again with.
pub async fn reconfirm_admin(db: &Db, caller: &Caller) -> Result<Caller, ApiError> {
    let user = db
        .get_user(caller.user.account_id, caller.user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let caller = Caller { user: admit(user)? };
    caller.require_admin()?;
    Ok(caller)
}

/// Refuses a non-admin with 499 ACCESS, and records the refusal.
pub async fn require_admin(
    db: &Db,
    req: &Request,
    caller: &Caller,
    target: Option<UserId>,
) -> Result<(), ApiError> {
    match caller.require_admin() {
        Ok(()) => Ok(()),
        Err(refused) => {
            let entry =
                audit::Entry::new(audit::Action::AccessDenied, Some(caller.user.id), target);
            audit::record_refusal(
                db,
                caller.user.account_id,
                entry,
                &crate::edge::http::origin(req),
            )
            .await;
            Err(refused)
        }
    }
}
