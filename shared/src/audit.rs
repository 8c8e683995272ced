//! The audit trail: one record per change of a user or account, written in the same
//! transaction as the change, and one per security-relevant refusal, written on its own.
//! Records live in the account's item collection, newest last by sort key, and expire by
//! TTL (`expiresAt`) after the retention the template sets.
//!
//! Three kinds of items (see docs/data-model.md):
//! - the record, `AUDIT#<millis>#<id>`: the whole log of the account in time order;
//! - its copy under the target user, `AUDITUSER#<userId>#<millis>#<id>`, so one user's
//!   history is one Query however long the account's log is;
//! - a counter per UTC day, `AUDITDAY#<yyyy-mm-dd>`, with the day's total and its count
//!   per action, kept by the same transactions. A page of the log skips whole days by
//!   their counts, so its cost follows the page, not the length of the log.
//!
//! Nothing secret is ever recorded: the changed fields are names, types and flags.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{self, key, n, s, tx, Db, Item};
use crate::domain::{AccountId, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::model;
use crate::views::Collection;

/// How long records are kept when the template does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

pub const RECORD_SK_PREFIX: &str = "AUDIT#";
pub const USER_COPY_SK_PREFIX: &str = "AUDITUSER#";
pub const DAY_SK_PREFIX: &str = "AUDITDAY#";
pub const KIND_RECORD: &str = "auditRecord";
pub const KIND_USER_COPY: &str = "auditUserCopy";
pub const KIND_DAY: &str = "auditDay";

/// What happened. The names are those of the change events (`docs/events/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "user.invited")]
    UserInvited,
    #[serde(rename = "user.invitation_resent")]
    InvitationResent,
    #[serde(rename = "user.activated")]
    UserActivated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "account.renamed")]
    AccountRenamed,
    #[serde(rename = "user.password_changed")]
    PasswordChanged,
    #[serde(rename = "user.mfa_changed")]
    MfaChanged,
    #[serde(rename = "user.type_changed")]
    TypeChanged,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    /// A password change refused because the current password was wrong.
    #[serde(rename = "user.password_rejected")]
    PasswordRejected,
    /// An MFA change refused because the TOTP code was wrong.
    #[serde(rename = "user.mfa_code_rejected")]
    MfaCodeRejected,
    /// An admin action (or reading the audit log) refused with ACCESS.
    #[serde(rename = "admin.access_denied")]
    AccessDenied,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::UserInvited,
        Action::InvitationResent,
        Action::UserActivated,
        Action::UserUpdated,
        Action::AccountRenamed,
        Action::PasswordChanged,
        Action::MfaChanged,
        Action::TypeChanged,
        Action::UserDeleted,
        Action::PasswordRejected,
        Action::MfaCodeRejected,
        Action::AccessDenied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserInvited => "user.invited",
            Action::InvitationResent => "user.invitation_resent",
            Action::UserActivated => "user.activated",
            Action::UserUpdated => "user.updated",
            Action::AccountRenamed => "account.renamed",
            Action::PasswordChanged => "user.password_changed",
            Action::MfaChanged => "user.mfa_changed",
            Action::TypeChanged => "user.type_changed",
            Action::UserDeleted => "user.deleted",
            Action::PasswordRejected => "user.password_rejected",
            Action::MfaCodeRejected => "user.mfa_code_rejected",
            Action::AccessDenied => "admin.access_denied",
        }
    }

    pub fn parse(raw: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == raw)
    }

    /// Whether the record is of a change (published as an event), not of a refusal.
    pub fn is_change(self) -> bool {
        !matches!(
            self,
            Action::PasswordRejected | Action::MfaCodeRejected | Action::AccessDenied
        )
    }

    /// The day counter's attribute for this action.
    fn counter(self) -> String {
        format!("n_{}", self.as_str())
    }
}

/// A field's value before and after a change (`null` where it did not exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub before: Value,
    pub after: Value,
}

/// Where a request came from, as API Gateway saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// The longest user agent kept: a client cannot make records large.
const MAX_USER_AGENT_CHARS: usize = 512;

impl Origin {
    pub fn of(req: &Request) -> Self {
        let header = req
            .headers()
            .get("user-agent")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut origin = Origin {
            user_agent: header,
            ..Origin::default()
        };
        if let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() {
            origin.source_ip = context.http.source_ip.clone();
            origin.request_id = context.request_id.clone();
            if context.http.user_agent.is_some() {
                origin.user_agent = context.http.user_agent.clone();
            }
        }
        origin.user_agent = origin
            .user_agent
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect());
        origin
    }
}

/// Who asks for a change and from where: what a record says about its request. Tools
/// (the bootstrap of an account, the local stack's seeding) are `Requester::tool()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub user: Option<UserId>,
    pub origin: Origin,
}

impl Requester {
    pub fn new(user: Option<UserId>, req: &Request) -> Self {
        Self {
            user,
            origin: Origin::of(req),
        }
    }

    pub fn tool() -> Self {
        Self::default()
    }
}

/// A change or refusal about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub action: Action,
    /// Who did it: the signed-in caller, the invitee for a signup, none for a resend
    /// (an unauthenticated request).
    pub actor: Option<UserId>,
    /// The user it concerns (none for an account rename).
    pub target: Option<UserId>,
    pub changes: BTreeMap<String, FieldChange>,
}

impl Entry {
    pub fn new(action: Action, actor: Option<UserId>, target: Option<UserId>) -> Self {
        Self {
            action,
            actor,
            target,
            changes: BTreeMap::new(),
        }
    }

    /// Adds a changed field.
    pub fn field(mut self, name: &str, before: impl Serialize, after: impl Serialize) -> Self {
        self.changes.insert(
            name.to_owned(),
            FieldChange {
                before: serde_json::to_value(&before).unwrap_or(Value::Null),
                after: serde_json::to_value(&after).unwrap_or(Value::Null),
            },
        );
        self
    }

    /// Adds a field only when its value changes.
    pub fn field_if_changed<T: Serialize + PartialEq>(
        self,
        name: &str,
        before: T,
        after: T,
    ) -> Self {
        if before == after {
            self
        } else {
            self.field(name, before, after)
        }
    }
}

/// One record of the log, as stored and as the audit log endpoint answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: String,
    pub account_id: AccountId,
    pub time: String,
    pub action: Action,
    pub actor_id: Option<UserId>,
    pub target_id: Option<UserId>,
    pub changes: BTreeMap<String, FieldChange>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

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

impl AuditRecord {
    /// The record of `entry`, made now by a request from `origin`.
    pub fn new(account: AccountId, entry: Entry, origin: &Origin, at: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            account_id: account,
            time: crate::clock::iso(at),
            action: entry.action,
            actor_id: entry.actor,
            target_id: entry.target,
            changes: entry.changes,
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            request_id: origin.request_id.clone(),
        }
    }

    fn millis(&self) -> i64 {
        DateTime::parse_from_rfc3339(&self.time)
            .map(|at| at.timestamp_millis())
            .unwrap_or_default()
    }

    fn day(&self) -> String {
        day_of_millis(self.millis())
    }

    fn record_sk(&self) -> String {
        format!("{RECORD_SK_PREFIX}{:013}#{}", self.millis(), self.id)
    }

    fn user_copy_sk(&self, user: UserId) -> String {
        format!(
            "{USER_COPY_SK_PREFIX}{user}#{:013}#{}",
            self.millis(),
            self.id
        )
    }

    fn item(&self, sk: String, kind: &str, retention: Duration) -> Result<Item, ApiError> {
        db::to_item(&RecordItem {
            pk: model::account_pk(self.account_id),
            sk,
            kind: kind.to_owned(),
            change: self.action.is_change(),
            expires_at: (self.millis() / 1000) + retention.num_seconds(),
            record: self.clone(),
        })
    }

    fn puts(&self, table: &str, retention: Duration) -> Result<Vec<tx::Write>, ApiError> {
        let new_only = Some("attribute_not_exists(sk)");
        let mut puts = vec![tx::put(
            table,
            self.item(self.record_sk(), KIND_RECORD, retention)?,
            new_only,
            vec![],
        )?];
        if let Some(target) = self.target_id {
            puts.push(tx::put(
                table,
                self.item(self.user_copy_sk(target), KIND_USER_COPY, retention)?,
                new_only,
                vec![],
            )?);
        }
        Ok(puts)
    }

    fn deletes(&self, table: &str) -> Result<Vec<tx::Write>, ApiError> {
        let pk = model::account_pk(self.account_id);
        let mut deletes = vec![tx::delete(table, key(&pk, self.record_sk()), None, vec![])?];
        if let Some(target) = self.target_id {
            deletes.push(tx::delete(
                table,
                key(&pk, self.user_copy_sk(target)),
                None,
                vec![],
            )?);
        }
        Ok(deletes)
    }
}

/// The writes that add `records`: each record, its copy under the target user, and one
/// update per day counter (a transaction may touch an item only once). Appended to the
/// transaction of the change they record.
pub fn writes(
    records: &[AuditRecord],
    table: &str,
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut writes = Vec::new();
    for record in records {
        writes.extend(record.puts(table, retention)?);
    }
    writes.extend(counts(records, table, 1, retention)?);
    Ok(writes)
}

/// The writes that take `records` back, when the change they recorded is undone.
pub fn undo_writes(
    records: &[AuditRecord],
    table: &str,
    retention: Duration,
) -> Result<Vec<tx::Write>, ApiError> {
    let mut writes = Vec::new();
    for record in records {
        writes.extend(record.deletes(table)?);
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
    let mut days: BTreeMap<(AccountId, String), BTreeMap<Action, i64>> = BTreeMap::new();
    for record in records {
        *days
            .entry((record.account_id, record.day()))
            .or_default()
            .entry(record.action)
            .or_default() += by;
    }
    let mut updates = Vec::new();
    for ((account, day), actions) in days {
        let day_end = day_start_millis(&day).unwrap_or_default() / 1000 + 86_400;
        let total: i64 = actions.values().sum();
        let counters: Vec<(String, String, String, i64)> = actions
            .into_iter()
            .enumerate()
            .map(|(i, (action, count))| {
                (format!("#a{i}"), action.counter(), format!(":a{i}"), count)
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
            (":expires", n(day_end + retention.num_seconds())),
        ];
        values.extend(
            counters
                .iter()
                .map(|(_, _, value, count)| (value.as_str(), n(count))),
        );
        updates.push(tx::update(
            table,
            key(model::account_pk(account), format!("{DAY_SK_PREFIX}{day}")),
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
    let mut days: BTreeMap<(AccountId, String), BTreeMap<String, i64>> = BTreeMap::new();
    for record in records {
        items.push(record.item(record.record_sk(), KIND_RECORD, retention)?);
        if let Some(target) = record.target_id {
            items.push(record.item(record.user_copy_sk(target), KIND_USER_COPY, retention)?);
        }
        let counts = days.entry((record.account_id, record.day())).or_default();
        *counts.entry("total".to_owned()).or_default() += 1;
        *counts.entry(record.action.counter()).or_default() += 1;
    }
    for ((account, day), counts) in days {
        let day_end = day_start_millis(&day).unwrap_or_default() / 1000 + 86_400;
        let mut item = key(model::account_pk(account), format!("{DAY_SK_PREFIX}{day}"));
        item.insert("kind".to_owned(), s(KIND_DAY));
        item.insert("expiresAt".to_owned(), n(day_end + retention.num_seconds()));
        for (name, count) in counts {
            item.insert(name, n(count));
        }
        items.push(item);
    }
    Ok(items)
}

fn day_of_millis(millis: i64) -> String {
    Utc.timestamp_millis_opt(millis)
        .single()
        .map(|at| at.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

fn day_start_millis(day: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Writes a refusal's record on its own. A refusal is answered whatever becomes of its
/// record, so a failure here is logged, not returned.
pub async fn record_refusal(db: &Db, account: AccountId, entry: Entry, origin: &Origin) {
    let record = AuditRecord::new(account, entry, origin, crate::clock::now());
    let written = match writes(
        std::slice::from_ref(&record),
        db.table(),
        db.audit_retention(),
    ) {
        Ok(writes) => db.transact(writes).await.map_err(ApiError::from),
        Err(err) => Err(err),
    };
    if let Err(err) = written {
        tracing::error!(action = record.action.as_str(), error = %err, "refusal not recorded");
    }
}

/// Writes the record of a change that is not a DynamoDB write (a password changed at the
/// identity provider), after the change. A transient failure is tried again; the change
/// cannot be undone, so a record that still cannot be written is logged as an error.
pub async fn record_after(db: &Db, account: AccountId, entry: Entry, origin: &Origin) {
    let record = AuditRecord::new(account, entry, origin, crate::clock::now());
    for attempt in 1..=3 {
        let written = match writes(
            std::slice::from_ref(&record),
            db.table(),
            db.audit_retention(),
        ) {
            Ok(writes) => db.transact(writes).await.map_err(ApiError::from),
            Err(err) => Err(err),
        };
        match written {
            Ok(()) => return,
            Err(err) if attempt == 3 => {
                tracing::error!(action = record.action.as_str(), error = %err, "change not recorded");
            }
            Err(_) => tokio::time::sleep(db::contention_pause(attempt)).await,
        }
    }
}

/// Refuses a non-admin with 499 ACCESS, and records the refusal.
pub async fn require_admin(
    db: &Db,
    req: &Request,
    caller: &crate::auth::Caller,
    target: Option<UserId>,
) -> Result<(), ApiError> {
    match caller.require_admin() {
        Ok(()) => Ok(()),
        Err(refused) => {
            let entry = Entry::new(Action::AccessDenied, Some(caller.user.id), target);
            record_refusal(db, caller.user.account_id, entry, &Origin::of(req)).await;
            Err(refused)
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
            page_size: crate::listing::DEFAULT_PAGE_SIZE,
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
    pub fn from_query(query: &std::collections::HashMap<String, String>) -> Result<Self, ApiError> {
        let given = crate::listing::known_parameters(query, &Self::NAMES, None)?;
        let mut params = LogQuery::default();
        (params.page, params.page_size) = crate::listing::page_and_size(&given, params.page_size)?;
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

/// How many days a filtered page reads at once.
const DAYS_IN_FLIGHT: usize = 16;

/// The latest time a record's key can hold: 13 digits of milliseconds (November 2286).
const LAST_MILLIS: i64 = 9_999_999_999_999;

/// A stretch of the log in time order: the records between two sort keys and how many
/// of them match.
struct Segment {
    low: String,
    high: String,
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
    let pk = model::account_pk(account);
    if let Some(user) = query.user {
        let prefix = format!("{USER_COPY_SK_PREFIX}{user}#");
        let range = (format!("{prefix}{low:013}"), format!("{prefix}{high:013}~"));
        let records: Vec<AuditRecord> = db
            .query_range(
                &pk,
                &range.0,
                &range.1,
                true,
                action_filter(query.action),
                None,
            )
            .await?
            .into_iter()
            .map(db::from_item)
            .collect::<Result<_, _>>()?;
        let total = records.len();
        let data = records
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .collect();
        return Ok(Collection { data, total });
    }

    let segments = segments(db, &pk, low, high, query.action).await?;
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
    let items = match (holding.first(), holding.last()) {
        (Some(newest), Some(oldest)) if query.action.is_none() => {
            // Every record matches, and the days' records lie next to each other: one
            // Query from the newest day's end reads exactly what the page needs.
            db.query_range(
                &pk,
                &oldest.low,
                &newest.high,
                true,
                None,
                Some(skip.saturating_add(wanted)),
            )
            .await?
        }
        _ => {
            // Matches are spread among the days' other records: the days are read at
            // the same time, each whole, and filtered by DynamoDB.
            let reads: Vec<_> = holding
                .iter()
                .map(|segment| {
                    db.query_range(
                        &pk,
                        &segment.low,
                        &segment.high,
                        true,
                        action_filter(query.action),
                        None,
                    )
                })
                .collect();
            use futures_util::{StreamExt, TryStreamExt};
            futures_util::stream::iter(reads)
                .buffered(DAYS_IN_FLIGHT)
                .try_concat()
                .await?
        }
    };
    let data = items
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(wanted).unwrap_or(usize::MAX))
        .map(db::from_item)
        .collect::<Result<Vec<AuditRecord>, ApiError>>()?;
    Ok(Collection {
        data,
        total: usize::try_from(total).unwrap_or(usize::MAX),
    })
}

fn action_filter(action: Option<Action>) -> Option<(&'static str, String)> {
    action.map(|action| ("action", action.as_str().to_owned()))
}

/// The days of `low..=high` (milliseconds) oldest first, each with its count: from its
/// counter when the range covers the whole day, else by counting its records in range.
async fn segments(
    db: &Db,
    pk: &str,
    low: i64,
    high: i64,
    action: Option<Action>,
) -> Result<Vec<Segment>, ApiError> {
    let (first_day, last_day) = (day_of_millis(low), day_of_millis(high));
    let (first_counter, last_counter) = (
        format!("{DAY_SK_PREFIX}{first_day}"),
        format!("{DAY_SK_PREFIX}{last_day}"),
    );
    let counters = db.query_range(pk, &first_counter, &last_counter, false, None, None);
    let record_range = |from: i64, to: i64| {
        (
            format!("{RECORD_SK_PREFIX}{from:013}"),
            format!("{RECORD_SK_PREFIX}{to:013}~"),
        )
    };
    let partial = |day: &str| {
        let start = day_start_millis(day).unwrap_or_default();
        let end = start + 86_400_000 - 1;
        (start < low || end > high).then(|| record_range(start.max(low), end.min(high)))
    };
    let first_partial = partial(&first_day);
    let last_partial = if last_day == first_day {
        None
    } else {
        partial(&last_day)
    };
    let count_of = |range: Option<(String, String)>| async move {
        match range {
            Some((from, to)) => db
                .count_range(pk, &from, &to, action_filter(action))
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let (counters, first_count, last_count) = futures_util::try_join!(
        counters,
        count_of(first_partial.clone()),
        count_of(last_partial.clone())
    )?;

    let attribute = action.map_or_else(|| "total".to_owned(), Action::counter);
    let mut segments = Vec::new();
    for item in counters {
        let Some(AttributeValue::S(sk)) = item.get(model::SK) else {
            continue;
        };
        let day = sk.trim_start_matches(DAY_SK_PREFIX).to_owned();
        let Some(start) = day_start_millis(&day) else {
            continue;
        };
        let (range, count) = if day == first_day && first_partial.is_some() {
            (first_partial.clone(), first_count)
        } else if day == last_day && last_partial.is_some() {
            (last_partial.clone(), last_count)
        } else {
            let counted = match item.get(&attribute) {
                Some(AttributeValue::N(number)) => number.parse::<i64>().unwrap_or_default(),
                _ => 0,
            };
            (
                Some(record_range(start, start + 86_400_000 - 1)),
                Some(u64::try_from(counted).unwrap_or_default()),
            )
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
    fn every_action_reads_back_from_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                Value::String(action.as_str().to_owned())
            );
        }
    }

    #[test]
    fn a_field_that_did_not_change_is_left_out() {
        let entry = Entry::new(Action::UserUpdated, None, None)
            .field_if_changed("firstname", "Ann", "Ann")
            .field_if_changed("lastname", "Lee", "Li");
        assert_eq!(entry.changes.len(), 1);
        assert_eq!(entry.changes["lastname"].before, Value::from("Lee"));
        assert_eq!(entry.changes["lastname"].after, Value::from("Li"));
    }

    #[test]
    fn bad_parameters_are_refused_naming_the_parameter() {
        let refused = |name: &str, value: &str| {
            let query = std::collections::HashMap::from([(name.to_owned(), value.to_owned())]);
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
        let reversed = std::collections::HashMap::from([
            ("from".to_owned(), "2026-12-02T00:00:00Z".to_owned()),
            ("to".to_owned(), "2026-12-01T00:00:00Z".to_owned()),
        ]);
        assert!(LogQuery::from_query(&reversed).is_err());
    }

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
        assert!(early.record_sk() < late.record_sk());
        assert_eq!(early.day(), "1970-01-01");
    }
}
