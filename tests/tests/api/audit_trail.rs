//! The audit trail's write side: every change writes exactly one record in its own
//! transaction, refusals write theirs, undone changes leave none, and no record holds a
//! secret. Records are read straight from the table, as the audit log endpoint reads them.

use std::collections::BTreeMap;

use integration_tests::paths::*;
use integration_tests::{
    failing_dynamodb, failing_mailer, fresh_totp, unique_email, FailSwitch, TestAccount, TestApp,
    PASSWORD,
};
use serde_json::{json, Value};
use shared::adapters::db::Item;
use shared::features::audit::{Action, AuditRecord};

/// Every item of the account whose sort key starts with `prefix`.
async fn items(app: &TestApp, account_id: &str, prefix: &str) -> Vec<Item> {
    app.stack
        .services
        .db
        .query_partition(format!("ACCOUNT#{account_id}"), Some(prefix))
        .await
        .expect("the account's items")
}

/// The account's audit records, oldest first.
async fn records(app: &TestApp, account_id: &str) -> Vec<AuditRecord> {
    items(app, account_id, "AUDIT#")
        .await
        .into_iter()
        .map(|item| shared::adapters::db::from_item(item).expect("an audit record"))
        .collect()
}

fn of_action(records: &[AuditRecord], action: Action) -> Vec<&AuditRecord> {
    records.iter().filter(|r| r.action == action).collect()
}

fn the_one(records: &[AuditRecord], action: Action) -> &AuditRecord {
    let found = of_action(records, action);
    assert_eq!(found.len(), 1, "{action:?} records: {found:#?}");
    found[0]
}

fn change(record: &AuditRecord, field: &str) -> (Value, Value) {
    let changed = record
        .changes
        .get(field)
        .unwrap_or_else(|| panic!("{field} not in {record:#?}"));
    (changed.before.clone(), changed.after.clone())
}

/// The day counters of the account agree with its records, in total and per action.
async fn assert_counters_match(app: &TestApp, account_id: &str) {
    let records = records(app, account_id).await;
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for record in &records {
        *expected.entry("total".into()).or_default() += 1;
        *expected
            .entry(format!("n_{}", record.action.as_str()))
            .or_default() += 1;
    }
    let mut counted: BTreeMap<String, i64> = BTreeMap::new();
    for day in items(app, account_id, "AUDITDAY#").await {
        for (name, value) in day {
            if name == "total" || name.starts_with("n_") {
                let number = value.as_n().expect("a number").parse::<i64>().unwrap();
                *counted.entry(name).or_default() += number;
            }
        }
    }
    counted.retain(|_, count| *count != 0);
    assert_eq!(counted, expected, "day counters against records");
}

async fn invite(app: &TestApp, account: &TestAccount, email: &str, user_type: u8) -> String {
    let answer = app
        .post(
            INSERT,
            Some(&account.owner_token),
            json!({"username": email, "email": email, "firstname": "Ivy", "lastname": "Invitee", "userType": user_type}),
        )
        .await;
    answer.assert_ok();
    answer.json()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_change_writes_exactly_one_record_with_its_actor_target_and_fields() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let owner = account.owner_id.as_str();

    // The bootstrap invited the owner (a tool: no actor); the owner signed up.
    let bootstrap = records(&app, &account.account_id).await;
    let invited_owner = the_one(&bootstrap, Action::UserInvited);
    assert_eq!(invited_owner.actor_id, None);
    assert_eq!(invited_owner.target_id.unwrap().to_string(), owner);
    let activated_owner = the_one(&bootstrap, Action::UserActivated);
    assert_eq!(activated_owner.actor_id.unwrap().to_string(), owner);

    // Invite, resend, signup.
    let email = unique_email("audited");
    let id = invite(&app, &account, &email, 8).await;
    app.post(RESEND, None, json!({"username": email}))
        .await
        .assert_ok();
    app.sign_up(&email, "Ivy", "Signed").await.assert_ok();
    let records_now = records(&app, &account.account_id).await;
    let invited: Vec<_> = of_action(&records_now, Action::UserInvited)
        .into_iter()
        .filter(|r| r.target_id.unwrap().to_string() == id)
        .collect();
    assert_eq!(invited.len(), 1);
    assert_eq!(invited[0].actor_id.unwrap().to_string(), owner);
    assert_eq!(change(invited[0], "email"), (Value::Null, json!(email)));
    assert_eq!(change(invited[0], "userType"), (Value::Null, json!(8)));
    assert_eq!(invited[0].source_ip.as_deref(), Some("127.0.0.1"));
    assert!(invited[0].request_id.is_some());
    let resent = the_one(&records_now, Action::InvitationResent);
    assert_eq!(resent.actor_id, None);
    assert_eq!(resent.target_id.unwrap().to_string(), id);
    let activated: Vec<_> = of_action(&records_now, Action::UserActivated)
        .into_iter()
        .filter(|r| r.target_id.unwrap().to_string() == id)
        .collect();
    assert_eq!(activated.len(), 1, "the invitee's signup");
    assert_eq!(activated[0].actor_id.unwrap().to_string(), id);
    assert_eq!(
        change(activated[0], "lastname"),
        (json!("Invitee"), json!("Signed"))
    );

    // The owner's profile and the account's name in one request: one record each.
    app.put(
        UPDATE_USER,
        Some(&account.owner_token),
        json!({"accountName": "Renamed Studio", "firstName": "Olive", "lastName": "Owner"}),
    )
    .await
    .assert_ok();
    // Password and MFA.
    app.post(
        RESET_PASSWORD,
        Some(&account.owner_token),
        json!({"currentPassword": PASSWORD, "password": "An0ther-Passw0rd!"}),
    )
    .await
    .assert_ok();
    let secret = app
        .post(GENERATE_MFA_TOKEN, Some(&account.owner_token), json!({}))
        .await
        .text
        .clone();
    let code = fresh_totp(&secret).await;
    app.post(
        SET_MFA,
        Some(&account.owner_token),
        json!({"enabled": true, "userCode": code}),
    )
    .await
    .assert_ok();
    // Retype and delete.
    app.put(
        EDIT,
        Some(&account.owner_token),
        json!({"id": id, "userType": 64}),
    )
    .await
    .assert_ok();
    app.delete(&format!("{DELETE}?id={id}"), Some(&account.owner_token))
        .await
        .assert_ok();

    let all = records(&app, &account.account_id).await;
    let updated = the_one(&all, Action::UserUpdated);
    assert_eq!(updated.target_id.unwrap().to_string(), owner);
    assert_eq!(
        change(updated, "firstname"),
        (json!("Olivia"), json!("Olive"))
    );
    assert!(!updated.changes.contains_key("lastname"), "unchanged");
    let renamed = the_one(&all, Action::AccountRenamed);
    assert_eq!(
        change(renamed, "name"),
        (json!("Test Studio"), json!("Renamed Studio"))
    );
    assert_eq!(renamed.target_id, None);
    let password = the_one(&all, Action::PasswordChanged);
    assert_eq!(password.actor_id.unwrap().to_string(), owner);
    assert!(password.changes.is_empty());
    let mfa = the_one(&all, Action::MfaChanged);
    assert_eq!(change(mfa, "mfa"), (json!(false), json!(true)));
    let retyped = the_one(&all, Action::TypeChanged);
    assert_eq!(retyped.actor_id.unwrap().to_string(), owner);
    assert_eq!(retyped.target_id.unwrap().to_string(), id);
    assert_eq!(change(retyped, "userType"), (json!(8), json!(64)));
    let deleted = the_one(&all, Action::UserDeleted);
    assert_eq!(deleted.target_id.unwrap().to_string(), id);
    assert_eq!(change(deleted, "deleted"), (json!(false), json!(true)));
    assert!(
        all.iter()
            .all(|r| r.account_id.to_string() == account.account_id),
        "records stay in their account"
    );
    // A retry of a change that is already done changes nothing and records nothing.
    app.put(
        EDIT,
        Some(&account.owner_token),
        json!({"id": id, "userType": 64}),
    )
    .await;
    assert_eq!(records(&app, &account.account_id).await.len(), all.len());
    assert_counters_match(&app, &account.account_id).await;
}

#[tokio::test]
async fn refusals_write_their_own_records() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (member, member_token) = app
        .add_active_user(&account, &unique_email("member"), 8)
        .await;

    app.post(
        RESET_PASSWORD,
        Some(&member_token),
        json!({"currentPassword": "not-my-password", "password": "An0ther-Passw0rd!"}),
    )
    .await
    .assert_problem(499, "AUTH");
    let secret = app
        .post(GENERATE_MFA_TOKEN, Some(&member_token), json!({}))
        .await
        .text
        .clone();
    let right = fresh_totp(&secret).await;
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    app.post(
        SET_MFA,
        Some(&member_token),
        json!({"enabled": true, "userCode": wrong}),
    )
    .await
    .assert_problem(499, "TOTP");
    app.get(LIST, Some(&member_token))
        .await
        .assert_problem(499, "ACCESS");

    let all = records(&app, &account.account_id).await;
    for action in [
        Action::PasswordRejected,
        Action::MfaCodeRejected,
        Action::AccessDenied,
    ] {
        let refused = the_one(&all, action);
        assert_eq!(refused.actor_id.unwrap().to_string(), member, "{action:?}");
    }
    assert!(of_action(&all, Action::PasswordChanged).is_empty());
    assert!(of_action(&all, Action::MfaChanged).is_empty());
    assert_counters_match(&app, &account.account_id).await;
}

#[tokio::test]
async fn an_invitation_whose_email_fails_leaves_no_record() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(|_| {}, |services| failing_mailer(services, &switch)).await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let before = records(&app, &account.account_id).await;

    switch.on();
    let email = unique_email("unmailed");
    app.post(
        INSERT,
        Some(&account.owner_token),
        json!({"username": email, "email": email, "firstname": "No", "lastname": "Mail", "userType": 8}),
    )
    .await
    .assert_problem(499, "INTERNAL_ERROR");
    assert_eq!(records(&app, &account.account_id).await, before);
    assert_counters_match(&app, &account.account_id).await;

    // The same request again, once mail works: one invitation, one record.
    switch.off();
    let id = invite(&app, &account, &email, 8).await;
    let after = records(&app, &account.account_id).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(
        the_one(&after[before.len()..], Action::UserInvited)
            .target_id
            .unwrap()
            .to_string(),
        id
    );
    assert_counters_match(&app, &account.account_id).await;
}

#[tokio::test]
async fn a_change_whose_transaction_fails_leaves_no_record() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with_dynamodb(
        |_| {},
        |services, dynamodb| failing_dynamodb(services, dynamodb, &["TransactWriteItems"], &switch),
    )
    .await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (member, _) = app
        .add_active_user(&account, &unique_email("member"), 8)
        .await;
    let before = records(&app, &account.account_id).await;

    switch.on();
    let answer = app
        .put(
            EDIT,
            Some(&account.owner_token),
            json!({"id": member, "userType": 64}),
        )
        .await;
    assert_eq!(answer.status, 500);
    switch.off();
    assert_eq!(records(&app, &account.account_id).await, before);

    app.put(
        EDIT,
        Some(&account.owner_token),
        json!({"id": member, "userType": 64}),
    )
    .await
    .assert_ok();
    let after = records(&app, &account.account_id).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_counters_match(&app, &account.account_id).await;
}

#[tokio::test]
async fn no_record_holds_a_password_token_or_totp_secret() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("secretive");
    invite(&app, &account, &email, 8).await;
    app.post(RESEND, None, json!({"username": email}))
        .await
        .assert_ok();
    let token = app.latest_signup_token(&email).await;
    app.sign_up(&email, "Sec", "Ret").await.assert_ok();
    let member_token = app.login(&email, PASSWORD).await;
    let new_password = "Secr3t-Passw0rd-Never-Logged";
    app.post(
        RESET_PASSWORD,
        Some(&member_token),
        json!({"currentPassword": PASSWORD, "password": new_password}),
    )
    .await
    .assert_ok();
    let member_token = app.login(&email, new_password).await;
    let secret = app
        .post(GENERATE_MFA_TOKEN, Some(&member_token), json!({}))
        .await
        .text
        .clone();
    let code = fresh_totp(&secret).await;
    app.post(
        SET_MFA,
        Some(&member_token),
        json!({"enabled": true, "userCode": code}),
    )
    .await
    .assert_ok();

    let mut secrets = vec![
        PASSWORD.to_owned(),
        new_password.to_owned(),
        token.clone(),
        shared::domain::token::hash(&token),
        secret.clone(),
        member_token.clone(),
    ];
    secrets.retain(|s| s.len() >= 6);
    let everything = items(&app, &account.account_id, "AUDIT").await;
    assert!(everything.len() >= 10, "records, copies and counters");
    for item in everything {
        let text = format!("{item:?}");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "an audit item holds a secret: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_callers_refusals_past_the_daily_bound_are_answered_but_not_recorded_and_never_touch_what_changes_touch(
) {
    use shared::adapters::db::audit_records::REFUSALS_RECORDED_PER_DAY;
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (member, member_token) = app
        .add_active_user(&account, &unique_email("flooder"), 8)
        .await;
    let db = &app.stack.services.db;
    let account_id = shared::domain::AccountId::parse(&account.account_id, "id").unwrap();
    let member_id = shared::domain::UserId::parse(&member, "id").unwrap();
    let refused =
        || shared::features::audit::Entry::new(Action::AccessDenied, Some(member_id), None);
    let counters_before = items(&app, &account.account_id, "AUDITDAY#").await;

    // Up to the bound, by the writes the endpoints make; then through the endpoint.
    for _ in 0..REFUSALS_RECORDED_PER_DAY - 1 {
        assert!(db
            .write_refusal_record(&shared::features::audit::AuditRecord::new(
                account_id,
                refused(),
                &shared::features::audit::Origin::default(),
                shared::domain::clock::now(),
            ))
            .await
            .unwrap());
    }
    for _ in 0..5 {
        app.get(LIST, Some(&member_token))
            .await
            .assert_problem(499, "ACCESS");
    }
    let denied = of_action(
        &records(&app, &account.account_id).await,
        Action::AccessDenied,
    )
    .into_iter()
    .filter(|record| record.actor_id == Some(member_id))
    .count();
    assert_eq!(denied, usize::try_from(REFUSALS_RECORDED_PER_DAY).unwrap());

    // The refusals wrote one counter of their own and nothing else that counts.
    let counters_after = items(&app, &account.account_id, "AUDITDAY#").await;
    let new_counters: Vec<String> = counters_after
        .iter()
        .filter(|item| !counters_before.contains(item))
        .map(|item| item["sk"].as_s().unwrap().clone())
        .collect();
    assert_eq!(new_counters.len(), 1, "{new_counters:?}");
    assert!(new_counters[0].ends_with(&format!("#a{member}")));

    // A change by the owner meanwhile counts in a slot the refusals never touch, and the
    // log's totals still equal its records.
    app.post(
        INSERT,
        Some(&account.owner_token),
        json!({"username": unique_email("calm"), "email": unique_email("calm"), "firstname": "Cal", "lastname": "Calm", "userType": 8}),
    )
    .await;
    let log = app
        .get(
            &format!("{AUDIT_LOG}?pagesize=1"),
            Some(&account.owner_token),
        )
        .await;
    log.assert_ok();
    assert_eq!(
        log.json()["total"],
        records(&app, &account.account_id).await.len()
    );
    assert_counters_match(&app, &account.account_id).await;
}
