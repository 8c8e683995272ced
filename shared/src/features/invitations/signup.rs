//! Signup: a lease on the pending user, the identity provider, then one transaction
//! that activates the user, consumes the token and records the signup.

use super::*;

/// How long a signup holds its lease before another attempt may take over (a crashed
/// attempt blocks retries at most this long).
pub const SIGNUP_LEASE_SECONDS: i64 = 30;

/// The pending user a signup token belongs to, or 499 TOKEN for any token that is
/// unknown, expired, used, replaced, or whose user is deleted or no longer pending.
/// Reading never consumes the token.
pub async fn pending_user_for_token(db: &Db, token: &str) -> Result<UserItem, ApiError> {
    let invalid = invalid_token;
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(invalid());
    }
    let hash = token::hash(token);
    let item: TokenItem = db
        .get(model::token_pk(&hash), model::TOKEN_SK)
        .await?
        .ok_or_else(invalid)?;
    if item.expires_at <= clock::epoch_seconds() {
        return Err(invalid());
    }
    let user = db
        .get_user(item.account_id, item.user_id)
        .await?
        .ok_or_else(invalid)?;
    if user.deleted
        || user.status != UserStatus::PENDING
        || user.token_hash.as_deref() != Some(hash.as_str())
    {
        return Err(invalid());
    }
    Ok(user)
}

/// What a person chooses at signup.
pub struct SignupForm<'a> {
    pub token: &'a str,
    pub firstname: String,
    pub lastname: String,
    pub password: &'a str,
}

/// Completes a signup: provisions the identity and activates the user exactly once.
/// A failure at any step releases the lease and leaves the token usable, so a retry
/// with the same token succeeds; it adopts the identity an earlier attempt created.
pub async fn signup(
    db: &Db,
    idp: &dyn IdentityProvider,
    form: SignupForm<'_>,
    origin: &Origin,
) -> Result<UserItem, ApiError> {
    let user = pending_user_for_token(db, form.token).await?;
    let hash = token::hash(form.token.trim());
    let lease = uuid::Uuid::new_v4().to_string();
    acquire_lease(db, &user, &hash, &lease).await?;

    let result = provision(db, idp, &user, &hash, &lease, &form, origin).await;
    if result.is_err() {
        db.release_lease(&user, Lease::Signup, &lease).await;
    }
    result
}

fn invalid_token() -> ApiError {
    ApiError::app(
        ErrorCode::Token,
        "The signup link is invalid or has expired.",
    )
}

/// The identity provider's user, then the password, then one transaction that activates
/// the user, consumes the token and points the identity at the user. The identity is
/// found again by email on a retry, so the pending record (whose email is the pool's
/// username) always leads to it; one that already belongs to another user is never
/// touched.
async fn provision(
    db: &Db,
    idp: &dyn IdentityProvider,
    user: &UserItem,
    hash: &str,
    lease: &str,
    form: &SignupForm<'_>,
    origin: &Origin,
) -> Result<UserItem, ApiError> {
    let mut sub = idp
        .create_user(user.email.as_str(), &form.firstname, &form.lastname)
        .await
        .map_err(signup_idp_error)?;
    let identity: Option<IdentityItem> =
        db.get(model::identity_pk(&sub), model::IDENTITY_SK).await?;
    if let Some(identity) = identity.filter(|identity| identity.user_id != user.id) {
        if !finish_deletion_of(db, idp, &identity, &sub).await? {
            return Err(email_signed_up_already());
        }
        // The identity of a deleted user is gone: this person gets a new one.
        sub = idp
            .create_user(user.email.as_str(), &form.firstname, &form.lastname)
            .await
            .map_err(signup_idp_error)?;
        let again: Option<IdentityItem> =
            db.get(model::identity_pk(&sub), model::IDENTITY_SK).await?;
        if again.is_some_and(|identity| identity.user_id != user.id) {
            return Err(email_signed_up_already());
        }
    }
    if let Err(err) = idp.set_permanent_password(&sub, form.password).await {
        if matches!(err, IdpError::InvalidPassword(_)) {
            // No record points at this identity yet and it has no usable password:
            // remove it. If that fails, the next attempt adopts it.
            if let Err(cleanup) = idp.delete_user(&sub).await {
                tracing::warn!(error = %cleanup, "could not remove the identity after a refused password");
            }
        }
        return Err(signup_idp_error(err));
    }

    let now_iso = clock::now_iso();
    // The invitee is the actor of their own signup. No password, token or hash is recorded.
    let entry = Entry::new(Action::UserActivated, Some(user.id), Some(user.id))
        .field("status", user.status.0, UserStatus::ACTIVE.0)
        .field_if_changed(
            "firstname",
            user.firstname.as_str(),
            form.firstname.as_str(),
        )
        .field_if_changed("lastname", user.lastname.as_str(), form.lastname.as_str());
    let record = AuditRecord::new(user.account_id, entry, origin, clock::now());
    let (writes, activated) =
        activation_writes(db.table(), user, hash, lease, &sub, form, &now_iso)?;
    let (roles, operations): (Vec<ActivationWrite>, Vec<tx::Write>) = writes.into_iter().unzip();
    match indexed::transact_indexed(db, operations, user.account_id, &activated, &[record]).await {
        Ok(()) => {}
        Err(TxError::ConditionFailed(failed))
            if failed_roles(&roles, &failed).contains(&ActivationWrite::Identity) =>
        {
            return Err(email_signed_up_already())
        }
        // The lease was lost, the token replaced or consumed, or the user deleted.
        Err(TxError::ConditionFailed(_)) => {
            remove_identity_if_deleted(db, idp, user, &sub).await;
            return Err(invalid_token());
        }
        Err(TxError::Other(err)) => {
            // The answer may have been lost after the transaction committed.
            return match db.get_user(user.account_id, user.id).await {
                Ok(Some(current))
                    if current.status == UserStatus::ACTIVE
                        && current.sub.as_deref() == Some(sub.as_str()) =>
                {
                    tracing::warn!(user_id = %user.id, "signup transaction answered an error but had committed");
                    Ok(current)
                }
                _ => {
                    remove_identity_if_deleted(db, idp, user, &sub).await;
                    Err(err)
                }
            };
        }
    }
    tracing::info!(user_id = %user.id, "signup completed");
    let mut active = user.clone();
    active.status = UserStatus::ACTIVE;
    active.firstname = form.firstname.clone();
    active.lastname = form.lastname.clone();
    active.sub = Some(sub);
    active.update_date = now_iso;
    active.token_hash = None;
    active.signup_lease = None;
    active.signup_lease_until = None;
    Ok(active)
}

/// A signup that lost to a delete of its user has created (or adopted) an identity-provider
/// user with its password, which no record will ever point at: the deleted invitee could
/// still sign in to the pool. Remove it, unless the user is still there (a lost lease or a
/// consumed token: another attempt of the same user may be using it) or an identity item
/// points at it (another record owns it). Best effort: a failure is logged, and a later
/// signup of the address adopts the identity.
async fn remove_identity_if_deleted(
    db: &Db,
    idp: &dyn IdentityProvider,
    user: &UserItem,
    sub: &str,
) {
    let removed = async {
        if db
            .get_user(user.account_id, user.id)
            .await?
            .is_some_and(|current| !current.deleted)
        {
            return Ok(false);
        }
        let identity: Option<IdentityItem> =
            db.get(model::identity_pk(sub), model::IDENTITY_SK).await?;
        if identity.is_some() {
            return Ok(false);
        }
        remove_identity(idp, sub).await?;
        Ok::<_, ApiError>(true)
    }
    .await;
    match removed {
        Ok(true) => {
            tracing::info!(user_id = %user.id, "removed the identity of a signup that lost to a delete")
        }
        Ok(false) => {}
        Err(err) => {
            tracing::warn!(user_id = %user.id, error = %err, "could not remove the identity of a signup that lost to a delete")
        }
    }
}

/// What each operation of the signup's transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActivationWrite {
    /// The user turns active (only with this signup's lease and token).
    User,
    /// The token goes.
    Token,
    /// The identity points at the user (unless it points at another one).
    Identity,
}

/// The signup's transaction, each operation with its role, and the change to the user's
/// list row.
fn activation_writes(
    table: &str,
    user: &UserItem,
    hash: &str,
    lease: &str,
    sub: &str,
    form: &SignupForm<'_>,
    now_iso: &str,
) -> Result<(Vec<(ActivationWrite, tx::Write)>, RowChange), ApiError> {
    let activated = users::activate(
        table,
        user,
        users::Activation {
            token_hash: hash,
            lease,
            sub,
            firstname: &form.firstname,
            lastname: &form.lastname,
            now_iso,
        },
    )?;
    let writes = vec![
        (ActivationWrite::User, activated.write),
        (ActivationWrite::Token, tokens::consume(table, hash)?),
        (
            ActivationWrite::Identity,
            identities::point_at(table, sub, user)?,
        ),
    ];
    Ok((writes, activated.row))
}

/// The address's identity-provider user belongs to another record. If that record was
/// deleted and only its identity-provider step failed (and nobody repeated the DELETE),
/// finish that step now: sign the old identity out everywhere and delete it, so the
/// address can sign up again and the old identity can neither sign in nor call the API.
/// Returns whether the identity was removed; a live owner keeps it (DUPLICATE).
async fn finish_deletion_of(
    db: &Db,
    idp: &dyn IdentityProvider,
    identity: &IdentityItem,
    sub: &str,
) -> Result<bool, ApiError> {
    let owner = db.get_user(identity.account_id, identity.user_id).await?;
    if owner.is_some_and(|owner| !owner.deleted) {
        return Ok(false);
    }
    tracing::warn!(user_id = %identity.user_id, "finishing the identity-provider step of an earlier deletion");
    remove_identity(idp, sub).await?;
    Ok(true)
}

/// Signs the identity-provider user out everywhere and deletes it; one already gone is
/// fine.
async fn remove_identity(idp: &dyn IdentityProvider, sub: &str) -> Result<(), ApiError> {
    let gone = |result: Result<(), IdpError>| match result {
        Err(IdpError::UserNotFound) => Ok(()),
        other => other,
    };
    gone(idp.sign_out_everywhere(sub).await).map_err(signup_idp_error)?;
    gone(idp.delete_user(sub).await).map_err(signup_idp_error)
}

fn signup_idp_error(err: IdpError) -> ApiError {
    cognito_error(CognitoCall::Signup, err)
}

/// One signup at a time per pending user: the others see 499 TOKEN.
async fn acquire_lease(db: &Db, user: &UserItem, hash: &str, lease: &str) -> Result<(), ApiError> {
    if db
        .take_signup_lease(user, hash, lease, SIGNUP_LEASE_SECONDS)
        .await?
    {
        Ok(())
    } else {
        Err(ApiError::app(
            ErrorCode::Token,
            "The signup link is invalid, expired, or already being used.",
        ))
    }
}
