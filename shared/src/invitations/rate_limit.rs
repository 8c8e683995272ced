//! The hourly windows that bound invitation emails per address, per account and
//! resends per username.

use super::*;

fn resend_counter_key(username: &Email) -> db::Item {
    key(model::resend_pk(username), model::RESEND_SK)
}

/// Takes one resend of the username's window with conditional writes only: either a new
/// window opens (none yet, or the last one is over) or the current one counts one more
/// while it has room. When it is full: 429, retry when the window ends. Returns the
/// window's start.
pub(super) async fn take_resend_slot(
    db: &Db,
    username: &Email,
    limit: u32,
) -> Result<i64, ApiError> {
    take_window_slot(db, resend_counter_key(username), model::KIND_RESEND, limit).await
}

/// Takes one invitation email of the address's and the account's hourly bounds (both at
/// once); 429 with the wait when either is used up.
pub(super) async fn take_invitation_mail_slots(
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
pub(super) fn resend_retry_after(counter: &ResendCounterItem, limit: u32, now: i64) -> Option<u64> {
    let ends = counter.window_start + RESEND_WINDOW_SECONDS;
    (ends > now && counter.sends >= i64::from(limit)).then(|| (ends - now).max(1) as u64)
}

/// Uncounts a resend whose email was not sent, if its window is still the current one.
pub(super) async fn give_back_resend_slot(db: &Db, username: &Email, window_start: i64) {
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
