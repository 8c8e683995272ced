//! Verifies Cognito access tokens as the HTTP API's JWT authorizer does: RS256 signature
//! against the pool's JWKS (from a configured URL), issuer, expiry, `client_id` and
//! `token_use` = access. Returns the claims as API Gateway passes them: strings.

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use tokio::sync::RwLock;

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kid: String,
    n: String,
    e: String,
}

/// An authorizer for one user pool and app client.
pub struct JwtAuthorizer {
    jwks_url: String,
    issuer: String,
    client_id: String,
    keys: RwLock<HashMap<String, DecodingKey>>,
    http: reqwest::Client,
}

impl JwtAuthorizer {
    pub fn new(jwks_url: String, issuer: String, client_id: String) -> Self {
        Self {
            jwks_url,
            issuer,
            client_id,
            keys: RwLock::new(HashMap::new()),
            http: reqwest::Client::new(),
        }
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Some(key.clone());
        }
        // Unknown key id: fetch the JWKS again (keys rotate), then look once more.
        let jwks: Jwks = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let mut keys = self.keys.write().await;
        for jwk in jwks.keys {
            if let Ok(key) = DecodingKey::from_rsa_components(&jwk.n, &jwk.e) {
                keys.insert(jwk.kid, key);
            }
        }
        keys.get(kid).cloned()
    }

    /// The claims of a valid access token, or `None`.
    pub async fn verify(&self, token: &str) -> Option<HashMap<String, String>> {
        let header = decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 {
            return None;
        }
        let key = self.key(header.kid.as_deref()?).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = decode::<HashMap<String, serde_json::Value>>(token, &key, &validation)
            .ok()?
            .claims;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
        if text("token_use") != Some("access") || text("client_id") != Some(self.client_id.as_str())
        {
            return None;
        }
        Some(
            claims
                .into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (name, value)
                })
                .collect(),
        )
    }
}
