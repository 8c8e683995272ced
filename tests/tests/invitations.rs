//! Invitations and signup end to end: insert_user, signupinfo, signup and
//! resend_user_email through the local gateway against moto, with failures injected into
//! SES, Cognito and DynamoDB transactions.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{
    failing_dynamodb, failing_identity_provider, failing_mailer, field_names, racing_dynamodb,
    unique_email, Answer, FailSwitch, Race, TestAccount, TestApp, PASSWORD, USER_FIELDS,
};
use serde_json::{json, Value};
use shared::adapters::db::Item;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::paths::*;

fn invitation(email: &str, user_type: i64) -> Value {
    json!({"username": email, "email": email, "firstname": "Ivy", "lastname": "Invited", "userType": user_type})
}

async fn invite(app: &TestApp, account: &TestAccount, email: &str, user_type: i64) -> Answer {
    app.post(
        INSERT,
        Some(&account.owner_token),
        invitation(email, user_type),
    )
    .await
}

async fn signup_info(app: &TestApp, token: &str) -> Answer {
    app.get(&format!("{SIGNUP_INFO}?token={token}"), None).await
}

async fn signup(app: &TestApp, token: &str, password: &str) -> Answer {
    app.post(
        SIGNUP,
        None,
        json!({"firstname": "Ivy", "lastname": "Signed", "password": password, "token": token}),
    )
    .await
}

async fn resend(app: &TestApp, username: &str) -> Answer {
    app.post(RESEND, None, json!({ "username": username }))
        .await
}

async fn package(app: &TestApp, account: &TestAccount) -> Value {
    let answer = app.get(PACKAGE, Some(&account.owner_token)).await;
    answer.assert_ok();
    answer.json()
}

/// Asserts a User answer with exactly the User fields and no token, hash or secret.
#[track_caller]
fn assert_user_without_secrets(answer: &Answer, token: &str) -> Value {
    answer.assert_ok();
    let body = answer.json();
    assert_eq!(field_names(&body), USER_FIELDS);
    assert_no_secrets(&answer.text, token);
    body
}

#[track_caller]
fn assert_no_secrets(text: &str, token: &str) {
    assert!(!text.contains(token), "the token leaked: {text}");
    assert!(
        !text.contains(&shared::domain::token::hash(token)),
        "the token hash leaked: {text}"
    );
    for secret in ["token", "tokenHash", "sub", "signupLease", "password"] {
        assert!(
            !text.contains(&format!("\"{secret}\"")),
            "{secret} in the answer: {text}"
        );
    }
}

/// A small package: 2 admin, 5 creative and 5 standard seats.
fn small_package() -> Value {
    json!({"adminUsers": 2, "creativeUsers": 5, "standardUsers": 5})
}

/// Every user of the pool with this email.
async fn identities_with_email(app: &TestApp, email: &str) -> usize {
    let users = app
        .stack
        .cognito
        .list_users()
        .user_pool_id(&app.stack.services.config.user_pool_id)
        .send()
        .await
        .expect("ListUsers");
    users
        .users()
        .iter()
        .filter(|user| {
            user.attributes()
                .iter()
                .any(|a| a.name() == "email" && a.value() == Some(email))
        })
        .count()
}

/// Runs `count` copies of a request at once, on the multi-threaded runtime.
async fn concurrently<F, Fut>(count: usize, request: F) -> Vec<Answer>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        tasks.spawn(request(index));
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.expect("request task"));
    }
    answers
}

// ---------------------------------------------------------------- the whole flow

#[tokio::test]
async fn an_invited_user_signs_up_signs_in_and_sees_their_profile() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let before = package(&app, &account).await;
    let email = unique_email("Ivy.Flow");
    let lower = email.to_lowercase();

    let invited = app
        .post(
            INSERT,
            Some(&account.owner_token),
            json!({"username": email.to_uppercase(), "email": email, "firstname": "Ivy", "lastname": "Invited", "userType": 32}),
        )
        .await;
    let token = app.latest_signup_token(&lower).await;
    let user = assert_user_without_secrets(&invited, &token);
    assert_eq!(user["username"], lower.as_str());
    assert_eq!(user["email"], lower.as_str());
    assert_eq!(user["status"], 4);
    assert_eq!(user["userType"], 32);
    assert_eq!(user["accountId"], account.account_id.as_str());
    assert_eq!(user["owner"], false);
    assert_eq!(user["deleted"], false);
    assert_eq!(
        package(&app, &account).await["creativeUsers"],
        before["creativeUsers"].as_i64().unwrap() - 1
    );

    // The invitation: from the configured sender, with the link and the expiry.
    let mails = app.outbox_for(&lower).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["subject"], "You're invited to join Test Studio");
    let body = mails[0]["body"].as_str().unwrap();
    let link = format!("{}?token={token}", app.stack.services.config.signup_url);
    assert!(body.contains(&link), "{body}");
    assert!(body.contains(" UTC"), "the expiry date: {body}");
    assert_eq!(token.len(), 43);
    let moto: Value = app
        .http
        .get(format!(
            "{}/moto-api/data.json",
            app.stack.emulator_endpoint
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sources: Vec<&Value> = moto["ses"]["Message"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == lower.as_str())
        .map(|m| &m["source"])
        .collect();
    assert_eq!(
        sources,
        [&json!(app.stack.services.config.sender_email.as_str())]
    );

    let info = signup_info(&app, &token).await;
    assert_eq!(assert_user_without_secrets(&info, &token), user);

    let signed_up = signup(&app, &token, PASSWORD).await;
    let active = assert_user_without_secrets(&signed_up, &token);
    assert_eq!(active["id"], user["id"]);
    assert_eq!(active["status"], 1);
    assert_eq!(active["firstname"], "Ivy");
    assert_eq!(active["lastname"], "Signed");

    let access = app.login(&lower, PASSWORD).await;
    let profile = app.get(USERINFO, Some(&access)).await;
    profile.assert_ok();
    let profile = profile.json();
    assert_eq!(profile["userId"], user["id"]);
    assert_eq!(profile["username"], lower.as_str());
    assert_eq!(profile["firstname"], "Ivy");
    assert_eq!(profile["lastname"], "Signed");
    assert_eq!(profile["userType"], 32);
    assert_eq!(profile["accountId"], account.account_id.as_str());
    assert_eq!(identities_with_email(&app, &lower).await, 1);
}

#[tokio::test]
async fn a_desktop_admin_may_invite_too() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (_, admin_token) = app
        .add_active_user(&account, &unique_email("desktop.admin"), 16)
        .await;
    app.post(
        INSERT,
        Some(&admin_token),
        invitation(&unique_email("by.admin"), 64),
    )
    .await
    .assert_ok();
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn insert_user_by_a_user_who_is_not_an_admin_answers_access() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let before = package(&app, &account).await;
    for user_type in [8, 32, 64] {
        let (_, token) = app
            .add_active_user(&account, &unique_email("plain"), user_type)
            .await;
        let answer = app
            .post(INSERT, Some(&token), invitation(&unique_email("x"), 32))
            .await;
        answer.assert_problem(499, "ACCESS");
    }
    let after = package(&app, &account).await;
    assert_eq!(
        after["creativeUsers"],
        before["creativeUsers"].as_i64().unwrap() - 1
    );
}

#[tokio::test]
async fn insert_user_refuses_an_invalid_username_or_email_naming_the_field() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let good = unique_email("good");
    let too_long = format!("{}@example.com", "a".repeat(39));
    for bad in [
        "",
        "not-an-email",
        "a@b",
        "two@@example.com",
        "a b@example.com",
        &too_long,
    ] {
        for field in ["username", "email"] {
            let mut body = invitation(&good, 32);
            body[field] = json!(bad);
            let message = app
                .post(INSERT, Some(&account.owner_token), body)
                .await
                .assert_problem(499, "INVALID_EMAIL");
            assert!(message.starts_with(field), "{field} {bad:?}: {message}");
        }
    }
    // 50 characters is still fine.
    let fifty = format!(
        "{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string().repeat(2)[..38]
    );
    assert_eq!(fifty.len(), 50);
    invite(&app, &account, &fifty, 32).await.assert_ok();
}

#[tokio::test]
async fn insert_user_refuses_names_longer_than_50_characters() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    for field in ["firstname", "lastname"] {
        let mut body = invitation(&unique_email("long"), 32);
        body[field] = json!("x".repeat(51));
        let message = app
            .post(INSERT, Some(&account.owner_token), body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(field), "{message}");
    }
    let mut body = invitation(&unique_email("fifty"), 32);
    body["firstname"] = json!("é".repeat(50));
    body["lastname"] = json!("x".repeat(50));
    app.post(INSERT, Some(&account.owner_token), body)
        .await
        .assert_ok();
}

#[tokio::test]
async fn insert_user_accepts_exactly_one_account_level_user_type() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    for bad in [0, 1, 2, 3, 12, 96, 127, 128, -4, 4096] {
        let message = invite(&app, &account, &unique_email("type"), bad)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains("userType"), "{bad}: {message}");
    }
    for good in [4, 8, 16, 32, 64] {
        let answer = invite(&app, &account, &unique_email("type"), good).await;
        answer.assert_ok();
        assert_eq!(answer.json()["userType"], good);
    }
}

#[tokio::test]
async fn insert_user_with_malformed_json_wrong_types_or_missing_fields_answers_default() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let before = package(&app, &account).await;
    let email = unique_email("malformed");
    for raw in ["", "{", "[]", "null", "{\"username\": }", "not json"] {
        app.request_raw(
            reqwest::Method::POST,
            INSERT,
            Some(&account.owner_token),
            raw,
        )
        .await
        .assert_problem(499, "DEFAULT");
    }
    let wrong_types = [
        ("userType", json!("32")),
        ("userType", json!(32.5)),
        ("userType", json!(null)),
        ("username", json!(42)),
        ("email", json!(["a@example.com"])),
        ("firstname", json!({"first": "Ivy"})),
    ];
    for (field, value) in wrong_types {
        let mut body = invitation(&email, 32);
        body[field] = value;
        let message = app
            .post(INSERT, Some(&account.owner_token), body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains("invalid type"), "{field}: {message}");
    }
    for field in ["username", "email", "userType"] {
        let mut body = invitation(&email, 32);
        body.as_object_mut().unwrap().remove(field);
        let message = app
            .post(INSERT, Some(&account.owner_token), body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(field), "{message}");
    }
    assert_eq!(package(&app, &account).await, before);
    invite(&app, &account, &email, 32).await.assert_ok();
}

#[tokio::test]
async fn a_username_taken_in_any_case_or_in_any_account_answers_duplicate() {
    let app = TestApp::spawn().await;
    let first = app.create_account(TestApp::roomy_package()).await;
    let second = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("taken");
    invite(&app, &first, &email, 32).await.assert_ok();
    let before = (package(&app, &first).await, package(&app, &second).await);

    let shouting = email.to_uppercase();
    let mixed = format!("  {}{}  ", &email[..3].to_uppercase(), &email[3..]);
    for (account, username) in [
        (&first, &email),
        (&first, &shouting),
        (&first, &mixed),
        (&second, &email),
        (&second, &shouting),
    ] {
        let mut body = invitation(username, 64);
        body["email"] = json!(unique_email("other"));
        app.post(INSERT, Some(&account.owner_token), body)
            .await
            .assert_problem(499, "DUPLICATE");
    }
    // An active user's username is taken too.
    invite(&app, &second, &first.owner_email, 4)
        .await
        .assert_problem(499, "DUPLICATE");
    assert_eq!(
        (package(&app, &first).await, package(&app, &second).await),
        before
    );
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn signupinfo_never_consumes_the_token() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("preview");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;
    for _ in 0..3 {
        let answer = signup_info(&app, &token).await;
        assert_eq!(assert_user_without_secrets(&answer, &token)["status"], 4);
    }
    signup(&app, &token, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn a_token_works_only_once() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("once");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;
    signup(&app, &token, PASSWORD).await.assert_ok();

    signup(&app, &token, "An0ther-Passw0rd")
        .await
        .assert_problem(499, "TOKEN");
    signup_info(&app, &token).await.assert_problem(499, "TOKEN");
    // The first password still signs in: the second attempt changed nothing.
    app.login(&email, PASSWORD).await;
    assert_eq!(identities_with_email(&app, &email).await, 1);
}

#[tokio::test]
async fn unknown_or_malformed_tokens_answer_token() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("real");
    invite(&app, &account, &email, 32).await.assert_ok();
    let real = app.latest_signup_token(&email).await;
    let long = "a".repeat(5000);
    // The real token with its last character changed.
    let last = if real.ends_with('A') { 'B' } else { 'A' };
    let almost = format!("{}{last}", &real[..42]);
    for token in ["", "%20", "nope", &long, &almost] {
        signup_info(&app, token).await.assert_problem(499, "TOKEN");
    }
    app.get(SIGNUP_INFO, None)
        .await
        .assert_problem(499, "TOKEN");
    for token in ["nope", &almost] {
        signup(&app, token, PASSWORD)
            .await
            .assert_problem(499, "TOKEN");
    }
    signup_info(&app, &real).await.assert_ok();
}

#[tokio::test]
async fn an_expired_token_answers_token_until_a_resend_restarts_the_window() {
    let lifetime = Duration::from_secs(3);
    let app = TestApp::spawn_with(
        |options| options.limits.signup_token_ttl = lifetime,
        |services| services,
    )
    .await;
    // The owner's own invitation: signing up an owner first would race the short lifetime.
    let owner = unique_email("expiring.owner");
    let issued = Instant::now();
    app.post(
        "/local/accounts",
        None,
        json!({"name": "Short Lived", "ownerEmail": owner}),
    )
    .await
    .assert_ok();
    let token = app.latest_signup_token(&owner).await;
    signup_info(&app, &token).await.assert_ok();

    tokio::time::sleep(
        (issued + lifetime + Duration::from_millis(200)).saturating_duration_since(Instant::now()),
    )
    .await;
    signup_info(&app, &token).await.assert_problem(499, "TOKEN");
    signup(&app, &token, PASSWORD)
        .await
        .assert_problem(499, "TOKEN");

    resend(&app, &owner).await.assert_ok();
    let fresh = app.latest_signup_token(&owner).await;
    signup_info(&app, &fresh).await.assert_ok();
    signup(&app, &fresh, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn a_resent_invitation_kills_the_old_token_at_once() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("resent");
    invite(&app, &account, &email, 32).await.assert_ok();
    let old = app.latest_signup_token(&email).await;

    let answer = resend(&app, &email.to_uppercase()).await;
    answer.assert_ok();
    assert!(answer.text.is_empty(), "{}", answer.text);
    let mails = app.outbox_for(&email).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1]["subject"], mails[0]["subject"]);
    let new = app.latest_signup_token(&email).await;
    assert_ne!(new, old);

    signup_info(&app, &old).await.assert_problem(499, "TOKEN");
    signup(&app, &old, PASSWORD)
        .await
        .assert_problem(499, "TOKEN");
    assert_user_without_secrets(&signup_info(&app, &new).await, &new);
    assert_user_without_secrets(&signup(&app, &new, PASSWORD).await, &new);
    app.login(&email, PASSWORD).await;
}

// ---------------------------------------------------------------- resend

#[tokio::test]
async fn resend_without_a_pending_user_answers_400_not_found() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let invited = invite(&app, &account, &unique_email("soon.deleted"), 32).await;
    invited.assert_ok();
    let invited = invited.json();
    // Marked deleted as delete_user marks it (the username claim is left in place, so
    // the lookup reaches the user and must refuse it for being deleted).
    app.dynamodb_client()
        .update_item()
        .table_name(app.stack.services.db.table())
        .key(
            "pk",
            AttributeValue::S(format!("ACCOUNT#{}", account.account_id)),
        )
        .key(
            "sk",
            AttributeValue::S(format!("USER#{}", invited["id"].as_str().unwrap())),
        )
        .update_expression("SET deleted = :true")
        .expression_attribute_values(":true", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();

    let unknown = unique_email("unknown");
    let deleted = invited["username"].as_str().unwrap();
    for username in [
        unknown.as_str(),
        account.owner_email.as_str(),
        deleted,
        "not-an-email",
        "",
        "   ",
    ] {
        let answer = resend(&app, username).await;
        let message = answer.assert_problem(400, "NOT_FOUND");
        assert_eq!(
            message, "No pending user with this username.",
            "{username:?}"
        );
    }
    // A malformed body is an application error like everywhere else.
    app.request_raw(reqwest::Method::POST, RESEND, None, "{")
        .await
        .assert_problem(499, "DEFAULT");
    app.post(RESEND, None, json!({"username": 7}))
        .await
        .assert_problem(499, "DEFAULT");
    app.post(RESEND, None, json!({}))
        .await
        .assert_problem(499, "DEFAULT");
    assert_eq!(app.outbox_for(&account.owner_email).await.len(), 1);
}

#[tokio::test]
async fn resends_beyond_three_an_hour_answer_429_with_retry_after() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("limited");
    let neighbour = unique_email("neighbour");
    invite(&app, &account, &email, 32).await.assert_ok();
    invite(&app, &account, &neighbour, 32).await.assert_ok();

    for _ in 0..3 {
        resend(&app, &email).await.assert_ok();
    }
    let last = app.latest_signup_token(&email).await;
    let refused = resend(&app, &email).await;
    refused.assert_problem(429, "DEFAULT");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    // Refused means untouched: no email, and the last token still works.
    assert_eq!(app.outbox_for(&email).await.len(), 4);
    assert_eq!(app.latest_signup_token(&email).await, last);
    signup_info(&app, &last).await.assert_ok();
    // The limit is per username.
    resend(&app, &neighbour).await.assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resends_never_exceed_the_limit_and_leave_one_live_token() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("burst");
    invite(&app, &account, &email, 32).await.assert_ok();
    let first = app.latest_signup_token(&email).await;

    let answers = concurrently(10, |_| {
        let (app, email) = (app.clone(), email.clone());
        async move { resend(&app, &email).await }
    })
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );

    let mails = app.outbox_for(&email).await;
    assert_eq!(mails.len(), 4);
    let mut live = 0;
    let mut tokens = vec![first];
    for mail in &mails[1..] {
        let body = mail["body"].as_str().unwrap();
        let start = body.find("token=").unwrap() + "token=".len();
        tokens.push(body[start..start + 43].to_owned());
    }
    for token in &tokens {
        if signup_info(&app, token).await.status == 200 {
            live += 1;
        }
    }
    assert_eq!(live, 1, "exactly one of the sent tokens is live");
}

/// A resend whose token another resend swapped between its read and its write: its swap
/// is conditioned on the token it read, so it swaps the newer token instead, and only the
/// token of the last email is live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_that_loses_a_race_to_another_resend_leaves_only_the_last_token_live() {
    let race = Race::default();
    let app = Arc::new(
        TestApp::spawn_with_dynamodb(
            |_| {},
            |services, dynamodb| {
                racing_dynamodb(services, dynamodb, &["TransactWriteItems"], &race)
            },
        )
        .await,
    );
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("raced.resend");
    invite(&app, &account, &email, 32).await.assert_ok();

    let (other, raced) = (app.clone(), email.clone());
    race.arm(async move {
        resend(&other, &raced).await.assert_ok();
    });
    resend(&app, &email).await.assert_ok();
    assert!(!race.is_armed(), "the racing resend ran");

    // The invitation, the racing resend's email, then this one's.
    let mails = app.outbox_for(&email).await;
    assert_eq!(mails.len(), 3);
    let tokens: Vec<String> = mails
        .iter()
        .map(|mail| {
            let body = mail["body"].as_str().unwrap();
            let start = body.find("token=").unwrap() + "token=".len();
            body[start..start + 43].to_owned()
        })
        .collect();
    assert_eq!(tokens[2], app.latest_signup_token(&email).await);
    for old in &tokens[..2] {
        signup_info(&app, old).await.assert_problem(499, "TOKEN");
    }
    assert_user_without_secrets(&signup(&app, &tokens[2], PASSWORD).await, &tokens[2]);
    app.login(&email, PASSWORD).await;
}

// ---------------------------------------------------------------- concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_five_concurrent_invites_into_five_free_seats_give_exactly_five_users() {
    let app = Arc::new(TestApp::spawn().await);
    let account = Arc::new(app.create_account(small_package()).await);
    assert_eq!(package(&app, &account).await["creativeUsers"], 5);

    let answers = concurrently(25, |index| {
        let (app, account) = (app.clone(), account.clone());
        async move { invite(&app, &account, &unique_email(&format!("seat{index}")), 32).await }
    })
    .await;
    let created = answers.iter().filter(|a| a.status == 200).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 200).collect();
    assert_eq!(created, 5);
    assert_eq!(refused.len(), 20);
    for answer in refused {
        let message = answer.assert_problem(499, "COST");
        assert!(message.contains("creative"), "{message}");
    }
    let left = package(&app, &account).await;
    assert_eq!(left["creativeUsers"], 0);
    assert_eq!(left["standardUsers"], 5);
    assert_eq!(left["adminUsers"], 1);
    // All five are in the very next list call (the list index is written with each).
    let listed = app
        .get(&format!("{LIST}?userType=32"), Some(&account.owner_token))
        .await;
    listed.assert_ok();
    assert_eq!(listed.json()["total"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_signups_with_one_token_give_exactly_one_user() {
    let app = Arc::new(TestApp::spawn().await);
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("race");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;

    let answers = concurrently(10, |index| {
        let (app, token) = (app.clone(), token.clone());
        async move { signup(&app, &token, &format!("{PASSWORD}-{index}")).await }
    })
    .await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.assert_problem(499, "TOKEN");
    }
    assert_eq!(identities_with_email(&app, &email).await, 1);
    assert_eq!(winners[0].json()["status"], 1);
    signup_info(&app, &token).await.assert_problem(499, "TOKEN");
    // Whichever attempt won, its password is the one that signs in.
    let mut signed_in = 0;
    for index in 0..10 {
        if app
            .login_answer(&email, &format!("{PASSWORD}-{index}"))
            .await
            .status
            == 200
        {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, 1);
}

#[tokio::test]
async fn a_signup_never_touches_an_identity_that_is_already_active() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    // A second username whose email is the (active) owner's: its invitation reaches the
    // owner's mailbox, and the email is the pool's username.
    let username = unique_email("second.name");
    app.post(
        INSERT,
        Some(&account.owner_token),
        json!({"username": username, "email": account.owner_email, "firstname": "Olivia", "lastname": "Again", "userType": 64}),
    )
    .await
    .assert_ok();
    let token = app.latest_signup_token(&account.owner_email).await;

    for password in ["weak", "An0ther-Passw0rd"] {
        let message = signup(&app, &token, password)
            .await
            .assert_problem(499, "DUPLICATE");
        assert!(message.contains("email"), "{message}");
    }
    // The owner's identity is untouched: same single identity, same password.
    assert_eq!(identities_with_email(&app, &account.owner_email).await, 1);
    assert_eq!(
        app.login_answer(&account.owner_email, "An0ther-Passw0rd")
            .await
            .status,
        401
    );
    let access = app.login(&account.owner_email, PASSWORD).await;
    assert_eq!(
        app.get(USERINFO, Some(&access)).await.json()["userId"],
        account.owner_id.as_str()
    );
    assert_eq!(
        signup_info(&app, &token).await.json()["username"],
        username.as_str()
    );
}

// ---------------------------------------------------------------- signup validation

#[tokio::test]
async fn a_weak_password_answers_security_and_the_token_still_works() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("weak");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;

    for weak in ["short", "alllowercase1!", ""] {
        let answer = signup(&app, &token, weak).await;
        let message = answer.assert_problem(499, "SECURITY");
        assert!(!message.is_empty());
        assert_no_secrets(&answer.text, &token);
    }
    assert_eq!(identities_with_email(&app, &email).await, 0);
    assert_eq!(signup_info(&app, &token).await.json()["status"], 4);
    signup(&app, &token, PASSWORD).await.assert_ok();
    app.login(&email, PASSWORD).await;
}

#[tokio::test]
async fn signup_validates_the_names_and_the_body_and_keeps_the_token() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("names");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;
    let form =
        json!({"firstname": "Ivy", "lastname": "Signed", "password": PASSWORD, "token": token});

    for (field, value) in [
        ("firstname", json!("")),
        ("firstname", json!("   ")),
        ("lastname", json!("x".repeat(51))),
    ] {
        let mut body = form.clone();
        body[field] = value;
        let message = app
            .post(SIGNUP, None, body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(field), "{message}");
    }
    for field in ["firstname", "lastname", "password", "token"] {
        let mut body = form.clone();
        body.as_object_mut().unwrap().remove(field);
        let message = app
            .post(SIGNUP, None, body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(field), "{message}");
    }
    app.request_raw(reqwest::Method::POST, SIGNUP, None, "{\"token\":")
        .await
        .assert_problem(499, "DEFAULT");
    assert_eq!(identities_with_email(&app, &email).await, 0);
    app.post(SIGNUP, None, form).await.assert_ok();
}

// ---------------------------------------------------------------- failure injection

/// Switches for the failures a test injects, each off until turned on.
#[derive(Debug, Clone, Default)]
struct Faults {
    mail: FailSwitch,
    create_user: FailSwitch,
    set_password: FailSwitch,
    /// TransactWriteItems fails before it reaches DynamoDB.
    transaction: FailSwitch,
    /// The answers of this many upcoming TransactWriteItems calls are lost after
    /// DynamoDB applied them.
    lost_answers: LostTransactionAnswers,
}

impl Faults {
    async fn spawn(&self) -> TestApp {
        let faults = self.clone();
        TestApp::spawn_with_dynamodb(
            |_| {},
            move |services, dynamodb| {
                let services = failing_mailer(services, &faults.mail);
                let services =
                    failing_identity_provider(services, &["create_user"], &faults.create_user);
                let services = failing_identity_provider(
                    services,
                    &["set_permanent_password"],
                    &faults.set_password,
                );
                // One client for both DynamoDB faults.
                let dynamodb = faults.lost_answers.intercepting(dynamodb);
                failing_dynamodb(
                    services,
                    &dynamodb,
                    &["TransactWriteItems"],
                    &faults.transaction,
                )
            },
        )
        .await
    }
}

/// A DynamoDB interceptor that lets a TransactWriteItems call through and then fails
/// it as if its answer had been lost on the way back (a timeout after the commit). The
/// tests that arm it make one request at a time, so the answer lost is the transaction's.
#[derive(Debug, Clone, Default)]
struct LostTransactionAnswers {
    armed: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
}

/// Takes one from `counter`, if it is above zero.
fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl LostTransactionAnswers {
    fn lose_next(&self) {
        self.armed.store(1, Ordering::SeqCst);
    }

    /// Whether the armed answer was lost.
    fn fired(&self) -> bool {
        self.armed.load(Ordering::SeqCst) == 0 && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// `dynamodb` with this interceptor added.
    fn intercepting(&self, dynamodb: &aws_sdk_dynamodb::Config) -> aws_sdk_dynamodb::Config {
        dynamodb.to_builder().interceptor(self.clone()).build()
    }
}

impl Intercept for LostTransactionAnswers {
    fn name(&self) -> &'static str {
        "LostTransactionAnswers"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_transaction =
            shared::adapters::aws::operation_name(context.request()) == "TransactWriteItems";
        if is_transaction && take(&self.armed) {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if take(&self.in_flight) {
            return Err("injected: the answer of TransactWriteItems was lost".into());
        }
        Ok(())
    }
}

/// Every item of this test's own table but the account's `updateDate` (taking and
/// giving back a seat touches it) and the hourly invitation-email counters (they count
/// attempts, failed ones included: docs/api.md), in key order. A test-only Scan: each test has its own
/// table, and a Scan is the one way to see that nothing was left behind.
async fn table_items(app: &TestApp) -> Vec<Item> {
    let dynamodb = app.dynamodb_client();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(app.stack.services.db.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Scan");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    let text = |item: &Item, name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    };
    items.retain(|item| text(item, "kind") != shared::adapters::db::model::KIND_INVITATION_MAILS);
    // What holds no data: an audit counter back at zero (an undone record's count given
    // back), and the list index's shape (split markers, leaves without rows) that a
    // write leaves when it first reaches a branch. The rows themselves are compared.
    let zero =
        |item: &Item, name: &str| matches!(item.get(name), Some(AttributeValue::N(n)) if n == "0");
    items.retain(|item| {
        !(text(item, "kind") == shared::adapters::db::audit_records::KIND_DAY
            && zero(item, "total"))
            && !(text(item, "kind") == shared::adapters::db::model::KIND_LIST_LEAF
                && (shared::adapters::db::list_leaves::is_marker(item) || zero(item, "count")))
    });
    for item in &mut items {
        if text(item, "sk") == "ACCOUNT" {
            item.remove("updateDate");
        }
    }
    items.sort_by_key(|item| (text(item, "pk"), text(item, "sk")));
    items
}

#[tokio::test]
async fn an_invitation_whose_email_fails_leaves_nothing_behind_and_can_be_retried() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("unmailed");
    let package_before = package(&app, &account).await;
    let items_before = table_items(&app).await;

    faults.mail.on();
    let answer = invite(&app, &account, &email, 32).await;
    faults.mail.off();
    let message = answer.assert_problem(499, "INTERNAL_ERROR");
    assert!(message.contains("try again"), "{message}");
    assert_eq!(
        table_items(&app).await,
        items_before,
        "nothing is half-made"
    );
    assert_eq!(package(&app, &account).await, package_before);
    assert!(app.outbox_for(&email).await.is_empty());

    // The username is free and the seat is back: the same request simply succeeds.
    invite(&app, &account, &email, 32).await.assert_ok();
    assert_eq!(
        package(&app, &account).await["creativeUsers"],
        package_before["creativeUsers"].as_i64().unwrap() - 1
    );
    app.sign_up(&email, "Ivy", "Retried").await.assert_ok();
    app.login(&email, PASSWORD).await;
}

#[tokio::test]
async fn a_failing_invitation_transaction_leaves_nothing_behind_and_can_be_retried() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("untransacted");
    let items_before = table_items(&app).await;

    faults.transaction.on();
    let answer = invite(&app, &account, &email, 32).await;
    faults.transaction.off();
    assert_eq!(answer.status, 500, "{}", answer.text);
    assert!(answer.text.is_empty());
    assert_eq!(
        table_items(&app).await,
        items_before,
        "nothing is half-made"
    );
    assert!(app.outbox_for(&email).await.is_empty());

    invite(&app, &account, &email, 32).await.assert_ok();
    app.sign_up(&email, "Ivy", "Retried").await.assert_ok();
}

#[tokio::test]
async fn an_invitation_whose_transaction_answer_is_lost_still_goes_out() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("lost.answer");

    faults.lost_answers.lose_next();
    let answer = invite(&app, &account, &email, 32).await;
    assert!(faults.lost_answers.fired());
    let token = app.latest_signup_token(&email).await;
    assert_eq!(assert_user_without_secrets(&answer, &token)["status"], 4);
    assert_eq!(app.outbox_for(&email).await.len(), 1);
    signup(&app, &token, PASSWORD).await.assert_ok();
}

#[tokio::test]
async fn signup_survives_a_failing_identity_provider_and_the_retry_succeeds() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;

    for fault in [&faults.create_user, &faults.set_password] {
        let email = unique_email("flaky.cognito");
        invite(&app, &account, &email, 32).await.assert_ok();
        let token = app.latest_signup_token(&email).await;

        fault.on();
        let failed = signup(&app, &token, PASSWORD).await;
        fault.off();
        assert_eq!(failed.status, 500, "{}", failed.text);
        assert_eq!(signup_info(&app, &token).await.json()["status"], 4);

        let retried = signup(&app, &token, PASSWORD).await;
        assert_eq!(assert_user_without_secrets(&retried, &token)["status"], 1);
        assert_eq!(identities_with_email(&app, &email).await, 1);
        let access = app.login(&email, PASSWORD).await;
        app.get(USERINFO, Some(&access)).await.assert_ok();
    }
}

#[tokio::test]
async fn a_failing_signup_transaction_keeps_the_token_and_the_retry_adopts_the_identity() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("untransacted.signup");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;

    faults.transaction.on();
    let failed = signup(&app, &token, "Firs7-Attempt").await;
    faults.transaction.off();
    assert_eq!(failed.status, 500, "{}", failed.text);
    // The identity exists but nothing points an access token at it: no way in yet.
    assert_eq!(identities_with_email(&app, &email).await, 1);
    let early = app.login(&email, "Firs7-Attempt").await;
    assert_eq!(app.get(USERINFO, Some(&early)).await.status, 401);
    assert_eq!(signup_info(&app, &token).await.json()["status"], 4);

    let retried = signup(&app, &token, PASSWORD).await;
    assert_eq!(assert_user_without_secrets(&retried, &token)["status"], 1);
    assert_eq!(identities_with_email(&app, &email).await, 1);
    assert_eq!(app.login_answer(&email, "Firs7-Attempt").await.status, 401);
    let access = app.login(&email, PASSWORD).await;
    app.get(USERINFO, Some(&access)).await.assert_ok();
}

#[tokio::test]
async fn a_signup_whose_transaction_answer_is_lost_still_signs_up() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("lost.signup");
    invite(&app, &account, &email, 32).await.assert_ok();
    let token = app.latest_signup_token(&email).await;

    faults.lost_answers.lose_next();
    let answer = signup(&app, &token, PASSWORD).await;
    assert!(faults.lost_answers.fired());
    assert_eq!(assert_user_without_secrets(&answer, &token)["status"], 1);
    let access = app.login(&email, PASSWORD).await;
    app.get(USERINFO, Some(&access)).await.assert_ok();
}

#[tokio::test]
async fn a_resend_whose_email_fails_does_not_count_and_can_be_retried() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("resend.unmailed");
    invite(&app, &account, &email, 32).await.assert_ok();

    faults.mail.on();
    let failed = resend(&app, &email).await;
    faults.mail.off();
    let message = failed.assert_problem(499, "INTERNAL_ERROR");
    assert!(message.contains("try again"), "{message}");
    assert_eq!(app.outbox_for(&email).await.len(), 1);

    // The failed attempt used none of the three resends of the hour.
    for _ in 0..3 {
        resend(&app, &email).await.assert_ok();
    }
    resend(&app, &email).await.assert_problem(429, "DEFAULT");
    app.sign_up(&email, "Ivy", "Resent").await.assert_ok();
}

#[tokio::test]
async fn a_resend_whose_transaction_fails_changes_nothing_and_can_be_retried() {
    let faults = Faults::default();
    let app = faults.spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("resend.untransacted");
    invite(&app, &account, &email, 32).await.assert_ok();
    let old = app.latest_signup_token(&email).await;
    let items_before = table_items(&app).await;

    faults.transaction.on();
    let failed = resend(&app, &email).await;
    faults.transaction.off();
    assert_eq!(failed.status, 500, "{}", failed.text);
    assert_eq!(app.outbox_for(&email).await.len(), 1);
    signup_info(&app, &old).await.assert_ok();
    // Only the resend counter may differ, and it counts nothing.
    let items_after: Vec<Item> = table_items(&app)
        .await
        .into_iter()
        .filter(|item| item.get("kind") != Some(&AttributeValue::S("resendCounter".into())))
        .collect();
    assert_eq!(items_after, items_before);

    for _ in 0..3 {
        resend(&app, &email).await.assert_ok();
    }
    let new = app.latest_signup_token(&email).await;
    signup_info(&app, &old).await.assert_problem(499, "TOKEN");
    signup(&app, &new, PASSWORD).await.assert_ok();
}

// ---------------------------------------------------------------- change events

/// The JSON Schema of an event type (docs/events/).
fn event_schema(detail_type: &str) -> jsonschema::Validator {
    let path = local::moto::repo_root()
        .join("docs/events")
        .join(format!("{detail_type}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no schema for {detail_type}: {}: {e}", path.display()));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

#[tokio::test]
async fn the_changes_of_an_invited_user_are_published_as_events_of_their_schemas() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("evented");
    let invited = invite(&app, &account, &email, 8).await;
    invited.assert_ok();
    app.sign_up(&email, "Eve", "Evented").await.assert_ok();
    let user_id = invited.json()["id"].as_str().unwrap_or_default().to_owned();
    let owner = Some(account.owner_token.as_str());
    app.put(
        UPDATE_USER,
        owner,
        json!({"accountName": "Evented Studio", "firstName": "Olivia", "lastName": "Renamed"}),
    )
    .await
    .assert_ok();
    app.put(EDIT, owner, json!({"id": user_id, "userType": 4}))
        .await
        .assert_ok();
    app.delete(&format!("{DELETE}?id={user_id}"), owner)
        .await
        .assert_ok();

    let db = &app.stack.services.db;
    let mut items = local::change_events::stored_change_items(db).await.unwrap();
    let recorded_by_the_endpoints = !items.is_empty();
    if !recorded_by_the_endpoints {
        // The endpoints do not record their changes yet: one record, stored as they will
        // store it.
        let record = shared::features::audit::AuditRecord::new(
            shared::domain::AccountId::parse(&account.account_id, "accountId").unwrap(),
            shared::features::audit::Entry::new(
                shared::features::audit::Action::UserInvited,
                Some(shared::domain::UserId::parse(&account.owner_id, "ownerId").unwrap()),
                Some(shared::domain::UserId::new()),
            )
            .field("email", (), email.as_str())
            .field("firstname", (), "Eve")
            .field("lastname", (), "Evented")
            .field("userType", (), 8)
            .field("status", (), 4),
            &shared::features::audit::Origin::default(),
            chrono::Utc::now(),
        );
        app.put_items(
            shared::adapters::db::audit_records::items_of(&[record], db.audit_retention()).unwrap(),
        )
        .await;
        items = local::change_events::stored_change_items(db).await.unwrap();
    }

    // GET /local/events: the events of the stored records, oldest first, each valid.
    let answer = app.get("/local/events", None).await;
    answer.assert_ok();
    let events = answer.json().as_array().unwrap().clone();
    assert_eq!(events.len(), items.len(), "{events:#?}");
    let mut previous = String::new();
    for event in &events {
        let detail_type = event["detail-type"].as_str().unwrap();
        let errors: Vec<String> = event_schema(detail_type)
            .iter_errors(event)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{event:#}");
        assert_eq!(event["source"], shared::domain::change_event::SOURCE);
        assert_eq!(event["detail"]["accountId"], account.account_id.as_str());
        let time = event["detail"]["time"].as_str().unwrap().to_owned();
        assert!(time >= previous, "not oldest first: {events:#?}");
        previous = time;
    }
    if recorded_by_the_endpoints {
        let types: Vec<&str> = events
            .iter()
            .filter(|e| e["detail"]["changes"]["email"]["after"] == email.as_str())
            .map(|e| e["detail-type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["user.invited"], "{events:#?}");
        let invited_id = &events
            .iter()
            .find(|e| e["detail"]["changes"]["email"]["after"] == email.as_str())
            .unwrap()["detail"]["userId"];
        assert_eq!(invited_id, user_id.as_str());
        let of_user: Vec<&str> = events
            .iter()
            .filter(|e| e["detail"]["userId"] == user_id.as_str())
            .map(|e| e["detail-type"].as_str().unwrap())
            .collect();
        assert_eq!(
            of_user,
            [
                "user.invited",
                "user.activated",
                "user.type_changed",
                "user.deleted"
            ],
            "{events:#?}"
        );
        for detail_type in ["account.renamed", "user.updated"] {
            assert!(
                events.iter().any(|e| e["detail-type"] == detail_type),
                "no {detail_type}: {events:#?}"
            );
        }
    }

    // The publisher, on a stream event of the very items, puts them all on the
    // emulator's bus (an archive on the bus counts what arrived).
    let bridge = aws_sdk_eventbridge::Client::new(&app.stack.sdk);
    let bus_arn = bridge
        .describe_event_bus()
        .name(&app.stack.event_bus_name)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let archive = format!("{}-archive", app.stack.event_bus_name);
    bridge
        .create_archive()
        .archive_name(&archive)
        .event_source_arn(&bus_arn)
        .send()
        .await
        .unwrap();
    let stream: lambda_http::aws_lambda_events::event::dynamodb::Event = serde_json::from_value(
        local::change_events::stream_event(&items, &app.stack.region, db.table()),
    )
    .unwrap();
    let publisher = shared::adapters::eventbridge::EventBridge::from_client(
        bridge.clone(),
        &app.stack.event_bus_name,
    );
    let response = shared::features::events::publish(&publisher, &stream, None)
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let archived = bridge
        .describe_archive()
        .archive_name(&archive)
        .send()
        .await
        .unwrap()
        .event_count;
    assert_eq!(archived, i64::try_from(items.len()).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signup_that_loses_to_a_delete_leaves_no_identity_that_can_sign_in() {
    let hold = integration_tests::Hold::default();
    let app = Arc::new(
        TestApp::spawn_with(
            |_| {},
            |services| {
                integration_tests::holding_identity_provider(
                    services,
                    "set_permanent_password",
                    &hold,
                )
            },
        )
        .await,
    );
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("racer");
    let invited = invite(&app, &account, &email, 64).await;
    invited.assert_ok();
    let id = invited.json()["id"].as_str().unwrap().to_owned();

    // The signup has created the identity-provider user and stops before its password.
    hold.arm();
    let signing_up = tokio::spawn({
        let (app, email) = (app.clone(), email.clone());
        async move { app.sign_up(&email, "Rae", "Racer").await }
    });
    hold.arrived().await;
    app.delete(&format!("{DELETE}?id={id}"), Some(&account.owner_token))
        .await
        .assert_ok();
    hold.release();
    signing_up.await.unwrap().assert_problem(499, "TOKEN");

    let login = app.login_answer(&email, PASSWORD).await;
    assert_eq!(login.status.as_u16(), 401, "{}", login.text);
}

#[tokio::test]
async fn query_parameters_follow_one_rule_on_every_endpoint_signupinfo_included() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("rule");
    invite(&app, &account, &email, 64).await.assert_ok();
    let token = app.latest_signup_token(&email).await;

    // Any case, and a repeat of the same value counts once, in either order.
    for query in [
        format!("token={token}"),
        format!("TOKEN={token}"),
        format!("Token={token}"),
        format!("TOKEN={token}&token={token}"),
        format!("token={token}&TOKEN={token}"),
        format!("foo=1&foo=2&token={token}"),
    ] {
        let answer = app.get(&format!("{SIGNUP_INFO}?{query}"), None).await;
        answer.assert_ok();
        assert_eq!(answer.json()["email"], email.as_str(), "{query}");
    }
    // The same name with another value, in any case and order, is refused.
    for query in [
        format!("TOKEN=bogus&token={token}"),
        format!("token={token}&Token=bogus"),
    ] {
        app.get(&format!("{SIGNUP_INFO}?{query}"), None)
            .await
            .assert_problem(499, "DEFAULT");
    }
    // Unknown names are ignored however often they come; known ones follow the rule.
    let owner = Some(account.owner_token.as_str());
    app.get(&format!("{LIST}?foo=1&foo=2&FOO=3"), owner)
        .await
        .assert_ok();
    app.get(&format!("{LIST}?PAGE=1&page=1"), owner)
        .await
        .assert_ok();
    app.get(&format!("{LIST}?PAGE=1&page=2"), owner)
        .await
        .assert_problem(499, "DEFAULT");
    app.get(&format!("{AUDIT_LOG}?bar=1&bar=2"), owner)
        .await
        .assert_ok();
    app.delete(&format!("{DELETE}?ID=x&id=y"), owner)
        .await
        .assert_problem(499, "DEFAULT");
}

#[tokio::test]
async fn one_account_cannot_spend_another_accounts_invitation_budget_for_an_address() {
    // Two emails an hour to one address per account, so the test stays short.
    let app = TestApp::spawn_with(
        |options| options.limits.invitation_mail_limits.per_address_per_hour = 2,
        |services| services,
    )
    .await;
    let keeper = app.create_account(TestApp::roomy_package()).await;
    let rival = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("courted");
    invite(&app, &keeper, &email, 32).await.assert_ok();

    // The rival's invitations of the address are refused as duplicates, however many:
    // a refusal sends no email and spends no budget.
    for _ in 0..4 {
        invite(&app, &rival, &email, 32)
            .await
            .assert_problem(499, "DUPLICATE");
    }
    // The keeper's invitee still gets a new link: the keeper has spent one of its two.
    resend(&app, &email).await.assert_ok();
    resend(&app, &email).await.assert_problem(429, "DEFAULT");
    assert_eq!(app.outbox_for(&email).await.len(), 2);
}
