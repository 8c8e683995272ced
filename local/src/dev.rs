//! Development endpoints of the local gateway: sign in, read the outbox, create accounts,
//! read the change events.

use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use shared::edge::http::respond;
use shared::features::accounts::{create_account, Package};

use shared::edge::endpoints::Services;

/// What the `/local/*` endpoints reach: the services, Cognito (to sign in as a client
/// would) and the emulator (its outbox).
pub struct DevTools {
    pub services: Services,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// moto's base URL, where the outbox is read from.
    pub emulator_endpoint: String,
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    reply(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
}

fn bad_request(message: &str) -> Response {
    reply(StatusCode::BAD_REQUEST, json!({"message": message}))
}

pub async fn handle(dev: &DevTools, method: &Method, path: &str, body: &Bytes) -> Response {
    match (method.as_str(), path) {
        ("POST", "login") => login(dev, body).await,
        ("GET", "outbox") => outbox(dev).await,
        ("POST", "accounts") => accounts(dev, body).await,
        ("GET", "events") => events(dev).await,
        _ => reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    username: String,
    password: Option<String>,
    session: Option<String>,
    user_code: Option<String>,
}

/// Signs in as a client would (USER_PASSWORD_AUTH), answering the MFA challenge when the
/// second call brings the session and code.
async fn login(dev: &DevTools, body: &Bytes) -> Response {
    let Ok(login) = serde_json::from_slice::<Login>(body) else {
        return bad_request(
            "expected {\"username\",\"password\"} or {\"username\",\"session\",\"userCode\"}",
        );
    };
    let username = login.username.trim().to_lowercase();
    let client_id = &dev.services.config.user_pool_client_id;
    let cognito = &dev.cognito;
    let result =
        match (login.password, login.session, login.user_code) {
            (Some(password), None, _) => cognito
                .initiate_auth()
                .client_id(client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", &username)
                .auth_parameters("PASSWORD", password)
                .send()
                .await
                .map(|o| (o.authentication_result, o.challenge_name, o.session))
                .map_err(|e| {
                    aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e).to_string()
                }),
            (_, Some(session), Some(code)) => cognito
                .respond_to_auth_challenge()
                .client_id(client_id)
                .challenge_name(ChallengeNameType::SoftwareTokenMfa)
                .session(session)
                .challenge_responses("USERNAME", &username)
                .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
                .send()
                .await
                .map(|o| (o.authentication_result, o.challenge_name, o.session))
                .map_err(|e| {
                    aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e).to_string()
                }),
            _ => return bad_request(
                "expected {\"username\",\"password\"} or {\"username\",\"session\",\"userCode\"}",
            ),
        };
    match result {
        Ok((Some(tokens), _, _)) => reply(
            StatusCode::OK,
            json!({
                "accessToken": tokens.access_token,
                "idToken": tokens.id_token,
                "refreshToken": tokens.refresh_token,
                "expiresIn": tokens.expires_in,
            }),
        ),
        Ok((None, Some(challenge), Some(session))) => reply(
            StatusCode::OK,
            json!({"challenge": challenge.as_str(), "session": session}),
        ),
        Ok(_) => unauthorized(),
        Err(err) => {
            tracing::info!(error = %err, "local login refused");
            unauthorized()
        }
    }
}

/// The emails sent so far, oldest first, as moto recorded them.
async fn outbox(dev: &DevTools) -> Response {
    let url = format!("{}/moto-api/data.json", dev.emulator_endpoint);
    // moto serialises its whole state for this page; while other requests write to it the
    // dump can fail, so a failed read is retried rather than taken for an empty outbox.
    let mut last_error = String::new();
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        }
        let data = match reqwest::get(&url).await {
            Ok(response) if response.status().is_success() => {
                response.json::<serde_json::Value>().await
            }
            Ok(response) => {
                last_error = format!("moto answered {}", response.status());
                continue;
            }
            Err(err) => {
                last_error = err.to_string();
                continue;
            }
        };
        let data = match data {
            Ok(data) => data,
            Err(err) => {
                last_error = err.to_string();
                continue;
            }
        };
        let messages = data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let emails: Vec<_> = messages
            .iter()
            .map(|m| json!({"to": m["destinations"]["ToAddresses"], "subject": m["subject"], "body": m["body"]}))
            .collect();
        return reply(StatusCode::OK, json!(emails));
    }
    reply(
        StatusCode::BAD_GATEWAY,
        json!({"message": format!("could not read the outbox: {last_error}")}),
    )
}

/// The change events of the audit records in the table, oldest first, as the deployed
/// stack's bus would deliver them.
async fn events(dev: &DevTools) -> Response {
    match crate::change_events::stored_events(&dev.services.db).await {
        Ok(events) => reply(
            StatusCode::OK,
            serde_json::Value::Array(events.iter().map(|e| e.delivered()).collect()),
        ),
        Err(err) => reply(
            StatusCode::BAD_GATEWAY,
            json!({"message": format!("could not read the audit records: {err}")}),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAccount {
    name: String,
    owner_email: String,
    package: Option<Package>,
}

/// Creates an account and invites its owner, as the bootstrap tool does.
async fn accounts(dev: &DevTools, body: &Bytes) -> Response {
    let new: NewAccount = match serde_json::from_slice(body) {
        Ok(new) => new,
        Err(err) => {
            return bad_request(&format!(
                "expected {{\"name\",\"ownerEmail\",\"package\"?}}: {err}"
            ))
        }
    };
    let services = &dev.services;
    let package = new.package.unwrap_or_else(Package::starter);
    match create_account(
        &services.db,
        services.mailer.as_ref(),
        &services.config,
        &new.name,
        &new.owner_email,
        &package,
    )
    .await
    {
        Ok(created) => reply(
            StatusCode::OK,
            json!({"accountId": created.account_id, "ownerId": created.owner.user.id}),
        ),
        Err(err) => {
            let response = respond(Err(err));
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, axum::body::Body::from(body.to_vec()))
        }
    }
}
