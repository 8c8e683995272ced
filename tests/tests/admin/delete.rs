//! delete_user: the seat freed, the user hidden and locked out at once, a pending user's
//! invitation killed, and a delete whose Cognito step failed finished by a retry or by the
//! next signup of the address.

use integration_tests::paths::*;
use integration_tests::{
    failing_identity_provider, ids_of, package, small_package, unique_email, FailSwitch, TestApp,
    PASSWORD,
};
use serde_json::{json, Value};
use shared::adapters::db::model;
use shared::domain::{Email, UserId};

use crate::support::{billing_line, delete, invite, listed, stored_user};

#[tokio::test]
async fn delete_user_frees_the_seat_hides_the_user_and_lists_them_with_deleted_true() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("leaver");
    let (id, _) = app.add_active_user(&account, &email, 32).await;
    assert_eq!(package(&app, &account).await["creativeUsers"], 0);

    let answer = delete(&app, &account.owner_token, &id).await;
    answer.assert_ok();
    assert!(answer.text.is_empty(), "an empty body: {}", answer.text);

    let after = package(&app, &account).await;
    assert_eq!(after["creativeUsers"], 1);
    assert!(!ids_of(&listed(&app, &account.owner_token, LIST, "").await).contains(&id));
    assert!(!ids_of(&listed(&app, &account.owner_token, DETAILS, "").await).contains(&id));
    let with_deleted = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    let row = with_deleted["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id.as_str())
        .expect("listed with deleted=true")
        .clone();
    assert_eq!(row["deleted"], true);
    assert_eq!(row["status"], 1, "the status is kept");
    let delete_date = row["deleteDate"].as_str().expect("a deleteDate").to_owned();

    let line = billing_line(&app, &account, &id).await;
    assert_eq!(line.status, "unsubscribed");
    assert_eq!(line.end_date.as_deref(), Some(delete_date.as_str()));
    let claim: Option<Value> = app
        .stack
        .services
        .db
        .get::<Value>(
            model::username_pk(&Email::parse(&email, "email").unwrap()),
            model::USERNAME_SK,
        )
        .await
        .unwrap();
    assert!(claim.is_none(), "the username is released");

    // Deleting again: 200, nothing changes (no second seat freed).
    let stored = stored_user(&app, &account, &id).await;
    delete(&app, &account.owner_token, &id).await.assert_ok();
    assert_eq!(stored_user(&app, &account, &id).await, stored);
    assert_eq!(package(&app, &account).await, after);
    assert_eq!(billing_line(&app, &account, &id).await, line);
}

#[tokio::test]
async fn delete_user_refuses_the_owner_and_the_caller_themselves() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (admin_id, admin_token) = app
        .add_active_user(&account, &unique_email("admin"), 4)
        .await;

    let message = delete(&app, &admin_token, &account.owner_id)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("owner"), "{message}");
    let message = delete(&app, &admin_token, &admin_id)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("yourself"), "{message}");
    delete(&app, &account.owner_token, &account.owner_id)
        .await
        .assert_problem(499, "ACCESS");
    app.get(USERINFO, Some(&admin_token)).await.assert_ok();
    app.get(USERINFO, Some(&account.owner_token))
        .await
        .assert_ok();

    delete(&app, &account.owner_token, &UserId::new().to_string())
        .await
        .assert_problem(499, "NOT_FOUND");
    let message = delete(&app, &account.owner_token, "12345")
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id must be a UUID"), "{message}");
    let message = app
        .delete(DELETE, Some(&account.owner_token))
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id is required"), "{message}");
}

#[tokio::test]
async fn a_deleted_user_is_locked_out_at_once_and_the_address_can_be_invited_again() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("locked.out");
    let (old_id, old_token) = app.add_active_user(&account, &email, 16).await;
    app.get(USERINFO, Some(&old_token)).await.assert_ok();
    app.get(LIST, Some(&old_token)).await.assert_ok();

    delete(&app, &account.owner_token, &old_id)
        .await
        .assert_ok();

    // The access token has not expired, yet nothing answers it any more.
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
    assert_eq!(app.get(LIST, Some(&old_token)).await.status, 401);
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 401);

    // The same address is a new person now.
    let new_id = invite(&app, &account, &email, 32).await;
    assert_ne!(new_id, old_id);
    app.sign_up(&email, "Newly", "Invited").await.assert_ok();
    let new_token = app.login(&email, PASSWORD).await;
    let info = app.get(USERINFO, Some(&new_token)).await;
    info.assert_ok();
    assert_eq!(info.json()["userId"], new_id.as_str());
    assert_eq!(info.json()["firstname"], "Newly");
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
}

#[tokio::test]
async fn deleting_a_pending_user_kills_their_invitation() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("pending");
    let id = invite(&app, &account, &email, 64).await;
    let token = app.latest_signup_token(&email).await;
    app.get(&format!("{SIGNUP_INFO}?token={token}"), None)
        .await
        .assert_ok();
    assert_eq!(package(&app, &account).await["standardUsers"], 1);

    delete(&app, &account.owner_token, &id).await.assert_ok();

    app.get(&format!("{SIGNUP_INFO}?token={token}"), None)
        .await
        .assert_problem(499, "TOKEN");
    app.post(
        SIGNUP,
        None,
        json!({"firstname": "Late", "lastname": "Comer", "password": PASSWORD, "token": token}),
    )
    .await
    .assert_problem(499, "TOKEN");
    assert_eq!(package(&app, &account).await["standardUsers"], 2);
    let token_item: Option<Value> = app
        .stack
        .services
        .db
        .get(
            model::token_pk(&shared::domain::token::hash(&token)),
            model::TOKEN_SK,
        )
        .await
        .unwrap();
    assert!(token_item.is_none(), "the token item is gone");
    assert_eq!(stored_user(&app, &account, &id).await.token_hash, None);
    // The resend path finds no pending user either.
    assert_eq!(
        app.post(
            "/api/v1/user/resend_user_email",
            None,
            json!({"username": email})
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn a_cognito_failure_during_delete_leaves_the_delete_done_and_a_retry_finishes_it() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(
        |_| {},
        |services| failing_identity_provider(services, &["delete_user"], &switch),
    )
    .await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("half.deleted");
    let (id, token) = app.add_active_user(&account, &email, 32).await;

    switch.on();
    let message = delete(&app, &account.owner_token, &id)
        .await
        .assert_problem(499, "COGNITO");
    assert!(message.contains("again"), "{message}");
    // The database side is complete: deleted, seat free, token refused.
    assert!(stored_user(&app, &account, &id).await.deleted);
    assert_eq!(package(&app, &account).await["creativeUsers"], 1);
    assert_eq!(app.get(USERINFO, Some(&token)).await.status, 401);
    // Only the Cognito user is left.
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 200);

    switch.off();
    delete(&app, &account.owner_token, &id).await.assert_ok();
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 401);
    assert_eq!(package(&app, &account).await["creativeUsers"], 1);
    // Retrying once more finds nothing left to do.
    delete(&app, &account.owner_token, &id).await.assert_ok();

    invite(&app, &account, &email, 32).await;
    app.sign_up(&email, "Second", "Life").await.assert_ok();
    app.login(&email, PASSWORD).await;
}

#[tokio::test]
async fn a_delete_whose_cognito_step_failed_is_finished_by_the_next_signup_of_the_address() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(
        |_| {},
        |services| failing_identity_provider(services, &["delete_user"], &switch),
    )
    .await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("left.behind");
    let (old_id, old_token) = app.add_active_user(&account, &email, 32).await;

    switch.on();
    delete(&app, &account.owner_token, &old_id)
        .await
        .assert_problem(499, "COGNITO");
    switch.off();
    // Nobody repeats the DELETE: the address is invited again and signs up.
    let new_id = invite(&app, &account, &email, 32).await;
    app.sign_up(&email, "Second", "Life").await.assert_ok();
    let new_token = app.login(&email, PASSWORD).await;
    let me = app.get(USERINFO, Some(&new_token)).await;
    me.assert_ok();
    assert_eq!(me.json()["userId"], new_id.as_str());
    // The old identity is gone: its token is refused, and signing in reaches the new one.
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
    assert_ne!(new_id, old_id);
}
