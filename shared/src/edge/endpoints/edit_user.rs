//! PUT /api/v1/user/edit_user: change the type of a user of the caller's account (admins
//! only; the owner's type never changes).
//!
//! The new type, the billing line and, when the seat kind changes, the seat moved from
//! the old kind to the new one are one transaction, conditioned on the user still being
//! live and of the type read: with no seat of the new kind left it answers 499 COST and
//! nothing changes. Setting the type the user already has changes nothing, so a retry
//! after a lost answer is safe.

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::indexed;
use crate::adapters::db::list_leaves::RowChange;
use crate::adapters::db::model::UserItem;
use crate::adapters::db::{billing, contention_pause, failed_roles, seats, tx, users, Db, TxError};
use crate::domain::clock;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::views::User;
use crate::domain::{Seat, UserId, UserType};
use crate::edge::auth::{caller, reconfirm_admin, user_not_found};
use crate::edge::http::{json_body, Reply};
use crate::features::audit::{self, Action, AuditRecord, Entry};
use crate::features::invitations::seat_name;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditUserBody {
    id: String,
    user_type: i64,
}

/// How often the user may change under us before the request gives up.
const ATTEMPTS: u32 = 6;

/// What each operation of a transaction does, to read which one's condition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Target,
    Billing,
    Seats,
    Caller,
}

/// Five sequential calls: identity, caller, target, list shard, TransactWriteItems.
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let mut caller = caller(db, &req).await?;
    crate::edge::auth::require_admin(db, &req, &caller, None).await?;
    let body: EditUserBody = json_body(&req)?;
    let id = UserId::parse(&body.id, "id")?;
    let user_type = UserType::parse_assignable(body.user_type)?;

    for attempt in 1..=ATTEMPTS {
        let target = db
            .get_user(caller.user.account_id, id)
            .await?
            .filter(UserItem::is_live)
            .ok_or_else(user_not_found)?;
        if target.owner {
            let entry = Entry::new(Action::AccessDenied, Some(caller.user.id), Some(target.id));
            audit::record_refusal(
                db,
                caller.user.account_id,
                entry,
                &crate::edge::http::origin(&req),
            )
            .await;
            return Err(ApiError::app(
                ErrorCode::Access,
                "The account owner's type cannot be changed.",
            ));
        }
        if target.user_type == user_type {
            return Reply::json(&User::from(&target));
        }
        let now = clock::now_iso();
        let (writes, retyped) = retype_writes(db.table(), &caller.user, &target, user_type, &now)?;
        let (roles, operations): (Vec<Write>, Vec<tx::Write>) = writes.into_iter().unzip();
        let record = AuditRecord::new(
            caller.user.account_id,
            Entry::new(Action::TypeChanged, Some(caller.user.id), Some(target.id)).field(
                "userType",
                target.user_type.0,
                user_type.0,
            ),
            &crate::edge::http::origin(&req),
            clock::now(),
        );
        let failed = match indexed::transact_indexed(
            db,
            operations,
            caller.user.account_id,
            &retyped,
            &[record],
        )
        .await
        {
            Ok(()) => {
                tracing::info!(user_id = %target.id, from = target.user_type.0, to = user_type.0, "user type changed");
                let mut retyped = target;
                retyped.user_type = user_type;
                retyped.update_date = now;
                return Reply::json(&User::from(&retyped));
            }
            Err(TxError::ConditionFailed(positions)) => failed_roles(&roles, &positions),
            Err(TxError::Other(err)) => return Err(err),
        };
        if failed.contains(&Write::Target) {
            // Deleted or retyped since it was read: read it again, after a short pause
            // so that writers racing on one user spread out.
            tokio::time::sleep(contention_pause(attempt)).await;
            continue;
        }
        if failed.contains(&Write::Caller) {
            caller = reconfirm_admin(db, &caller).await?;
            continue;
        }
        if failed.contains(&Write::Seats) {
            return Err(seat_refusal(db, &target, user_type.seat()).await);
        }
        return Err(ApiError::internal(format!(
            "retype transaction failed on {failed:?}"
        )));
    }
    Err(ApiError::contended(
        "the user kept changing while its type was being changed",
    ))
}

/// The retype's transaction: the user (only if still live, of the type read and not the
/// owner), its billing line, the seat when its kind changes, and the caller still being
/// the admin they were (unless they retype themselves: the user's condition covers that).
fn retype_writes(
    table: &str,
    caller: &UserItem,
    target: &UserItem,
    user_type: UserType,
    now: &str,
) -> Result<(Vec<(Write, tx::Write)>, RowChange), ApiError> {
    let (from, to) = (target.user_type.seat(), user_type.seat());
    let retyped = users::retype(table, target, user_type, now)?;
    let mut writes = vec![
        (Write::Target, retyped.write),
        (Write::Billing, billing::retype(table, target, user_type)?),
    ];
    if from != to {
        writes.push((
            Write::Seats,
            seats::change(table, target.account_id, Some(to), Some(from), now)?,
        ));
    }
    if caller.id != target.id {
        writes.push((Write::Caller, users::still_admin(table, caller)?));
    }
    Ok((writes, retyped.row))
}

/// Why the seat move failed: no seat of the new kind left (COST), or a broken counter.
async fn seat_refusal(db: &Db, target: &UserItem, to: Seat) -> ApiError {
    let account = match db.get_account(target.account_id).await {
        Ok(Some(account)) => account,
        Ok(None) => return ApiError::internal(format!("account {} is missing", target.account_id)),
        Err(err) => return err,
    };
    let limit = match to {
        Seat::Admin => account.limits.limit_admin_users,
        Seat::Creative => account.limits.limit_creative_users,
        Seat::Standard => account.limits.limit_standard_users,
    };
    if account.usage.seats(to) >= limit {
        ApiError::app(
            ErrorCode::Cost,
            format!(
                "The account's package has no {} user slot left.",
                seat_name(to)
            ),
        )
    } else {
        ApiError::internal(format!(
            "account {}: the {} seat counter is at zero for a live user",
            target.account_id,
            seat_name(target.user_type.seat())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Email, UserStatus};

    fn user(user_type: UserType) -> UserItem {
        let email = Email::parse("ada@example.com", "email").unwrap();
        UserItem {
            firstname: "Ada".into(),
            lastname: "Lovelace".into(),
            user_type,
            status: UserStatus::ACTIVE,
            ..UserItem::pending(
                AccountId::new(),
                UserId::new(),
                email.clone(),
                email,
                "2030-01-01T00:00:00.000Z",
            )
        }
    }

    #[test]
    fn a_new_seat_kind_moves_the_seat_in_one_update_of_the_account() {
        let caller = user(UserType::ACCOUNT_ADMIN);
        let target = user(UserType::DESKTOP_STANDARD_USER);
        let (writes, row) = retype_writes(
            "users",
            &caller,
            &target,
            UserType::DESKTOP_CREATIVE_USER,
            "now",
        )
        .unwrap();
        // The row changes as the item does: the new type and the time.
        assert_eq!(
            row,
            RowChange::Update(
                target.id,
                crate::adapters::db::list_leaves::RowUpdate {
                    user_type: Some(UserType::DESKTOP_CREATIVE_USER),
                    ..crate::adapters::db::list_leaves::RowUpdate::touched("now")
                }
            )
        );
        let roles: Vec<Write> = writes.iter().map(|(role, _)| *role).collect();
        // What the writes do is tested end to end (tests/tests/admin/edit.rs): the seat
        // moves with the billing line, and a retype that loses a race to another retype
        // or a delete moves only the seat the user holds by then.
        assert_eq!(
            roles,
            [Write::Target, Write::Billing, Write::Seats, Write::Caller]
        );
    }

    #[test]
    fn the_same_seat_kind_leaves_the_seats_alone_and_a_self_edit_needs_no_caller_check() {
        let me = user(UserType::ACCOUNT_ADMIN);
        let (writes, _) = retype_writes("users", &me, &me, UserType::DESKTOP_ADMIN, "now").unwrap();
        let roles: Vec<Write> = writes.iter().map(|(role, _)| *role).collect();
        assert_eq!(roles, [Write::Target, Write::Billing]);
    }
}
