//! Time as the API stores it: RFC 3339 UTC with milliseconds (sortable as text), and
//! epoch seconds for expiries.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_iso() -> String {
    iso(now())
}

pub fn epoch_seconds() -> i64 {
    now().timestamp()
}

/// The nanoseconds of the current second: a cheap source of jitter for retries.
pub fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}
