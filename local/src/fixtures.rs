//! Makes the sample events in `events/` real: seeds an account whose owner, pending
//! invitations and target user stand in for the placeholders the events carry, and
//! rewrites each event with the real ids, tokens and a valid access token. Used by the
//! events test and the bench, so both run every function on data it can act on.

use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use serde_json::Value;

use shared::domain::{AccountId, Email, UserType};
use shared::edge::endpoints::{Services, ROUTES};
use shared::features::accounts::{create_account, Package};
use shared::features::invitations::{
    invite, signup, Invited, Inviter, NewUser, SeatSource, SignupForm,
};

use crate::moto::repo_root;
use crate::provision::BoxError;
use crate::stack::LocalStack;

/// The placeholders of the sample events.
const EVENT_SUB: &str = "8f0c3b9e-1d2a-4c5b-9e7f-0a1b2c3d4e5f";
const EVENT_TARGET_USER: &str = "3d6f1e2a-5b4c-4d8e-9f0a-1b2c3d4e5f60";
const EVENT_SIGNUP_TOKEN: &str = "dGVzdC1zaWdudXAtdG9rZW4tZXhhbXBsZS0wMDAwMDAwMA";
const EVENT_PENDING_USERNAME: &str = "pending@example.com";
const EVENT_NEW_USERNAME: &str = "new.user@example.com";
/// The owner's password is the `currentPassword` of the reset-password event.
const EVENT_OWNER_PASSWORD: &str = "0ld-Passw0rd!";
/// The `password` of the reset-password event.
const EVENT_NEW_PASSWORD: &str = "N3w-Passw0rd!";

/// The event of `function`, as committed.
pub fn sample_event(function: &str) -> Result<String, BoxError> {
    let path = repo_root().join(format!("events/{function}.json"));
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn unique(prefix: &str) -> Result<Email, BoxError> {
    Ok(Email::parse(
        &format!(
            "{prefix}.{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ),
        "email",
    )?)
}

async fn invite_pending(
    services: &Services,
    source: &SeatSource,
    user_type: UserType,
) -> Result<Invited, BoxError> {
    let email = unique("fixture")?;
    Ok(invite(
        &services.db,
        services.mailer.as_ref(),
        &services.config,
        source.clone(),
        &Inviter {
            name: "Fixture Owner".into(),
        },
        NewUser {
            username: email.clone(),
            email,
            firstname: "Fixture".into(),
            lastname: "User".into(),
            user_type,
            owner: false,
        },
        &shared::features::audit::Requester::tool(),
    )
    .await?)
}

/// The signed-up owner whose account the events act in.
pub struct EventOwner {
    pub email: String,
    pub password: String,
    pub sub: String,
    pub account_id: AccountId,
    pub account_name: String,
}

/// Seeds an account of its own for the events and returns every function's event, made real.
pub async fn realized_events(stack: &LocalStack) -> Result<Vec<(&'static str, String)>, BoxError> {
    let services = &stack.services;
    let owner_email = unique("fixture-owner")?;
    let package = Package {
        admin_users: 50,
        creative_users: 50,
        standard_users: 50,
        ..Package::starter()
    };
    let created = create_account(
        &services.db,
        services.mailer.as_ref(),
        &services.config,
        "Example Studio",
        owner_email.as_str(),
        &package,
    )
    .await?;
    let owner = signup(
        &services.db,
        services.idp.as_ref(),
        SignupForm {
            token: &created.owner.token.token,
            firstname: "Ada".into(),
            lastname: "Lovelace".into(),
            password: EVENT_OWNER_PASSWORD,
        },
        &shared::features::audit::Origin::default(),
    )
    .await?;
    let owner = EventOwner {
        email: owner_email.as_str().to_owned(),
        password: EVENT_OWNER_PASSWORD.to_owned(),
        sub: owner.sub.clone().ok_or("signup left no sub")?,
        account_id: created.account_id,
        account_name: "Example Studio".into(),
    };
    realized_events_for(stack, &owner, EVENT_NEW_PASSWORD).await
}

/// Every function's event acting as `owner` in their account: the pending users the
/// events refer to are invited there; reset-password changes the owner's password to
/// `new_password`.
pub async fn realized_events_for(
    stack: &LocalStack,
    owner: &EventOwner,
    new_password: &str,
) -> Result<Vec<(&'static str, String)>, BoxError> {
    let services = &stack.services;
    let access_token = stack
        .cognito
        .initiate_auth()
        .client_id(&services.config.user_pool_client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", &owner.email)
        .auth_parameters("PASSWORD", &owner.password)
        .send()
        .await?
        .authentication_result
        .and_then(|r| r.access_token)
        .ok_or("no access token")?;

    let source = SeatSource::Account {
        id: owner.account_id,
        name: owner.account_name.clone(),
    };
    let target = invite_pending(services, &source, UserType::ACCOUNT_USER).await?;
    let for_signup_info =
        invite_pending(services, &source, UserType::DESKTOP_STANDARD_USER).await?;
    let for_signup = invite_pending(services, &source, UserType::DESKTOP_STANDARD_USER).await?;
    let for_resend = invite_pending(services, &source, UserType::DESKTOP_STANDARD_USER).await?;
    let new_username = unique("fixture-new")?;

    let issuer = format!(
        "https://cognito-idp.{}.amazonaws.com/{}",
        stack
            .sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default(),
        services.config.user_pool_id
    );
    let mut events = Vec::new();
    for route in ROUTES {
        let signup_token = match route.function {
            "user-signup" => for_signup.token.token.as_str(),
            _ => for_signup_info.token.token.as_str(),
        };
        let text = sample_event(route.function)?
            .replace(EVENT_SUB, &owner.sub)
            .replace(EVENT_TARGET_USER, &target.user.id.to_string())
            .replace(EVENT_SIGNUP_TOKEN, signup_token)
            .replace(EVENT_PENDING_USERNAME, for_resend.user.username.as_str())
            .replace(EVENT_NEW_USERNAME, new_username.as_str())
            .replace(EVENT_OWNER_PASSWORD, &in_event_body(&owner.password))
            .replace(EVENT_NEW_PASSWORD, &in_event_body(new_password));
        let mut event: Value = serde_json::from_str(&text)?;
        if route.authenticated {
            event["headers"]["authorization"] = Value::String(format!("Bearer {access_token}"));
            let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
            claims["client_id"] = Value::String(services.config.user_pool_client_id.clone());
            claims["iss"] = Value::String(issuer.clone());
        }
        events.push((route.function, event.to_string()));
    }
    Ok(events)
}

/// Text as it must appear inside an event's `body`: a JSON string inside the JSON string
/// of the event, so escaped twice (a password may hold `"` or `\`).
fn in_event_body(text: &str) -> String {
    let escaped = |text: &str| {
        let quoted = Value::String(text.to_owned()).to_string();
        quoted[1..quoted.len() - 1].to_owned()
    };
    escaped(&escaped(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_quotes_and_backslashes_survives_the_event_body() {
        let password = r#"Pa"ss\w0rd-1"#;
        let event = format!(
            r#"{{"body":"{{\"password\":\"{}\"}}"}}"#,
            in_event_body(password)
        );
        let event: Value = serde_json::from_str(&event).unwrap();
        let body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["password"], password);
    }
}
