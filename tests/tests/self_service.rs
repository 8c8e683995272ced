//! The signed-in user's own operations end to end (HTTP → gateway → handlers → moto with
//! TOTP checking on): update_user, reset_password, generate_mfa_token, set_mfa.

use integration_tests::{
    failing_dynamodb, failing_mailer, fresh_totp, unique_email, FailSwitch, TestAccount, TestApp,
    PASSWORD,
};
use serde_json::{json, Value};

use integration_tests::paths::*;
const NEW_PASSWORD: &str = "N3w-Passw0rd!";

async fn userinfo(app: &TestApp, token: &str) -> Value {
    let answer = app.get(USERINFO, Some(token)).await;
    answer.assert_ok();
    answer.json()
}

/// given_name and family_name as Cognito holds them.
async fn cognito_names(app: &TestApp, email: &str) -> (String, String) {
    let user = app
        .stack
        .cognito
        .admin_get_user()
        .user_pool_id(&app.stack.services.config.user_pool_id)
        .username(email)
        .send()
        .await
        .expect("the user is in the pool");
    let attribute = |name: &str| {
        user.user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .unwrap_or_default()
            .to_owned()
    };
    (attribute("given_name"), attribute("family_name"))
}

/// The TOTP secret from Generate MFA Token (plain-text form).
async fn mfa_secret(app: &TestApp, token: &str) -> String {
    let answer = app.post(GENERATE_MFA_TOKEN, Some(token), json!({})).await;
    answer.assert_ok();
    answer.text.clone()
}

/// A six-digit code that is not the current one.
fn wrong_code(right: &str) -> String {
    format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn set_mfa(app: &TestApp, token: &str, body: Value) -> integration_tests::Answer {
    app.post(SET_MFA, Some(token), body).await
}

/// Generates a secret and switches MFA on with a right code.
async fn enable_mfa(app: &TestApp, token: &str) -> String {
    let secret = mfa_secret(app, token).await;
    let code = fresh_totp(&secret).await;
    set_mfa(app, token, json!({"enabled": true, "userCode": code}))
        .await
        .assert_ok();
    secret
}

/// Signs in: `None` when tokens came at once, `Some(session)` for an MFA challenge.
async fn sign_in_challenge(app: &TestApp, email: &str, password: &str) -> Option<String> {
    let answer = app.login_answer(email, password).await;
    answer.assert_ok();
    let body = answer.json();
    if body["accessToken"].is_string() {
        return None;
    }
    assert_eq!(body["challenge"], "SOFTWARE_TOKEN_MFA", "{body}");
    Some(body["session"].as_str().expect("a session").to_owned())
}

fn subjects(mails: &[Value]) -> Vec<String> {
    mails
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn new_account(app: &TestApp) -> TestAccount {
    app.create_account(TestApp::roomy_package()).await
}

#[tokio::test]
async fn update_user_changes_the_names_in_the_record_and_in_cognito_and_answers_userinfo() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;

    let answer = app
        .put(
            UPDATE_USER,
            Some(&account.owner_token),
            json!({"accountName": "  Renamed Studio ", "firstName": " Ada ", "lastName": "Lovelace  "}),
        )
        .await;
    answer.assert_ok();
    let updated = answer.json();
    assert_eq!(updated.as_object().unwrap().len(), 12, "{updated}");
    assert_eq!(updated["firstname"], "Ada");
    assert_eq!(updated["lastname"], "Lovelace");
    assert_eq!(updated["accountName"], "Renamed Studio");
    assert_eq!(updated["userId"], account.owner_id.as_str());
    assert_eq!(updated["owner"], true);
    assert_eq!(userinfo(&app, &account.owner_token).await, updated);
    assert_eq!(
        cognito_names(&app, &account.owner_email).await,
        ("Ada".into(), "Lovelace".into())
    );
}

/// The account's records of `action`, oldest first.
async fn trail(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/api/v1/user/audit_log?action={action}&pagesize=1000"),
            Some(token),
        )
        .await;
    answer.assert_ok();
    let mut records = answer.json()["data"].as_array().unwrap().clone();
    records.reverse();
    records
}

/// Replays `records` from `start` (field name → value): every "before" must be the value
/// the records before it left, and no record may leave a value as it was.
fn replay(start: Value, records: &[Value]) -> Value {
    let mut state = start;
    for record in records {
        for (field, change) in record["changes"].as_object().unwrap() {
            assert_eq!(change["before"], state[field], "{field} in {record}");
            assert_ne!(change["before"], change["after"], "{record}");
            state[field] = change["after"].clone();
        }
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_profile_updates_leave_a_trail_that_replays_to_the_final_names() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = new_account(&app).await;
    let token = account.owner_token.clone();
    let start = userinfo(&app, &token).await;
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..16 {
        // Half of them set the names the owner started with.
        let body = if n % 2 == 0 {
            json!({"accountName": start["accountName"], "firstName": start["firstname"], "lastName": start["lastname"]})
        } else {
            json!({"accountName": format!("Studio {n}"), "firstName": format!("First{n}"), "lastName": format!("Last{n}")})
        };
        let (app, token) = (app.clone(), token.clone());
        calls.spawn(async move {
            loop {
                let answer = app.put(UPDATE_USER, Some(&token), body.clone()).await;
                if answer.status.as_u16() != 429 {
                    return answer;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
    }
    while let Some(answer) = calls.join_next().await {
        answer.expect("request task").assert_ok();
    }
    let end = userinfo(&app, &token).await;

    let names = replay(
        json!({"firstname": start["firstname"], "lastname": start["lastname"]}),
        &trail(&app, &token, "user.updated").await,
    );
    assert_eq!(
        names,
        json!({"firstname": end["firstname"], "lastname": end["lastname"]})
    );
    let account_name = replay(
        json!({"name": start["accountName"]}),
        &trail(&app, &token, "account.renamed").await,
    );
    assert_eq!(account_name, json!({"name": end["accountName"]}));
}

#[tokio::test]
async fn a_non_admin_may_send_the_account_name_unchanged_but_not_change_it() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let email = unique_email("u");
    let (_, token) = app.add_active_user(&account, &email, 8).await;

    app.put(
        UPDATE_USER,
        Some(&token),
        json!({"accountName": "Test Studio", "firstName": "Uma", "lastName": "User"}),
    )
    .await
    .assert_ok();
    let before = userinfo(&app, &token).await;
    assert_eq!(before["firstname"], "Uma");

    let refused = app
        .put(
            UPDATE_USER,
            Some(&token),
            json!({"accountName": "Hijacked", "firstName": "Eve", "lastName": "Evil"}),
        )
        .await;
    let message = refused.assert_problem(499, "ACCESS");
    assert!(message.contains("accountName"), "{message}");
    assert_eq!(userinfo(&app, &token).await, before);
    assert_eq!(
        cognito_names(&app, &email).await,
        ("Uma".into(), "User".into())
    );

    // A DesktopAdmin is an administrator and may rename the account.
    let (_, admin_token) = app
        .add_active_user(&account, &unique_email("desktop-admin"), 16)
        .await;
    let renamed = app
        .put(
            UPDATE_USER,
            Some(&admin_token),
            json!({"accountName": "New Name", "firstName": "Dee", "lastName": "Admin"}),
        )
        .await;
    renamed.assert_ok();
    assert_eq!(
        userinfo(&app, &account.owner_token).await["accountName"],
        "New Name"
    );
}

#[tokio::test]
async fn update_user_refuses_out_of_bounds_fields_with_default_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = account.owner_token.as_str();
    let before = userinfo(&app, token).await;
    let long = "x".repeat(51);
    let too_long_account = "a".repeat(101);
    for (body, field) in [
        (
            json!({"accountName": "S", "firstName": "   ", "lastName": "L"}),
            "firstName",
        ),
        (
            json!({"accountName": "S", "firstName": "F", "lastName": long}),
            "lastName",
        ),
        (
            json!({"accountName": too_long_account, "firstName": "F", "lastName": "L"}),
            "accountName",
        ),
        (json!({"firstName": "F", "lastName": "L"}), "accountName"),
    ] {
        let message = app
            .put(UPDATE_USER, Some(token), body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(field), "{message}");
    }
    // Exactly 50 and 100 characters are accepted.
    app.put(
        UPDATE_USER,
        Some(token),
        json!({"accountName": "a".repeat(100), "firstName": "é".repeat(50), "lastName": "L"}),
    )
    .await
    .assert_ok();
    assert_ne!(userinfo(&app, token).await, before);
}

#[tokio::test]
async fn an_update_that_fails_after_cognito_is_completed_by_sending_it_again() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with_dynamodb(
        |_| {},
        |services, dynamodb| failing_dynamodb(services, dynamodb, &["TransactWriteItems"], &switch),
    )
    .await;
    let account = new_account(&app).await;
    let body = json!({"accountName": "Test Studio", "firstName": "Grace", "lastName": "Hopper"});

    switch.on();
    let failed = app
        .put(UPDATE_USER, Some(&account.owner_token), body.clone())
        .await;
    switch.off();
    assert_eq!(failed.status, 500);
    assert!(failed.text.is_empty());
    // Cognito went first; the record, which the API answers with, is unchanged.
    assert_eq!(
        userinfo(&app, &account.owner_token).await["firstname"],
        "Olivia"
    );

    app.put(UPDATE_USER, Some(&account.owner_token), body)
        .await
        .assert_ok();
    assert_eq!(
        userinfo(&app, &account.owner_token).await["firstname"],
        "Grace"
    );
    assert_eq!(
        cognito_names(&app, &account.owner_email).await,
        ("Grace".into(), "Hopper".into())
    );
}

#[tokio::test]
async fn reset_password_refuses_a_wrong_current_and_a_weak_new_password_then_changes_it() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = account.owner_token.as_str();

    let wrong = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": NEW_PASSWORD, "currentPassword": "Not-The-Passw0rd"}),
        )
        .await;
    wrong.assert_problem(499, "AUTH");

    let weak = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": "weak", "currentPassword": PASSWORD}),
        )
        .await;
    let reason = weak.assert_problem(499, "SECURITY");
    assert!(reason.contains("policy"), "{reason}");

    let missing = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert!(missing
        .assert_problem(499, "DEFAULT")
        .contains("currentPassword"));
    let empty_current = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": NEW_PASSWORD, "currentPassword": ""}),
        )
        .await;
    empty_current.assert_problem(499, "DEFAULT");
    let too_long = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": format!("Aa1{}", "x".repeat(254)), "currentPassword": PASSWORD}),
        )
        .await;
    assert!(too_long.assert_problem(499, "SECURITY").contains("256"));
    // Nothing so far changed the password.
    app.login(&account.owner_email, PASSWORD).await;

    let changed = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
        )
        .await;
    changed.assert_ok();
    assert!(changed.text.is_empty(), "{}", changed.text);

    assert_eq!(
        app.login_answer(&account.owner_email, PASSWORD)
            .await
            .status,
        401
    );
    app.login(&account.owner_email, NEW_PASSWORD).await;

    let mails = app.outbox_for(&account.owner_email).await;
    let notice = mails
        .iter()
        .find(|m| m["subject"] == "Your password was changed")
        .unwrap_or_else(|| panic!("no notification in {:?}", subjects(&mails)));
    let body = notice["body"].as_str().unwrap();
    assert!(body.contains(&account.owner_email), "{body}");
    assert!(!body.contains(NEW_PASSWORD) && !body.contains(PASSWORD));
}

#[tokio::test]
async fn a_password_change_succeeds_even_when_its_notification_cannot_be_sent() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(|_| {}, |services| failing_mailer(services, &switch)).await;
    let account = new_account(&app).await;

    switch.on();
    let changed = app
        .post(
            RESET_PASSWORD,
            Some(&account.owner_token),
            json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
        )
        .await;
    switch.off();
    changed.assert_ok();
    app.login(&account.owner_email, NEW_PASSWORD).await;
    assert!(!subjects(&app.outbox_for(&account.owner_email).await)
        .contains(&"Your password was changed".to_owned()));
}

#[tokio::test]
async fn a_revoked_access_token_answers_401_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = account.owner_token.as_str();
    enable_mfa(&app, token).await;

    app.stack
        .cognito
        .admin_user_global_sign_out()
        .user_pool_id(&app.stack.services.config.user_pool_id)
        .username(&account.owner_email)
        .send()
        .await
        .expect("signed out everywhere");

    for (method, path) in [
        (reqwest::Method::PUT, UPDATE_USER),
        (reqwest::Method::POST, RESET_PASSWORD),
        (reqwest::Method::POST, GENERATE_MFA_TOKEN),
        (reqwest::Method::POST, SET_MFA),
    ] {
        let anonymous = app.request(method, path, None, Some(json!({}))).await;
        assert_eq!(anonymous.status, 401, "{path}");
    }

    // The JWT check and the user record still admit the token; Cognito refuses it.
    let reset = app
        .post(
            RESET_PASSWORD,
            Some(token),
            json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, 401, "{}", reset.text);
    assert_eq!(
        app.post(GENERATE_MFA_TOKEN, Some(token), json!({}))
            .await
            .status,
        401
    );
    assert_eq!(
        set_mfa(&app, token, json!({"enabled": false})).await.status,
        401
    );
    assert_eq!(userinfo(&app, token).await["mfa"], true);
    assert!(sign_in_challenge(&app, &account.owner_email, PASSWORD)
        .await
        .is_some());
}

#[tokio::test]
async fn generate_mfa_token_answers_the_secret_as_text_or_as_json_with_an_otpauth_uri() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;

    let plain = app
        .post(GENERATE_MFA_TOKEN, Some(&account.owner_token), json!({}))
        .await;
    plain.assert_ok();
    assert_eq!(plain.text, "asdfasdfasdf");
    assert!(plain.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    let response = app
        .http
        .post(app.url(GENERATE_MFA_TOKEN))
        .bearer_auth(&account.owner_token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let label = account.owner_email.replace('@', "%40");
    assert_eq!(
        body,
        json!({
            "secret": "asdfasdfasdf",
            "otpauthUri": format!("otpauth://totp/Amove:{label}?secret=asdfasdfasdf&issuer=Amove"),
        })
    );
}

#[tokio::test]
async fn mfa_is_refused_with_a_wrong_code_enabled_with_a_right_one_then_disabled() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let (email, token) = (account.owner_email.as_str(), account.owner_token.as_str());

    let secret = mfa_secret(&app, token).await;
    let code = fresh_totp(&secret).await;
    set_mfa(
        &app,
        token,
        json!({"enabled": true, "userCode": wrong_code(&code)}),
    )
    .await
    .assert_problem(499, "TOTP");
    assert_eq!(userinfo(&app, token).await["mfa"], false);
    assert!(sign_in_challenge(&app, email, PASSWORD).await.is_none());

    let code = fresh_totp(&secret).await;
    let enabled = set_mfa(&app, token, json!({"enabled": true, "userCode": code})).await;
    enabled.assert_ok();
    assert!(enabled.text.is_empty());
    assert_eq!(userinfo(&app, token).await["mfa"], true);

    // Sign-in now asks for a code, and a right one gives tokens.
    let session = sign_in_challenge(&app, email, PASSWORD)
        .await
        .expect("an MFA challenge");
    let tokens = app
        .post(
            "/local/login",
            None,
            json!({"username": email, "session": session, "userCode": fresh_totp(&secret).await}),
        )
        .await;
    tokens.assert_ok();
    let new_token = tokens.json()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &new_token).await["mfa"], true);

    // Off: userCode is ignored, whatever it holds.
    set_mfa(&app, &new_token, json!({"enabled": false, "userCode": 42}))
        .await
        .assert_ok();
    assert_eq!(userinfo(&app, &new_token).await["mfa"], false);
    assert!(sign_in_challenge(&app, email, PASSWORD).await.is_none());

    let subjects = subjects(&app.outbox_for(email).await);
    assert!(
        subjects.contains(&"Two-step verification is on".to_owned()),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"Two-step verification is off".to_owned()),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn set_mfa_refuses_a_missing_code_with_default_and_a_malformed_one_with_totp() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = account.owner_token.as_str();
    mfa_secret(&app, token).await;

    let missing = set_mfa(&app, token, json!({"enabled": true})).await;
    assert!(missing.assert_problem(499, "DEFAULT").contains("userCode"));
    let no_flag = set_mfa(&app, token, json!({"userCode": "123456"})).await;
    assert!(no_flag.assert_problem(499, "DEFAULT").contains("enabled"));
    for malformed in ["12345", "1234567", "12a456", ""] {
        set_mfa(&app, token, json!({"enabled": true, "userCode": malformed}))
            .await
            .assert_problem(499, "TOTP");
    }
    assert_eq!(userinfo(&app, token).await["mfa"], false);
}

#[tokio::test]
async fn an_mfa_switch_interrupted_before_the_record_is_completed_by_calling_again() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with_dynamodb(
        |_| {},
        |services, dynamodb| failing_dynamodb(services, dynamodb, &["TransactWriteItems"], &switch),
    )
    .await;
    let account = new_account(&app).await;
    let (email, token) = (account.owner_email.as_str(), account.owner_token.as_str());
    let secret = mfa_secret(&app, token).await;

    // On: Cognito switched, the flag write failed; the answer says so.
    switch.on();
    let failed = set_mfa(
        &app,
        token,
        json!({"enabled": true, "userCode": fresh_totp(&secret).await}),
    )
    .await;
    switch.off();
    assert_eq!(failed.status, 500);
    assert_eq!(userinfo(&app, token).await["mfa"], false);
    assert!(sign_in_challenge(&app, email, PASSWORD).await.is_some());
    set_mfa(
        &app,
        token,
        json!({"enabled": true, "userCode": fresh_totp(&secret).await}),
    )
    .await
    .assert_ok();
    assert_eq!(userinfo(&app, token).await["mfa"], true);
    assert!(sign_in_challenge(&app, email, PASSWORD).await.is_some());

    // Off, the same way.
    switch.on();
    let failed = set_mfa(&app, token, json!({"enabled": false})).await;
    switch.off();
    assert_eq!(failed.status, 500);
    assert_eq!(userinfo(&app, token).await["mfa"], true);
    set_mfa(&app, token, json!({"enabled": false}))
        .await
        .assert_ok();
    assert_eq!(userinfo(&app, token).await["mfa"], false);
    assert!(sign_in_challenge(&app, email, PASSWORD).await.is_none());
}

#[tokio::test]
async fn each_self_service_call_makes_the_documented_sequential_aws_calls() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = account.owner_token.as_str();
    let calls = |app: &TestApp| {
        let calls = app.stack.calls.by_operation();
        app.stack.calls.reset();
        calls
    };

    app.stack.calls.reset();
    app.put(
        UPDATE_USER,
        Some(token),
        json!({"accountName": "Test Studio", "firstName": "A", "lastName": "B"}),
    )
    .await
    .assert_ok();
    // The container's first call reads the caller's identity (GetItem), later ones do
    // not; the caller and account are one BatchGetItem, and the write reads the levels
    // of its list index leaf's path (one BatchGetItem) before its transaction.
    let made = calls(&app);
    assert_eq!(made.values().sum::<u64>(), 5, "{made:?}");
    assert_eq!(made.get("GetItem"), Some(&1), "{made:?}");
    assert_eq!(made.get("BatchGetItem"), Some(&2), "{made:?}");
    assert_eq!(made.get("AdminUpdateUserAttributes"), Some(&1), "{made:?}");
    assert_eq!(made.get("TransactWriteItems"), Some(&1), "{made:?}");

    let secret = mfa_secret(&app, token).await;
    let made = calls(&app);
    assert_eq!(made.values().sum::<u64>(), 2, "{made:?}");
    assert_eq!(made.get("AssociateSoftwareToken"), Some(&1), "{made:?}");

    set_mfa(
        &app,
        token,
        json!({"enabled": true, "userCode": fresh_totp(&secret).await}),
    )
    .await
    .assert_ok();
    let made = calls(&app);
    assert_eq!(made.values().sum::<u64>(), 7, "{made:?}");
    assert_eq!(made.get("UpdateItem"), Some(&1), "the lease: {made:?}");
    assert_eq!(made.get("VerifySoftwareToken"), Some(&1), "{made:?}");
    assert_eq!(made.get("SetUserMFAPreference"), Some(&1), "{made:?}");
    assert_eq!(made.get("TransactWriteItems"), Some(&1), "{made:?}");

    app.post(
        RESET_PASSWORD,
        Some(token),
        json!({"password": NEW_PASSWORD, "currentPassword": PASSWORD}),
    )
    .await
    .assert_ok();
    // The password change's audit record follows it (Cognito is not in the transaction).
    let made = calls(&app);
    assert_eq!(made.values().sum::<u64>(), 4, "{made:?}");
    assert_eq!(made.get("ChangePassword"), Some(&1), "{made:?}");
    assert_eq!(made.get("TransactWriteItems"), Some(&1), "{made:?}");
}

#[tokio::test]
async fn names_with_line_breaks_bidi_overrides_or_zero_width_characters_are_refused_naming_the_field(
) {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let token = Some(account.owner_token.as_str());
    for (field, bad) in [
        ("accountName", "Acme\r\nBcc: victim@evil.test"),
        ("firstName", "Ada\u{202E}"),
        ("lastName", "Love\u{200B}lace"),
        ("firstName", "Nul\u{0}l"),
    ] {
        let mut body =
            json!({"accountName": "Test Studio", "firstName": "Ada", "lastName": "Lovelace"});
        body[field] = json!(bad);
        let message = app
            .put(UPDATE_USER, token, body)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains("must not contain"), "{field}: {message}");
    }
    let info = app.get(USERINFO, token).await;
    info.assert_ok();
    assert_eq!(info.json()["accountName"], "Test Studio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mfa_switches_leave_the_flag_equal_to_what_sign_in_asks_for() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = new_account(&app).await;
    let (email, token) = (account.owner_email.clone(), account.owner_token.clone());
    let secret = mfa_secret(&app, &token).await;
    for round in 0..3 {
        let code = fresh_totp(&secret).await;
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..12 {
            let (app, token, code) = (app.clone(), token.clone(), code.clone());
            calls.spawn(async move {
                let body = if n % 2 == 0 {
                    json!({"enabled": true, "userCode": code})
                } else {
                    json!({"enabled": false})
                };
                set_mfa(&app, &token, body).await
            });
        }
        while let Some(answer) = calls.join_next().await {
            let answer = answer.expect("request task");
            assert!(
                [200, 429].contains(&answer.status.as_u16()),
                "round {round}: {} {}",
                answer.status,
                answer.text
            );
        }
        let flag = userinfo(&app, &token).await["mfa"].as_bool().unwrap();
        let challenged = sign_in_challenge(&app, &email, PASSWORD).await.is_some();
        assert_eq!(flag, challenged, "round {round}");
    }
    // Replayed oldest first, the trail goes from off to the flag the user has, every
    // record a real switch from the value the one before it left.
    let flag = userinfo(&app, &token).await["mfa"].as_bool().unwrap();
    let mut replayed = false;
    for record in trail(&app, &token, "user.mfa_changed").await {
        let change = &record["changes"]["mfa"];
        assert_eq!(change["before"], replayed, "{record}");
        assert_eq!(change["after"], !replayed, "{record}");
        replayed = !replayed;
    }
    assert_eq!(replayed, flag);
}

#[tokio::test]
async fn asking_for_the_mfa_state_the_user_has_records_nothing_and_mails_nothing() {
    let app = TestApp::spawn().await;
    let account = new_account(&app).await;
    let (email, token) = (account.owner_email.as_str(), account.owner_token.as_str());

    set_mfa(&app, token, json!({"enabled": false}))
        .await
        .assert_ok();
    assert!(trail(&app, token, "user.mfa_changed").await.is_empty());
    let secret = enable_mfa(&app, token).await;
    let code = fresh_totp(&secret).await;
    set_mfa(&app, token, json!({"enabled": true, "userCode": code}))
        .await
        .assert_ok();
    assert_eq!(userinfo(&app, token).await["mfa"], true);

    let trail = trail(&app, token, "user.mfa_changed").await;
    assert_eq!(trail.len(), 1, "{trail:#?}");
    assert_eq!(
        trail[0]["changes"]["mfa"],
        json!({"before": false, "after": true})
    );
    let subjects = subjects(&app.outbox_for(email).await);
    let switched_on = subjects
        .iter()
        .filter(|s| *s == "Two-step verification is on")
        .count();
    assert_eq!(switched_on, 1, "{subjects:?}");
    assert!(
        !subjects.contains(&"Two-step verification is off".to_owned()),
        "{subjects:?}"
    );
}
