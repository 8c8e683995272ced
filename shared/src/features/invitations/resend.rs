//! Resend: a rate-limited swap of the signup token, then the email again.

use super::*;

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
    let (email, account_id) = (user.email.clone(), user.account_id);
    let slots = match take_invitation_mail_slots(db, config, &email, account_id).await {
        Ok(slots) => slots,
        Err(refused) => {
            give_back_resend_slot(db, username, window_start).await;
            return Err(refused);
        }
    };
    let result = replace_token_and_send(db, mailer, config, user, &account.name, origin).await;
    if result.is_err() {
        give_back_resend_slot(db, username, window_start).await;
        give_back_invitation_mail_slots(db, &email, account_id, slots).await;
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
        let (writes, touched) = token_swap_writes(
            db.table(),
            &user,
            &token.hash,
            expires_at.timestamp(),
            &now_iso,
        )?;
        // Asked for without signing in: no actor. The old and new tokens are not recorded.
        let record = AuditRecord::new(
            user.account_id,
            Entry::new(Action::InvitationResent, None, Some(user.id)),
            origin,
            now,
        );
        let failure =
            match indexed::transact_indexed(db, writes, user.account_id, &touched, &[record]).await
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
/// new token is stored (1) and the old one removed (2); and the change to the user's row.
pub(super) fn token_swap_writes(
    table: &str,
    user: &UserItem,
    new_hash: &str,
    expires_at: i64,
    now_iso: &str,
) -> Result<(Vec<tx::Write>, RowChange), ApiError> {
    let swapped = users::swap_token(table, user, new_hash, now_iso)?;
    let mut writes = vec![
        swapped.write,
        tokens::store(table, new_hash, user, expires_at)?,
    ];
    if let Some(old) = &user.token_hash {
        writes.push(tokens::remove(table, old)?);
    }
    Ok((writes, swapped.row))
}
