//! The audit trail's calls: writing records (with a change, or a refusal on its own) and
//! reading the log by day counters, time ranges and one user's copies.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;

use super::audit_records::{
    counter, counter_day, counter_sk, counter_update, day_sk, puts, writes, DAYS_IN_FLIGHT,
    RECORD_SK_PREFIX, REFUSALS_RECORDED_PER_DAY, USER_COPY_SK_PREFIX,
};
use super::{from_item, model, string_attribute, Db, Item, TxError};
use crate::domain::audit::{Action, AuditRecord};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, UserId};

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

    /// Writes the record of a refusal by its actor, counted in that actor's own counter
    /// of the day, unless the actor has had `REFUSALS_RECORDED_PER_DAY` refusals recorded
    /// that day already: then nothing is written and this answers `false`.
    pub async fn write_refusal_record(&self, record: &AuditRecord) -> Result<bool, ApiError> {
        let retention = self.audit_retention();
        let mut writes = puts(record, self.table(), retention)?;
        let counted = writes.len();
        writes.push(counter_update(
            self.table(),
            record.account_id,
            counter_sk(record),
            record.day(),
            &BTreeMap::from([(record.action, 1)]),
            retention,
            Some(REFUSALS_RECORDED_PER_DAY),
        )?);
        match self.transact(writes).await {
            Ok(()) => Ok(true),
            Err(TxError::ConditionFailed(failed)) if failed == [counted] => Ok(false),
            Err(err) => Err(err.into()),
        }
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
        // A day's counters sort from `AUDITDAY#<day>` to `AUDITDAY#<day>#...`.
        let last_counter = format!("{}~", day_sk(last));
        let counters = self
            .query_range(&pk, &day_sk(first), &last_counter, false, None, None)
            .await?;
        let attribute = action.map_or_else(|| "total".to_owned(), counter);
        let mut days: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        for item in counters {
            let Some(day) = string_attribute(&item, model::SK).and_then(counter_day) else {
                continue;
            };
            let counted = match item.get(&attribute) {
                Some(AttributeValue::N(number)) => number.parse::<i64>().unwrap_or_default(),
                _ => 0,
            };
            *days.entry(day).or_default() += u64::try_from(counted).unwrap_or_default();
        }
        Ok(days
            .into_iter()
            .map(|(day, count)| DayCount { day, count })
            .collect())
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
