//! Domain types, parsed at the edge. They carry no AWS or HTTP types.

pub mod audit;
pub mod change_event;
pub mod clock;
pub mod config;
pub mod error;
pub mod query;
pub mod token;
pub mod views;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value from a client that does not parse; the message names the field and says
/// what is allowed. The error module turns it into the 499 answer (`ApiError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub kind: InvalidKind,
    pub message: String,
}

/// What kind of value was refused: it chooses the answer's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidKind {
    /// Any value outside what the field allows (DEFAULT).
    Value,
    /// An email address (INVALID_EMAIL).
    Email,
}

impl Invalid {
    pub fn value(message: impl Into<String>) -> Self {
        Self {
            kind: InvalidKind::Value,
            message: message.into(),
        }
    }

    fn email(message: String) -> Self {
        Self {
            kind: InvalidKind::Email,
            message,
        }
    }
}

/// Longest first name, last name, username or email the API accepts (the API's conventions; see openapi.yaml).
pub const MAX_FIELD_CHARS: usize = 50;
/// Longest account display name.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 100;

macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The id of ", $what, ".")]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4())
            }

            /// Parses a client-supplied id; `field` names it in the error.
            pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
                uuid::Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| Invalid::value(format!("{field} must be a UUID.")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(UserId, "a user");
id_type!(AccountId, "an account");

/// An email address, trimmed and lower-cased: usernames are compared without case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an address; `field` names it in the 499 INVALID_EMAIL error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let invalid = || {
            Invalid::email(format!(
                "{field} must be a valid email address of at most {MAX_FIELD_CHARS} characters."
            ))
        };
        if raw.chars().count() > MAX_FIELD_CHARS {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An address read back from storage, where only parsed addresses are written.
    pub fn from_stored(email: String) -> Self {
        Self(email)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's first or last name: trimmed, 1 to 50 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
        bounded_text(raw, field, 1, MAX_FIELD_CHARS).map(Self)
    }

    /// An optional name at invitation time: empty is allowed, at most 50 characters.
    pub fn parse_optional(raw: &str, field: &str) -> Result<Self, Invalid> {
        bounded_text(raw, field, 0, MAX_FIELD_CHARS).map(Self)
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trims `raw` and checks its length in characters; the error names `field`.
/// The limit holds for the text as sent, too: surrounding spaces do not buy room.
pub fn bounded_text(raw: &str, field: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.chars().any(is_hidden_or_control) {
        return Err(Invalid::value(format!(
            "{field} must not contain control, bidirectional-override, zero-width or replacement characters."
        )));
    }
    let chars = text.chars().count();
    if chars < min || raw.chars().count() > max {
        let rule = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(Invalid::value(format!("{field} must be {rule}.")));
    }
    Ok(text.to_owned())
}

/// Characters no name may hold: C0 and C1 controls (line breaks end an email header and
/// forge log lines), bidirectional embeddings, overrides and isolates (they make text read
/// differently from what it is), and zero-width characters (invisible look-alikes).
/// ZWJ and ZWNJ are among them although some scripts use them inside words: names are
/// shown in emails and admin lists, where an invisible difference is a spoofing tool.
/// Also U+FFFD, the replacement character: it is what a byte that was not UTF-8 becomes
/// on the way (a proxy that converts a body to text), never a letter someone typed.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFFD}'
            | '\u{180E}'
            | '\u{061C}')
}

/// UserType flags (the API's conventions; see openapi.yaml). A user has exactly one; filters combine them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserType(pub u8);

impl UserType {
    pub const PROVIDER_ADMIN: Self = Self(1);
    pub const RESELLER_ADMIN: Self = Self(2);
    pub const ACCOUNT_ADMIN: Self = Self(4);
    pub const ACCOUNT_USER: Self = Self(8);
    pub const DESKTOP_ADMIN: Self = Self(16);
    pub const DESKTOP_CREATIVE_USER: Self = Self(32);
    pub const DESKTOP_STANDARD_USER: Self = Self(64);
    /// The union of every flag.
    pub const ALL: u8 = 127;

    /// The type of a user an account admin may create or assign: exactly one of the
    /// account-level flags. Provider/reseller types and combinations are refused.
    pub fn parse_assignable(raw: i64) -> Result<Self, Invalid> {
        match raw {
            4 | 8 | 16 | 32 | 64 => Ok(Self(raw as u8)),
            _ => Err(Invalid::value(
                "userType must be exactly one of 4 (AccountAdmin), 8 (AccountUser), 16 (DesktopAdmin), 32 (DesktopCreativeUser), 64 (DesktopStandardUser).",
            )),
        }
    }

    pub fn is_admin(self) -> bool {
        self.0 & (Self::ACCOUNT_ADMIN.0 | Self::DESKTOP_ADMIN.0) != 0
    }

    /// The package slot a user of this type occupies.
    pub fn seat(self) -> Seat {
        if self.0 & (Self::ACCOUNT_ADMIN.0 | Self::DESKTOP_ADMIN.0) != 0 {
            Seat::Admin
        } else if self.0 & Self::DESKTOP_CREATIVE_USER.0 != 0 {
            Seat::Creative
        } else {
            Seat::Standard
        }
    }
}

/// UserStatus flags: Active 1, Inactive 2, Pending 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserStatus(pub u8);

impl UserStatus {
    pub const ACTIVE: Self = Self(1);
    pub const INACTIVE: Self = Self(2);
    pub const PENDING: Self = Self(4);
    /// Active | Inactive | Pending, the list default.
    pub const ALL: u8 = 7;
}

/// The three kinds of user slot in a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seat {
    Admin,
    Creative,
    Standard,
}

impl Seat {
    /// The name of the account item's attribute that counts used seats of this kind.
    pub fn used_attribute(self) -> &'static str {
        match self {
            Seat::Admin => "usedAdminUsers",
            Seat::Creative => "usedCreativeUsers",
            Seat::Standard => "usedStandardUsers",
        }
    }

    /// The name of the account item's attribute that holds the package limit.
    pub fn limit_attribute(self) -> &'static str {
        match self {
            Seat::Admin => "limitAdminUsers",
            Seat::Creative => "limitCreativeUsers",
            Seat::Standard => "limitStandardUsers",
        }
    }
}

/// AuthProvider (the API's conventions; see openapi.yaml).
pub mod auth_provider {
    pub const AWS_COGNITO: u8 = 0;
}

/// AccountSubscriptionType: Monthly 1, Yearly 2.
pub mod subscription_type {
    pub const MONTHLY: u8 = 1;
    pub const YEARLY: u8 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::{ApiError, ErrorCode};

    #[test]
    fn names_with_control_bidi_or_zero_width_characters_are_refused_naming_the_field() {
        for bad in [
            "Acme\r\nBcc: victim@evil.test",
            "Ada\u{0}",
            "Esc\u{1b}[31m",
            "Del\u{7f}",
            "C1\u{85}x",
            "evil\u{202E}gnp.exe",
            "iso\u{2066}late",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "Bad\u{FFFD}Name",
        ] {
            let err = bounded_text(bad, "accountName", 1, 100).unwrap_err();
            assert_eq!(
                ApiError::from(err.clone()).code(),
                Some(ErrorCode::Default),
                "{bad:?}"
            );
            assert!(
                err.to_string().contains("accountName must not contain"),
                "{bad:?}"
            );
        }
        // Trimmed as before; ordinary letters of any script pass.
        assert_eq!(bounded_text(" Ada\n", "firstname", 1, 50).unwrap(), "Ada");
        assert_eq!(
            bounded_text("Zoë Ñúñez 名前", "firstname", 1, 50).unwrap(),
            "Zoë Ñúñez 名前"
        );
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ", "email").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn malformed_emails_are_refused_with_invalid_email() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@exa_mple.com",
            ".ada@example.com",
        ] {
            let err = Email::parse(bad, "username").unwrap_err();
            assert_eq!(
                ApiError::from(err).code(),
                Some(ErrorCode::InvalidEmail),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(40));
        assert!(Email::parse(&long, "email").is_err());
    }

    #[test]
    fn only_single_account_level_user_types_are_assignable() {
        for ok in [4, 8, 16, 32, 64] {
            assert!(UserType::parse_assignable(ok).is_ok());
        }
        for bad in [0, 1, 2, 3, 12, 127, 128, -4] {
            assert!(UserType::parse_assignable(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_types_map_to_their_package_seats() {
        assert_eq!(UserType::ACCOUNT_ADMIN.seat(), Seat::Admin);
        assert_eq!(UserType::DESKTOP_ADMIN.seat(), Seat::Admin);
        assert_eq!(UserType::DESKTOP_CREATIVE_USER.seat(), Seat::Creative);
        assert_eq!(UserType::ACCOUNT_USER.seat(), Seat::Standard);
        assert_eq!(UserType::DESKTOP_STANDARD_USER.seat(), Seat::Standard);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Ada ", "firstname").unwrap().as_str(),
            "Ada"
        );
        assert!(PersonName::parse("   ", "firstname").is_err());
        assert!(PersonName::parse(&"x".repeat(51), "lastname").is_err());
        assert!(PersonName::parse(&"é".repeat(50), "lastname").is_ok());
        assert!(PersonName::parse(&format!(" {} ", "x".repeat(49)), "lastname").is_err());
    }
}
