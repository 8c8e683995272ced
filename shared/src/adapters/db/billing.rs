//! The billing line of each invited user (`BILLING#<userId>` in the account): opened by
//! the invitation, retyped with the user, closed by the deletion.

use super::{key, n, s, to_item, tx, ApiError};
use crate::adapters::db::model::{self, BillingItem, UserItem};
use crate::domain::{AccountId, Seat, UserId, UserType};

fn billing_key(account: AccountId, user: UserId) -> super::Item {
    key(model::account_pk(account), model::billing_sk(user))
}

/// Opens the line of a user just invited; there must be none yet.
pub fn open(
    table: &str,
    user: &UserItem,
    seat: Seat,
    now_iso: &str,
) -> Result<tx::Write, ApiError> {
    tx::put(
        table,
        to_item(&BillingItem {
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
    )
}

/// Takes back the line of an invitation that is undone.
pub fn remove(table: &str, user: &UserItem) -> Result<tx::Write, ApiError> {
    tx::delete(table, billing_key(user.account_id, user.id), None, vec![])
}

/// Moves an existing line to the seat of `user_type`.
pub fn retype(table: &str, user: &UserItem, user_type: UserType) -> Result<tx::Write, ApiError> {
    let seat = serde_dynamo::to_attribute_value(user_type.seat()).map_err(ApiError::internal)?;
    tx::update(
        table,
        billing_key(user.account_id, user.id),
        "SET #seat = :seat, userType = :new",
        Some("attribute_exists(pk)"),
        vec![("#seat", "seat")],
        vec![(":seat", seat), (":new", n(user_type.0))],
    )
}

/// Ends an existing line when its user is deleted.
pub fn close(table: &str, user: &UserItem, now_iso: &str) -> Result<tx::Write, ApiError> {
    tx::update(
        table,
        billing_key(user.account_id, user.id),
        "SET endDate = :now, #status = :unsubscribed",
        Some("attribute_exists(pk)"),
        vec![("#status", "status")],
        vec![(":now", s(now_iso)), (":unsubscribed", s("unsubscribed"))],
    )
}
