//! Typed configuration, read once per process from the environment.

use std::time::Duration;

/// How long audit records are kept when the template does not say (`AUDIT_RETENTION_DAYS`).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 400;

/// Everything a function needs to know about its deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table holding accounts, users, tokens and their relations.
    pub table_name: String,
    /// The Cognito user pool holding passwords and MFA.
    pub user_pool_id: String,
    /// The app client (no secret) the web and desktop clients sign in with.
    pub user_pool_client_id: String,
    /// The verified SES identity invitations are sent from.
    pub sender_email: String,
    /// The SES configuration set mail goes through (its event destination records
    /// bounces and complaints), when one is configured.
    pub ses_configuration_set: Option<String>,
    /// The signup page; invitations link to `<signup_url>?token=<token>`.
    pub signup_url: String,
    /// How long a signup token stays valid.
    pub signup_token_ttl: Duration,
    /// How many invitation emails one username may be resent per hour.
    pub resend_limit_per_hour: u32,
    /// Bounds on invitation emails (invites and resends together) per hour.
    pub invitation_mail_limits: InvitationMailLimits,
    /// The issuer shown by authenticator apps.
    pub mfa_issuer: String,
    /// How many days audit records are kept (their TTL).
    pub audit_retention_days: u32,
}

/// How many invitation emails (invites and resends together) may go out per hour to one
/// address and from one account: an admin, or a script with an admin's token, cannot
/// flood a mailbox or burn the sender's reputation by inviting and deleting in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationMailLimits {
    pub per_address_per_hour: u32,
    pub per_account_per_hour: u32,
}

impl Default for InvitationMailLimits {
    fn default() -> Self {
        Self {
            per_address_per_hour: 5,
            per_account_per_hour: 500,
        }
    }
}

/// The limits the template passes to every function, by the same variable names; also how
/// `make run` reads them, so a local stack can be set to what a deployment runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `SIGNUP_TOKEN_TTL_SECONDS`
    pub signup_token_ttl: Duration,
    /// `RESEND_LIMIT_PER_HOUR`
    pub resend_limit_per_hour: u32,
    /// `INVITATION_MAILS_PER_ADDRESS_PER_HOUR`, `INVITATION_MAILS_PER_ACCOUNT_PER_HOUR`
    pub invitation_mail_limits: InvitationMailLimits,
    /// `AUDIT_RETENTION_DAYS`, from 1 to 36,500
    pub audit_retention_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            signup_token_ttl: Duration::from_secs(7 * 24 * 3600),
            resend_limit_per_hour: 3,
            invitation_mail_limits: InvitationMailLimits::default(),
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
        }
    }
}

impl Limits {
    /// Reads the limits through `lookup`; an unset or empty variable keeps its default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| {
                    ConfigError(format!(
                        "environment variable {name} must be a whole number, got {v:?}"
                    ))
                }),
            }
        };
        let per_hour = |name: &str, default: u32| -> Result<u32, ConfigError> {
            u32::try_from(number(name, u64::from(default))?)
                .map_err(|_| ConfigError(format!("environment variable {name} is too large")))
        };
        Ok(Self {
            signup_token_ttl: Duration::from_secs(number(
                "SIGNUP_TOKEN_TTL_SECONDS",
                defaults.signup_token_ttl.as_secs(),
            )?),
            resend_limit_per_hour: per_hour(
                "RESEND_LIMIT_PER_HOUR",
                defaults.resend_limit_per_hour,
            )?,
            invitation_mail_limits: InvitationMailLimits {
                per_address_per_hour: per_hour(
                    "INVITATION_MAILS_PER_ADDRESS_PER_HOUR",
                    defaults.invitation_mail_limits.per_address_per_hour,
                )?,
                per_account_per_hour: per_hour(
                    "INVITATION_MAILS_PER_ACCOUNT_PER_HOUR",
                    defaults.invitation_mail_limits.per_account_per_hour,
                )?,
            },
            audit_retention_days: match number(
                "AUDIT_RETENTION_DAYS",
                u64::from(defaults.audit_retention_days),
            )? {
                days @ 1..=36_500 => days as u32,
                _ => {
                    return Err(ConfigError(
                        "environment variable AUDIT_RETENTION_DAYS must be from 1 to 36500".into(),
                    ))
                }
            },
        })
    }
}

/// A missing or malformed variable, named so the operator can fix it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration error: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests and tools need no process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
        };
        let limits = Limits::from_lookup(&lookup)?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            user_pool_id: required("USER_POOL_ID")?,
            user_pool_client_id: required("USER_POOL_CLIENT_ID")?,
            sender_email: required("SENDER_EMAIL")?,
            ses_configuration_set: lookup("SES_CONFIGURATION_SET")
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty()),
            signup_url: required("SIGNUP_URL")?,
            signup_token_ttl: limits.signup_token_ttl,
            resend_limit_per_hour: limits.resend_limit_per_hour,
            invitation_mail_limits: limits.invitation_mail_limits,
            audit_retention_days: limits.audit_retention_days,
            mfa_issuer: lookup("MFA_ISSUER").unwrap_or_else(|| "Amove".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const COMPLETE: &[(&str, &str)] = &[
        ("TABLE_NAME", "users"),
        ("USER_POOL_ID", "us-east-1_x"),
        ("USER_POOL_CLIENT_ID", "client"),
        ("SENDER_EMAIL", "no-reply@example.com"),
        ("SIGNUP_URL", "https://app.example.com/signup"),
    ];

    #[test]
    fn defaults_apply_to_optional_settings() {
        let config = Config::from_lookup(env(COMPLETE)).unwrap();
        assert_eq!(config.signup_token_ttl, Duration::from_secs(604_800));
        assert_eq!(config.resend_limit_per_hour, 3);
    }

    #[test]
    fn limits_are_read_by_the_names_the_template_passes() {
        let limits = Limits::from_lookup(env(&[
            ("SIGNUP_TOKEN_TTL_SECONDS", "60"),
            ("RESEND_LIMIT_PER_HOUR", "1"),
            ("INVITATION_MAILS_PER_ADDRESS_PER_HOUR", "2"),
            ("INVITATION_MAILS_PER_ACCOUNT_PER_HOUR", "7"),
            ("AUDIT_RETENTION_DAYS", "30"),
        ]))
        .unwrap();
        assert_eq!(
            limits,
            Limits {
                signup_token_ttl: Duration::from_secs(60),
                resend_limit_per_hour: 1,
                invitation_mail_limits: InvitationMailLimits {
                    per_address_per_hour: 2,
                    per_account_per_hour: 7,
                },
                audit_retention_days: 30,
            }
        );
        assert_eq!(Limits::from_lookup(env(&[])).unwrap(), Limits::default());
    }

    #[test]
    fn a_limit_beyond_its_range_is_named_in_the_error() {
        for (name, value) in [
            ("INVITATION_MAILS_PER_ACCOUNT_PER_HOUR", "4294967296"),
            ("AUDIT_RETENTION_DAYS", "0"),
        ] {
            let err = Limits::from_lookup(env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = Config::from_lookup(env(&COMPLETE[1..])).unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME"), "{err}");
    }

    #[test]
    fn a_malformed_number_is_named_in_the_error() {
        let mut pairs = COMPLETE.to_vec();
        pairs.push(("SIGNUP_TOKEN_TTL_SECONDS", "a week"));
        let err = Config::from_lookup(env(&pairs)).unwrap_err();
        assert!(
            err.to_string().contains("SIGNUP_TOKEN_TTL_SECONDS"),
            "{err}"
        );
    }
}
