//! Leases on a user item: a signup or an MFA change in progress holds one (`<name>` and
//! `<name>Until`, epoch seconds), so two of them cannot interleave; a holder that crashed
//! blocks the next one only until its lease runs out.

use super::{b, from_item, key, n, s, AttributeValue, Db, SingleUpdate, Updated};
use crate::adapters::db::model::UserItem;
use crate::domain::clock;
use crate::domain::error::ApiError;
use crate::domain::UserStatus;

/// Which lease of a user item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// A signup of a pending user (`signupLease`).
    Signup,
    /// An MFA change of an active user (`mfaLease`).
    Mfa,
}

impl Lease {
    fn attribute(self) -> &'static str {
        match self {
            Lease::Signup => "signupLease",
            Lease::Mfa => "mfaLease",
        }
    }

    fn until_attribute(self) -> &'static str {
        match self {
            Lease::Signup => "signupLeaseUntil",
            Lease::Mfa => "mfaLeaseUntil",
        }
    }
}

impl Db {
    /// Takes the signup lease `lease` for `seconds` while the user is pending, live, still
    /// holds the token `token_hash` and no other signup holds it. False when refused. A
    /// retried attempt whose first try took the lease finds its own lease: taken.
    pub async fn take_signup_lease(
        &self,
        user: &UserItem,
        token_hash: &str,
        lease: &str,
        seconds: i64,
    ) -> Result<bool, ApiError> {
        let updated = self
            .take_lease(
                user,
                Lease::Signup,
                (lease, seconds),
                "#status = :pending AND deleted = :false AND tokenHash = :hash \
                 AND (attribute_not_exists(signupLeaseUntil) OR signupLeaseUntil < :now)",
                vec![
                    (":pending", n(UserStatus::PENDING.0)),
                    (":false", b(false)),
                    (":hash", s(token_hash)),
                ],
                false,
            )
            .await?;
        Ok(match updated {
            Updated::Done(_) => true,
            Updated::ConditionFailed(item) => {
                item.and_then(|item| item.get(Lease::Signup.attribute()).cloned()) == Some(s(lease))
            }
        })
    }

    /// Takes the MFA lease `lease` for `seconds` while the user is live and active and no
    /// other change holds it. The user as the lease found them (what no other MFA change
    /// can alter while it holds), or None when refused.
    pub async fn take_mfa_lease(
        &self,
        user: &UserItem,
        lease: &str,
        seconds: i64,
    ) -> Result<Option<UserItem>, ApiError> {
        let updated = self
            .take_lease(
                user,
                Lease::Mfa,
                (lease, seconds),
                "attribute_exists(pk) AND deleted = :false AND #status = :active \
                 AND (attribute_not_exists(mfaLease) OR mfaLeaseUntil < :now)",
                vec![(":false", b(false)), (":active", n(UserStatus::ACTIVE.0))],
                true,
            )
            .await?;
        match updated {
            Updated::Done(Some(item)) => Ok(Some(from_item(item)?)),
            Updated::Done(None) => Err(ApiError::internal("the leased user did not come back")),
            Updated::ConditionFailed(_) => Ok(None),
        }
    }

    /// Sets `lease` to `held` until `seconds` from now, on `condition` (which may use
    /// `:now` and `#status`, and `values` for its own placeholders); with `return_new`, the
    /// item as the lease left it comes back.
    async fn take_lease(
        &self,
        user: &UserItem,
        lease: Lease,
        (held, seconds): (&str, i64),
        condition: &str,
        mut values: Vec<(&str, AttributeValue)>,
        return_new: bool,
    ) -> Result<Updated, ApiError> {
        let now = clock::epoch_seconds();
        let expression = format!(
            "SET {} = :lease, {} = :until",
            lease.attribute(),
            lease.until_attribute()
        );
        values.extend([
            (":lease", s(held)),
            (":until", n(now + seconds)),
            (":now", n(now)),
        ]);
        self.update(SingleUpdate {
            key: key(&user.pk, &user.sk),
            expression: &expression,
            condition,
            names: vec![("#status", "status")],
            values,
            return_new,
        })
        .await
    }

    /// Gives back a lease of the user if it is still `held`. Best effort: a lease already
    /// gone or taken over stays as it is, and any other failure is logged, since a lease
    /// expires by itself.
    pub async fn release_lease(&self, user: &UserItem, lease: Lease, held: &str) {
        let released = self
            .update(SingleUpdate {
                key: key(&user.pk, &user.sk),
                expression: "REMOVE #lease, #until",
                condition: "#lease = :lease",
                names: vec![
                    ("#lease", lease.attribute()),
                    ("#until", lease.until_attribute()),
                ],
                values: vec![(":lease", s(held))],
                return_new: false,
            })
            .await;
        if let Err(err) = released {
            tracing::warn!(lease = lease.attribute(), error = %err, "lease not released; it expires by itself");
        }
    }
}
