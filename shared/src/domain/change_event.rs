//! A change event: what an audit record of a change becomes for other systems (source
//! [`SOURCE`], detail type the action's name, time the record's, and the detail).
//! Shaped from records and published by `features::events`; schemas in `docs/events/`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::audit::Action;
use crate::domain::audit::{AuditRecord, FieldChange};
use crate::domain::{AccountId, UserId};

/// The `source` of every change event.
pub const SOURCE: &str = "user-management";
/// The version of the detail's shape; a change that breaks consumers raises it.
pub const DETAIL_VERSION: u32 = 1;

/// What an event says happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDetail {
    pub version: u32,
    /// The audit record's id: the same change always has the same id, so a consumer
    /// can drop a duplicate delivery.
    pub id: String,
    /// When the change was made (RFC 3339, milliseconds).
    pub time: String,
    pub account_id: AccountId,
    /// Who made it (none for an invitation resent by an unauthenticated request).
    pub actor_id: Option<UserId>,
    /// The user it concerns (none for an account rename).
    pub user_id: Option<UserId>,
    pub changes: BTreeMap<String, FieldChange>,
    /// The API request that made it, when one did (not for tools).
    pub request_id: Option<String>,
}

/// One change event.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub action: Action,
    pub time: DateTime<Utc>,
    pub detail: ChangeDetail,
}

impl ChangeEvent {
    /// The event of a record, or None for a record of a refusal.
    pub fn of(record: &AuditRecord) -> Option<Self> {
        if !record.action.is_change() {
            return None;
        }
        let time = DateTime::parse_from_rfc3339(&record.time)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default();
        Some(Self {
            action: record.action,
            time,
            detail: ChangeDetail {
                version: DETAIL_VERSION,
                id: record.id.clone(),
                time: record.time.clone(),
                account_id: record.account_id,
                actor_id: record.actor_id,
                user_id: record.target_id,
                changes: record.changes.clone(),
                request_id: record.request_id.clone(),
            },
        })
    }

    /// The `detail-type`: the action's name.
    pub fn detail_type(&self) -> &'static str {
        self.action.as_str()
    }

    pub fn detail_value(&self) -> Value {
        serde_json::to_value(&self.detail).unwrap_or(Value::Null)
    }

    /// The event's envelope time as EventBridge writes it (seconds, UTC).
    pub fn envelope_time(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The event as a rule's target receives it, without what only EventBridge assigns
    /// (`id`, `account`, `region`, `version`, `resources`).
    pub fn delivered(&self) -> Value {
        json!({
            "source": SOURCE,
            "detail-type": self.detail_type(),
            "time": self.envelope_time(),
            "detail": self.detail_value(),
        })
    }
}

/// The events of `records`, oldest first (refusals left out).
pub fn events_of(records: &[AuditRecord]) -> Vec<ChangeEvent> {
    let mut events: Vec<ChangeEvent> = records.iter().filter_map(ChangeEvent::of).collect();
    events.sort_by(|a, b| {
        (a.time, &a.detail.time, &a.detail.id).cmp(&(b.time, &b.detail.time, &b.detail.id))
    });
    events
}
