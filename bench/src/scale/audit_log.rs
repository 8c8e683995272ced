//! The audit log at scale (issue 16): a log of n records over a year of an account of
//! the bench, loaded as the product's writes leave it
//! (`shared::adapters::db::audit_records::items_of`), the requests of `GET /api/v1/user/audit_log`
//! the bench makes, the answers they must give (computed from the generated records), and
//! a measurement of `audit::read_log` in-process for when the function's binary is not
//! built.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde_json::{json, Map, Value};

use super::account::{Account, Rng};
use super::dynamo_json::{item_json, item_size};
use super::fake_dynamo::{CallSummary, FakeDynamo, PAGE_BYTES};
use super::names::{FIRST_NAMES, LAST_NAMES};
use super::runner::{BoxError, Measurement, TABLE};
use super::scenario::request_event;
use shared::adapters::db::audit_records;
use shared::adapters::db::model::UserItem;
use shared::domain::{AccountId, UserId, UserStatus, UserType};
use shared::features::audit::{self, Action, AuditRecord, FieldChange, LogQuery};
use shared::ApiError;

/// The function's binary.
pub const FUNCTION: &str = "audit-log";
/// The endpoint's path.
pub const PATH: &str = "/api/v1/user/audit_log";
/// Records the day of a bulk import adds, per record of the log: 2 % of the log in one
/// day, the day "a single day with very many records" of the docs.
const BULK_SHARE: usize = 50;
/// The bulk import was this many days before the end of the log.
const BULK_DAYS_AGO: i64 = 60;
/// A fifth of the records about a user are about one of these many "busy" users (admins
/// who change things, users who mistype their password or their TOTP code...).
const BUSY_USERS: usize = 50;

/// The mix of actions, per thousand records: profile edits, then refused passwords,
/// invitations and signups, password changes, refused TOTP codes...
const MIX: [(Action, u64); 12] = [
    (Action::UserUpdated, 300),
    (Action::PasswordRejected, 120),
    (Action::UserInvited, 120),
    (Action::UserActivated, 100),
    (Action::PasswordChanged, 90),
    (Action::MfaCodeRejected, 60),
    (Action::MfaChanged, 50),
    (Action::AccessDenied, 48),
    (Action::InvitationResent, 40),
    (Action::UserDeleted, 40),
    (Action::TypeChanged, 30),
    (Action::AccountRenamed, 2),
];

/// Weight of each UTC hour: the working days of Europe and the Americas.
const HOURS: [u64; 24] = [
    2, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 13, 12, 13, 14, 14, 13, 11, 8, 6, 5, 4, 3, 2,
];

/// User agents as browsers and the desktop app send them.
const USER_AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "AmoveDesktop/3.4.1 (Windows NT 10.0; Win64; x64)",
    "AmoveDesktop/3.4.0 (Macintosh; macOS 14.6)",
];

/// What the bench keeps of a record to compute answers.
#[derive(Debug, Clone)]
pub struct Entry {
    pub millis: i64,
    pub id: String,
    pub action: Action,
    pub target: Option<UserId>,
}

/// A generated log, as loaded into the fake.
pub struct Log {
    /// Every record, newest first (the order of the log's pages).
    pub entries: Vec<Entry>,
    /// The UTC days the log spans (the last one up to `end`, whole if `end` is midnight).
    pub days: usize,
    /// Records are before this instant.
    pub end: DateTime<Utc>,
    /// The day with the most records, and how many.
    pub busiest_day: (String, usize),
    /// The user with the most records about them, and how many.
    pub busiest_user: (UserId, usize),
    /// Items loaded: records, user copies, day counters; and their bytes.
    pub items: usize,
    /// Day counters among them, and their bytes (what the day counters' Query of a whole
    /// year reads).
    pub counters: usize,
    pub counter_bytes: u64,
    pub bytes: u64,
    /// What reading the whole log (every record) costs: Query pages and read units.
    pub naive_pages: usize,
    pub naive_read_units: u64,
}

/// A weighted choice from cumulative weights.
fn weighted(rng: &mut Rng, cumulative: &[u64]) -> usize {
    let total = *cumulative.last().expect("weights");
    let drawn = rng.below(total);
    cumulative.partition_point(|&sum| sum <= drawn)
}

fn cumulative(weights: impl IntoIterator<Item = u64>) -> Vec<u64> {
    weights
        .into_iter()
        .scan(0, |sum, weight| {
            *sum += weight;
            Some(*sum)
        })
        .collect()
}

fn day_text(millis: i64) -> String {
    at(millis).format("%Y-%m-%d").to_string()
}

fn at(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis).single().expect("a time")
}

/// Who does what: the users, the admins (most changes are by a handful of them), the
/// busy users, and a source IP and user agent per user (with some variety).
struct People<'a> {
    users: &'a [UserItem],
    admins: Vec<usize>,
    others: Vec<usize>,
}

impl<'a> People<'a> {
    fn new(users: &'a [UserItem]) -> Self {
        let (admins, others) = (0..users.len()).partition(|&index| {
            let user = &users[index];
            user.owner || (user.user_type == UserType::ACCOUNT_ADMIN && !user.deleted)
        });
        Self {
            users,
            admins,
            others,
        }
    }

    /// Mostly one of the first five admins (the owner first).
    fn admin(&self, rng: &mut Rng) -> &'a UserItem {
        let among = if rng.below(10) < 9 {
            self.admins.len().min(5)
        } else {
            self.admins.len()
        };
        &self.users[self.admins[rng.below(among as u64) as usize]]
    }

    /// A user who is not an admin (any user if all are).
    fn non_admin(&self, rng: &mut Rng) -> &'a UserItem {
        match self.others.len() {
            0 => &self.users[rng.below(self.users.len() as u64) as usize],
            n => &self.users[self.others[rng.below(n as u64) as usize]],
        }
    }

    /// A fifth of the time one of the busy users, else anyone.
    fn target(&self, rng: &mut Rng) -> &'a UserItem {
        let n = self.users.len();
        let index = if rng.below(5) == 0 && n > 1 {
            1 + rng.below(BUSY_USERS.min(n - 1) as u64) as usize
        } else {
            rng.below(n as u64) as usize
        };
        &self.users[index]
    }
}

/// A public-looking address, the same for a user most of the time (their office), IPv6
/// for one in ten.
fn source_ip(rng: &mut Rng, user: Option<&UserItem>) -> String {
    let seed = match user {
        Some(user) if rng.below(5) > 0 => user.id.0.as_u128() as u64,
        _ => rng.next(),
    };
    let byte = |shift: u32| (seed >> shift) & 0xff;
    if seed % 10 == 0 {
        return format!(
            "2001:db8:{:x}:{:x}::{:x}",
            (seed >> 16) & 0xffff,
            (seed >> 32) & 0xffff,
            (seed >> 48) & 0xffff
        );
    }
    const FIRST: [u64; 10] = [24, 67, 81, 92, 98, 104, 172, 185, 203, 212];
    format!(
        "{}.{}.{}.{}",
        FIRST[(seed % 10) as usize],
        byte(8),
        byte(16),
        byte(24).max(1)
    )
}

fn user_agent(rng: &mut Rng, user: Option<&UserItem>) -> String {
    let index = match user {
        Some(user) if rng.below(100) < 85 => (user.id.0.as_u128() >> 64) as u64,
        _ => rng.next(),
    };
    USER_AGENTS[(index % USER_AGENTS.len() as u64) as usize].to_owned()
}

/// An API Gateway request id, such as `fgfWUtmBfZlA72E=`.
fn request_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id: String = (0..15)
        .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
        .collect();
    id.push('=');
    id
}

fn change(before: Value, after: Value) -> FieldChange {
    FieldChange { before, after }
}

/// One record of `action` at `millis`, with the actor, target and changed fields the
/// product records for it (names, types and flags, never secrets).
fn record(
    rng: &mut Rng,
    people: &People,
    account: AccountId,
    account_name: &str,
    action: Action,
    millis: i64,
    target: Option<&UserItem>,
) -> AuditRecord {
    let target = target.unwrap_or_else(|| people.target(rng));
    let mut changes = BTreeMap::new();
    let types = [
        UserType::ACCOUNT_ADMIN,
        UserType::ACCOUNT_USER,
        UserType::DESKTOP_ADMIN,
        UserType::DESKTOP_CREATIVE_USER,
        UserType::DESKTOP_STANDARD_USER,
    ];
    let (actor, target) = match action {
        Action::UserInvited => {
            changes.insert(
                "email".to_owned(),
                change(Value::Null, json!(&target.email)),
            );
            changes.insert(
                "firstname".to_owned(),
                change(Value::Null, json!(&target.firstname)),
            );
            changes.insert(
                "lastname".to_owned(),
                change(Value::Null, json!(&target.lastname)),
            );
            changes.insert(
                "userType".to_owned(),
                change(Value::Null, json!(target.user_type.0)),
            );
            (Some(people.admin(rng)), Some(target))
        }
        Action::InvitationResent => (None, Some(target)),
        Action::UserActivated => {
            changes.insert(
                "status".to_owned(),
                change(json!(UserStatus::PENDING.0), json!(UserStatus::ACTIVE.0)),
            );
            (Some(target), Some(target))
        }
        Action::UserUpdated => {
            let by_admin = rng.below(4) == 0;
            let which = rng.below(3);
            if which != 1 {
                changes.insert(
                    "firstname".to_owned(),
                    change(json!(&target.firstname), json!(rng.pick(&FIRST_NAMES))),
                );
            }
            if which != 0 {
                changes.insert(
                    "lastname".to_owned(),
                    change(json!(&target.lastname), json!(rng.pick(&LAST_NAMES))),
                );
            }
            let actor = if by_admin { people.admin(rng) } else { target };
            (Some(actor), Some(target))
        }
        Action::AccountRenamed => {
            changes.insert(
                "name".to_owned(),
                change(json!(account_name), json!(format!("{account_name} Studio"))),
            );
            (Some(people.admin(rng)), None)
        }
        Action::PasswordChanged | Action::PasswordRejected | Action::MfaCodeRejected => {
            (Some(target), Some(target))
        }
        Action::MfaChanged => {
            let enabled = rng.below(4) > 0;
            changes.insert("mfa".to_owned(), change(json!(!enabled), json!(enabled)));
            (Some(target), Some(target))
        }
        Action::TypeChanged => {
            let new_type = loop {
                let picked = rng.pick(&types);
                if picked != target.user_type {
                    break picked;
                }
            };
            changes.insert(
                "userType".to_owned(),
                change(json!(target.user_type.0), json!(new_type.0)),
            );
            (Some(people.admin(rng)), Some(target))
        }
        Action::UserDeleted => {
            changes.insert("deleted".to_owned(), change(json!(false), json!(true)));
            (Some(people.admin(rng)), Some(target))
        }
        Action::AccessDenied => {
            let actor = people.non_admin(rng);
            if rng.below(10) < 3 {
                changes.insert(
                    "name".to_owned(),
                    change(json!(account_name), json!(format!("{account_name} (test)"))),
                );
                (Some(actor), None)
            } else {
                (Some(actor), Some(target))
            }
        }
    };
    AuditRecord {
        id: rng.uuid().simple().to_string(),
        account_id: account,
        time: shared::domain::clock::iso(at(millis)),
        action,
        actor_id: actor.map(|user| user.id),
        target_id: target.map(|user| user.id),
        changes,
        source_ip: Some(source_ip(rng, actor)),
        user_agent: Some(user_agent(rng, actor)),
        request_id: Some(request_id(rng)),
    }
}

/// What log to generate.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Records in all.
    pub count: usize,
    /// UTC days the records span, the last one before `end`.
    pub days: usize,
    pub end: DateTime<Utc>,
    pub seed: u64,
    /// What the template keeps records for (their `expiresAt`).
    pub retention: Duration,
    /// The account's name, for the records of renames.
    pub account_name: String,
}

/// Generates a log of `shape.count` records over the `shape.days` UTC days before
/// `shape.end` (the last one partial unless `end` is a midnight) for `account`, and hands
/// every item to `put` in wire JSON: weekdays five times busier than weekends, the
/// working hours busier than the night, the account busier as it grows (twice as many
/// records at the end of the span as at its start), the mix of actions of `MIX`, and one
/// bulk import day (2 % of the log: invitations by the owner, a second apart)
/// `BULK_DAYS_AGO` days before the last day.
pub fn generate(
    account: &Account,
    shape: &Shape,
    put: &mut dyn FnMut(Map<String, Value>),
) -> Result<Log, ApiError> {
    let Shape {
        count,
        days,
        end,
        seed,
        retention,
        ref account_name,
    } = *shape;
    let mut rng = Rng(seed ^ 0xA0D1_7000);
    let people = People::new(&account.users);
    let end_ms = end.timestamp_millis();
    let last_day = (end - Duration::milliseconds(1)).date_naive();
    let first_day = last_day - Duration::days(days as i64 - 1);
    let day_start = |day: usize| {
        (first_day + Duration::days(day as i64))
            .and_time(NaiveTime::MIN)
            .and_utc()
    };
    let day_weights = cumulative((0..days).map(|day| {
        let start = day_start(day);
        let weekday = match start.weekday() {
            Weekday::Sat | Weekday::Sun => 200,
            _ => 1_000,
        };
        let growth = 500 + 500 * day as u64 / days.max(2) as u64;
        let elapsed = ((end_ms - start.timestamp_millis()).clamp(0, 86_400_000) / 1_000) as u64;
        weekday * growth * elapsed / 86_400
    }));
    let hours = cumulative(HOURS);
    let actions = cumulative(MIX.map(|(_, weight)| weight));

    // When: the bulk day's invitations, then the rest drawn day by day and hour by hour.
    let bulk = (count / BULK_SHARE).min(count);
    let bulk_day = days.saturating_sub(BULK_DAYS_AGO as usize + 1);
    let bulk_start = day_start(bulk_day).timestamp_millis() + 10 * 3_600_000;
    let mut times: Vec<(i64, Option<usize>)> = Vec::with_capacity(count);
    let mut invited = HashSet::new();
    for index in 0..bulk {
        let millis = bulk_start + index as i64 * 1_000 + rng.below(1_000) as i64;
        // Each invitee once while there are users enough.
        let user = loop {
            let user = rng.below(account.users.len() as u64) as usize;
            if invited.len() >= account.users.len() || invited.insert(user) {
                break user;
            }
        };
        times.push((millis.min(end_ms - 1), Some(user)));
    }
    while times.len() < count {
        let day = weighted(&mut rng, &day_weights);
        let hour = weighted(&mut rng, &hours) as i64;
        let millis =
            day_start(day).timestamp_millis() + hour * 3_600_000 + rng.below(3_600_000) as i64;
        if millis < end_ms {
            times.push((millis, None));
        }
    }
    times.sort_unstable();

    // The records, loaded a day at a time (each day's counter whole), in key order.
    let mut log = Log {
        entries: Vec::with_capacity(count),
        days,
        end,
        busiest_day: (String::new(), 0),
        busiest_user: (UserId(uuid::Uuid::nil()), 0),
        items: 0,
        counters: 0,
        counter_bytes: 0,
        bytes: 0,
        naive_pages: 0,
        naive_read_units: 0,
    };
    let mut page_bytes = 0;
    let close_page = |log: &mut Log, bytes: &mut u64| {
        if *bytes > 0 {
            log.naive_pages += 1;
            log.naive_read_units += bytes.div_ceil(4096);
            *bytes = 0;
        }
    };
    let mut about: HashMap<UserId, usize> = HashMap::new();
    let mut start = 0;
    while start < times.len() {
        let day = day_text(times[start].0);
        let mut stop = start;
        while stop < times.len() && day_text(times[stop].0) == day {
            stop += 1;
        }
        let mut records: Vec<AuditRecord> = times[start..stop]
            .iter()
            .map(|&(millis, invitee)| {
                let (action, target) = match invitee {
                    Some(user) => (Action::UserInvited, Some(&account.users[user])),
                    None => (MIX[weighted(&mut rng, &actions)].0, None),
                };
                record(
                    &mut rng,
                    &people,
                    account.id,
                    account_name,
                    action,
                    millis,
                    target,
                )
            })
            .collect();
        records.sort_by_cached_key(|record| (record.time.clone(), record.id.clone()));
        if stop - start > log.busiest_day.1 {
            log.busiest_day = (day, stop - start);
        }
        for item in audit_records::items_of(&records, retention)? {
            let json = item_json(&item);
            let size = item_size(&json);
            let kind = json["kind"]["S"].as_str().unwrap_or_default();
            if kind == audit_records::KIND_DAY {
                log.counters += 1;
                log.counter_bytes += size;
            }
            if kind == audit_records::KIND_RECORD {
                page_bytes += size;
                if page_bytes >= PAGE_BYTES {
                    close_page(&mut log, &mut page_bytes);
                }
            }
            log.items += 1;
            log.bytes += size;
            put(json);
        }
        for record in records {
            if let Some(target) = record.target_id {
                *about.entry(target).or_default() += 1;
            }
            log.entries.push(Entry {
                millis: DateTime::parse_from_rfc3339(&record.time)
                    .expect("a generated time")
                    .timestamp_millis(),
                id: record.id,
                action: record.action,
                target: record.target_id,
            });
        }
        start = stop;
    }
    close_page(&mut log, &mut page_bytes);
    log.entries.reverse();
    if let Some((&user, &records)) = about
        .iter()
        .max_by_key(|&(user, records)| (*records, std::cmp::Reverse(*user)))
    {
        log.busiest_user = (user, records);
    }
    Ok(log)
}

/// One request to the audit log.
#[derive(Debug, Clone)]
pub struct LogScenario {
    pub name: String,
    page: u64,
    page_size: u64,
    user: Option<UserId>,
    action: Option<Action>,
    /// Inclusive bounds, in milliseconds.
    from: Option<i64>,
    to: Option<i64>,
}

impl LogScenario {
    fn first_page(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            page: 1,
            page_size: 50,
            user: None,
            action: None,
            from: None,
            to: None,
        }
    }

    /// Page 1; the page at half the log; `action=user.type_changed`; the busiest user's
    /// history; one week (`from`/`to`, both days partial); and a page in the middle of the
    /// busiest day (the bulk import), where a deep page costs that day's records.
    pub fn all(log: &Log) -> Vec<Self> {
        let count = log.entries.len() as u64;
        let deep = count / 2 / 50 + 1;
        let week_start = (log.end.date_naive() - Duration::days(10))
            .and_hms_opt(9, 30, 0)
            .expect("a time")
            .and_utc()
            .timestamp_millis();
        let week_end = week_start + 7 * 86_400_000 - 1;
        let busiest_day = &log.busiest_day.0;
        let newest_of_busiest = log
            .entries
            .iter()
            .position(|entry| day_text(entry.millis) == *busiest_day)
            .unwrap_or_default() as u64;
        let inside = (newest_of_busiest + log.busiest_day.1 as u64 / 2) / 50 + 1;
        vec![
            Self::first_page("page 1"),
            Self {
                page: deep,
                ..Self::first_page(format!(
                    "page {deep} (offset {})",
                    thousands((deep - 1) * 50)
                ))
            },
            Self {
                action: Some(Action::TypeChanged),
                ..Self::first_page("action=user.type_changed")
            },
            Self {
                user: Some(log.busiest_user.0),
                ..Self::first_page(format!(
                    "userId=<busiest user, {} records>",
                    log.busiest_user.1
                ))
            },
            Self {
                from: Some(week_start),
                to: Some(week_end),
                ..Self::first_page("from/to: one week")
            },
            Self {
                page: inside,
                ..Self::first_page(format!(
                    "page {inside}, inside the busiest day ({} records)",
                    thousands(log.busiest_day.1 as u64)
                ))
            },
        ]
    }

    /// The query string parameters, as a client sends them.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if self.page != 1 {
            query.push(("page", self.page.to_string()));
        }
        if self.page_size != 50 {
            query.push(("pagesize", self.page_size.to_string()));
        }
        if let Some(user) = self.user {
            query.push(("userId", user.to_string()));
        }
        if let Some(action) = self.action {
            query.push(("action", action.as_str().to_owned()));
        }
        if let Some(from) = self.from {
            query.push(("from", shared::domain::clock::iso(at(from))));
        }
        if let Some(to) = self.to {
            query.push(("to", shared::domain::clock::iso(at(to))));
        }
        query
    }

    /// The parameters as the endpoint parses them.
    pub fn log_query(&self) -> Result<LogQuery, ApiError> {
        let query: shared::domain::query::Query = self
            .query()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        LogQuery::from_query(&query)
    }

    /// The HTTP API event of this request by the Cognito user `sub` (the shape of the
    /// list functions' sample event, on the audit log's route).
    pub fn event(&self, sub: &str) -> String {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/get-all-users.json"))
                .expect("the sample event is JSON");
        event["routeKey"] = Value::from(format!("GET {PATH}"));
        event["rawPath"] = Value::from(PATH);
        event["requestContext"]["routeKey"] = Value::from(format!("GET {PATH}"));
        event["requestContext"]["http"]["path"] = Value::from(PATH);
        request_event(event, self.query(), sub)
    }

    /// The ids of the page the log must answer, newest first, and the number of
    /// matching records (records older than `retention` before `now` are gone).
    pub fn expected(&self, log: &Log, now: DateTime<Utc>, retention: Duration) -> Expected {
        let oldest = (now - retention).timestamp_millis();
        let low = self.from.map_or(oldest, |from| from.max(oldest));
        let high = self.to.unwrap_or(i64::MAX);
        let matches: Vec<&Entry> = log
            .entries
            .iter()
            .filter(|entry| low <= entry.millis && entry.millis <= high)
            .filter(|entry| self.action.is_none_or(|action| entry.action == action))
            .filter(|entry| self.user.is_none_or(|user| entry.target == Some(user)))
            .collect();
        let start = ((self.page - 1) * self.page_size).min(matches.len() as u64) as usize;
        let end = (start + self.page_size as usize).min(matches.len());
        Expected {
            ids: matches[start..end]
                .iter()
                .map(|entry| entry.id.clone())
                .collect(),
            total: matches.len(),
        }
    }
}

/// What an answer must be.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub ids: Vec<String>,
    pub total: usize,
}

impl Expected {
    /// Checks an answer: 200, the exact total, the expected records in order.
    pub fn check(&self, status: u16, body: &str) -> Result<(), String> {
        let short = || body.chars().take(500).collect::<String>();
        if status != 200 {
            return Err(format!("status {status}, body {}", short()));
        }
        let answer: Value = serde_json::from_str(body)
            .map_err(|e| format!("body is not JSON ({e}): {}", short()))?;
        if answer["total"].as_u64() != Some(self.total as u64) {
            return Err(format!(
                "total {} where {} (the generated count) was expected",
                answer["total"], self.total
            ));
        }
        let rows = answer["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if rows.len() != self.ids.len() {
            return Err(format!(
                "{} records where {} were expected",
                rows.len(),
                self.ids.len()
            ));
        }
        for (position, (row, id)) in rows.iter().zip(&self.ids).enumerate() {
            if row["id"].as_str() != Some(id.as_str()) {
                return Err(format!(
                    "record {position} is {} where {id} was expected",
                    row["id"]
                ));
            }
        }
        Ok(())
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Nanoseconds the calling thread has run on a CPU.
fn thread_cpu_ns() -> Result<u64, BoxError> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    Ok(stat
        .split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .ok_or("unreadable schedstat")?)
}

/// `audit::read_log` in-process on a thread of its own (its CPU time alone, the fake's
/// excluded), once to warm up and `invocations` times measured, each answer serialized
/// as the endpoint would and checked. No caller check (the function's identity, user and
/// account reads) and no peak memory: the process holds the fake's items.
pub async fn measure_in_process(
    fake: &FakeDynamo,
    account: AccountId,
    query: LogQuery,
    invocations: usize,
    check: impl Fn(u16, &str) -> Result<(), String> + Send + 'static,
) -> Result<Measurement, BoxError> {
    let endpoint = fake.endpoint.clone();
    let fake = fake.clone();
    tokio::task::spawn_blocking(move || -> Result<Measurement, BoxError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .endpoint_url(&endpoint)
            .http_client(shared::adapters::aws::http_client())
            .build();
        let db = shared::adapters::db::Db::from_client(
            aws_sdk_dynamodb::Client::from_conf(config),
            TABLE,
        );
        let mut measurement = Measurement {
            cpu_ms: Vec::with_capacity(invocations),
            peak_rss_mb: f64::NAN,
            calls: CallSummary::default(),
        };
        for round in 0..=invocations {
            fake.take_calls();
            let before = thread_cpu_ns()?;
            let answer = runtime.block_on(audit::read_log(&db, account, &query, Utc::now()));
            let (status, body) = match answer {
                Ok(page) => (200, serde_json::to_string(&page)?),
                Err(err) => (500, format!("{err:?}")),
            };
            let after = thread_cpu_ns()?;
            check(status, &body)?;
            if round > 0 {
                measurement.cpu_ms.push((after - before) as f64 / 1e6);
                measurement.calls = CallSummary::of(&fake.take_calls());
            }
        }
        Ok(measurement)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::account;

    #[test]
    fn a_log_has_its_count_its_mix_and_its_busy_day() {
        let account = account::build(300, 7, true, &mut |_| {}).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 1, 14, 0, 0).unwrap();
        let retention = Duration::days(400);
        let mut counters = 0;
        let shape = Shape {
            count: 5_000,
            days: 365,
            end,
            seed: 1,
            retention,
            account_name: "Scale".to_owned(),
        };
        let log = generate(&account, &shape, &mut |item| {
            if item["kind"]["S"] == audit_records::KIND_DAY {
                counters += 1;
            }
        })
        .unwrap();
        assert_eq!(log.entries.len(), 5_000);
        assert!(log
            .entries
            .windows(2)
            .all(|pair| (pair[0].millis, &pair[0].id) > (pair[1].millis, &pair[1].id)));
        assert!(log.entries[0].millis < end.timestamp_millis());
        // Counters on every day (weekends are quieter, but not empty), a few per day: the
        // records of changes spread over slots, each refused caller has their own.
        assert!(counters >= 365, "{counters} day counters");
        assert!(log.busiest_day.1 >= 100, "{:?}", log.busiest_day);
        let changed = log
            .entries
            .iter()
            .filter(|entry| entry.action == Action::UserUpdated)
            .count();
        assert!((1_300..1_700).contains(&changed), "{changed} updates");
        assert!(log.naive_read_units > 0 && log.naive_pages >= 1);

        let scenarios = LogScenario::all(&log);
        let page_one = scenarios[0].expected(&log, end, retention);
        assert_eq!(page_one.total, 5_000);
        assert_eq!(page_one.ids[0], log.entries[0].id);
        let week = scenarios[4].expected(&log, end, retention);
        assert!(week.total > 0 && week.total < 500, "{}", week.total);
        let user = scenarios[3].expected(&log, end, retention);
        assert_eq!(user.total, log.busiest_user.1);
        assert!(scenarios[3].log_query().unwrap().user.is_some());

        let body = |total: usize, ids: &[String]| {
            let data: Vec<Value> = ids
                .iter()
                .map(|id| serde_json::json!({ "id": id }))
                .collect();
            serde_json::json!({ "data": data, "total": total }).to_string()
        };
        assert_eq!(page_one.check(200, &body(5_000, &page_one.ids)), Ok(()));
        assert!(page_one.check(200, &body(4_999, &page_one.ids)).is_err());
        assert!(page_one
            .check(200, &body(5_000, &page_one.ids[1..]))
            .is_err());
        assert!(page_one.check(500, "{}").is_err());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
