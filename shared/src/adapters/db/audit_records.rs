//! The audit trail in the table (see `crate::features::audit`): record items, their copies under
//! the target user, the day counters, and the reads of the log. Records live in the
//! account's item collection, newest last by sort key, and expire by TTL (`expiresAt`)
//! after the retention the template sets.
//!
//! Three kinds of items (see docs/data-model.md):
//! - the record, `AUDIT#<millis>#<id>`: the whole log of the account in time order;
//! - its copy under the target user, `AUDITUSER#<userId>#<millis>#<id>`, so one user's
//!   history is one Query however long the account's log is;
//! - counters per UTC day, with the day's total and its count per action, kept by the
//!   same transactions. A page of the log skips whole days by their counts, so its cost
//!   follows the page, not the length of the log. A day's count is the sum of its
//!   counters, so that no counter is common to all writes of an account:
//!   - `AUDITDAY#<day>#s<nn>`: records of changes, in one of `COUNTER_SLOTS` slots by
//!     the record's id, so concurrent writes rarely meet on one;
//!   - `AUDITDAY#<day>#a<actorId>`: refusals of one caller, which never touch what
//!     changes touch, and which stop being recorded past `REFUSALS_RECORDED_PER_DAY`;
//!   - `AUDITDAY#<day>`: the one counter per day of the layout before slots, still
//!     summed where it exists.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{key, n, s, to_item, tx, Item};
use crate::adapters::db::model;
use crate::domain::audit::{day_start_millis, Action, AuditRecord};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, UserId};

pub const RECORD_SK_PREFIX: &str = "AUDIT#";
pub const USER_COPY_SK_PREFIX: &str = "AUDITUSER#";
pub const DAY_SK_PREFIX: &str = "AUDITDAY#";
pub const KIND_RECORD: &str = "auditRecord";
pub const KIND_USER_COPY: &str = "auditUserCopy";
pub const KIND_DAY: &str = "auditDay";

/// How many days a filtered page reads at once.
pub(super) const DAYS_IN_FLIGHT: usize = 16;

/// Counters per day for the records of changes. Two concurrent writes of one account
/// meet on a counter (and one of them retries) only when their records fall in the same
/// slot; a day's counters are read together, so more slots cost the log's reads more.
pub const COUNTER_SLOTS: u8 = 32;

/// The refusals of one caller recorded in one UTC day; later ones are answered the same
/// but not recorded (and logged), so that one caller cannot make the system write
/// without bound.
pub const REFUSALS_RECORDED_PER_DAY: i64 = 300;

/// A record or its copy as an item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordItem {
    pk: String,
    sk: String,
    kind: String,
    /// Whether the record is of a change: the stream's filter for change events.
    change: bool,
    expires_at: i64,
    #[serde(flatten)]
    record: AuditRecord,
}

/// The day counter's attribute for this action.
pub(super) fn counter(action: Action) -> String {
    format!("n_{}", action.as_str())
}

fn record_sk(record: &AuditRecord) -> String {
    format!("{RECORD_SK_PREFIX}{:013}#{}", record.millis(), record.id)
}

fn user_copy_sk(record: &AuditRecord, user: UserId) -> String {
    format!(
        "{USER_COPY_SK_PREFIX}{user}#{:013}#{}",
        record.millis(),
        record.id
    )
}

pub(super) fn day_sk(day: NaiveDate) -> String {
    format!("{DAY_SK_PREFIX}{}", day.format("%Y-%m-%d"))
}

/// The counter a record is counted in (see the module's documentation).
pub(super) fn counter_sk(record: &AuditRecord) -> String {
    let day = day_sk(record.day());
    match record.actor_id {
        Some(actor) if !record.action.is_change() => format!("{day}#a{actor}"),
        _ => format!("{day}#s{:02}", counter_slot(&record.id)),
    }
}

/// A record's counter slot, from its (random) id.
fn counter_slot(id: &str) -> u8 {
    let hash = id.bytes().fold(0u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    (hash % u32::from(COUNTER_SLOTS)) as u8
}

/// The day of a counter's sort key, whatever its suffix.
pub(super) fn counter_day(sk: &str) -> Option<NaiveDate> {
    let day = sk.strip_prefix(DAY_SK_PREFIX)?.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// When the counter of `day` expires: the retention after the day's end (epoch seconds).
fn day_expiry(day: NaiveDate, retention: Duration) -> i64 {
    let day_end = day_start_millis(day) / 1000 + 86_400;
    day_end + retention.num_seconds()
}

fn item(
    record: &AuditRecord,
    sk: String,
    kind: &str,
    retention: Duration,
) -> Result<Item, ApiError> {
    to_item(&RecordItem {
        pk: model::account_pk(record.account_id),
        sk,
        kind: kind.to_owned(),
        change: record.action.is_change(),
        expires_at: (record.millis() / 1000) + retention.num_seconds(),
        record: record.clone(),
    })
}

pub(super) fn puts(
    record: &AuditRecord,
    table: &str,
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let new_only = Some("attribute_not_exists(sk)");
    let mut puts = vec![tx::put(
        table,
        item(record, record_sk(record), KIND_RECORD, retention)?,
        new_only,
        vec![],
    )?];
    if let Some(target) = record.target_id {
        puts.push(tx::put(
            table,
            item(
                record,
                user_copy_sk(record, target),
                KIND_USER_COPY,
                retention,
            )?,
            new_only,
            vec![],
        )?);
    }
    Ok(puts)
}

fn deletes(record: &AuditRecord, table: &str) -> Result<Vec<tx::Write>, ApiError> {
    let pk = model::account_pk(record.account_id);
    let mut deletes = vec![tx::delete(
        table,
        key(&pk, record_sk(record)),
        None,
        vec![],
    )?];
    if let Some(target) = record.target_id {
        deletes.push(tx::delete(
            table,
            key(&pk, user_copy_sk(record, target)),
            None,
            vec![],
        )?);
    }
    Ok(deletes)
}

/// The writes that add `records`: each record, its copy under the target user, and one
/// update per day counter (a transaction may touch an item only once). Appended to the
/// transaction of the change they record.
pub fn writes(
    table: &str,
    records: &[AuditRecord],
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut writes = Vec::new();
    for record in records {
        writes.extend(puts(record, table, retention)?);
    }
    writes.extend(counts(records, table, 1, retention)?);
    Ok(writes)
}

/// The writes that take `records` back, when the change they recorded is undone.
pub fn undo_writes(
    table: &str,
    records: &[AuditRecord],
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut writes = Vec::new();
    for record in records {
        writes.extend(deletes(record, table)?);
    }
    writes.extend(counts(records, table, -1, retention)?);
    Ok(writes)
}

/// One `ADD` per counter that `records` touch, by `by` per record.
fn counts(
    records: &[AuditRecord],
    table: &str,
    by: i64,
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut counters: BTreeMap<(AccountId, String), (NaiveDate, BTreeMap<Action, i64>)> =
        BTreeMap::new();
    for record in records {
        *counters
            .entry((record.account_id, counter_sk(record)))
            .or_insert_with(|| (record.day(), BTreeMap::new()))
            .1
            .entry(record.action)
            .or_default() += by;
    }
    counters
        .into_iter()
        .map(|((account, sk), (day, actions))| {
            counter_update(table, account, sk, day, &actions, retention, None)
        })
        .collect()
}

/// The `ADD` of `actions`' counts (and their sum to `total`) to one counter, on
/// `condition` when given (its value `:cap`).
pub(super) fn counter_update(
    table: &str,
    account: AccountId,
    sk: String,
    day: NaiveDate,
    actions: &BTreeMap<Action, i64>,
    retention: Duration,
    cap: Option<i64>,
) -> Result<tx::Write, ApiError> {
    let total: i64 = actions.values().sum();
    let counters: Vec<(String, String, String, i64)> = actions
        .iter()
        .enumerate()
        .map(|(i, (action, count))| (format!("#a{i}"), counter(*action), format!(":a{i}"), *count))
        .collect();
    let mut expression = "ADD #total :total".to_owned();
    for (name, _, value, _) in &counters {
        expression.push_str(&format!(", {name} {value}"));
    }
    expression.push_str(" SET #kind = :kind, #expires = :expires");
    let mut names = vec![
        ("#total", "total"),
        ("#kind", "kind"),
        ("#expires", "expiresAt"),
    ];
    names.extend(
        counters
            .iter()
            .map(|(name, attribute, _, _)| (name.as_str(), attribute.as_str())),
    );
    let mut values = vec![
        (":total", n(total)),
        (":kind", s(KIND_DAY)),
        (":expires", n(day_expiry(day, retention))),
    ];
    values.extend(
        counters
            .iter()
            .map(|(_, _, value, count)| (value.as_str(), n(count))),
    );
    let condition = cap.map(|cap| {
        values.push((":cap", n(cap)));
        "attribute_not_exists(#total) OR #total < :cap"
    });
    tx::update(
        table,
        key(model::account_pk(account), sk),
        &expression,
        condition,
        names,
        values,
    )
}

/// The items that the writes of `records` leave in the table (records, user copies and
/// day counters), for loading a log of any size at once: benches and tests.
pub fn items_of(records: &[AuditRecord], retention: Duration) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    let mut counters: BTreeMap<(AccountId, String), (NaiveDate, BTreeMap<String, i64>)> =
        BTreeMap::new();
    for record in records {
        items.push(item(record, record_sk(record), KIND_RECORD, retention)?);
        if let Some(target) = record.target_id {
            items.push(item(
                record,
                user_copy_sk(record, target),
                KIND_USER_COPY,
                retention,
            )?);
        }
        let (_, counts) = counters
            .entry((record.account_id, counter_sk(record)))
            .or_insert_with(|| (record.day(), BTreeMap::new()));
        *counts.entry("total".to_owned()).or_default() += 1;
        *counts.entry(counter(record.action)).or_default() += 1;
    }
    for ((account, sk), (day, counts)) in counters {
        let mut item = key(model::account_pk(account), sk);
        item.insert("kind".to_owned(), s(KIND_DAY));
        item.insert("expiresAt".to_owned(), n(day_expiry(day, retention)));
        for (name, count) in counts {
            item.insert(name, n(count));
        }
        items.push(item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Entry, Origin};
    use chrono::{TimeZone, Utc};

    #[test]
    fn record_keys_sort_by_time() {
        let origin = Origin::default();
        let at = |millis| Utc.timestamp_millis_opt(millis).single().unwrap();
        let account = AccountId(uuid::Uuid::nil());
        let early = AuditRecord::new(
            account,
            Entry::new(Action::UserInvited, None, None),
            &origin,
            at(999),
        );
        let late = AuditRecord::new(
            account,
            Entry::new(Action::UserInvited, None, None),
            &origin,
            at(1_000),
        );
        assert!(record_sk(&early) < record_sk(&late));
        assert_eq!(early.day().format("%Y-%m-%d").to_string(), "1970-01-01");
        assert_eq!(day_sk(early.day()), "AUDITDAY#1970-01-01");
    }

    #[test]
    fn changes_spread_over_the_slots_and_refusals_count_in_their_actors_own_counter() {
        let origin = Origin::default();
        let account = AccountId(uuid::Uuid::nil());
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        let actor = UserId(uuid::Uuid::from_u128(7));
        let changes: std::collections::BTreeSet<String> = (0..2_000)
            .map(|_| {
                let entry = Entry::new(Action::UserUpdated, Some(actor), Some(actor));
                counter_sk(&AuditRecord::new(account, entry, &origin, at))
            })
            .collect();
        assert_eq!(changes.len(), usize::from(COUNTER_SLOTS), "{changes:?}");
        assert!(changes
            .iter()
            .all(|sk| sk.starts_with("AUDITDAY#2026-12-03#s")));
        let refusal = Entry::new(Action::AccessDenied, Some(actor), None);
        let refused = counter_sk(&AuditRecord::new(account, refusal, &origin, at));
        assert_eq!(refused, format!("AUDITDAY#2026-12-03#a{actor}"));
        assert!(!changes.contains(&refused));
        for sk in changes
            .iter()
            .chain([&refused, &"AUDITDAY#2026-12-03".to_owned()])
        {
            assert_eq!(
                counter_day(sk),
                NaiveDate::from_ymd_opt(2026, 12, 3),
                "{sk}"
            );
        }
    }
}
