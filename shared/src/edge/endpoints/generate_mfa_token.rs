//! POST /api/v1/user/generate_mfa_token: a new TOTP secret for the caller's authenticator
//! app (Cognito AssociateSoftwareToken with their access token). The body is the secret
//! as plain text, as the specification says; a client that sends
//! `Accept: application/json` gets `{"secret","otpauthUri"}`, the URI ready for a QR code.

use lambda_http::Request;
use serde::Serialize;

use crate::adapters::db::Db;
use crate::adapters::idp::IdentityProvider;
use crate::domain::config::Config;
use crate::domain::error::ApiError;
use crate::edge::auth::caller;
use crate::edge::http::{accepts_json, bearer_token, Reply};
use crate::features::self_service::{new_authenticator_secret, otpauth_uri};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MfaSecret {
    secret: String,
    otpauth_uri: String,
}

/// Three sequential calls: identity, user, AssociateSoftwareToken. The secret is never logged.
pub async fn handle(
    db: &Db,
    idp: &dyn IdentityProvider,
    config: &Config,
    req: Request,
) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    let secret = new_authenticator_secret(idp, bearer_token(&req)?).await?;
    tracing::info!(user_id = %caller.user.id, "authenticator secret issued");
    if accepts_json(&req) {
        let otpauth_uri = otpauth_uri(&config.mfa_issuer, caller.user.username.as_str(), &secret);
        Reply::json(&MfaSecret {
            secret,
            otpauth_uri,
        })
    } else {
        Ok(Reply::Text(secret))
    }
}
