//! The hourly windows that bound invitation emails per address, per account and
//! resends per username.

use super::*;
use crate::adapters::db::rate_windows::{Counted, Counter, WINDOW_SECONDS};

/// Takes one resend of the username's window with conditional writes only: either a new
/// window opens (none yet, or the last one is over) or the current one counts one more
/// while it has room. When it is full: 429, retry when the window ends. Returns the
/// window's start.
pub(super) async fn take_resend_slot(
    db: &Db,
    username: &Email,
    limit: u32,
) -> Result<i64, ApiError> {
    take_window_slot(db, Counter::Resends(username), limit).await
}

/// The windows one invitation email was counted in, to give it back if it is not sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct MailSlots {
    to_address: i64,
    of_account: i64,
}

/// Takes one invitation email of the account's hourly bound to this address and of its
/// hourly bound overall (both at once); 429 with the wait when either is used up, and
/// then the other is given back.
pub(super) async fn take_invitation_mail_slots(
    db: &Db,
    config: &Config,
    email: &Email,
    account: AccountId,
) -> Result<MailSlots, ApiError> {
    let limits = config.invitation_mail_limits;
    let to_address = Counter::InvitationMailsTo(account, email);
    let of_account = Counter::InvitationMailsOf(account);
    let (to, of) = tokio::join!(
        take_window_slot(db, to_address, limits.per_address_per_hour),
        take_window_slot(db, of_account, limits.per_account_per_hour),
    );
    match (to, of) {
        (Ok(to_address), Ok(of_account)) => Ok(MailSlots {
            to_address,
            of_account,
        }),
        (Ok(start), Err(refused)) => {
            db.give_back_to_window(to_address, start).await;
            Err(refused)
        }
        (Err(refused), Ok(start)) => {
            db.give_back_to_window(of_account, start).await;
            Err(refused)
        }
        (Err(refused), Err(_)) => Err(refused),
    }
}

/// Gives back the invitation email counted in `slots`: none went out (the invitation was
/// refused, or its email failed), so it spends neither budget.
pub(super) async fn give_back_invitation_mail_slots(
    db: &Db,
    email: &Email,
    account: AccountId,
    slots: MailSlots,
) {
    tokio::join!(
        db.give_back_to_window(Counter::InvitationMailsTo(account, email), slots.to_address),
        db.give_back_to_window(Counter::InvitationMailsOf(account), slots.of_account),
    );
}

/// Takes one slot of the hourly window of `counter` (see `take_resend_slot`).
async fn take_window_slot(db: &Db, counter: Counter<'_>, limit: u32) -> Result<i64, ApiError> {
    const ATTEMPTS: usize = 3;
    if limit == 0 {
        return Err(ApiError::TooManyRequests {
            retry_after_seconds: WINDOW_SECONDS as u64,
        });
    }
    for _ in 0..ATTEMPTS {
        let now = clock::epoch_seconds();
        if db.open_window(counter, now).await? {
            return Ok(now);
        }
        let counter = match db.count_in_window(counter, limit, now).await? {
            Counted::Yes(counter) => return Ok(counter.window_start),
            Counted::No(counter) => counter,
            // Removed in between (by TTL): start over.
            Counted::Missing => continue,
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
pub(super) fn resend_retry_after(counter: &ResendCounterItem, limit: u32, now: i64) -> Option<u64> {
    let ends = counter.window_start + WINDOW_SECONDS;
    (ends > now && counter.sends >= i64::from(limit)).then(|| (ends - now).max(1) as u64)
}

/// Uncounts a resend whose email was not sent, if its window is still the current one.
pub(super) async fn give_back_resend_slot(db: &Db, username: &Email, window_start: i64) {
    db.give_back_to_window(Counter::Resends(username), window_start)
        .await;
}
