//! insert_user as the administration uses it: inviting and deleting one address in a loop
//! is bounded per hour. (The invitation and signup flow is `tests/tests/invitations.rs`.)

use integration_tests::paths::*;
use integration_tests::{unique_email, TestApp};
use serde_json::json;

use crate::support::{delete, invite, listed};

#[tokio::test]
async fn inviting_and_deleting_one_address_in_a_loop_is_bounded_per_hour() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("looped");
    let body = json!({"username": email, "email": email, "firstname": "Lo", "lastname": "Op", "userType": 64});
    // The default bound: five invitation emails per address and hour.
    for _ in 0..5 {
        let answer = app
            .post(INSERT, Some(&account.owner_token), body.clone())
            .await;
        answer.assert_ok();
        let id = answer.json()["id"].as_str().unwrap().to_owned();
        delete(&app, &account.owner_token, &id).await.assert_ok();
    }
    let refused = app
        .post(INSERT, Some(&account.owner_token), body.clone())
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let wait: u64 = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    // Nothing was created by the refused invitation, and other addresses still work.
    let page = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    assert_eq!(page["total"], 6, "the owner and five deleted: {page}");
    invite(&app, &account, &unique_email("other"), 64).await;
    assert_eq!(app.outbox_for(&email).await.len(), 5);
}
