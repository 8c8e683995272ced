//! The invitation lifecycle's core: invite (one transaction, then the email, undone if
//! the email fails), signup (a lease, the identity provider, one transaction) and resend
//! (a rate-limited token swap, then the email). Used by the endpoints, the bootstrap
//! tool and the local stack's seeding.
//!
//! One module per step: `invite`, `signup`, `resend`, the `email` they send and the
//! `rate_limit` windows; what several of them use (token expiry, seats) is here.

use chrono::{DateTime, Duration, Utc};

use crate::adapters::db::indexed;
use crate::adapters::db::leases::Lease;
use crate::adapters::db::list_leaves::RowChange;
use crate::adapters::db::model::{
    self, AccountItem, IdentityItem, ResendCounterItem, TokenItem, UserItem, UsernameItem,
};
use crate::adapters::db::{
    accounts, audit_records, billing, failed_roles, identities, seats, tokens, tx, usernames,
    users, Db, TxError,
};
use crate::adapters::idp::errors::{cognito_error, email_signed_up_already, CognitoCall};
use crate::adapters::idp::{IdentityProvider, IdpError};
use crate::adapters::mail::{escape_html, Email as OutgoingEmail, Mailer};
use crate::domain::clock;
use crate::domain::config::Config;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::token::{self, SignupToken};
use crate::domain::{AccountId, Email, Seat, UserId, UserStatus, UserType};
use crate::features::audit::{Action, AuditRecord, Entry, Origin, Requester};

mod email;
mod invite;
mod rate_limit;
mod resend;
mod signup;

pub use email::*;
pub use invite::*;
use rate_limit::*;
pub use resend::*;
pub use signup::*;

/// When a token issued at `now` stops being valid.
fn token_expiry(config: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(
        i64::try_from(config.signup_token_ttl.as_secs()).unwrap_or(i64::MAX / 2),
    )
}

pub fn seat_name(seat: Seat) -> &'static str {
    match seat {
        Seat::Admin => "admin",
        Seat::Creative => "creative",
        Seat::Standard => "standard",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::db::{n, s};
    use chrono::TimeZone;

    fn config(signup_url: &str) -> Config {
        Config {
            table_name: "users".into(),
            user_pool_id: "pool".into(),
            user_pool_client_id: "client".into(),
            sender_email: "no-reply@example.com".into(),
            ses_configuration_set: None,
            signup_url: signup_url.into(),
            signup_token_ttl: std::time::Duration::from_secs(7 * 24 * 3600),
            resend_limit_per_hour: 3,
            invitation_mail_limits: Default::default(),
            mfa_issuer: "Amove".into(),
            audit_retention_days: crate::domain::config::DEFAULT_AUDIT_RETENTION_DAYS,
        }
    }

    fn pending_user(firstname: &str, token_hash: Option<&str>) -> UserItem {
        UserItem {
            firstname: firstname.into(),
            user_type: UserType::DESKTOP_CREATIVE_USER,
            token_hash: token_hash.map(str::to_owned),
            ..UserItem::pending(
                AccountId::new(),
                UserId::new(),
                Email::parse("ada@example.com", "username").unwrap(),
                Email::parse("ada.mail@example.com", "email").unwrap(),
                "2030-01-01T00:00:00.000Z",
            )
        }
    }

    fn expiry() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, 5, 6, 0).unwrap()
    }

    #[test]
    fn the_invitation_has_the_link_and_the_expiry_in_both_parts() {
        let email = invitation_email(
            &config("https://app.example.com/signup"),
            &pending_user("Ada", None),
            "Example Studio",
            &Inviter {
                name: "Grace Hopper".into(),
            },
            "tok_EN-123",
            expiry(),
        );
        assert_eq!(email.to, "ada.mail@example.com");
        assert_eq!(email.subject, "You're invited to join Example Studio");
        let link = "https://app.example.com/signup?token=tok_EN-123";
        for part in [&email.text, &email.html] {
            assert!(part.contains(link), "{part}");
            assert!(part.contains("2030-03-04 05:06 UTC"), "{part}");
            assert!(part.contains("Grace Hopper"), "{part}");
            assert!(part.contains("Example Studio"), "{part}");
        }
        assert!(email.html.contains(&format!("href=\"{link}\"")));
        assert!(!email.text.contains('<'));
    }

    #[test]
    fn the_html_part_escapes_names_and_the_link_keeps_an_existing_query() {
        let email = invitation_email(
            &config("https://app.example.com/join?lang=en"),
            &pending_user("<b>Ada</b>", None),
            "Tom & Jerry's",
            &Inviter {
                name: "\"Grace\"".into(),
            },
            "abc",
            expiry(),
        );
        assert!(email
            .text
            .contains("https://app.example.com/join?lang=en&token=abc"));
        assert!(email
            .html
            .contains("https://app.example.com/join?lang=en&amp;token=abc"));
        assert!(email.html.contains("&lt;b&gt;Ada&lt;/b&gt;"));
        assert!(email.html.contains("Tom &amp; Jerry&#39;s"));
        assert!(email.html.contains("&quot;Grace&quot;"));
        assert!(!email.html.contains("<b>"));
    }

    #[test]
    fn a_token_expires_after_the_configured_lifetime() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let mut config = config("https://app.example.com/signup");
        assert_eq!(
            token_expiry(&config, now),
            Utc.with_ymd_and_hms(2030, 1, 8, 0, 0, 0).unwrap()
        );
        config.signup_token_ttl = std::time::Duration::from_secs(2);
        assert_eq!(token_expiry(&config, now).timestamp(), now.timestamp() + 2);
    }

    fn counter(window_start: i64, sends: i64) -> ResendCounterItem {
        ResendCounterItem {
            pk: "RESEND#ada@example.com".into(),
            sk: model::RESEND_SK.into(),
            kind: model::KIND_RESEND.into(),
            window_start,
            sends,
            expires_at: window_start + crate::adapters::db::rate_windows::WINDOW_SECONDS,
        }
    }

    #[test]
    fn a_full_current_resend_window_asks_to_retry_when_it_ends() {
        let now = 10_000;
        assert_eq!(
            resend_retry_after(&counter(now - 600, 3), 3, now),
            Some(3000)
        );
        assert_eq!(resend_retry_after(&counter(now - 3599, 5), 3, now), Some(1));
    }

    #[test]
    fn a_resend_window_with_room_or_over_does_not_refuse() {
        let now = 10_000;
        assert_eq!(resend_retry_after(&counter(now - 600, 2), 3, now), None);
        assert_eq!(resend_retry_after(&counter(now - 3600, 3), 3, now), None);
    }

    #[test]
    fn the_token_swap_stores_the_new_token_and_removes_the_old_one() {
        // That the swap happens only while the user still holds the old token is tested
        // end to end: tests/tests/invitations.rs, a resend that loses a race to another.
        let user = pending_user("Ada", Some("old-hash"));
        let (writes, row) = token_swap_writes("users", &user, "new-hash", 99, "now").unwrap();
        assert_eq!(
            row,
            RowChange::Update(
                user.id,
                crate::adapters::db::list_leaves::RowUpdate::touched("now")
            )
        );
        assert_eq!(writes.len(), 3);
        let put = writes[1].sdk().put().unwrap();
        assert_eq!(put.item()["pk"], s(model::token_pk("new-hash")));
        assert_eq!(put.item()["expiresAt"], n(99));
        let removed = writes[2].sdk().delete().unwrap();
        assert_eq!(removed.key()["pk"], s(model::token_pk("old-hash")));
    }

    #[test]
    fn a_user_without_a_token_gets_one_without_a_removal() {
        let user = pending_user("Ada", None);
        let (writes, row) = token_swap_writes("users", &user, "new-hash", 99, "now").unwrap();
        assert_eq!(
            row,
            RowChange::Update(
                user.id,
                crate::adapters::db::list_leaves::RowUpdate::touched("now")
            )
        );
        assert_eq!(writes.len(), 2);
    }
}
