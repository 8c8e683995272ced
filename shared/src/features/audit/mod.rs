//! The audit trail: one record per change of a user or account, written in the same
//! transaction as the change, and one per security-relevant refusal, written on its own.
//! How records, their copies under the target user and the day counters are stored and
//! read: `crate::adapters::db::audit_records`.
//!
//! Nothing secret is ever recorded: the changed fields are names, types and flags.

use chrono::{DateTime, NaiveDate, Utc};

use crate::adapters::db::audit_log::DayCount;
use crate::adapters::db::{self, Db};
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::views::Collection;
use crate::domain::{AccountId, UserId};
// The records are the domain's; the trail's functions take and give them.
pub use crate::domain::audit::*;

/// Writes a refusal's record on its own, in its actor's own counter (never an item that
/// changes touch). A refusal is answered whatever becomes of its record, so a failure
/// here is logged, not returned. Past `REFUSALS_RECORDED_PER_DAY` of one actor in a day,
/// refusals are no longer recorded, and this container stops trying for that actor until
/// the day ends: a caller who floods refusals makes the system write a bounded amount.
pub async fn record_refusal(db: &Db, account: AccountId, entry: Entry, origin: &Origin) {
    let record = AuditRecord::new(account, entry, origin, crate::domain::clock::now());
    let capped = record.actor_id.map(|actor| (account, actor, record.day()));
    if capped.is_some_and(|key| refusals_capped().lock().is_ok_and(|set| set.contains(&key))) {
        return;
    }
    let written = match record.actor_id {
        Some(_) => db.write_refusal_record(&record).await,
        None => db
            .write_audit_records(std::slice::from_ref(&record))
            .await
            .map(|()| true),
    };
    match (written, capped) {
        (Ok(true), _) => {}
        (Ok(false), Some(key)) => {
            tracing::warn!(
                action = record.action.as_str(),
                actor = %key.1,
                limit = db::audit_records::REFUSALS_RECORDED_PER_DAY,
                "refusals of this caller are no longer recorded today"
            );
            if let Ok(mut set) = refusals_capped().lock() {
                // Only today's entries matter; a long-lived container forgets older ones.
                set.retain(|(_, _, day)| *day >= key.2);
                set.insert(key);
            }
        }
        (Ok(false), None) => {}
        (Err(err), _) => {
            tracing::error!(action = record.action.as_str(), error = %err, "refusal not recorded");
        }
    }
}

type CappedRefusals = std::sync::Mutex<std::collections::HashSet<(AccountId, UserId, NaiveDate)>>;

/// The (account, actor, day) whose refusals this container knows to be past the bound.
fn refusals_capped() -> &'static CappedRefusals {
    static CAPPED: std::sync::OnceLock<CappedRefusals> = std::sync::OnceLock::new();
    CAPPED.get_or_init(Default::default)
}

/// Writes the record of a change that is not a DynamoDB write (a password changed at the
/// identity provider), after the change. A transient failure is tried again; the change
/// cannot be undone, so a record that still cannot be written is logged as an error.
pub async fn record_after(db: &Db, account: AccountId, entry: Entry, origin: &Origin) {
    let record = AuditRecord::new(account, entry, origin, crate::domain::clock::now());
    for attempt in 1..=3 {
        let written = db.write_audit_records(std::slice::from_ref(&record)).await;
        match written {
            Ok(()) => return,
            Err(err) if attempt == 3 => {
                tracing::error!(action = record.action.as_str(), error = %err, "change not recorded");
            }
            Err(_) => tokio::time::sleep(db::contention_pause(attempt)).await,
        }
    }
}

// Reading the log.

/// The parameters of `GET /api/v1/user/audit_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// 1-based.
    pub page: u64,
    pub page_size: u64,
    /// Only records about this user (the target).
    pub user: Option<UserId>,
    pub action: Option<Action>,
    /// Inclusive bounds on the record's time.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: crate::features::listing::DEFAULT_PAGE_SIZE,
            user: None,
            action: None,
            from: None,
            to: None,
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::app(ErrorCode::Default, message)
}

impl LogQuery {
    const NAMES: [&'static str; 6] = ["page", "pagesize", "userId", "action", "from", "to"];

    /// Parses the query string as the lists do: names without regard to case, an empty
    /// value refused with 499 DEFAULT naming the parameter, unknown names left alone.
    pub fn from_query(query: &crate::domain::query::Query) -> Result<Self, ApiError> {
        let given = crate::features::listing::known_parameters(query, &Self::NAMES, None)?;
        let mut params = LogQuery::default();
        (params.page, params.page_size) =
            crate::features::listing::page_and_size(&given, params.page_size)?;
        if let Some(raw) = given.get("userId") {
            params.user = Some(UserId::parse(raw, "userId")?);
        }
        if let Some(raw) = given.get("action") {
            params.action = Some(Action::parse(raw).ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                invalid(format!("action must be one of {}.", names.join(", ")))
            })?);
        }
        if let Some(raw) = given.get("from") {
            params.from = Some(instant("from", raw)?);
        }
        if let Some(raw) = given.get("to") {
            params.to = Some(instant("to", raw)?);
        }
        if let (Some(from), Some(to)) = (params.from, params.to) {
            if from > to {
                return Err(invalid("from must not be after to.".to_owned()));
            }
        }
        Ok(params)
    }
}

fn instant(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            invalid(format!(
                "{name} must be a date and time in ISO 8601 with its offset, such as 2026-12-01T09:30:00Z."
            ))
        })
}

/// The latest time a record's key can hold: 13 digits of milliseconds (November 2286).
const LAST_MILLIS: i64 = 9_999_999_999_999;

/// A stretch of the log in time order: the records between two times (milliseconds,
/// inclusive) and how many of them match.
struct Segment {
    low: i64,
    high: i64,
    count: u64,
}

/// One page of the account's log, newest first, and the number of matching records.
/// Reads the day counters of the range (one Query), counts the records of the range's two
/// partial days, then reads only the day(s) the page falls in. With a user, reads that
/// user's copies instead (one Query of their own history).
pub async fn read_log(
    db: &Db,
    account: AccountId,
    query: &LogQuery,
    now: DateTime<Utc>,
) -> Result<Collection<AuditRecord>, ApiError> {
    let oldest_live = now - db.audit_retention();
    let low = query.from.map_or(oldest_live, |from| from.max(oldest_live));
    // Keys hold 13 digits of milliseconds: bounds outside 1970..2286 are clamped to them,
    // so a far-future `to` bounds nothing and a far-future `from` matches nothing.
    let low = low.timestamp_millis().clamp(0, LAST_MILLIS + 1);
    let high = query
        .to
        .map_or(LAST_MILLIS, |to| to.timestamp_millis())
        .min(LAST_MILLIS);
    let offset = (query.page - 1).saturating_mul(query.page_size);
    if high < low {
        return Ok(Collection {
            data: vec![],
            total: 0,
        });
    }
    if let Some(user) = query.user {
        let records = db
            .user_audit_records(account, user, low, high, query.action)
            .await?;
        let total = records.len();
        let data = records
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .collect();
        return Ok(Collection { data, total });
    }

    let segments = segments(db, account, low, high, query.action).await?;
    let total: u64 = segments.iter().map(|segment| segment.count).sum();
    let wanted = query.page_size;
    // The days that hold the page, newest first, and how many matches to skip in them.
    let mut skip = offset;
    let mut holding: Vec<&Segment> = Vec::new();
    let mut reach = 0u64;
    for segment in segments.iter().rev() {
        if holding.is_empty() && skip >= segment.count {
            skip -= segment.count;
            continue;
        }
        holding.push(segment);
        reach += segment.count;
        if reach >= skip.saturating_add(wanted) {
            break;
        }
    }
    let data = match (holding.first(), holding.last()) {
        (Some(newest), Some(oldest)) if query.action.is_none() => {
            // Every record matches, and the days' records lie next to each other: one
            // Query from the newest day's end reads exactly what the page needs.
            db.newest_audit_records(account, oldest.low, newest.high, skip, wanted)
                .await?
        }
        _ => {
            // Matches are spread among the days' other records: the days are read at
            // the same time, each whole, and filtered by DynamoDB.
            let days: Vec<(i64, i64)> = holding
                .iter()
                .map(|segment| (segment.low, segment.high))
                .collect();
            db.audit_records_in(account, &days, query.action, skip, wanted)
                .await?
        }
    };
    Ok(Collection {
        data,
        total: usize::try_from(total).unwrap_or(usize::MAX),
    })
}

/// The days of `low..=high` (milliseconds) oldest first, each with its count: from its
/// counter when the range covers the whole day, else by counting its records in range.
async fn segments(
    db: &Db,
    account: AccountId,
    low: i64,
    high: i64,
    action: Option<Action>,
) -> Result<Vec<Segment>, ApiError> {
    let (first_day, last_day) = (day_of_millis(low), day_of_millis(high));
    let counters = db.audit_day_counts(account, first_day, last_day, action);
    let partial = |day: NaiveDate| {
        let start = day_start_millis(day);
        let end = start + 86_400_000 - 1;
        (start < low || end > high).then(|| (start.max(low), end.min(high)))
    };
    let first_partial = partial(first_day);
    let last_partial = if last_day == first_day {
        None
    } else {
        partial(last_day)
    };
    let count_of = |range: Option<(i64, i64)>| async move {
        match range {
            Some((from, to)) => db
                .count_audit_records(account, from, to, action)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let (counters, first_count, last_count) =
        futures_util::try_join!(counters, count_of(first_partial), count_of(last_partial))?;

    let mut segments = Vec::new();
    for DayCount { day, count } in counters {
        let start = day_start_millis(day);
        let (range, count) = if day == first_day && first_partial.is_some() {
            (first_partial, first_count)
        } else if day == last_day && last_partial.is_some() {
            (last_partial, last_count)
        } else {
            (Some((start, start + 86_400_000 - 1)), Some(count))
        };
        if let (Some((low, high)), Some(count)) = (range, count) {
            if count > 0 {
                segments.push(Segment { low, high, count });
            }
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_refused_naming_the_parameter() {
        let refused = |name: &str, value: &str| {
            let query =
                crate::domain::query::Query::from_iter([(name.to_owned(), value.to_owned())]);
            match LogQuery::from_query(&query) {
                Err(err) => format!("{err:?}"),
                Ok(query) => panic!("{name}={value} was accepted: {query:?}"),
            }
        };
        assert!(refused("page", "0").contains("page"));
        assert!(refused("pagesize", "1001").contains("pagesize"));
        assert!(refused("userId", "nope").contains("userId"));
        assert!(refused("action", "user.exploded").contains("action"));
        assert!(refused("from", "yesterday").contains("from"));
        assert!(refused("to", "").contains("to"));
        let reversed = crate::domain::query::Query::from_iter([
            ("from".to_owned(), "2026-12-02T00:00:00Z".to_owned()),
            ("to".to_owned(), "2026-12-01T00:00:00Z".to_owned()),
        ]);
        assert!(LogQuery::from_query(&reversed).is_err());
    }
}
