//! The one mapping of the identity provider's errors to the API's answers: the
//! self-service calls, signup and the lock-out of a deleted user all read Cognito's
//! refusals through it.

use super::IdpError;
use crate::domain::error::{ApiError, ErrorCode};

/// The Retry-After of a 429 when Cognito throttles: it does not say how long to wait,
/// and its attempt limits last longer than a second.
pub const IDP_RETRY_AFTER_SECONDS: u64 = 5;

/// Which Cognito call failed: the same exception means different things for a call made
/// with the API's own credentials and one made with the user's access token.
#[derive(Debug, Clone, Copy)]
pub enum CognitoCall<'a> {
    /// AdminUpdateUserAttributes, with the API's credentials: a refusal is our fault.
    UpdateNames,
    /// ChangePassword with the user's access token: NotAuthorized is either a wrong
    /// current password or a revoked, expired or invalid token.
    ChangePassword { access_token: &'a str },
    /// AssociateSoftwareToken with the user's access token.
    AssociateSoftwareToken,
    /// VerifySoftwareToken or SetUserMFAPreference with the user's access token.
    Mfa,
    /// A signup's AdminCreateUser and AdminSetUserPassword, or the removal of an earlier
    /// deleted user's identity it finishes: the invitee reads the answer on the signup
    /// page, and a retry with the same token adopts whatever was done.
    Signup,
    /// A deleted user's sign-out everywhere and AdminDeleteUser: the delete stands, and
    /// the same request sent again finishes this step.
    LockOut,
}

impl CognitoCall<'_> {
    fn on_users_behalf(self) -> bool {
        !matches!(
            self,
            CognitoCall::UpdateNames | CognitoCall::Signup | CognitoCall::LockOut
        )
    }
}

/// The one mapping of identity provider errors to answers for the self-service calls:
/// AUTH (wrong current password), SECURITY (password policy), TOTP (wrong or stale code,
/// no authenticator), 401 (the access token is revoked, expired or invalid, or its user
/// may not sign in), 429 (throttled), COGNITO (any other refusal the client can read),
/// 500 (our configuration or an outage).
pub fn cognito_error(call: CognitoCall<'_>, err: IdpError) -> ApiError {
    // Throttling is answered alike for every call: 429 with the same Retry-After.
    let throttled = matches!(err, IdpError::Throttled);
    match call {
        CognitoCall::Signup if !throttled => return signup_error(err),
        CognitoCall::LockOut if !throttled => {
            return ApiError::app(
                ErrorCode::Cognito,
                "The user is deleted, but signing them out at the identity provider failed. Send the same request again to finish.",
            )
        }
        _ => {}
    }
    match err {
        IdpError::NotAuthorized(message) => match call {
            CognitoCall::ChangePassword { access_token }
                if !refuses_the_session(&message, access_token) =>
            {
                ApiError::app(ErrorCode::Auth, "currentPassword is incorrect.")
            }
            CognitoCall::UpdateNames => {
                ApiError::internal("Cognito AdminUpdateUserAttributes: NotAuthorizedException")
            }
            // The message may hold the token itself (moto echoes it): never log it.
            _ => ApiError::Unauthorized,
        },
        IdpError::InvalidPassword(reason) => password_refused(&reason),
        IdpError::CodeMismatch => ApiError::app(
            ErrorCode::Totp,
            "userCode is wrong or expired: enter the current code from the authenticator app.",
        ),
        IdpError::UserNotFound if call.on_users_behalf() => ApiError::Unauthorized,
        IdpError::UserNotFound => ApiError::internal("Cognito has no user for a live user record"),
        IdpError::Throttled => ApiError::TooManyRequests {
            retry_after_seconds: IDP_RETRY_AFTER_SECONDS,
        },
        IdpError::UsernameExists => ApiError::app(
            ErrorCode::Cognito,
            "The identity provider refused the change: the email is in use by another identity.",
        ),
        IdpError::Rejected { code, message } => rejected(call, &code, &message),
        IdpError::Unavailable(detail) => {
            ApiError::internal(format!("identity provider unavailable: {detail}"))
        }
    }
}

/// The answer to a signup of an address that already signed up (Cognito has the
/// username, or another record holds the identity).
pub(crate) fn email_signed_up_already() -> ApiError {
    ApiError::app(
        ErrorCode::Duplicate,
        "A user with this email address has already signed up.",
    )
}

/// A signup's failures, as the signup page shows them: the policy's own words for a
/// refused password, COGNITO with the service's reason for any other refusal.
fn signup_error(err: IdpError) -> ApiError {
    match err {
        IdpError::InvalidPassword(reason) => ApiError::app(ErrorCode::Security, reason),
        IdpError::Rejected { code, message } => {
            ApiError::app(ErrorCode::Cognito, format!("{code}: {message}"))
        }
        IdpError::UsernameExists => email_signed_up_already(),
        other => ApiError::internal(format!("identity provider during signup: {other}")),
    }
}

/// Whether ChangePassword's NotAuthorized is about the session rather than the current
/// password. Cognito says why in words for people ("Access Token has been revoked",
/// "User is disabled." versus "Incorrect username or password."); moto answers a bad
/// token with the token itself as the message.
fn refuses_the_session(message: &str, access_token: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    message == access_token || lower.contains("token") || lower.contains("disabled")
}

fn password_refused(reason: &str) -> ApiError {
    let reason = reason.trim();
    ApiError::app(
        ErrorCode::Security,
        if reason.is_empty() {
            "password does not meet the password policy.".to_owned()
        } else {
            format!("password was refused: {reason}")
        },
    )
}

fn rejected(call: CognitoCall<'_>, code: &str, message: &str) -> ApiError {
    match code {
        "PasswordHistoryPolicyViolationException" => password_refused(message),
        // The identity may not sign in until it is confirmed or its password is reset.
        "UserNotConfirmedException" | "PasswordResetRequiredException"
            if call.on_users_behalf() =>
        {
            ApiError::Unauthorized
        }
        // Verify before Associate: the client skipped Generate MFA Token.
        "SoftwareTokenMFANotFoundException" if matches!(call, CognitoCall::Mfa) => {
            ApiError::app(
                ErrorCode::Totp,
                "No authenticator is set up: call generate_mfa_token, add the secret to the app, then send its code.",
            )
        }
        // The deployment's own configuration (pool, roles, triggers): nothing the client
        // can change.
        "ResourceNotFoundException"
        | "InvalidUserPoolConfigurationException"
        | "SoftwareTokenMFANotFoundException"
        | "UserNotConfirmedException"
        | "PasswordResetRequiredException"
        | "InvalidEmailRoleAccessPolicyException"
        | "InvalidSmsRoleAccessPolicyException"
        | "InvalidSmsRoleTrustRelationshipException"
        | "InvalidLambdaResponseException"
        | "UnexpectedLambdaException"
        | "CodeDeliveryFailureException" => {
            ApiError::internal(format!("Cognito refused a self-service call: {code}"))
        }
        _ => ApiError::app(
            ErrorCode::Cognito,
            if message.is_empty() {
                code.to_owned()
            } else {
                format!("{code}: {message}")
            },
        ),
    }
}
