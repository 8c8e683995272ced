//! What the signed-in user does to their own identity: profile names, password and
//! software-token MFA, through the identity provider's trait, so that every answer is
//! tested without a network (the mapping of its errors: `adapters::idp::errors`).

use crate::adapters::db::model::UserItem;
use crate::adapters::idp::errors::{cognito_error, CognitoCall};
use crate::adapters::idp::IdentityProvider;
use crate::adapters::mail::{notification, Email as OutgoingEmail, Mailer};
use crate::domain::error::{ApiError, ErrorCode};

/// The Cognito username of an active user (their `sub`); every signed-up user has one.
pub fn cognito_username(user: &UserItem) -> Result<&str, ApiError> {
    user.sub
        .as_deref()
        .ok_or_else(|| ApiError::internal(format!("active user {} has no Cognito sub", user.id)))
}

/// Keeps the names in Cognito (given_name, family_name) in step with the record.
pub async fn update_names(
    idp: &dyn IdentityProvider,
    username: &str,
    firstname: &str,
    lastname: &str,
) -> Result<(), ApiError> {
    idp.update_names(username, firstname, lastname)
        .await
        .map_err(|e| cognito_error(CognitoCall::UpdateNames, e))
}

/// ChangePassword on the user's behalf.
pub async fn change_password(
    idp: &dyn IdentityProvider,
    access_token: &str,
    current: &str,
    proposed: &str,
) -> Result<(), ApiError> {
    idp.change_password(access_token, current, proposed)
        .await
        .map_err(|e| cognito_error(CognitoCall::ChangePassword { access_token }, e))
}

/// A new TOTP secret for the user's authenticator (AssociateSoftwareToken).
pub async fn new_authenticator_secret(
    idp: &dyn IdentityProvider,
    access_token: &str,
) -> Result<String, ApiError> {
    idp.associate_software_token(access_token)
        .await
        .map_err(|e| cognito_error(CognitoCall::AssociateSoftwareToken, e))
}

/// Proves the authenticator works (VerifySoftwareToken), and only then makes software
/// token MFA enabled and preferred. A wrong code leaves MFA as it was.
pub async fn enable_mfa(
    idp: &dyn IdentityProvider,
    access_token: &str,
    code: &TotpCode,
) -> Result<(), ApiError> {
    idp.verify_software_token(access_token, code.as_str())
        .await
        .map_err(|e| cognito_error(CognitoCall::Mfa, e))?;
    idp.set_software_token_mfa(access_token, true)
        .await
        .map_err(|e| cognito_error(CognitoCall::Mfa, e))
}

/// Turns software token MFA off (and not preferred).
pub async fn disable_mfa(idp: &dyn IdentityProvider, access_token: &str) -> Result<(), ApiError> {
    idp.set_software_token_mfa(access_token, false)
        .await
        .map_err(|e| cognito_error(CognitoCall::Mfa, e))
}

/// A TOTP code as the authenticator shows it: exactly six ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    /// Surrounding whitespace (from copy and paste) is dropped; anything but six digits
    /// is 499 TOTP.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(ApiError::app(
                ErrorCode::Totp,
                "userCode must be the 6-digit code from the authenticator app.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Codes are secrets for their 30 seconds: never printed.
impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCode(******)")
    }
}

/// The Key URI an authenticator app reads from a QR code:
/// `otpauth://totp/<issuer>:<account>?secret=<secret>&issuer=<issuer>`, every part
/// percent-encoded (a space is %20, never `+`, which some apps show literally).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}",
        percent_encode(account),
        percent_encode(secret)
    )
}

/// Everything but RFC 3986's unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// Sends a security notification. The change it reports has already happened, so a
/// failure is logged and never turns the request into an error.
pub async fn notify(mailer: &dyn Mailer, user: &UserItem, email: OutgoingEmail) {
    let subject = email.subject.clone();
    if let Err(err) = mailer.send(email).await {
        tracing::warn!(user_id = %user.id, subject = %subject, error = %err, "security notification not sent");
    }
}

fn greeting(user: &UserItem) -> String {
    if user.firstname.is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {},", user.firstname)
    }
}

fn when() -> String {
    crate::domain::clock::now()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

const NOT_YOU: &str = "If this was not you, contact your account administrator right away.";

/// Tells the user their password changed. It carries no secret.
pub fn password_changed_email(user: &UserItem) -> OutgoingEmail {
    notification(
        user.email.as_str(),
        "Your password was changed",
        &[
            &greeting(user),
            &format!(
                "The password of your account {} was changed on {}.",
                user.username,
                when()
            ),
            NOT_YOU,
        ],
    )
}

/// Tells the user that two-step verification was switched on or off.
pub fn mfa_changed_email(user: &UserItem, enabled: bool) -> OutgoingEmail {
    let (subject, what) = if enabled {
        (
            "Two-step verification is on",
            "was turned on: signing in now asks for a code from your authenticator app",
        )
    } else {
        (
            "Two-step verification is off",
            "was turned off: signing in no longer asks for a code from your authenticator app",
        )
    };
    notification(
        user.email.as_str(),
        subject,
        &[
            &greeting(user),
            &format!(
                "Two-step verification for your account {} {what} (on {}).",
                user.username,
                when()
            ),
            NOT_YOU,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::idp::errors::IDP_RETRY_AFTER_SECONDS;
    use crate::adapters::idp::IdpError;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// An identity provider that fails every call with one error (or succeeds), and
    /// records which calls were made.
    #[derive(Default)]
    struct FakeIdp {
        failure: Option<IdpError>,
        /// Fail only this call; the others succeed.
        only: Option<&'static str>,
        calls: Mutex<Vec<&'static str>>,
    }

    impl FakeIdp {
        fn failing(err: IdpError) -> Self {
            Self {
                failure: Some(err),
                ..Self::default()
            }
        }

        fn failing_only(call: &'static str, err: IdpError) -> Self {
            Self {
                failure: Some(err),
                only: Some(call),
                ..Self::default()
            }
        }

        fn outcome(&self, call: &'static str) -> Result<(), IdpError> {
            self.calls.lock().unwrap().push(call);
            match (&self.failure, self.only) {
                (Some(err), None) => Err(err.clone()),
                (Some(err), Some(only)) if only == call => Err(err.clone()),
                _ => Ok(()),
            }
        }

        fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl IdentityProvider for FakeIdp {
        async fn create_user(&self, _: &str, _: &str, _: &str) -> Result<String, IdpError> {
            self.outcome("create_user").map(|()| "sub".into())
        }
        async fn set_permanent_password(&self, _: &str, _: &str) -> Result<(), IdpError> {
            self.outcome("set_permanent_password")
        }
        async fn update_names(&self, _: &str, _: &str, _: &str) -> Result<(), IdpError> {
            self.outcome("update_names")
        }
        async fn delete_user(&self, _: &str) -> Result<(), IdpError> {
            self.outcome("delete_user")
        }
        async fn disable_user(&self, _: &str) -> Result<(), IdpError> {
            self.outcome("disable_user")
        }
        async fn sign_out_everywhere(&self, _: &str) -> Result<(), IdpError> {
            self.outcome("sign_out_everywhere")
        }
        async fn change_password(&self, _: &str, _: &str, _: &str) -> Result<(), IdpError> {
            self.outcome("change_password")
        }
        async fn associate_software_token(&self, _: &str) -> Result<String, IdpError> {
            self.outcome("associate_software_token")
                .map(|()| "JBSWY3DPEHPK3PXP".into())
        }
        async fn verify_software_token(&self, _: &str, _: &str) -> Result<(), IdpError> {
            self.outcome("verify_software_token")
        }
        async fn set_software_token_mfa(&self, _: &str, _: bool) -> Result<(), IdpError> {
            self.outcome("set_software_token_mfa")
        }
    }

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    fn rejected_with(code: &str) -> IdpError {
        IdpError::Rejected {
            code: code.into(),
            message: "said Cognito".into(),
        }
    }

    fn code() -> TotpCode {
        TotpCode::parse("123456").unwrap()
    }

    #[track_caller]
    fn assert_app(result: Result<impl std::fmt::Debug, ApiError>, code: ErrorCode) -> String {
        match result {
            Err(ApiError::App { code: got, message }) if got == code => message,
            other => panic!("expected 499 {code}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_wrong_current_password_answers_auth() {
        for message in [
            "Incorrect username or password.",
            "6f1c2d3e-sub-of-the-user",
        ] {
            let idp = FakeIdp::failing(IdpError::NotAuthorized(message.into()));
            let result = change_password(&idp, TOKEN, "old", "New-Passw0rd").await;
            assert_app(result, ErrorCode::Auth);
        }
    }

    #[tokio::test]
    async fn a_revoked_or_invalid_access_token_answers_401_on_every_call() {
        for message in [
            "Access Token has been revoked",
            "Invalid Access Token",
            "Access Token has expired",
            "User is disabled.",
            TOKEN, // moto's form
        ] {
            let idp = FakeIdp::failing(IdpError::NotAuthorized(message.into()));
            assert!(matches!(
                change_password(&idp, TOKEN, "old", "New-Passw0rd").await,
                Err(ApiError::Unauthorized)
            ));
            assert!(matches!(
                new_authenticator_secret(&idp, TOKEN).await,
                Err(ApiError::Unauthorized)
            ));
            assert!(matches!(
                enable_mfa(&idp, TOKEN, &code()).await,
                Err(ApiError::Unauthorized)
            ));
            assert!(matches!(
                disable_mfa(&idp, TOKEN).await,
                Err(ApiError::Unauthorized)
            ));
        }
    }

    #[tokio::test]
    async fn a_user_cognito_no_longer_knows_answers_401_on_calls_with_their_token() {
        let idp = FakeIdp::failing(IdpError::UserNotFound);
        assert!(matches!(
            change_password(&idp, TOKEN, "old", "new").await,
            Err(ApiError::Unauthorized)
        ));
        assert!(matches!(
            disable_mfa(&idp, TOKEN).await,
            Err(ApiError::Unauthorized)
        ));
        for code in [
            "UserNotConfirmedException",
            "PasswordResetRequiredException",
        ] {
            let idp = FakeIdp::failing(rejected_with(code));
            assert!(matches!(
                change_password(&idp, TOKEN, "old", "new").await,
                Err(ApiError::Unauthorized)
            ));
        }
    }

    #[tokio::test]
    async fn a_password_the_policy_refuses_answers_security_with_the_reason() {
        let idp = FakeIdp::failing(IdpError::InvalidPassword(
            "Password did not conform with policy: Password not long enough".into(),
        ));
        let message = assert_app(
            change_password(&idp, TOKEN, "old", "short").await,
            ErrorCode::Security,
        );
        assert!(message.contains("Password not long enough"), "{message}");

        let idp = FakeIdp::failing(rejected_with("PasswordHistoryPolicyViolationException"));
        assert_app(
            change_password(&idp, TOKEN, "old", "Reused-1").await,
            ErrorCode::Security,
        );
    }

    #[tokio::test]
    async fn a_wrong_or_stale_code_answers_totp_and_leaves_the_mfa_preference_alone() {
        let idp = FakeIdp::failing_only("verify_software_token", IdpError::CodeMismatch);
        assert_app(enable_mfa(&idp, TOKEN, &code()).await, ErrorCode::Totp);
        assert_eq!(idp.calls(), ["verify_software_token"]);
    }

    #[tokio::test]
    async fn verifying_before_any_authenticator_was_associated_answers_totp() {
        let idp = FakeIdp::failing_only(
            "verify_software_token",
            rejected_with("SoftwareTokenMFANotFoundException"),
        );
        let message = assert_app(enable_mfa(&idp, TOKEN, &code()).await, ErrorCode::Totp);
        assert!(message.contains("generate_mfa_token"), "{message}");
    }

    #[tokio::test]
    async fn a_right_code_verifies_then_enables_mfa() {
        let idp = FakeIdp::default();
        enable_mfa(&idp, TOKEN, &code()).await.unwrap();
        assert_eq!(
            idp.calls(),
            ["verify_software_token", "set_software_token_mfa"]
        );
    }

    #[test]
    fn every_call_answers_throttling_with_the_same_retry_after() {
        for call in [
            CognitoCall::UpdateNames,
            CognitoCall::ChangePassword {
                access_token: TOKEN,
            },
            CognitoCall::AssociateSoftwareToken,
            CognitoCall::Mfa,
            CognitoCall::Signup,
            CognitoCall::LockOut,
        ] {
            match cognito_error(call, IdpError::Throttled) {
                ApiError::TooManyRequests {
                    retry_after_seconds,
                } => assert_eq!(retry_after_seconds, IDP_RETRY_AFTER_SECONDS, "{call:?}"),
                other => panic!("{call:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn throttling_answers_429_with_retry_after() {
        let idp = FakeIdp::failing(IdpError::Throttled);
        for result in [
            change_password(&idp, TOKEN, "old", "new").await,
            enable_mfa(&idp, TOKEN, &code()).await,
            disable_mfa(&idp, TOKEN).await,
            update_names(&idp, "sub", "Ada", "Lovelace").await,
            new_authenticator_secret(&idp, TOKEN).await.map(|_| ()),
        ] {
            assert!(
                matches!(
                    result,
                    Err(ApiError::TooManyRequests {
                        retry_after_seconds: IDP_RETRY_AFTER_SECONDS
                    })
                ),
                "{result:?}"
            );
        }
    }

    #[tokio::test]
    async fn other_refusals_the_client_can_read_answer_cognito_with_code_and_message() {
        for code in [
            "InvalidParameterException",
            "ForbiddenException",
            "ConcurrentModificationException",
            "UserLambdaValidationException",
        ] {
            let idp = FakeIdp::failing(rejected_with(code));
            let message = assert_app(
                change_password(&idp, TOKEN, "old", "new").await,
                ErrorCode::Cognito,
            );
            assert_eq!(message, format!("{code}: said Cognito"));
        }
    }

    #[tokio::test]
    async fn outages_and_our_own_misconfiguration_answer_500() {
        let idp = FakeIdp::failing(IdpError::Unavailable("connection refused".into()));
        assert!(matches!(
            change_password(&idp, TOKEN, "old", "new").await,
            Err(ApiError::Internal(_))
        ));
        for code in [
            "ResourceNotFoundException",
            "InvalidUserPoolConfigurationException",
            "UnexpectedLambdaException",
        ] {
            let idp = FakeIdp::failing(rejected_with(code));
            assert!(matches!(
                enable_mfa(&idp, TOKEN, &code_of("654321")).await,
                Err(ApiError::Internal(_))
            ));
        }
        // AssociateSoftwareToken says this when the pool has no software-token MFA.
        let idp = FakeIdp::failing(rejected_with("SoftwareTokenMFANotFoundException"));
        assert!(matches!(
            new_authenticator_secret(&idp, TOKEN).await,
            Err(ApiError::Internal(_))
        ));
    }

    fn code_of(raw: &str) -> TotpCode {
        TotpCode::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn a_refusal_of_the_apis_own_credentials_is_a_500_not_a_401() {
        for err in [
            IdpError::NotAuthorized("User is not authorized".into()),
            IdpError::UserNotFound,
        ] {
            let idp = FakeIdp::failing(err);
            assert!(matches!(
                update_names(&idp, "sub", "Ada", "Lovelace").await,
                Err(ApiError::Internal(_))
            ));
        }
    }

    /// Every exception the self-service calls document, as the SDK reports it, through
    /// `classify` and the mapping: each has exactly one answer.
    #[test]
    fn every_documented_cognito_exception_maps_to_one_answer() {
        use aws_sdk_cognitoidentityprovider::error::{ErrorMetadata, SdkError};
        use aws_sdk_cognitoidentityprovider::operation::change_password::ChangePasswordError;

        fn answer(call: CognitoCall<'_>, code: &str, message: &str) -> String {
            let err: SdkError<ChangePasswordError, ()> = SdkError::service_error(
                ChangePasswordError::generic(
                    ErrorMetadata::builder().code(code).message(message).build(),
                ),
                (),
            );
            match cognito_error(call, crate::adapters::idp::classify(err)) {
                ApiError::Unauthorized => "401".into(),
                ApiError::TooManyRequests { .. } => "429".into(),
                ApiError::Internal(_) => "500".into(),
                other => other.code().expect("a 499").as_str().into(),
            }
        }

        let change = CognitoCall::ChangePassword {
            access_token: TOKEN,
        };
        let table: &[(CognitoCall, &str, &str, &str)] = &[
            // ChangePassword
            (
                change,
                "NotAuthorizedException",
                "Incorrect username or password.",
                "AUTH",
            ),
            (
                change,
                "NotAuthorizedException",
                "Access Token has been revoked",
                "401",
            ),
            (
                change,
                "InvalidPasswordException",
                "Password not long enough",
                "SECURITY",
            ),
            (
                change,
                "PasswordHistoryPolicyViolationException",
                "reused",
                "SECURITY",
            ),
            (change, "InvalidParameterException", "bad", "COGNITO"),
            (change, "ForbiddenException", "waf", "COGNITO"),
            (
                change,
                "LimitExceededException",
                "Attempt limit exceeded",
                "429",
            ),
            (change, "TooManyRequestsException", "slow down", "429"),
            (change, "PasswordResetRequiredException", "reset", "401"),
            (change, "UserNotConfirmedException", "unconfirmed", "401"),
            (change, "UserNotFoundException", "gone", "401"),
            (change, "ResourceNotFoundException", "no pool", "500"),
            (change, "InternalErrorException", "oops", "500"),
            // AssociateSoftwareToken
            (
                CognitoCall::AssociateSoftwareToken,
                "NotAuthorizedException",
                TOKEN,
                "401",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "ConcurrentModificationException",
                "busy",
                "COGNITO",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "ForbiddenException",
                "waf",
                "COGNITO",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "InvalidParameterException",
                "bad",
                "COGNITO",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "SoftwareTokenMFANotFoundException",
                "off",
                "500",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "ResourceNotFoundException",
                "no pool",
                "500",
            ),
            (
                CognitoCall::AssociateSoftwareToken,
                "InternalErrorException",
                "oops",
                "500",
            ),
            // VerifySoftwareToken and SetUserMFAPreference
            (
                CognitoCall::Mfa,
                "CodeMismatchException",
                "Code mismatch",
                "TOTP",
            ),
            (
                CognitoCall::Mfa,
                "EnableSoftwareTokenMFAException",
                "Code mismatch",
                "TOTP",
            ),
            (CognitoCall::Mfa, "ExpiredCodeException", "expired", "TOTP"),
            (
                CognitoCall::Mfa,
                "SoftwareTokenMFANotFoundException",
                "none",
                "TOTP",
            ),
            (
                CognitoCall::Mfa,
                "NotAuthorizedException",
                "Invalid Access Token",
                "401",
            ),
            (CognitoCall::Mfa, "UserNotFoundException", "gone", "401"),
            (
                CognitoCall::Mfa,
                "UserNotConfirmedException",
                "unconfirmed",
                "401",
            ),
            (
                CognitoCall::Mfa,
                "PasswordResetRequiredException",
                "reset",
                "401",
            ),
            (
                CognitoCall::Mfa,
                "TooManyRequestsException",
                "slow down",
                "429",
            ),
            (
                CognitoCall::Mfa,
                "InvalidParameterException",
                "User has not verified software token mfa",
                "COGNITO",
            ),
            (CognitoCall::Mfa, "ForbiddenException", "waf", "COGNITO"),
            (
                CognitoCall::Mfa,
                "InvalidUserPoolConfigurationException",
                "config",
                "500",
            ),
            (
                CognitoCall::Mfa,
                "ResourceNotFoundException",
                "no pool",
                "500",
            ),
            (CognitoCall::Mfa, "InternalErrorException", "oops", "500"),
            // AdminUpdateUserAttributes
            (
                CognitoCall::UpdateNames,
                "NotAuthorizedException",
                "not allowed",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "UserNotFoundException",
                "gone",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "TooManyRequestsException",
                "slow down",
                "429",
            ),
            (
                CognitoCall::UpdateNames,
                "InvalidParameterException",
                "bad",
                "COGNITO",
            ),
            (
                CognitoCall::UpdateNames,
                "AliasExistsException",
                "taken",
                "COGNITO",
            ),
            (
                CognitoCall::UpdateNames,
                "UserLambdaValidationException",
                "trigger said no",
                "COGNITO",
            ),
            (
                CognitoCall::UpdateNames,
                "CodeDeliveryFailureException",
                "no sms",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "InvalidLambdaResponseException",
                "bad trigger",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "UnexpectedLambdaException",
                "bad trigger",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "InvalidEmailRoleAccessPolicyException",
                "role",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "InvalidSmsRoleAccessPolicyException",
                "role",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "InvalidSmsRoleTrustRelationshipException",
                "role",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "ResourceNotFoundException",
                "no pool",
                "500",
            ),
            (
                CognitoCall::UpdateNames,
                "InternalErrorException",
                "oops",
                "500",
            ),
        ];
        for (call, code, message, expected) in table {
            assert_eq!(
                answer(*call, code, message),
                *expected,
                "{call:?} {code} {message:?}"
            );
        }
    }

    #[test]
    fn a_totp_code_is_exactly_six_digits() {
        assert_eq!(TotpCode::parse(" 012345 ").unwrap().as_str(), "012345");
        for bad in ["", "12345", "1234567", "12a456", "123 456", "１２３４５６"] {
            assert_app(TotpCode::parse(bad), ErrorCode::Totp);
        }
        assert_eq!(format!("{:?}", code()), "TotpCode(******)");
    }

    #[test]
    fn the_otpauth_uri_names_issuer_and_account_percent_encoded() {
        assert_eq!(
            otpauth_uri("Amove", "ada@example.com", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/Amove:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Amove"
        );
        assert_eq!(
            otpauth_uri("Acme & Co: Dev", "a+b@example.com", "ASDF"),
            "otpauth://totp/Acme%20%26%20Co%3A%20Dev:a%2Bb%40example.com?secret=ASDF&issuer=Acme%20%26%20Co%3A%20Dev"
        );
    }
}
