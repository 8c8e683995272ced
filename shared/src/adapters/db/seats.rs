//! The seat counts of an account's package (`used<Kind>Users` on the account item).

use super::{key, n, s, tx, ApiError};
use crate::adapters::db::model;
use crate::domain::{AccountId, Seat};

/// The update of an account's seat counts that takes one seat of kind `take` if the
/// package has one left and gives one of kind `give_back` back (never below zero): an
/// invitation takes, a delete gives back, a retype does both in this one update, since
/// a transaction may touch the account item only once.
pub fn change(
    table: &str,
    account: AccountId,
    take: Option<Seat>,
    give_back: Option<Seat>,
    now_iso: &str,
) -> Result<tx::Write, ApiError> {
    let mut sets = Vec::new();
    let mut condition = "attribute_exists(pk)".to_owned();
    let mut names = Vec::new();
    let mut values = vec![(":one", n(1)), (":now", s(now_iso))];
    if let Some(seat) = take {
        sets.push("#to = #to + :one");
        condition.push_str(" AND #to < #limit");
        names.push(("#to", seat.used_attribute()));
        names.push(("#limit", seat.limit_attribute()));
    }
    if let Some(seat) = give_back {
        sets.push("#from = #from - :one");
        condition.push_str(" AND #from > :zero");
        names.push(("#from", seat.used_attribute()));
        values.push((":zero", n(0)));
    }
    if sets.is_empty() {
        return Err(ApiError::internal("a seat write that changes no seat"));
    }
    tx::update(
        table,
        key(model::account_pk(account), model::ACCOUNT_SK),
        &format!("SET {}, updateDate = :now", sets.join(", ")),
        Some(&condition),
        names,
        values,
    )
}
