//! Invite: the pending user, its username claim, token, billing line and seat in one
//! transaction with its audit record, then the email; undone, record and all, if the
//! email cannot be sent.

use super::*;

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
    let user = UserItem {
        firstname: new.firstname,
        lastname: new.lastname,
        user_type: new.user_type,
        owner: new.owner,
        token_hash: Some(token.hash.clone()),
        ..UserItem::pending(account_id, UserId::new(), new.username, new.email, &now_iso)
    };
    let seat = user.user_type.seat();
    // Counted before anything is written, so a refused invitation leaves nothing behind;
    // given back when no email goes out (a refusal, a failed email), so refusals spend no
    // budget.
    let email = user.email.clone();
    let slots = take_invitation_mail_slots(db, config, &email, account_id).await?;
    let invited = async move {

        let (operations, row) = invitation_writes(
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
        let (roles, operations): (Vec<InviteWrite>, Vec<tx::Write>) = operations.into_iter().unzip();
        match indexed::transact_indexed(
            db,
            operations,
            account_id,
            &row,
            std::slice::from_ref(&record),
        )
        .await
        {
            Ok(()) => {}
            Err(TxError::ConditionFailed(failed))
                if failed_roles(&roles, &failed).contains(&InviteWrite::Username) =>
            {
                return Err(ApiError::app(
                    ErrorCode::Duplicate,
                    "A user with this username already exists.",
                ))
            }
            Err(TxError::ConditionFailed(failed))
                if failed_roles(&roles, &failed).contains(&InviteWrite::Seat) =>
            {
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
                    "invitation transaction: unexpected condition failure of {:?}",
                    failed_roles(&roles, &failed)
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
    .await;
    if invited.is_err() {
        give_back_invitation_mail_slots(db, &email, account_id, slots).await;
    }
    invited
}

/// What each operation of the invitation's transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteWrite {
    User,
    Username,
    Token,
    Billing,
    /// The seat taken, or the new account (with its first seat) created.
    Seat,
}

/// The invitation's transaction, each operation with its role, and the user's new row.
fn invitation_writes(
    table: &str,
    user: &UserItem,
    token_hash: &str,
    expires_at: i64,
    seat_source: &SeatSource,
    now_iso: &str,
) -> Result<(Vec<(InviteWrite, tx::Write)>, RowChange), ApiError> {
    let seat = user.user_type.seat();
    let seat_write = match seat_source {
        SeatSource::Account { .. } => {
            seats::change(table, user.account_id, Some(seat), None, now_iso)?
        }
        SeatSource::NewAccount(account) => {
            let mut account = (**account).clone();
            account.owner_id = user.id;
            match seat {
                Seat::Admin => account.usage.used_admin_users += 1,
                Seat::Creative => account.usage.used_creative_users += 1,
                Seat::Standard => account.usage.used_standard_users += 1,
            }
            accounts::create(table, &account)?
        }
    };
    let created = users::create(table, user)?;
    let writes = vec![
        (InviteWrite::User, created.write),
        (InviteWrite::Username, usernames::claim(table, user)?),
        (
            InviteWrite::Token,
            tokens::store(table, token_hash, user, expires_at)?,
        ),
        (
            InviteWrite::Billing,
            billing::open(table, user, seat, now_iso)?,
        ),
        (InviteWrite::Seat, seat_write),
    ];
    Ok((writes, created.row))
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
        let (mut writes, removed) =
            undo_writes(db.table(), user, token_hash, seat_source, now_iso)?;
        writes.extend(audit_records::undo_writes(
            db.table(),
            std::slice::from_ref(record),
            db.audit_retention(),
        )?);
        match indexed::transact_indexed(db, writes, user.account_id, &removed, &[]).await {
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
) -> Result<(Vec<tx::Write>, RowChange), ApiError> {
    let seat_write = match seat_source {
        SeatSource::Account { .. } => seats::change(
            table,
            user.account_id,
            None,
            Some(user.user_type.seat()),
            now_iso,
        )?,
        SeatSource::NewAccount(_) => accounts::remove(table, user.account_id)?,
    };
    let removed = users::remove_invited(table, user, token_hash)?;
    let writes = vec![
        removed.write,
        usernames::release(table, user)?,
        tokens::remove(table, token_hash)?,
        billing::remove(table, user)?,
        seat_write,
    ];
    Ok((writes, removed.row))
}
