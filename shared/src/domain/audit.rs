//! What an audit record is: the action, who did it to whom, what changed, and where the
//! request came from. No storage and no I/O: `crate::adapters::db::audit_records` stores
//! these, and `crate::edge::http::origin` reads where a request came from.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{AccountId, UserId};

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

/// Who asks for a change and from where: what a record says about its request. Tools
/// (the bootstrap of an account, the local stack's seeding) are `Requester::tool()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub user: Option<UserId>,
    pub origin: Origin,
}

impl Requester {
    pub fn new(user: Option<UserId>, origin: Origin) -> Self {
        Self { user, origin }
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

impl AuditRecord {
    /// The record of `entry`, made now by a request from `origin`.
    pub fn new(account: AccountId, entry: Entry, origin: &Origin, at: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            account_id: account,
            time: crate::domain::clock::iso(at),
            action: entry.action,
            actor_id: entry.actor,
            target_id: entry.target,
            changes: entry.changes,
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            request_id: origin.request_id.clone(),
        }
    }

    /// The record's time in milliseconds.
    pub(crate) fn millis(&self) -> i64 {
        DateTime::parse_from_rfc3339(&self.time)
            .map(|at| at.timestamp_millis())
            .unwrap_or_default()
    }

    /// The record's UTC day.
    pub(crate) fn day(&self) -> NaiveDate {
        day_of_millis(self.millis())
    }
}

/// The UTC day of a time in milliseconds.
pub(crate) fn day_of_millis(millis: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(millis)
        .single()
        .map_or(DateTime::UNIX_EPOCH.date_naive(), |at| at.date_naive())
}

/// When a UTC day starts, in milliseconds.
pub(crate) fn day_start_millis(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
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
}
