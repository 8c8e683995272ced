//! The identity provider (Cognito user pool) behind a small trait, so that logic is
//! testable without a network and failures can be injected.

pub mod errors;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, MessageActionType, SoftwareTokenMfaSettingsType,
};
use aws_sdk_cognitoidentityprovider::Client;

/// What went wrong at the identity provider, in the terms the API maps to answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// Wrong password, or an access token that is revoked, expired or invalid. The
    /// service's message may echo the token (moto does), so it is never displayed.
    #[error("not authorized")]
    NotAuthorized(String),
    /// The password policy refused the password; the message says why.
    #[error("password refused: {0}")]
    InvalidPassword(String),
    /// The TOTP code was wrong or stale.
    #[error("code mismatch")]
    CodeMismatch,
    #[error("user not found")]
    UserNotFound,
    #[error("username exists")]
    UsernameExists,
    #[error("throttled")]
    Throttled,
    /// Any other error the identity provider reported about the request.
    #[error("rejected: {code}: {message}")]
    Rejected { code: String, message: String },
    /// Transport or service failure.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The user-pool operations the API needs. `username` is the pool's username: the
/// user's `sub` in an email-username pool.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Creates the user (no message sent), email verified; if the email already has a
    /// user in the pool, returns that one. Returns the `sub`.
    async fn create_user(
        &self,
        email: &str,
        given_name: &str,
        family_name: &str,
    ) -> Result<String, IdpError>;
    async fn set_permanent_password(&self, username: &str, password: &str) -> Result<(), IdpError>;
    async fn update_names(
        &self,
        username: &str,
        given_name: &str,
        family_name: &str,
    ) -> Result<(), IdpError>;
    async fn delete_user(&self, username: &str) -> Result<(), IdpError>;
    async fn disable_user(&self, username: &str) -> Result<(), IdpError>;
    async fn sign_out_everywhere(&self, username: &str) -> Result<(), IdpError>;
    async fn change_password(
        &self,
        access_token: &str,
        previous: &str,
        proposed: &str,
    ) -> Result<(), IdpError>;
    async fn associate_software_token(&self, access_token: &str) -> Result<String, IdpError>;
    async fn verify_software_token(&self, access_token: &str, code: &str) -> Result<(), IdpError>;
    async fn set_software_token_mfa(
        &self,
        access_token: &str,
        enabled: bool,
    ) -> Result<(), IdpError>;
}

/// The Cognito user pool.
#[derive(Debug, Clone)]
pub struct Cognito {
    client: Client,
    pool_id: String,
}

impl Cognito {
    pub fn new(sdk: &aws_config::SdkConfig, pool_id: impl Into<String>) -> Self {
        Self::from_client(Client::new(sdk), pool_id)
    }

    pub fn from_client(client: Client, pool_id: impl Into<String>) -> Self {
        Self {
            client,
            pool_id: pool_id.into(),
        }
    }

    async fn sub_of(&self, email: &str) -> Result<String, IdpError> {
        let user = self
            .client
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(email)
            .send()
            .await
            .map_err(classify)?;
        user.user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value().map(str::to_owned))
            .ok_or_else(|| IdpError::Unavailable("user without sub".into()))
    }
}

#[allow(clippy::expect_used)] // The builder fails only without a name, set just above.
fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .expect("name is set")
}

/// Classifies an SDK error by its service error code.
pub fn classify<E, R>(err: SdkError<E, R>) -> IdpError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (code, message) = match &err {
        SdkError::ServiceError(service) => (
            service.err().code().unwrap_or_default().to_owned(),
            service.err().message().unwrap_or_default().to_owned(),
        ),
        _ => return IdpError::Unavailable(DisplayErrorContext(&err).to_string()),
    };
    match code.as_str() {
        "NotAuthorizedException" => IdpError::NotAuthorized(message),
        "InvalidPasswordException" => IdpError::InvalidPassword(message),
        "CodeMismatchException" | "EnableSoftwareTokenMFAException" | "ExpiredCodeException" => {
            IdpError::CodeMismatch
        }
        "UserNotFoundException" => IdpError::UserNotFound,
        "UsernameExistsException" | "AliasExistsException" => IdpError::UsernameExists,
        "TooManyRequestsException"
        | "LimitExceededException"
        | "TooManyFailedAttemptsException" => IdpError::Throttled,
        "InternalErrorException" | "" => {
            IdpError::Unavailable(DisplayErrorContext(&err).to_string())
        }
        _ => IdpError::Rejected { code, message },
    }
}

#[async_trait]
impl IdentityProvider for Cognito {
    async fn create_user(
        &self,
        email: &str,
        given_name: &str,
        family_name: &str,
    ) -> Result<String, IdpError> {
        let created = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(email)
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", email))
            .user_attributes(attribute("email_verified", "true"))
            .user_attributes(attribute("given_name", given_name))
            .user_attributes(attribute("family_name", family_name))
            .send()
            .await;
        match created.map_err(classify) {
            Ok(output) => output
                .user()
                .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
                .and_then(|a| a.value().map(str::to_owned))
                .ok_or_else(|| IdpError::Unavailable("created user without sub".into())),
            Err(IdpError::UsernameExists) => self.sub_of(email).await,
            Err(other) => Err(other),
        }
    }

    async fn set_permanent_password(&self, username: &str, password: &str) -> Result<(), IdpError> {
        self.client
            .admin_set_user_password()
            .user_pool_id(&self.pool_id)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn update_names(
        &self,
        username: &str,
        given_name: &str,
        family_name: &str,
    ) -> Result<(), IdpError> {
        self.client
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .user_attributes(attribute("given_name", given_name))
            .user_attributes(attribute("family_name", family_name))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn delete_user(&self, username: &str) -> Result<(), IdpError> {
        self.client
            .admin_delete_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn disable_user(&self, username: &str) -> Result<(), IdpError> {
        self.client
            .admin_disable_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn sign_out_everywhere(&self, username: &str) -> Result<(), IdpError> {
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn change_password(
        &self,
        access_token: &str,
        previous: &str,
        proposed: &str,
    ) -> Result<(), IdpError> {
        self.client
            .change_password()
            .access_token(access_token)
            .previous_password(previous)
            .proposed_password(proposed)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn associate_software_token(&self, access_token: &str) -> Result<String, IdpError> {
        let output = self
            .client
            .associate_software_token()
            .access_token(access_token)
            .send()
            .await
            .map_err(classify)?;
        output.secret_code.ok_or_else(|| {
            IdpError::Unavailable("AssociateSoftwareToken returned no secret".into())
        })
    }

    async fn verify_software_token(&self, access_token: &str, code: &str) -> Result<(), IdpError> {
        let output = self
            .client
            .verify_software_token()
            .access_token(access_token)
            .user_code(code)
            .send()
            .await
            .map_err(classify)?;
        match output.status() {
            Some(
                aws_sdk_cognitoidentityprovider::types::VerifySoftwareTokenResponseType::Success,
            )
            | None => Ok(()),
            Some(_) => Err(IdpError::CodeMismatch),
        }
    }

    async fn set_software_token_mfa(
        &self,
        access_token: &str,
        enabled: bool,
    ) -> Result<(), IdpError> {
        let settings = SoftwareTokenMfaSettingsType::builder()
            .enabled(enabled)
            .preferred_mfa(enabled)
            .build();
        self.client
            .set_user_mfa_preference()
            .access_token(access_token)
            .software_token_mfa_settings(settings)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}
