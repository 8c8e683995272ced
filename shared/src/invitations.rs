//! The invitation lifecycle's core: invite (one transaction, then the email, undone if
//! the email fails) and signup (a lease, the identity provider, one transaction).
//! Used by the endpoints, the bootstrap tool and the local stack's seeding.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::Duration;

use crate::clock;
use crate::config::Config;
use crate::db::{self, key, n, s, tx, Db, TxError};
use crate::domain::{AccountId, Email, Seat, UserId, UserStatus, UserType};
use crate::error::{ApiError, ErrorCode};
use crate::idp::{IdentityProvider, IdpError};
use crate::mail::{escape_html, Email as OutgoingEmail, Mailer};
use crate::model::{
    self, AccountItem, BillingItem, IdentityItem, TokenItem, UserItem, UsernameItem,
};
use crate::token::{self, SignupToken};

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
/// If the email cannot be sent, the transaction is undone and the caller gets an error.
pub async fn invite(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    seat_source: SeatSource,
    inviter: &Inviter,
    new: NewUser,
) -> Result<Invited, ApiError> {
    let (account_id, account_name) = match &seat_source {
        SeatSource::Account { id, name } => (*id, name.clone()),
        SeatSource::NewAccount(account) => (account.id, account.name.clone()),
    };
    let now = clock::now();
    let now_iso = clock::iso(now);
    let token = SignupToken::generate();
    let expires_at = now + Duration::seconds(config.signup_token_ttl.as_secs() as i64);
    let user = UserItem {
        pk: model::account_pk(account_id),
        sk: model::user_sk(UserId::new()),
        kind: model::KIND_USER.into(),
        id: UserId::new(),
        account_id,
        username: new.username.clone(),
        email: new.email.clone(),
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
    let user = UserItem {
        sk: model::user_sk(user.id),
        ..user
    };
    let seat = user.user_type.seat();

    let table = db.table();
    let mut operations = vec![
        tx::put(
            table,
            db::to_item(&user)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&UsernameItem {
                pk: model::username_pk(&user.username),
                sk: model::USERNAME_SK.into(),
                kind: model::KIND_USERNAME.into(),
                account_id,
                user_id: user.id,
            })?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&token_item(&token.hash, &user, expires_at.timestamp()))?,
            None,
            vec![],
        )?,
        tx::put(
            table,
            db::to_item(&BillingItem {
                pk: model::account_pk(account_id),
                sk: model::billing_sk(user.id),
                kind: model::KIND_BILLING.into(),
                user_id: user.id,
                seat,
                user_type: user.user_type,
                start_date: now_iso.clone(),
                end_date: None,
                status: "active".into(),
            })?,
            None,
            vec![],
        )?,
    ];
    operations.push(match &seat_source {
        SeatSource::Account { .. } => take_seat(table, account_id, seat, &now_iso)?,
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
    });
    match db.transact(operations).await {
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
        Err(err) => return Err(err.into()),
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
        undo_invitation(db, &user, &token.hash, &seat_source, &now_iso).await?;
        return Err(ApiError::app(
            ErrorCode::InternalError,
            "The invitation email could not be sent, so the invitation was not created. Please try again.",
        ));
    }
    tracing::info!(user_id = %user.id, account_id = %account_id, "user invited");
    Ok(Invited { user, token })
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

/// Removes everything `invite` wrote, in one transaction, conditioned on the invitation
/// being untouched since.
async fn undo_invitation(
    db: &Db,
    user: &UserItem,
    token_hash: &str,
    seat_source: &SeatSource,
    now_iso: &str,
) -> Result<(), ApiError> {
    let table = db.table();
    let mut operations = vec![
        tx::delete(
            table,
            key(&user.pk, &user.sk),
            Some("tokenHash = :hash"),
            vec![(":hash", s(token_hash))],
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
    ];
    operations.push(match seat_source {
        SeatSource::Account { .. } => {
            free_seat(table, user.account_id, user.user_type.seat(), now_iso)?
        }
        SeatSource::NewAccount(_) => tx::delete(
            table,
            key(model::account_pk(user.account_id), model::ACCOUNT_SK),
            None,
            vec![],
        )?,
    });
    db.transact(operations).await.map_err(ApiError::from)
}

/// The invitation email: subject, plain text and HTML, with the signup link and expiry.
pub fn invitation_email(
    config: &Config,
    user: &UserItem,
    account_name: &str,
    inviter: &Inviter,
    token: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
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
    let subject = format!("You're invited to join {account_name}");
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
    let invalid = || {
        ApiError::app(
            ErrorCode::Token,
            "The signup link is invalid or has expired.",
        )
    };
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
/// A failure at any step leaves the token usable, so a retry succeeds.
pub async fn signup(
    db: &Db,
    idp: &dyn IdentityProvider,
    form: SignupForm<'_>,
) -> Result<UserItem, ApiError> {
    let user = pending_user_for_token(db, form.token).await?;
    let hash = token::hash(form.token.trim());
    let lease = uuid::Uuid::new_v4().to_string();
    acquire_lease(db, &user, &hash, &lease).await?;

    let result = provision(db, idp, &user, &hash, &lease, &form).await;
    if result.is_err() {
        release_lease(db, &user, &lease).await;
    }
    result
}

async fn provision(
    db: &Db,
    idp: &dyn IdentityProvider,
    user: &UserItem,
    hash: &str,
    lease: &str,
    form: &SignupForm<'_>,
) -> Result<UserItem, ApiError> {
    let sub = idp
        .create_user(user.email.as_str(), &form.firstname, &form.lastname)
        .await
        .map_err(signup_idp_error)?;
    if let Err(err) = idp.set_permanent_password(&sub, form.password).await {
        if matches!(err, IdpError::InvalidPassword(_)) {
            // The identity has no usable password yet: remove it so none is left behind
            // that no record points to. If this fails, the next attempt reuses it.
            if let Err(cleanup) = idp.delete_user(&sub).await {
                tracing::warn!(error = %cleanup, "could not remove the identity after a refused password");
            }
        }
        return Err(signup_idp_error(err));
    }

    let now_iso = clock::now_iso();
    let table = db.table();
    let operations = vec![
        tx::update(
            table,
            key(&user.pk, &user.sk),
            "SET #status = :active, firstname = :first, lastname = :last, #sub = :sub, updateDate = :now REMOVE tokenHash, signupLease, signupLeaseUntil",
            Some("signupLease = :lease AND #status = :pending AND deleted = :false"),
            vec![("#status", "status"), ("#sub", "sub")],
            vec![
                (":active", n(UserStatus::ACTIVE.0)),
                (":pending", n(UserStatus::PENDING.0)),
                (":first", s(&form.firstname)),
                (":last", s(&form.lastname)),
                (":sub", s(&sub)),
                (":now", s(&now_iso)),
                (":lease", s(lease)),
                (":false", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
            ],
        )?,
        tx::delete(table, key(model::token_pk(hash), model::TOKEN_SK), Some("attribute_exists(pk)"), vec![])?,
        tx::put(
            table,
            db::to_item(&IdentityItem {
                pk: model::identity_pk(&sub),
                sk: model::IDENTITY_SK.into(),
                kind: model::KIND_IDENTITY.into(),
                account_id: user.account_id,
                user_id: user.id,
            })?,
            Some("attribute_not_exists(pk) OR userId = :user"),
            vec![(":user", s(user.id.to_string()))],
        )?,
    ];
    match db.transact(operations).await {
        Ok(()) => {}
        Err(TxError::ConditionFailed(failed)) if failed.contains(&2) => {
            return Err(ApiError::app(
                ErrorCode::Cognito,
                "This identity already belongs to another user.",
            ))
        }
        Err(TxError::ConditionFailed(_)) => {
            return Err(ApiError::app(
                ErrorCode::Token,
                "The signup link is invalid or has expired.",
            ))
        }
        Err(err) => return Err(err.into()),
    }
    tracing::info!(user_id = %user.id, "signup completed");
    let mut active = user.clone();
    active.status = UserStatus::ACTIVE;
    active.firstname = form.firstname.clone();
    active.lastname = form.lastname.clone();
    active.sub = Some(sub);
    active.update_date = now_iso;
    active.token_hash = None;
    Ok(active)
}

fn signup_idp_error(err: IdpError) -> ApiError {
    match err {
        IdpError::InvalidPassword(reason) => ApiError::app(ErrorCode::Security, reason),
        IdpError::Throttled => ApiError::TooManyRequests {
            retry_after_seconds: 1,
        },
        IdpError::Rejected { code, message } => {
            ApiError::app(ErrorCode::Cognito, format!("{code}: {message}"))
        }
        IdpError::UsernameExists => ApiError::app(
            ErrorCode::Duplicate,
            "A user with this username already exists.",
        ),
        other => ApiError::internal(format!("identity provider during signup: {other}")),
    }
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
        .expression_attribute_values(":false", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
        .expression_attribute_values(":hash", s(hash))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if is_conditional_failure(&err) => Err(ApiError::app(
            ErrorCode::Token,
            "The signup link is invalid, expired, or already being used.",
        )),
        Err(err) => Err(db::sdk_error("UpdateItem", err)),
    }
}

async fn release_lease(db: &Db, user: &UserItem, lease: &str) {
    let result = db
        .client()
        .update_item()
        .table_name(db.table())
        .set_key(Some(key(&user.pk, &user.sk)))
        .update_expression("REMOVE signupLease, signupLeaseUntil")
        .condition_expression("signupLease = :lease")
        .expression_attribute_values(":lease", s(lease))
        .send()
        .await;
    if let Err(err) = result {
        if !is_conditional_failure(&err) {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&err), "could not release the signup lease; it expires by itself");
        }
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
