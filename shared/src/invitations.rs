//! The invitation lifecycle's core: invite (one transaction, then the email, undone if
//! the email fails), signup (a lease, the identity provider, one transaction) and resend
//! (a rate-limited token swap, then the email). Used by the endpoints, the bootstrap
//! tool and the local stack's seeding.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Duration, Utc};

use crate::audit::{Action, AuditRecord, Entry, Origin, Requester};
use crate::clock;
use crate::config::Config;
use crate::db::{self, key, n, s, tx, Db, TxError};
use crate::domain::{AccountId, Email, Seat, UserId, UserStatus, UserType};
use crate::error::{ApiError, ErrorCode};
use crate::idp::{IdentityProvider, IdpError};
use crate::list_index::{self, RowChange, RowUpdate};
use crate::mail::{escape_html, Email as OutgoingEmail, Mailer};
use crate::model::{
    self, AccountItem, BillingItem, IdentityItem, ResendCounterItem, TokenItem, UserItem,
    UsernameItem,
};
use crate::self_service::{cognito_error, CognitoCall};
use crate::token::{self, SignupToken};
use crate::views::User;

/// How long a signup holds its lease before another attempt may take over (a crashed
/// attempt blocks retries at most this long).
pub const SIGNUP_LEASE_SECONDS: i64 = 30;

/// A person to invite.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Email,
    pub email: Email,
    pub firstname: String,
    pub lastname: String,
    pub user_type: UserType,
    pub owner: bool,
}

/// Where the invitation's seat comes from.
#[derive(Debug, Clone)]
pub enum SeatSource {
    /// An existing account: take one seat of the user's kind if one is left.
    Account { id: AccountId, name: String },
    /// A new account created in the same transaction (the bootstrap of its owner).
    NewAccount(Box<AccountItem>),
}

/// Who sends the invitation, for the email's words.
#[derive(Debug, Clone)]
pub struct Inviter {
    pub name: String,
}

/// A created invitation. The token exists only here and in the email.
#[derive(Debug)]
pub struct Invited {
    pub user: UserItem,
    pub token: SignupToken,
}

/// Creates the pending user, claims the username, stores the token hash, records the
/// billing line and takes the seat, all in one transaction; then mails the invitation.
/// If the email cannot be sent, the transaction is undone and the caller gets an error,
/// so the same request can simply be retried.
pub async fn invite(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    seat_source: SeatSource,
    inviter: &Inviter,
    new: NewUser,
    requester: &Requester,
) -> Result<Invited, ApiError> {
    let (account_id, account_name) = match &seat_source {
        SeatSource::Account { id, name } => (*id, name.clone()),
        SeatSource::NewAccount(account) => (account.id, account.name.clone()),
    };
    let now = clock::now();
    let now_iso = clock::iso(now);
    let token = SignupToken::generate()?;
    let expires_at = token_expiry(config, now);
    let user_id = UserId::new();
    let user = UserItem {
        pk: model::account_pk(account_id),
        sk: model::user_sk(user_id),
        kind: model::KIND_USER.into(),
        id: user_id,
        account_id,
        username: new.username,
        email: new.email,
        firstname: new.firstname,
        lastname: new.lastname,
        user_type: new.user_type,
        status: UserStatus::PENDING,
        owner: new.owner,
        mfa: false,
        deleted: false,
        create_date: now_iso.clone(),
        update_date: now_iso.clone(),
        delete_date: None,
        sub: None,
        token_hash: Some(token.hash.clone()),
        signup_lease: None,
        signup_lease_until: None,
    };
    let seat = user.user_type.seat();
    // Counted before anything is written, so a refused invitation leaves nothing behind.
    take_invitation_mail_slots(db, config, &user.email, account_id).await?;

    let operations = invitation_writes(
        db.table(),
        &user,
        &token.hash,
        expires_at.timestamp(),
        &seat_source,
        &now_iso,
    )?;
    let record = AuditRecord::new(
        account_id,
        Entry::new(Action::UserInvited, requester.user, Some(user.id))
            .field("email", (), user.email.as_str())
            .field("firstname", (), user.firstname.as_str())
            .field("lastname", (), user.lastname.as_str())
            .field("userType", (), user.user_type.0)
            .field("status", (), user.status.0),
        &requester.origin,
        now,
    );
    match list_index::transact_indexed(
        db,
        operations,
        account_id,
        &RowChange::Put(User::from(&user)),
        std::slice::from_ref(&record),
    )
    .await
    {
        Ok(()) => {}
        Err(TxError::ConditionFailed(failed)) if failed.contains(&1) => {
            return Err(ApiError::app(
                ErrorCode::Duplicate,
                "A user with this username already exists.",
            ))
        }
        Err(TxError::ConditionFailed(failed)) if failed.contains(&4) => {
            return Err(match seat_source {
                SeatSource::Account { .. } => ApiError::app(
                    ErrorCode::Cost,
                    format!(
                        "The account's package has no {} user slot left.",
                        seat_name(seat)
                    ),
                ),
                SeatSource::NewAccount(_) => {
                    ApiError::app(ErrorCode::Duplicate, "This account already exists.")
                }
            })
        }
        Err(TxError::ConditionFailed(failed)) => {
            return Err(ApiError::internal(format!(
                "invitation transaction: unexpected condition failure at {failed:?}"
            )))
        }
        Err(TxError::Other(err)) => {
            // The answer may have been lost after the transaction committed: the user
            // item, read by its key, tells. If it is there, carry on as if it had answered.
            match db.get_user(account_id, user.id).await {
                Ok(Some(current)) if current.token_hash == user.token_hash => {
                    tracing::warn!(user_id = %user.id, "invitation transaction answered an error but had committed");
                }
                _ => return Err(err),
            }
        }
    }

    let email = invitation_email(
        config,
        &user,
        &account_name,
        inviter,
        &token.token,
        expires_at,
    );
    if let Err(mail_error) = mailer.send(email).await {
        tracing::warn!(user_id = %user.id, error = %mail_error, "invitation email failed; undoing the invitation");
        match undo_invitation(db, &user, &token.hash, &seat_source, &now_iso, &record).await? {
            Undo::Undone => {
                return Err(ApiError::app(
                    ErrorCode::InternalError,
                    "The invitation email could not be sent, so the invitation was not created. Please try again.",
                ))
            }
            Undo::Kept => {
                // Signed up, re-sent, retyped or deleted in the meantime: someone acted
                // on it, so it stands.
                tracing::info!(user_id = %user.id, "invitation changed while its email failed; kept");
            }
        }
    }
    tracing::info!(user_id = %user.id, account_id = %account_id, "user invited");
    Ok(Invited { user, token })
}

/// When a token issued at `now` stops being valid.
fn token_expiry(config: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(
        i64::try_from(config.signup_token_ttl.as_secs()).unwrap_or(i64::MAX / 2),
    )
}

fn token_item(hash: &str, user: &UserItem, expires_at: i64) -> TokenItem {
    TokenItem {
        pk: model::token_pk(hash),
        sk: model::TOKEN_SK.into(),
        kind: model::KIND_TOKEN.into(),
        account_id: user.account_id,
        user_id: user.id,
        expires_at,
    }
}

/// The invitation's transaction: user (0), username claim (1), token (2), billing line (3)
/// and seat or new account (4). The indexes are those of `TxError::ConditionFailed`.
fn invitation_writes(
    table: &str,
    user: &UserItem,
    token_hash: &str,
    expires_at: i64,
    seat_source: &SeatSource,
    now_iso: &str,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let seat = user.user_type.seat();
    let seat_write = match seat_source {
        SeatSource::Account { .. } => take_seat(table, user.account_id, seat, now_iso)?,
        SeatSource::NewAccount(account) => {
            let mut account = (**account).clone();
            account.owner_id = user.id;
            match seat {
                Seat::Admin => account.usage.used_admin_users += 1,
                Seat::Creative => account.usage.used_creative_users += 1,
                Seat::Standard => account.usage.used_standard_users += 1,
            }
            tx::put(
                table,
                db::to_item(&account)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?
        }
    };
    Ok(vec![
        tx::put(
            table,
            db::to_item(user)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&UsernameItem {
                pk: model::username_pk(&user.username),
                sk: model::USERNAME_SK.into(),
                kind: model::KIND_USERNAME.into(),
                account_id: user.account_id,
                user_id: user.id,
            })?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&token_item(token_hash, user, expires_at))?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&BillingItem {
                pk: model::account_pk(user.account_id),
                sk: model::billing_sk(user.id),
                kind: model::KIND_BILLING.into(),
                user_id: user.id,
                seat,
                user_type: user.user_type,
                start_date: now_iso.to_owned(),
                end_date: None,
                status: "active".into(),
            })?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        seat_write,
    ])
}

/// Takes one seat of `seat`'s kind if the package has one left.
pub fn take_seat(
    table: &str,
    account: AccountId,
    seat: Seat,
    now_iso: &str,
) -> Result<TransactWriteItem, ApiError> {
    tx::update(
        table,
        key(model::account_pk(account), model::ACCOUNT_SK),
        "SET #used = #used + :one, updateDate = :now",
        Some("attribute_exists(pk) AND #used < #limit"),
        vec![
            ("#used", seat.used_attribute()),
            ("#limit", seat.limit_attribute()),
        ],
        vec![(":one", n(1)), (":now", s(now_iso))],
    )
}

/// Gives one seat of `seat`'s kind back.
pub fn free_seat(
    table: &str,
    account: AccountId,
    seat: Seat,
    now_iso: &str,
) -> Result<TransactWriteItem, ApiError> {
    tx::update(
        table,
        key(model::account_pk(account), model::ACCOUNT_SK),
        "SET #used = #used - :one, updateDate = :now",
        Some("attribute_exists(pk) AND #used > :zero"),
        vec![("#used", seat.used_attribute())],
        vec![(":one", n(1)), (":zero", n(0)), (":now", s(now_iso))],
    )
}

pub fn seat_name(seat: Seat) -> &'static str {
    match seat {
        Seat::Admin => "admin",
        Seat::Creative => "creative",
        Seat::Standard => "standard",
    }
}

/// What became of an invitation whose email failed.
enum Undo {
    /// Everything it wrote is gone.
    Undone,
    /// It was signed up, re-sent, retyped or deleted meanwhile, so it stays as it is.
    Kept,
}

/// Removes everything `invite` wrote, in one transaction, conditioned on the invitation
/// being untouched since. A transient failure is retried; the user item, read by key,
/// settles whether an attempt whose answer was lost went through.
async fn undo_invitation(
    db: &Db,
    user: &UserItem,
    token_hash: &str,
    seat_source: &SeatSource,
    now_iso: &str,
    record: &AuditRecord,
) -> Result<Undo, ApiError> {
    const ATTEMPTS: usize = 3;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        // The invitation's record goes with it: no record of a change that did not stay.
        let mut writes = undo_writes(db.table(), user, token_hash, seat_source, now_iso)?;
        writes.extend(crate::audit::undo_writes(
            std::slice::from_ref(record),
            db.table(),
            db.audit_retention(),
        )?);
        match list_index::transact_indexed(
            db,
            writes,
            user.account_id,
            &RowChange::Remove(user.id),
            &[],
        )
        .await
        {
            Ok(()) => return Ok(Undo::Undone),
            Err(TxError::ConditionFailed(_)) => {}
            Err(TxError::Other(err)) => last_error = Some(err),
        }
        match db.get_user(user.account_id, user.id).await {
            Ok(None) => return Ok(Undo::Undone),
            Ok(Some(current))
                if current.deleted
                    || current.status != UserStatus::PENDING
                    || current.user_type != user.user_type
                    || current.token_hash.as_deref() != Some(token_hash) =>
            {
                return Ok(Undo::Kept)
            }
            Ok(Some(_)) => {}
            Err(err) => last_error = Some(err),
        }
    }
    tracing::error!(user_id = %user.id, "could not undo an invitation whose email failed; it stays pending until re-sent or deleted");
    Err(last_error.unwrap_or_else(|| {
        ApiError::internal("undoing the invitation kept failing on its conditions")
    }))
}

fn undo_writes(
    table: &str,
    user: &UserItem,
    token_hash: &str,
    seat_source: &SeatSource,
    now_iso: &str,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let seat_write = match seat_source {
        SeatSource::Account { .. } => {
            free_seat(table, user.account_id, user.user_type.seat(), now_iso)?
        }
        SeatSource::NewAccount(_) => tx::delete(
            table,
            key(model::account_pk(user.account_id), model::ACCOUNT_SK),
            None,
            vec![],
        )?,
    };
    Ok(vec![
        tx::delete(
            table,
            key(&user.pk, &user.sk),
            // Only a pending user holds a token hash; the type says which seat to free.
            Some("tokenHash = :hash AND deleted = :false AND userType = :type"),
            vec![
                (":hash", s(token_hash)),
                (":false", AttributeValue::Bool(false)),
                (":type", n(user.user_type.0)),
            ],
        )?,
        tx::delete(
            table,
            key(model::username_pk(&user.username), model::USERNAME_SK),
            Some("userId = :user"),
            vec![(":user", s(user.id.to_string()))],
        )?,
        tx::delete(
            table,
            key(model::token_pk(token_hash), model::TOKEN_SK),
            None,
            vec![],
        )?,
        tx::delete(
            table,
            key(
                model::account_pk(user.account_id),
                model::billing_sk(user.id),
            ),
            None,
            vec![],
        )?,
        seat_write,
    ])
}

/// The invitation email: subject, plain text and HTML, with the signup link and expiry.
pub fn invitation_email(
    config: &Config,
    user: &UserItem,
    account_name: &str,
    inviter: &Inviter,
    token: &str,
    expires_at: DateTime<Utc>,
) -> OutgoingEmail {
    let separator = if config.signup_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let link = format!("{}{separator}token={token}", config.signup_url);
    let expiry = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let greeting = if user.firstname.is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {},", user.firstname)
    };
    let subject = crate::mail::subject_line(&format!("You're invited to join {account_name}"));
    let text = format!(
        "{greeting}\n\n{} invited you to join {account_name}.\n\nFinish your signup here:\n{link}\n\nThis link expires on {expiry}. If you did not expect this invitation, you can ignore this email.\n",
        inviter.name
    );
    let html = format!(
        "<!doctype html><html><body><p>{}</p><p>{} invited you to join <strong>{}</strong>.</p><p><a href=\"{}\">Finish your signup</a></p><p>This link expires on {}. If you did not expect this invitation, you can ignore this email.</p></body></html>",
        escape_html(&greeting),
        escape_html(&inviter.name),
        escape_html(account_name),
        escape_html(&link),
        expiry
    );
    OutgoingEmail {
        to: user.email.to_string(),
        subject,
        text,
        html,
    }
}

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
        db.release_lease(key(&user.pk, &user.sk), "signupLease", &lease)
            .await;
    }
    result
}

fn invalid_token() -> ApiError {
    ApiError::app(
        ErrorCode::Token,
        "The signup link is invalid or has expired.",
    )
}

pub(crate) fn email_signed_up_already() -> ApiError {
    ApiError::app(
        ErrorCode::Duplicate,
        "A user with this email address has already signed up.",
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
    let activated = RowChange::Update(
        user.id,
        RowUpdate {
            firstname: Some(form.firstname.clone()),
            lastname: Some(form.lastname.clone()),
            status: Some(UserStatus::ACTIVE),
            ..RowUpdate::touched(&now_iso)
        },
    );
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
    match list_index::transact_indexed(
        db,
        activation_writes(db.table(), user, hash, lease, &sub, form, &now_iso)?,
        user.account_id,
        &activated,
        &[record],
    )
    .await
    {
        Ok(()) => {}
        Err(TxError::ConditionFailed(failed)) if failed.contains(&2) => {
            return Err(email_signed_up_already())
        }
        // The lease was lost, the token replaced or consumed, or the user deleted.
        Err(TxError::ConditionFailed(_)) => return Err(invalid_token()),
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
                _ => Err(err),
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

/// The signup's transaction: the user turns active (0), the token goes (1), the
/// identity points at the user (2). The indexes are those of `TxError::ConditionFailed`.
fn activation_writes(
    table: &str,
    user: &UserItem,
    hash: &str,
    lease: &str,
    sub: &str,
    form: &SignupForm<'_>,
    now_iso: &str,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    Ok(vec![
        tx::update(
            table,
            key(&user.pk, &user.sk),
            "SET #status = :active, firstname = :first, lastname = :last, #sub = :sub, updateDate = :now REMOVE tokenHash, signupLease, signupLeaseUntil",
            Some("signupLease = :lease AND tokenHash = :hash AND #status = :pending AND deleted = :false"),
            vec![("#status", "status"), ("#sub", "sub")],
            vec![
                (":active", n(UserStatus::ACTIVE.0)),
                (":pending", n(UserStatus::PENDING.0)),
                (":first", s(&form.firstname)),
                (":last", s(&form.lastname)),
                (":sub", s(sub)),
                (":now", s(now_iso)),
                (":lease", s(lease)),
                (":hash", s(hash)),
                (":false", AttributeValue::Bool(false)),
            ],
        )?,
        tx::delete(
            table,
            key(model::token_pk(hash), model::TOKEN_SK),
            Some("attribute_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&IdentityItem {
                pk: model::identity_pk(sub),
                sk: model::IDENTITY_SK.into(),
                kind: model::KIND_IDENTITY.into(),
                account_id: user.account_id,
                user_id: user.id,
            })?,
            Some("attribute_not_exists(pk) OR userId = :user"),
            vec![(":user", s(user.id.to_string()))],
        )?,
    ])
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
    let gone = |result: Result<(), IdpError>| match result {
        Err(IdpError::UserNotFound) => Ok(()),
        other => other,
    };
    gone(idp.sign_out_everywhere(sub).await).map_err(signup_idp_error)?;
    gone(idp.delete_user(sub).await).map_err(signup_idp_error)?;
    Ok(true)
}

fn signup_idp_error(err: IdpError) -> ApiError {
    cognito_error(CognitoCall::Signup, err)
}

/// One signup at a time per pending user: the others see 499 TOKEN.
async fn acquire_lease(db: &Db, user: &UserItem, hash: &str, lease: &str) -> Result<(), ApiError> {
    let now = clock::epoch_seconds();
    let result = db
        .client()
        .update_item()
        .table_name(db.table())
        .set_key(Some(key(&user.pk, &user.sk)))
        .update_expression("SET signupLease = :lease, signupLeaseUntil = :until")
        .condition_expression(
            "#status = :pending AND deleted = :false AND tokenHash = :hash AND (attribute_not_exists(signupLeaseUntil) OR signupLeaseUntil < :now)",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":lease", s(lease))
        .expression_attribute_values(":until", n(now + SIGNUP_LEASE_SECONDS))
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":pending", n(UserStatus::PENDING.0))
        .expression_attribute_values(":false", AttributeValue::Bool(false))
        .expression_attribute_values(":hash", s(hash))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) => match err.as_service_error() {
            // A retried attempt whose first try took the lease finds its own lease.
            Some(UpdateItemError::ConditionalCheckFailedException(failed))
                if failed.item().and_then(|item| item.get("signupLease")) == Some(&s(lease)) =>
            {
                Ok(())
            }
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Err(ApiError::app(
                ErrorCode::Token,
                "The signup link is invalid, expired, or already being used.",
            )),
            _ => Err(db::sdk_error("UpdateItem", err)),
        },
    }
}

/// Whether an UpdateItem/PutItem/DeleteItem failed on its condition.
pub fn is_conditional_failure<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// How long the resend limit counts: a window opens with the first resend of a username.
pub const RESEND_WINDOW_SECONDS: i64 = 3600;

fn no_pending_user() -> ApiError {
    ApiError::bad_request(ErrorCode::NotFound, "No pending user with this username.")
}

fn is_pending(user: &UserItem) -> bool {
    !user.deleted && user.status == UserStatus::PENDING
}

/// Re-sends the invitation of the pending user with this username under a new token:
/// the old token dies and the expiry window restarts in one transaction. At most
/// `config.resend_limit_per_hour` resends per username; a resend whose email is not
/// sent does not count.
pub async fn resend_invitation(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    username: &Email,
    origin: &Origin,
) -> Result<(), ApiError> {
    let claim: UsernameItem = db
        .get(model::username_pk(username), model::USERNAME_SK)
        .await?
        .ok_or_else(no_pending_user)?;
    let (user, account) = db
        .get_user_and_account(claim.account_id, claim.user_id)
        .await?;
    let user = user.filter(is_pending).ok_or_else(no_pending_user)?;
    let account = account.ok_or_else(|| {
        ApiError::internal(format!(
            "account {} of user {} is missing",
            user.account_id, user.id
        ))
    })?;
    let window_start = take_resend_slot(db, username, config.resend_limit_per_hour).await?;
    if let Err(refused) = take_invitation_mail_slots(db, config, &user.email, user.account_id).await
    {
        give_back_resend_slot(db, username, window_start).await;
        return Err(refused);
    }
    let result = replace_token_and_send(db, mailer, config, user, &account.name, origin).await;
    if result.is_err() {
        give_back_resend_slot(db, username, window_start).await;
    }
    result
}

async fn replace_token_and_send(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    mut user: UserItem,
    account_name: &str,
    origin: &Origin,
) -> Result<(), ApiError> {
    const ATTEMPTS: usize = 3;
    let token = SignupToken::generate()?;
    let now = clock::now();
    let expires_at = token_expiry(config, now);
    let now_iso = clock::iso(now);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let writes = token_swap_writes(
            db.table(),
            &user,
            &token.hash,
            expires_at.timestamp(),
            &now_iso,
        )?;
        let touched = RowChange::Update(user.id, RowUpdate::touched(&now_iso));
        // Asked for without signing in: no actor. The old and new tokens are not recorded.
        let record = AuditRecord::new(
            user.account_id,
            Entry::new(Action::InvitationResent, None, Some(user.id)),
            origin,
            now,
        );
        let failure =
            match list_index::transact_indexed(db, writes, user.account_id, &touched, &[record])
                .await
            {
                Ok(()) => break,
                Err(TxError::ConditionFailed(_)) => None,
                Err(TxError::Other(err)) => Some(err),
            };
        // Another resend or a signup changed the user since it was read, or the answer
        // was lost: read it again.
        let current = db
            .get_user(user.account_id, user.id)
            .await?
            .filter(is_pending)
            .ok_or_else(no_pending_user)?;
        if current.token_hash.as_deref() == Some(token.hash.as_str()) {
            break;
        }
        if attempt == ATTEMPTS {
            return Err(failure.unwrap_or_else(|| {
                ApiError::contended("replacing the signup token kept failing on its conditions")
            }));
        }
        user = current;
    }

    let email = invitation_email(
        config,
        &user,
        account_name,
        &Inviter {
            name: format!("The {account_name} team"),
        },
        &token.token,
        expires_at,
    );
    if let Err(mail_error) = mailer.send(email).await {
        // The new token stays (nobody has it); the old one is dead. The caller may
        // simply try again: this attempt does not count against the limit.
        tracing::warn!(user_id = %user.id, error = %mail_error, "re-sent invitation email failed");
        return Err(ApiError::app(
            ErrorCode::InternalError,
            "The invitation email could not be sent. Please try again.",
        ));
    }
    tracing::info!(user_id = %user.id, "invitation re-sent");
    Ok(())
}

/// The token swap: the user's hash changes from the one read to the new one (0), the
/// new token is stored (1) and the old one removed (2).
fn token_swap_writes(
    table: &str,
    user: &UserItem,
    new_hash: &str,
    expires_at: i64,
    now_iso: &str,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let mut values = vec![
        (":new", s(new_hash)),
        (":now", s(now_iso)),
        (":pending", n(UserStatus::PENDING.0)),
        (":false", AttributeValue::Bool(false)),
    ];
    let hash_condition = match &user.token_hash {
        Some(old) => {
            values.push((":old", s(old)));
            "tokenHash = :old"
        }
        None => "attribute_not_exists(tokenHash)",
    };
    let mut writes = vec![
        tx::update(
            table,
            key(&user.pk, &user.sk),
            "SET tokenHash = :new, updateDate = :now",
            Some(&format!(
                "{hash_condition} AND #status = :pending AND deleted = :false"
            )),
            vec![("#status", "status")],
            values,
        )?,
        tx::put(
            table,
            db::to_item(&token_item(new_hash, user, expires_at))?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
    ];
    if let Some(old) = &user.token_hash {
        writes.push(tx::delete(
            table,
            key(model::token_pk(old), model::TOKEN_SK),
            None,
            vec![],
        )?);
    }
    Ok(writes)
}

fn resend_counter_key(username: &Email) -> db::Item {
    key(model::resend_pk(username), model::RESEND_SK)
}

/// Takes one resend of the username's window with conditional writes only: either a new
/// window opens (none yet, or the last one is over) or the current one counts one more
/// while it has room. When it is full: 429, retry when the window ends. Returns the
/// window's start.
async fn take_resend_slot(db: &Db, username: &Email, limit: u32) -> Result<i64, ApiError> {
    take_window_slot(db, resend_counter_key(username), model::KIND_RESEND, limit).await
}

/// Takes one invitation email of the address's and the account's hourly bounds (both at
/// once); 429 with the wait when either is used up.
async fn take_invitation_mail_slots(
    db: &Db,
    config: &Config,
    email: &Email,
    account: AccountId,
) -> Result<(), ApiError> {
    let limits = config.invitation_mail_limits;
    tokio::try_join!(
        take_window_slot(
            db,
            key(
                model::invitation_mails_pk(email),
                model::INVITATION_MAILS_SK
            ),
            model::KIND_INVITATION_MAILS,
            limits.per_address_per_hour,
        ),
        take_window_slot(
            db,
            key(
                model::account_invitation_mails_pk(account),
                model::INVITATION_MAILS_SK
            ),
            model::KIND_INVITATION_MAILS,
            limits.per_account_per_hour,
        ),
    )?;
    Ok(())
}

/// Takes one slot of the hourly window counted at `counter_key` (see `take_resend_slot`).
async fn take_window_slot(
    db: &Db,
    counter_key: db::Item,
    kind: &str,
    limit: u32,
) -> Result<i64, ApiError> {
    const ATTEMPTS: usize = 3;
    if limit == 0 {
        return Err(ApiError::TooManyRequests {
            retry_after_seconds: RESEND_WINDOW_SECONDS as u64,
        });
    }
    for _ in 0..ATTEMPTS {
        let now = clock::epoch_seconds();
        let opened = db
            .client()
            .update_item()
            .table_name(db.table())
            .set_key(Some(counter_key.clone()))
            .update_expression("SET #kind = :kind, #start = :now, #sends = :one, #expires = :end")
            .condition_expression("attribute_not_exists(pk) OR #start <= :cutoff")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_names("#start", "windowStart")
            .expression_attribute_names("#sends", "sends")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":kind", s(kind))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(now + RESEND_WINDOW_SECONDS))
            .expression_attribute_values(":cutoff", n(now - RESEND_WINDOW_SECONDS))
            .send()
            .await;
        match opened {
            Ok(_) => return Ok(now),
            Err(err) if is_conditional_failure(&err) => {}
            Err(err) => return Err(db::sdk_error("UpdateItem", err)),
        }
        let counted = db
            .client()
            .update_item()
            .table_name(db.table())
            .set_key(Some(counter_key.clone()))
            .update_expression("SET #sends = #sends + :one")
            .condition_expression("#start > :cutoff AND #sends < :limit")
            .expression_attribute_names("#start", "windowStart")
            .expression_attribute_names("#sends", "sends")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":cutoff", n(now - RESEND_WINDOW_SECONDS))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let counter: ResendCounterItem = match counted {
            Ok(output) => {
                return db::from_item::<ResendCounterItem>(output.attributes.unwrap_or_default())
                    .map(|counter| counter.window_start)
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        Some(item) => db::from_item(item.clone())?,
                        // Removed in between (by TTL): start over.
                        None => continue,
                    }
                }
                _ => return Err(db::sdk_error("UpdateItem", err)),
            },
        };
        if let Some(retry_after_seconds) = resend_retry_after(&counter, limit, now) {
            return Err(ApiError::TooManyRequests {
                retry_after_seconds,
            });
        }
        // The window ended between the two writes: start over.
    }
    Err(ApiError::internal("the resend counter kept changing"))
}

/// Seconds until `counter`'s window ends, if it is current and full at `now`.
fn resend_retry_after(counter: &ResendCounterItem, limit: u32, now: i64) -> Option<u64> {
    let ends = counter.window_start + RESEND_WINDOW_SECONDS;
    (ends > now && counter.sends >= i64::from(limit)).then(|| (ends - now).max(1) as u64)
}

/// Uncounts a resend whose email was not sent, if its window is still the current one.
async fn give_back_resend_slot(db: &Db, username: &Email, window_start: i64) {
    let result = db
        .client()
        .update_item()
        .table_name(db.table())
        .set_key(Some(resend_counter_key(username)))
        .update_expression("SET #sends = #sends - :one")
        .condition_expression("#start = :start AND #sends > :zero")
        .expression_attribute_names("#start", "windowStart")
        .expression_attribute_names("#sends", "sends")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":start", n(window_start))
        .send()
        .await;
    if let Err(err) = result {
        if !is_conditional_failure(&err) {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "could not give back a resend that was not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config(signup_url: &str) -> Config {
        Config {
            table_name: "users".into(),
            user_pool_id: "pool".into(),
            user_pool_client_id: "client".into(),
            sender_email: "no-reply@example.com".into(),
            ses_configuration_set: None,
            signup_url: signup_url.into(),
            signup_token_ttl: std::time::Duration::from_secs(7 * 24 * 3600),
            resend_limit_per_hour: 3,
            invitation_mail_limits: Default::default(),
            mfa_issuer: "Amove".into(),
            audit_retention_days: crate::audit::DEFAULT_RETENTION_DAYS,
        }
    }

    fn pending_user(firstname: &str, token_hash: Option<&str>) -> UserItem {
        let account_id = AccountId::new();
        let id = UserId::new();
        UserItem {
            pk: model::account_pk(account_id),
            sk: model::user_sk(id),
            kind: model::KIND_USER.into(),
            id,
            account_id,
            username: Email::parse("ada@example.com", "username").unwrap(),
            email: Email::parse("ada.mail@example.com", "email").unwrap(),
            firstname: firstname.into(),
            lastname: String::new(),
            user_type: UserType::DESKTOP_CREATIVE_USER,
            status: UserStatus::PENDING,
            owner: false,
            mfa: false,
            deleted: false,
            create_date: "2030-01-01T00:00:00.000Z".into(),
            update_date: "2030-01-01T00:00:00.000Z".into(),
            delete_date: None,
            sub: None,
            token_hash: token_hash.map(str::to_owned),
            signup_lease: None,
            signup_lease_until: None,
        }
    }

    fn expiry() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, 5, 6, 0).unwrap()
    }

    #[test]
    fn the_invitation_has_the_link_and_the_expiry_in_both_parts() {
        let email = invitation_email(
            &config("https://app.example.com/signup"),
            &pending_user("Ada", None),
            "Example Studio",
            &Inviter {
                name: "Grace Hopper".into(),
            },
            "tok_EN-123",
            expiry(),
        );
        assert_eq!(email.to, "ada.mail@example.com");
        assert_eq!(email.subject, "You're invited to join Example Studio");
        let link = "https://app.example.com/signup?token=tok_EN-123";
        for part in [&email.text, &email.html] {
            assert!(part.contains(link), "{part}");
            assert!(part.contains("2030-03-04 05:06 UTC"), "{part}");
            assert!(part.contains("Grace Hopper"), "{part}");
            assert!(part.contains("Example Studio"), "{part}");
        }
        assert!(email.html.contains(&format!("href=\"{link}\"")));
        assert!(!email.text.contains('<'));
    }

    #[test]
    fn the_html_part_escapes_names_and_the_link_keeps_an_existing_query() {
        let email = invitation_email(
            &config("https://app.example.com/join?lang=en"),
            &pending_user("<b>Ada</b>", None),
            "Tom & Jerry's",
            &Inviter {
                name: "\"Grace\"".into(),
            },
            "abc",
            expiry(),
        );
        assert!(email
            .text
            .contains("https://app.example.com/join?lang=en&token=abc"));
        assert!(email
            .html
            .contains("https://app.example.com/join?lang=en&amp;token=abc"));
        assert!(email.html.contains("&lt;b&gt;Ada&lt;/b&gt;"));
        assert!(email.html.contains("Tom &amp; Jerry&#39;s"));
        assert!(email.html.contains("&quot;Grace&quot;"));
        assert!(!email.html.contains("<b>"));
    }

    #[test]
    fn a_token_expires_after_the_configured_lifetime() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let mut config = config("https://app.example.com/signup");
        assert_eq!(
            token_expiry(&config, now),
            Utc.with_ymd_and_hms(2030, 1, 8, 0, 0, 0).unwrap()
        );
        config.signup_token_ttl = std::time::Duration::from_secs(2);
        assert_eq!(token_expiry(&config, now).timestamp(), now.timestamp() + 2);
    }

    fn counter(window_start: i64, sends: i64) -> ResendCounterItem {
        ResendCounterItem {
            pk: "RESEND#ada@example.com".into(),
            sk: model::RESEND_SK.into(),
            kind: model::KIND_RESEND.into(),
            window_start,
            sends,
            expires_at: window_start + RESEND_WINDOW_SECONDS,
        }
    }

    #[test]
    fn a_full_current_resend_window_asks_to_retry_when_it_ends() {
        let now = 10_000;
        assert_eq!(
            resend_retry_after(&counter(now - 600, 3), 3, now),
            Some(3000)
        );
        assert_eq!(resend_retry_after(&counter(now - 3599, 5), 3, now), Some(1));
    }

    #[test]
    fn a_resend_window_with_room_or_over_does_not_refuse() {
        let now = 10_000;
        assert_eq!(resend_retry_after(&counter(now - 600, 2), 3, now), None);
        assert_eq!(resend_retry_after(&counter(now - 3600, 3), 3, now), None);
    }

    #[test]
    fn the_token_swap_is_conditioned_on_the_old_hash_and_removes_the_old_token() {
        let user = pending_user("Ada", Some("old-hash"));
        let writes = token_swap_writes("users", &user, "new-hash", 99, "now").unwrap();
        assert_eq!(writes.len(), 3);
        let swap = writes[0].update().unwrap();
        let condition = swap.condition_expression().unwrap();
        assert!(condition.contains("tokenHash = :old"), "{condition}");
        assert!(condition.contains("#status = :pending"), "{condition}");
        assert!(condition.contains("deleted = :false"), "{condition}");
        let values = swap.expression_attribute_values().unwrap();
        assert_eq!(values[":old"], s("old-hash"));
        assert_eq!(values[":new"], s("new-hash"));
        let put = writes[1].put().unwrap();
        assert_eq!(put.item()["pk"], s(model::token_pk("new-hash")));
        assert_eq!(put.item()["expiresAt"], n(99));
        let removed = writes[2].delete().unwrap();
        assert_eq!(removed.key()["pk"], s(model::token_pk("old-hash")));
    }

    #[test]
    fn a_user_without_a_token_gets_one_without_a_removal() {
        let user = pending_user("Ada", None);
        let writes = token_swap_writes("users", &user, "new-hash", 99, "now").unwrap();
        assert_eq!(writes.len(), 2);
        let condition = writes[0].update().unwrap().condition_expression().unwrap();
        assert!(
            condition.contains("attribute_not_exists(tokenHash)"),
            "{condition}"
        );
    }
}
