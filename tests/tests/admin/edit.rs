//! edit_user: a retype moves the seat with the billing line, refusals change nothing, and
//! concurrent retypes, or a retype that loses a race to another retype or a delete, leave
//! the seats exact.

use std::sync::Arc;

use integration_tests::paths::*;
use integration_tests::{
    account_id, ids_of, package, racing_dynamodb, small_package, unique_email, Race, TestApp,
};
use serde_json::{json, Value};
use shared::domain::{UserId, UserType};

use crate::support::{billing_line, delete, edit, invite, listed, stored_user};

#[tokio::test]
async fn edit_user_moves_the_seat_between_kinds_with_the_billing_line() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("retyped");
    let id = invite(&app, &account, &email, 64).await;
    let before = package(&app, &account).await;
    assert_eq!(
        (
            before["adminUsers"].as_i64(),
            before["creativeUsers"].as_i64(),
            before["standardUsers"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );

    // standard → creative: the seat moves.
    let answer = edit(&app, &account.owner_token, &id, 32).await;
    answer.assert_ok();
    let user = answer.json();
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["userType"], 32);
    assert_eq!(user["status"], 4);
    assert_eq!(user["username"], email.as_str());
    assert_ne!(user["updateDate"], user["createDate"]);
    let after = package(&app, &account).await;
    assert_eq!(
        (
            after["adminUsers"].as_i64(),
            after["creativeUsers"].as_i64(),
            after["standardUsers"].as_i64()
        ),
        (Some(2), Some(0), Some(2))
    );
    let line = billing_line(&app, &account, &id).await;
    assert_eq!(line.seat, shared::domain::Seat::Creative);
    assert_eq!(line.user_type, UserType::DESKTOP_CREATIVE_USER);
    assert_eq!(line.status, "active");
    assert_eq!(
        stored_user(&app, &account, &id).await.user_type,
        UserType(32)
    );

    // creative → admin (DesktopAdmin), then → AccountAdmin: same kind, no seat moves.
    edit(&app, &account.owner_token, &id, 16).await.assert_ok();
    let admin = package(&app, &account).await;
    assert_eq!(
        (
            admin["adminUsers"].as_i64(),
            admin["creativeUsers"].as_i64(),
            admin["standardUsers"].as_i64()
        ),
        (Some(1), Some(1), Some(2))
    );
    edit(&app, &account.owner_token, &id, 4).await.assert_ok();
    assert_eq!(package(&app, &account).await, admin);
    assert_eq!(
        billing_line(&app, &account, &id).await.user_type,
        UserType::ACCOUNT_ADMIN
    );

    // The type it already has: 200, nothing changes.
    let unchanged = edit(&app, &account.owner_token, &id, 4).await;
    unchanged.assert_ok();
    assert_eq!(unchanged.json()["userType"], 4);
    assert_eq!(package(&app, &account).await, admin);

    // The list shows the new type.
    let page = listed(&app, &account.owner_token, LIST, "userType=4").await;
    assert!(ids_of(&page).contains(&id));
}

#[tokio::test]
async fn edit_user_without_a_seat_of_the_new_kind_answers_cost_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let standard = invite(&app, &account, &unique_email("standard"), 64).await;
    invite(&app, &account, &unique_email("creative"), 32).await; // the only creative seat
    let before = package(&app, &account).await;
    let line_before = billing_line(&app, &account, &standard).await;
    let user_before = stored_user(&app, &account, &standard).await;

    let message = edit(&app, &account.owner_token, &standard, 32)
        .await
        .assert_problem(499, "COST");
    assert!(message.contains("creative"), "{message}");
    assert_eq!(package(&app, &account).await, before);
    assert_eq!(billing_line(&app, &account, &standard).await, line_before);
    assert_eq!(stored_user(&app, &account, &standard).await, user_before);
}

#[tokio::test]
async fn edit_user_refuses_the_owner_unknown_deleted_and_malformed_requests() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = &account.owner_token;

    let message = edit(&app, token, &account.owner_id, 8)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("owner"), "{message}");
    edit(&app, token, &account.owner_id, 4)
        .await
        .assert_problem(499, "ACCESS");
    let (_, admin_token) = app
        .add_active_user(&account, &unique_email("admin"), 16)
        .await;
    edit(&app, &admin_token, &account.owner_id, 16)
        .await
        .assert_problem(499, "ACCESS");

    let unknown = UserId::new().to_string();
    edit(&app, token, &unknown, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    let gone = invite(&app, &account, &unique_email("gone"), 8).await;
    delete(&app, token, &gone).await.assert_ok();
    edit(&app, token, &gone, 64)
        .await
        .assert_problem(499, "NOT_FOUND");

    let target = invite(&app, &account, &unique_email("target"), 8).await;
    let message = edit(&app, token, "not-a-uuid", 8)
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id must be a UUID"), "{message}");
    for bad_type in [0, 1, 2, 3, 12, 127, 128] {
        let message = edit(&app, token, &target, bad_type)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(
            message.contains("userType must be exactly one of"),
            "{message}"
        );
    }
    for body in [
        json!({"id": target}),
        json!({"userType": 8}),
        json!({"id": 42, "userType": 8}),
        json!({"id": target, "userType": "8"}),
    ] {
        app.put(EDIT, Some(token), body)
            .await
            .assert_problem(499, "DEFAULT");
    }
    app.request_raw(reqwest::Method::PUT, EDIT, Some(token), "{not json")
        .await
        .assert_problem(499, "DEFAULT");
    assert_eq!(
        stored_user(&app, &account, &target).await.user_type,
        UserType(8)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_retypes_of_one_user_never_answer_500_and_leave_the_seats_exact() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = app.create_account(TestApp::roomy_package()).await;
    let id = invite(&app, &account, &unique_email("busy"), 64).await;
    let types = [32u8, 64, 8, 16, 4];
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..30 {
        let (app, token, id) = (app.clone(), account.owner_token.clone(), id.clone());
        tasks.spawn(async move { edit(&app, &token, &id, types[n % types.len()]).await });
    }
    let mut retyped = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.expect("request task");
        match answer.status.as_u16() {
            200 => retyped += 1,
            429 => assert_eq!(
                answer
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            ),
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert!(retyped >= 1);

    // Every seat counter equals the live users of its kind (the owner is an admin).
    let page = listed(&app, &account.owner_token, LIST, "pagesize=1000").await;
    let users = page["data"].as_array().unwrap();
    let of_kind = |kinds: &[u64]| {
        users
            .iter()
            .filter(|u| kinds.contains(&u["userType"].as_u64().unwrap()))
            .count() as i64
    };
    let left = package(&app, &account).await;
    assert_eq!(left["adminUsers"].as_i64(), Some(20 - of_kind(&[4, 16])));
    assert_eq!(left["creativeUsers"].as_i64(), Some(20 - of_kind(&[32])));
    assert_eq!(left["standardUsers"].as_i64(), Some(20 - of_kind(&[8, 64])));
    assert!(shared::adapters::db::migration::check_account(
        &app.stack.services.db,
        account_id(&account)
    )
    .await
    .unwrap()
    .is_empty());
}

/// A retype whose user changed between its read and its write: the write is conditioned on
/// the user still being live and of the type read, so the retype starts over from the user
/// as they are by then and never moves a seat they no longer hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retype_that_loses_a_race_moves_only_the_seat_the_user_holds_by_then() {
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
    let account = app.create_account(small_package()).await;
    let id = invite(&app, &account, &unique_email("raced"), 64).await;
    let seats_left = |package: Value| {
        (
            package["adminUsers"].as_i64(),
            package["creativeUsers"].as_i64(),
            package["standardUsers"].as_i64(),
        )
    };
    assert_eq!(
        seats_left(package(&app, &account).await),
        (Some(2), Some(1), Some(1))
    );

    // Another admin makes the standard user a DesktopAdmin just before the retype to
    // creative writes: the retype moves the admin seat, and the standard one is freed once.
    let (other, token, raced) = (app.clone(), account.owner_token.clone(), id.clone());
    race.arm(async move {
        edit(&other, &token, &raced, 16).await.assert_ok();
    });
    let answer = edit(&app, &account.owner_token, &id, 32).await;
    assert!(!race.is_armed(), "the racing retype ran");
    answer.assert_ok();
    assert_eq!(answer.json()["userType"], 32);
    assert_eq!(
        seats_left(package(&app, &account).await),
        (Some(2), Some(0), Some(2))
    );
    assert_eq!(
        stored_user(&app, &account, &id).await.user_type,
        UserType(32)
    );
    let line = billing_line(&app, &account, &id).await;
    assert_eq!(line.seat, shared::domain::Seat::Creative);
    assert_eq!(line.user_type, UserType::DESKTOP_CREATIVE_USER);

    // The user is deleted just before a retype to admin writes: NOT_FOUND, and no seat
    // moves but the one the delete freed.
    let (other, token, raced) = (app.clone(), account.owner_token.clone(), id.clone());
    race.arm(async move {
        delete(&other, &token, &raced).await.assert_ok();
    });
    let answer = edit(&app, &account.owner_token, &id, 16).await;
    assert!(!race.is_armed(), "the racing delete ran");
    answer.assert_problem(499, "NOT_FOUND");
    assert_eq!(
        seats_left(package(&app, &account).await),
        (Some(2), Some(1), Some(2))
    );
    let user = stored_user(&app, &account, &id).await;
    assert!(user.deleted);
    assert_eq!(user.user_type, UserType(32));
    assert!(shared::adapters::db::migration::check_account(
        &app.stack.services.db,
        account_id(&account)
    )
    .await
    .unwrap()
    .is_empty());
}
