//! Signup tokens: 32 random bytes from the OS, base64url without padding. Only the
//! SHA-256 of a token is ever stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A fresh token and its hash. The token goes into the email and nowhere else.
pub struct SignupToken {
    pub token: String,
    pub hash: String,
}

impl std::fmt::Debug for SignupToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupToken")
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SignupToken {
    /// A fresh token from the operating system's random source (an error, never a weak
    /// token, if that source fails).
    pub fn generate() -> Result<Self, crate::domain::error::ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            crate::domain::error::ApiError::internal(format!("random source unavailable: {e}"))
        })?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash(&token);
        Ok(Self { token, hash })
    }
}

/// The stored form of a token: lower-case hex SHA-256.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_unique() {
        let a = SignupToken::generate().unwrap();
        let b = SignupToken::generate().unwrap();
        assert_eq!(a.token.len(), 43);
        assert!(a
            .token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a.token, b.token);
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 64);
        assert!(!format!("{a:?}").contains(&a.token));
    }
}
