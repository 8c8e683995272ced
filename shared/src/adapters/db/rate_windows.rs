//! The hourly counters that bound resends per username and invitation emails per address
//! and per account: one item per counter, holding its window's start and count, kept
//! only until the window is over (`expiresAt`, the TTL).

use super::{from_item, key, n, s, Db, Item, SingleUpdate, Updated};
use crate::adapters::db::model::{self, ResendCounterItem};
use crate::domain::error::ApiError;
use crate::domain::{AccountId, Email};

/// How long one window lasts: it opens with the first count (a username's first resend,
/// an address's or account's first invitation email of the hour).
pub const WINDOW_SECONDS: i64 = 3600;

/// Which counter.
#[derive(Debug, Clone, Copy)]
pub enum Counter<'a> {
    /// Resends of the invitation of this username.
    Resends(&'a Email),
    /// Invitation emails this account sent to this address.
    InvitationMailsTo(AccountId, &'a Email),
    /// Invitation emails sent by this account.
    InvitationMailsOf(AccountId),
}

impl Counter<'_> {
    fn key(self) -> Item {
        match self {
            Counter::Resends(username) => key(model::resend_pk(username), model::RESEND_SK),
            Counter::InvitationMailsTo(account, address) => key(
                model::invitation_mails_pk(account, address),
                model::INVITATION_MAILS_SK,
            ),
            Counter::InvitationMailsOf(account) => key(
                model::account_invitation_mails_pk(account),
                model::INVITATION_MAILS_SK,
            ),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Counter::Resends(_) => model::KIND_RESEND,
            Counter::InvitationMailsTo(..) | Counter::InvitationMailsOf(_) => {
                model::KIND_INVITATION_MAILS
            }
        }
    }
}

/// What counting one more in the current window did.
#[derive(Debug)]
pub enum Counted {
    /// Counted; the counter after it.
    Yes(ResendCounterItem),
    /// Not counted: the window is over or has no room left; the counter as it is.
    No(ResendCounterItem),
    /// There is no counter (it expired in between).
    Missing,
}

impl Db {
    /// Opens a new window counting one at `now`, if there is none or the last one is over.
    /// False when a current window exists.
    pub async fn open_window(&self, counter: Counter<'_>, now: i64) -> Result<bool, ApiError> {
        let updated = self
            .update(SingleUpdate {
                key: counter.key(),
                expression: "SET #kind = :kind, #start = :now, #sends = :one, #expires = :end",
                condition: "attribute_not_exists(pk) OR #start <= :cutoff",
                names: vec![
                    ("#kind", "kind"),
                    ("#start", "windowStart"),
                    ("#sends", "sends"),
                    ("#expires", "expiresAt"),
                ],
                values: vec![
                    (":kind", s(counter.kind())),
                    (":now", n(now)),
                    (":one", n(1)),
                    (":end", n(now + WINDOW_SECONDS)),
                    (":cutoff", n(now - WINDOW_SECONDS)),
                ],
                return_new: false,
            })
            .await?;
        Ok(matches!(updated, Updated::Done(_)))
    }

    /// Counts one more in the current window while it has fewer than `limit`.
    pub async fn count_in_window(
        &self,
        counter: Counter<'_>,
        limit: u32,
        now: i64,
    ) -> Result<Counted, ApiError> {
        let updated = self
            .update(SingleUpdate {
                key: counter.key(),
                expression: "SET #sends = #sends + :one",
                condition: "#start > :cutoff AND #sends < :limit",
                names: vec![("#start", "windowStart"), ("#sends", "sends")],
                values: vec![
                    (":one", n(1)),
                    (":limit", n(limit)),
                    (":cutoff", n(now - WINDOW_SECONDS)),
                ],
                return_new: true,
            })
            .await?;
        Ok(match updated {
            Updated::Done(item) => Counted::Yes(from_item(item.unwrap_or_default())?),
            Updated::ConditionFailed(Some(item)) => Counted::No(from_item(item)?),
            Updated::ConditionFailed(None) => Counted::Missing,
        })
    }

    /// Uncounts one of the window that opened at `window_start`, if it is still the
    /// current one. Best effort: a failure is logged.
    pub async fn give_back_to_window(&self, counter: Counter<'_>, window_start: i64) {
        let result = self
            .update(SingleUpdate {
                key: counter.key(),
                expression: "SET #sends = #sends - :one",
                condition: "#start = :start AND #sends > :zero",
                names: vec![("#start", "windowStart"), ("#sends", "sends")],
                values: vec![(":one", n(1)), (":zero", n(0)), (":start", n(window_start))],
                return_new: false,
            })
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not give back a count that was not used");
        }
    }
}
