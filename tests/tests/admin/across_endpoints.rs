//! What holds on every administration endpoint: none reaches into another account, only
//! admins may use them, and a query parameter given twice with different values is refused.

use integration_tests::paths::*;
use integration_tests::{ids_of, package, unique_email, TestApp};
use serde_json::json;
use shared::domain::{UserId, UserType};

use crate::support::{delete, edit, invite, listed, sorted, stored_user};

#[tokio::test]
async fn no_endpoint_here_reaches_into_another_account() {
    let app = TestApp::spawn().await;
    let ours = app.create_account(TestApp::roomy_package()).await;
    let theirs = app.create_account(TestApp::roomy_package()).await;
    let our_user = invite(&app, &ours, &unique_email("ours"), 32).await;
    let their_user = invite(&app, &theirs, &unique_email("theirs"), 32).await;
    let their_before = stored_user(&app, &theirs, &their_user).await;

    for path in [LIST, DETAILS] {
        let page = listed(&app, &ours.owner_token, path, "deleted=true&pagesize=1000").await;
        assert_eq!(
            sorted(ids_of(&page)),
            sorted(vec![ours.owner_id.clone(), our_user.clone()]),
            "{path}"
        );
        assert_eq!(page["total"], 2);
        let page = listed(&app, &theirs.owner_token, path, "deleted=true").await;
        assert_eq!(
            sorted(ids_of(&page)),
            sorted(vec![theirs.owner_id.clone(), their_user.clone()]),
            "{path}"
        );
    }

    // Another account's id answers exactly as an unknown one.
    let unknown = UserId::new().to_string();
    let not_found = edit(&app, &ours.owner_token, &unknown, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    let foreign = edit(&app, &ours.owner_token, &their_user, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign, not_found);
    let foreign_owner = edit(&app, &ours.owner_token, &theirs.owner_id, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign_owner, not_found);
    let not_found = delete(&app, &ours.owner_token, &unknown)
        .await
        .assert_problem(499, "NOT_FOUND");
    let foreign = delete(&app, &ours.owner_token, &their_user)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign, not_found);
    delete(&app, &ours.owner_token, &theirs.owner_id)
        .await
        .assert_problem(499, "NOT_FOUND");

    assert_eq!(stored_user(&app, &theirs, &their_user).await, their_before);
    assert_eq!(package(&app, &theirs).await["creativeUsers"], 19);
    let their_list = listed(&app, &theirs.owner_token, LIST, "").await;
    assert!(ids_of(&their_list).contains(&their_user));
}

#[tokio::test]
async fn only_admins_may_use_any_of_the_four() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let target = invite(&app, &account, &unique_email("target"), 64).await;
    let (_, user_token) = app
        .add_active_user(&account, &unique_email("plain"), 8)
        .await;

    for path in [LIST, DETAILS] {
        let message = app
            .get(path, Some(&user_token))
            .await
            .assert_problem(499, "ACCESS");
        assert!(message.contains("administrators"), "{message}");
    }
    edit(&app, &user_token, &target, 32)
        .await
        .assert_problem(499, "ACCESS");
    delete(&app, &user_token, &target)
        .await
        .assert_problem(499, "ACCESS");
    let stored = stored_user(&app, &account, &target).await;
    assert_eq!((stored.user_type, stored.deleted), (UserType(64), false));

    // A DesktopAdmin is an admin.
    let (_, desktop_admin) = app
        .add_active_user(&account, &unique_email("desk"), 16)
        .await;
    listed(&app, &desktop_admin, LIST, "").await;
    listed(&app, &desktop_admin, DETAILS, "").await;
    edit(&app, &desktop_admin, &target, 32).await.assert_ok();
    delete(&app, &desktop_admin, &target).await.assert_ok();

    // Without a token the gateway answers 401 before any handler.
    assert_eq!(app.get(LIST, None).await.status, 401);
    assert_eq!(app.get(DETAILS, None).await.status, 401);
    assert_eq!(
        app.put(EDIT, None, json!({"id": target, "userType": 8}))
            .await
            .status,
        401
    );
    assert_eq!(
        app.delete(&format!("{DELETE}?id={target}"), None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_query_parameter_given_twice_with_different_values_answers_default_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = Some(account.owner_token.as_str());
    let someone = invite(&app, &account, &unique_email("kept"), 64).await;
    let other = uuid::Uuid::new_v4();
    for path in [
        format!("{LIST}?pagesize=1&pagesize=2"),
        format!("{DETAILS}?page=1&Page=2"),
        format!("{DELETE}?id={other}&id={someone}"),
    ] {
        let answer = if path.starts_with(DELETE) {
            app.delete(&path, token).await
        } else {
            app.get(&path, token).await
        };
        let message = answer.assert_problem(499, "DEFAULT");
        assert!(message.contains("more than once"), "{path}: {message}");
    }
    let answer = app
        .get(&format!("{SIGNUP_INFO}?token=bogus&token=other"), None)
        .await;
    assert!(answer
        .assert_problem(499, "DEFAULT")
        .contains("more than once"));
    // The user named second was not deleted.
    let page = listed(&app, &account.owner_token, LIST, "").await;
    assert!(ids_of(&page).contains(&someone));
    // The same value twice is one parameter.
    let page = listed(&app, &account.owner_token, LIST, "pagesize=1&PageSize=1").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}
