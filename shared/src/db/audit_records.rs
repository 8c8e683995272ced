//! The audit trail in the table (see `crate::audit`): record items, their copies under
//! the target user, the day counters, and the reads of the log. Records live in the
//! account's item collection, newest last by sort key, and expire by TTL (`expiresAt`)
//! after the retention the template sets.
//!
//! Three kinds of items (see docs/data-model.md):
//! - the record, `AUDIT#<millis>#<id>`: the whole log of the account in time order;
//! - its copy under the target user, `AUDITUSER#<userId>#<millis>#<id>`, so one user's
//!   history is one Query however long the account's log is;
//! - a counter per UTC day, `AUDITDAY#<yyyy-mm-dd>`, with the day's total and its count
//!   per action, kept by the same transactions. A page of the log skips whole days by
//!   their counts, so its cost follows the page, not the length of the log.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{from_item, key, n, s, to_item, tx, Db, Item};
use crate::audit::record::{day_start_millis, Action, AuditRecord};
use crate::domain::{AccountId, UserId};
use crate::error::ApiError;
use crate::model;

pub const RECORD_SK_PREFIX: &str = "AUDIT#";
pub const USER_COPY_SK_PREFIX: &str = "AUDITUSER#";
pub const DAY_SK_PREFIX: &str = "AUDITDAY#";
pub const KIND_RECORD: &str = "auditRecord";
pub const KIND_USER_COPY: &str = "auditUserCopy";
pub const KIND_DAY: &str = "auditDay";

/// How many days a filtered page reads at once.
const DAYS_IN_FLIGHT: usize = 16;

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
fn counter(action: Action) -> String {
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

fn day_sk(day: NaiveDate) -> String {
    format!("{DAY_SK_PREFIX}{}", day.format("%Y-%m-%d"))
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

fn puts(
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

/// One `ADD` per day counter that `records` touch, by `by` per record.
fn counts(
    records: &[AuditRecord],
    table: &str,
    by: i64,
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut days: BTreeMap<(AccountId, NaiveDate), BTreeMap<Action, i64>> = BTreeMap::new();
    for record in records {
        *days
            .entry((record.account_id, record.day()))
            .or_default()
            .entry(record.action)
            .or_default() += by;
    }
    let mut updates = Vec::new();
    for ((account, day), actions) in days {
        let total: i64 = actions.values().sum();
        let counters: Vec<(String, String, String, i64)> = actions
            .into_iter()
            .enumerate()
            .map(|(i, (action, count))| {
                (format!("#a{i}"), counter(action), format!(":a{i}"), count)
            })
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
        updates.push(tx::update(
            table,
            key(model::account_pk(account), day_sk(day)),
            &expression,
            None,
            names,
            values,
        )?);
    }
    Ok(updates)
}

/// The items that the writes of `records` leave in the table (records, user copies and
/// day counters), for loading a log of any size at once: benches and tests.
pub fn items_of(records: &[AuditRecord], retention: Duration) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    let mut days: BTreeMap<(AccountId, NaiveDate), BTreeMap<String, i64>> = BTreeMap::new();
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
        let counts = days.entry((record.account_id, record.day())).or_default();
        *counts.entry("total".to_owned()).or_default() += 1;
        *counts.entry(counter(record.action)).or_default() += 1;
    }
    for ((account, day), counts) in days {
        let mut item = key(model::account_pk(account), day_sk(day));
        item.insert("kind".to_owned(), s(KIND_DAY));
        item.insert("expiresAt".to_owned(), n(day_expiry(day, retention)));
        for (name, count) in counts {
            item.insert(name, n(count));
        }
        items.push(item);
    }
    Ok(items)
}

// Reading the log.

/// One day's count of records, from its counter: its total, or its count of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: u64,
}

/// The sort keys of the records between `from` and `to` (milliseconds, inclusive).
fn record_range(from: i64, to: i64) -> (String, String) {
    (
        format!("{RECORD_SK_PREFIX}{from:013}"),
        format!("{RECORD_SK_PREFIX}{to:013}~"),
    )
}

fn action_filter(action: Option<Action>) -> Option<(&'static str, String)> {
    action.map(|action| ("action", action.as_str().to_owned()))
}

/// `take` records of `items` after the first `skip`, decoded.
fn page_of(items: Vec<Item>, skip: u64, take: u64) -> Result<Vec<AuditRecord>, ApiError> {
    items
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .map(from_item)
        .collect()
}

impl Db {
    /// Writes `records` in a transaction of their own, for records of what is not a
    /// DynamoDB write (a refusal, a change at the identity provider).
    pub async fn write_audit_records(&self, records: &[AuditRecord]) -> Result<(), ApiError> {
        let writes = writes(self.table(), records, self.audit_retention())?;
        self.transact(writes).await.map_err(ApiError::from)
    }

    /// The counts of the days `first..=last` of the account's log that have a counter,
    /// oldest first: each day's total, or its count of `action` (one Query).
    pub async fn audit_day_counts(
        &self,
        account: AccountId,
        first: NaiveDate,
        last: NaiveDate,
        action: Option<Action>,
    ) -> Result<Vec<DayCount>, ApiError> {
        let pk = model::account_pk(account);
        let counters = self
            .query_range(&pk, &day_sk(first), &day_sk(last), false, None, None)
            .await?;
        let attribute = action.map_or_else(|| "total".to_owned(), counter);
        let mut counts = Vec::new();
        for item in counters {
            let Some(AttributeValue::S(sk)) = item.get(model::SK) else {
                continue;
            };
            let day = sk.trim_start_matches(DAY_SK_PREFIX);
            let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") else {
                continue;
            };
            let counted = match item.get(&attribute) {
                Some(AttributeValue::N(number)) => number.parse::<i64>().unwrap_or_default(),
                _ => 0,
            };
            counts.push(DayCount {
                day,
                count: u64::try_from(counted).unwrap_or_default(),
            });
        }
        Ok(counts)
    }

    /// How many records of the account's log lie between `from` and `to` (milliseconds,
    /// inclusive), of `action` only when given: DynamoDB reads them but sends back only
    /// the count.
    pub async fn count_audit_records(
        &self,
        account: AccountId,
        from: i64,
        to: i64,
        action: Option<Action>,
    ) -> Result<u64, ApiError> {
        let (low, high) = record_range(from, to);
        self.count_range(
            &model::account_pk(account),
            &low,
            &high,
            action_filter(action),
        )
        .await
    }

    /// The records of the account's log between `from` and `to` (milliseconds,
    /// inclusive), newest first: `take` of them after the first `skip`, read by one Query
    /// from `to` down that stops once it has read `skip + take`.
    pub async fn newest_audit_records(
        &self,
        account: AccountId,
        from: i64,
        to: i64,
        skip: u64,
        take: u64,
    ) -> Result<Vec<AuditRecord>, ApiError> {
        let (low, high) = record_range(from, to);
        let items = self
            .query_range(
                &model::account_pk(account),
                &low,
                &high,
                true,
                None,
                Some(skip.saturating_add(take)),
            )
            .await?;
        page_of(items, skip, take)
    }

    /// The records of `action` (of any when none) in each of `stretches` (`(from, to)` in
    /// milliseconds, inclusive), stretch after stretch, newest first within each: `take`
    /// of them after the first `skip`. The stretches are read at the same time, each
    /// whole, and filtered by DynamoDB.
    pub async fn audit_records_in(
        &self,
        account: AccountId,
        stretches: &[(i64, i64)],
        action: Option<Action>,
        skip: u64,
        take: u64,
    ) -> Result<Vec<AuditRecord>, ApiError> {
        let pk = model::account_pk(account);
        let ranges: Vec<(String, String)> = stretches
            .iter()
            .map(|(from, to)| record_range(*from, *to))
            .collect();
        let reads: Vec<_> = ranges
            .iter()
            .map(|(low, high)| self.query_range(&pk, low, high, true, action_filter(action), None))
            .collect();
        use futures_util::{StreamExt, TryStreamExt};
        let items = futures_util::stream::iter(reads)
            .buffered(DAYS_IN_FLIGHT)
            .try_concat()
            .await?;
        page_of(items, skip, take)
    }

    /// Every record about `user` between `from` and `to` (milliseconds, inclusive), of
    /// `action` only when given, newest first: one Query of the user's copies.
    pub async fn user_audit_records(
        &self,
        account: AccountId,
        user: UserId,
        from: i64,
        to: i64,
        action: Option<Action>,
    ) -> Result<Vec<AuditRecord>, ApiError> {
        let prefix = format!("{USER_COPY_SK_PREFIX}{user}#");
        let range = (format!("{prefix}{from:013}"), format!("{prefix}{to:013}~"));
        self.query_range(
            &model::account_pk(account),
            &range.0,
            &range.1,
            true,
            action_filter(action),
            None,
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Entry, Origin};
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
}
