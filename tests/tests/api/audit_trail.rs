//! The audit trail. Its write side: every change writes exactly one record in its own
//! transaction, refusals write theirs, undone changes leave none, and no record holds a
//! secret (records read straight from the table, as the audit log endpoint reads them).
//! Its read side, the audit log endpoint: order, fields, paging, filters, time bounds,
//! retention, and who may read it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use integration_tests::paths::*;
use integration_tests::{
    account_id, failing_dynamodb, failing_mailer, field_names, fresh_totp, ids_of, package,
    small_package, unique_email, user_id, Answer, FailSwitch, TestAccount, TestApp, PASSWORD,
};
use serde_json::{json, Value};
use shared::adapters::db::Item;
use shared::domain::{AccountId, UserId};
use shared::features::audit::{Action, AuditRecord, Entry, Origin};

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

// ---------------------------------------------------------------- the audit log endpoint

/// The account's audit log for `query`, as `token` asks for it.
async fn audit_log(app: &TestApp, token: &str, query: &str) -> Answer {
    app.get(&format!("{AUDIT_LOG}?{query}"), Some(token)).await
}

/// A page of the audit log, asserted 200.
async fn logged(app: &TestApp, token: &str, query: &str) -> Value {
    let answer = audit_log(app, token, query).await;
    answer.assert_ok();
    answer.json()
}

fn iso(at: DateTime<Utc>) -> String {
    shared::domain::clock::iso(at)
}

/// The record of `action` by `actor` about `target` at `at`, with one changed field.
fn log_record(
    account: AccountId,
    action: Action,
    actor: Option<UserId>,
    target: Option<UserId>,
    at: DateTime<Utc>,
) -> AuditRecord {
    AuditRecord::new(
        account,
        Entry::new(action, actor, target).field("firstname", "Ann", "Anna"),
        &Origin::default(),
        at,
    )
}

/// Puts `records` into the table as their transactions would leave them (records, user
/// copies and day counters), whatever the write endpoints record themselves.
async fn seed_log(app: &TestApp, records: &[AuditRecord]) {
    let retention = app.stack.services.db.audit_retention();
    app.put_items(shared::adapters::db::audit_records::items_of(records, retention).unwrap())
        .await;
}

fn record_ids<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Vec<String> {
    records.into_iter().map(|r| r.id.clone()).collect()
}

/// An account with seven records over three days, twenty days ago: all of them before
/// any record the test's own requests make, so `window` lists exactly these.
struct AuditLog {
    app: TestApp,
    account: TestAccount,
    /// Oldest first.
    records: Vec<AuditRecord>,
    alice: UserId,
    bob: UserId,
    /// `to=` the end of the third day.
    window: String,
}

impl AuditLog {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let account = app.create_account(TestApp::roomy_package()).await;
        let aid = account_id(&account);
        let owner = Some(user_id(&account.owner_id));
        let (alice, bob) = (UserId::new(), UserId::new());
        let day = (shared::domain::clock::now() - Duration::days(20))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let hours = |h: i64| day + Duration::hours(h);
        let mut records = vec![
            log_record(aid, Action::UserInvited, owner, Some(alice), hours(1)),
            log_record(aid, Action::UserUpdated, owner, Some(alice), hours(5)),
            log_record(aid, Action::TypeChanged, owner, Some(bob), hours(24 + 2)),
            log_record(aid, Action::UserUpdated, owner, Some(bob), hours(24 + 3)),
            log_record(
                aid,
                Action::AccountRenamed,
                owner,
                None,
                hours(48) - Duration::milliseconds(1),
            ),
            log_record(
                aid,
                Action::UserUpdated,
                Some(alice),
                Some(alice),
                hours(48),
            ),
        ];
        records.push(AuditRecord::new(
            aid,
            Entry::new(Action::UserDeleted, owner, Some(bob)).field("deleted", false, true),
            &Origin {
                source_ip: Some("203.0.113.10".into()),
                user_agent: Some("audit-test/1.0".into()),
                request_id: Some("request-7".into()),
            },
            hours(48 + 12),
        ));
        seed_log(&app, &records).await;
        Self {
            app,
            account,
            records,
            alice,
            bob,
            window: format!("to={}", iso(hours(72))),
        }
    }

    async fn page(&self, query: &str) -> Value {
        logged(
            &self.app,
            &self.account.owner_token,
            &format!("{}&{query}", self.window),
        )
        .await
    }

    /// The ids of the records `keep` selects, newest first.
    fn newest_first(&self, keep: impl Fn(usize, &AuditRecord) -> bool) -> Vec<String> {
        record_ids(
            self.records
                .iter()
                .enumerate()
                .filter(|(i, r)| keep(*i, r))
                .map(|(_, r)| r)
                .rev(),
        )
    }
}

#[tokio::test]
async fn the_audit_log_lists_the_accounts_records_newest_first_with_every_field() {
    let log = AuditLog::new().await;
    let page = log.page("pagesize=100").await;
    assert_eq!(page["total"], 7, "{page}");
    assert_eq!(ids_of(&page), log.newest_first(|_, _| true));

    let newest = &page["data"][0];
    assert_eq!(
        field_names(newest),
        [
            "accountId",
            "action",
            "actorId",
            "changes",
            "id",
            "requestId",
            "sourceIp",
            "targetId",
            "time",
            "userAgent"
        ]
    );
    let deleted = &log.records[6];
    assert_eq!(newest["accountId"], log.account.account_id.as_str());
    assert_eq!(newest["action"], "user.deleted");
    assert_eq!(newest["time"], deleted.time.as_str());
    assert_eq!(newest["actorId"], log.account.owner_id.as_str());
    assert_eq!(newest["targetId"], log.bob.to_string());
    assert_eq!(
        newest["changes"],
        json!({"deleted": {"before": false, "after": true}})
    );
    assert_eq!(newest["sourceIp"], "203.0.113.10");
    assert_eq!(newest["userAgent"], "audit-test/1.0");
    assert_eq!(newest["requestId"], "request-7");
    // A record about no user (an account rename) and one without an origin.
    let renamed = &page["data"][2];
    assert_eq!(renamed["action"], "account.renamed");
    assert_eq!(renamed["targetId"], Value::Null);
    assert_eq!(renamed["sourceIp"], Value::Null);
    assert_eq!(renamed["userAgent"], Value::Null);
    assert_eq!(renamed["requestId"], Value::Null);
}

#[tokio::test]
async fn the_audit_log_pages_agree_with_each_other_and_with_the_total() {
    let log = AuditLog::new().await;
    let all = log.newest_first(|_, _| true);
    for size in [1usize, 2, 3, 7] {
        let mut seen = Vec::new();
        for page_number in 1..=(all.len() / size + 1) {
            let page = log
                .page(&format!("page={page_number}&pagesize={size}"))
                .await;
            assert_eq!(page["total"], 7, "pagesize {size}, page {page_number}");
            let ids = ids_of(&page);
            assert!(ids.len() <= size);
            seen.extend(ids);
        }
        assert_eq!(seen, all, "pagesize {size}");
    }
    // Past the end: no data, the same total.
    let beyond = log.page("page=9&pagesize=3").await;
    assert_eq!(ids_of(&beyond), Vec::<String>::new());
    assert_eq!(beyond["total"], 7);
    // Without a page size, one default page holds them all.
    assert_eq!(ids_of(&log.page("page=1").await), all);
}

#[tokio::test]
async fn the_audit_log_filters_by_the_target_user_and_by_action() {
    let log = AuditLog::new().await;
    let alice = log.page(&format!("userId={}", log.alice)).await;
    assert_eq!(alice["total"], 3);
    assert_eq!(
        ids_of(&alice),
        log.newest_first(|_, r| r.target_id == Some(log.alice))
    );
    // Bob acted in none of them, but is the target of three.
    let bob = log.page(&format!("userId={}", log.bob)).await;
    assert_eq!(
        ids_of(&bob),
        log.newest_first(|_, r| r.target_id == Some(log.bob))
    );
    let nobody = log.page(&format!("userId={}", UserId::new())).await;
    assert_eq!(nobody["total"], 0);
    assert_eq!(ids_of(&nobody), Vec::<String>::new());

    let updated = log.page("action=user.updated").await;
    assert_eq!(updated["total"], 3);
    let all_updates = log.newest_first(|_, r| r.action == Action::UserUpdated);
    assert_eq!(ids_of(&updated), all_updates);
    let second = log.page("action=user.updated&pagesize=2&page=2").await;
    assert_eq!(second["total"], 3);
    assert_eq!(ids_of(&second), all_updates[2..]);
    let none = log.page("action=user.mfa_changed").await;
    assert_eq!(none["total"], 0);

    let both = log
        .page(&format!("userId={}&action=user.updated", log.alice))
        .await;
    assert_eq!(both["total"], 2);
    assert_eq!(
        ids_of(&both),
        log.newest_first(|_, r| r.target_id == Some(log.alice) && r.action == Action::UserUpdated)
    );
    let paged = log
        .page(&format!(
            "userId={}&action=user.updated&pagesize=1&page=2",
            log.alice
        ))
        .await;
    assert_eq!(paged["total"], 2);
    assert_eq!(ids_of(&paged), [log.records[1].id.clone()]);
}

#[tokio::test]
async fn the_audit_log_from_and_to_are_inclusive_times() {
    let log = AuditLog::new().await;
    let token = &log.account.owner_token;
    let time = |i: usize| log.records[i].time.clone();
    // Both ends on a record, in the middle of a day: both are listed.
    let middle = logged(&log.app, token, &format!("from={}&to={}", time(1), time(5))).await;
    assert_eq!(middle["total"], 5);
    assert_eq!(
        ids_of(&middle),
        log.newest_first(|i, _| (1..=5).contains(&i))
    );
    // One instant.
    let one = logged(&log.app, token, &format!("from={}&to={}", time(4), time(4))).await;
    assert_eq!(ids_of(&one), [log.records[4].id.clone()]);
    assert_eq!(one["total"], 1);
    // A millisecond later, and any offset: the same instants.
    let after = DateTime::parse_from_rfc3339(&time(4)).unwrap() + Duration::milliseconds(1);
    let later = logged(
        &log.app,
        token,
        &format!(
            "from={}&to={}",
            urlencode(&after.to_rfc3339()),
            urlencode(
                &DateTime::parse_from_rfc3339(&time(5))
                    .unwrap()
                    .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
                    .to_rfc3339()
            )
        ),
    )
    .await;
    assert_eq!(ids_of(&later), [log.records[5].id.clone()]);
    // With a filter and paging inside the range.
    let filtered = logged(
        &log.app,
        token,
        &format!(
            "from={}&to={}&action=user.updated&pagesize=1&page=2",
            time(1),
            time(5)
        ),
    )
    .await;
    assert_eq!(filtered["total"], 3);
    assert_eq!(ids_of(&filtered), [log.records[3].id.clone()]);
    let alice = logged(
        &log.app,
        token,
        &format!("from={}&to={}&userId={}", time(2), time(5), log.alice),
    )
    .await;
    assert_eq!(ids_of(&alice), [log.records[5].id.clone()]);
    // Only `from`: everything since, the seeded records included.
    let since = logged(&log.app, token, &format!("from={}", time(6))).await;
    assert!(ids_of(&since).contains(&log.records[6].id), "{since}");
    assert!(!ids_of(&since).contains(&log.records[5].id), "{since}");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn the_audit_log_never_lists_records_older_than_the_retention() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let target = UserId::new();
    let now = shared::domain::clock::now();
    let retention = app.stack.services.db.audit_retention();
    assert_eq!(retention, Duration::days(400));
    let expired = log_record(
        aid,
        Action::UserUpdated,
        None,
        Some(target),
        now - retention - Duration::days(1),
    );
    let kept = log_record(
        aid,
        Action::UserUpdated,
        None,
        Some(target),
        now - retention + Duration::days(1),
    );
    seed_log(&app, &[expired.clone(), kept.clone()]).await;
    let token = &account.owner_token;
    let before_today = format!("to={}", iso(now - Duration::days(1)));
    for query in [
        before_today.clone(),
        format!("{before_today}&from={}", iso(now - Duration::days(1000))),
        format!("{before_today}&userId={target}"),
        format!("{before_today}&action=user.updated"),
    ] {
        let page = logged(&app, token, &query).await;
        assert_eq!(ids_of(&page), vec![kept.id.clone()], "{query}");
        assert_eq!(page["total"], 1, "{query}");
    }
    let only_old = logged(
        &app,
        token,
        &format!(
            "from={}&to={}",
            iso(now - Duration::days(1000)),
            iso(now - retention)
        ),
    )
    .await;
    assert_eq!(only_old["total"], 0, "{only_old}");
}

#[tokio::test]
async fn audit_log_of_a_non_admin_answers_access_and_the_refusal_is_recorded() {
    let log = AuditLog::new().await;
    let app = &log.app;
    let (user, token) = app
        .add_active_user(&log.account, &unique_email("reader"), 8)
        .await;
    let message = audit_log(app, &token, "")
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("administrators"), "{message}");
    // Refused before its parameters are looked at.
    audit_log(app, &token, "pagesize=0&action=nope")
        .await
        .assert_problem(499, "ACCESS");
    let refusals = logged(
        app,
        &log.account.owner_token,
        "action=admin.access_denied&pagesize=100",
    )
    .await;
    let by_reader: Vec<&Value> = refusals["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actorId"] == user.as_str())
        .collect();
    assert_eq!(by_reader.len(), 2, "{refusals}");
    assert!(by_reader.iter().all(|r| r["targetId"].is_null()));
}

#[tokio::test]
async fn audit_log_of_an_account_whose_package_has_no_logs_answers_access() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    assert_eq!(package(&app, &account).await["logs"], false);
    let aid = account_id(&account);
    let owner = Some(user_id(&account.owner_id));
    let at = shared::domain::clock::now() - Duration::days(2);
    seed_log(
        &app,
        &[log_record(aid, Action::UserUpdated, owner, owner, at)],
    )
    .await;
    let message = audit_log(&app, &account.owner_token, "")
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("logs"), "{message}");
    audit_log(&app, &account.owner_token, "pagesize=0")
        .await
        .assert_problem(499, "ACCESS");
}

#[tokio::test]
async fn another_accounts_admin_sees_none_of_the_accounts_audit_records() {
    let log = AuditLog::new().await;
    let app = &log.app;
    let other = app.create_account(TestApp::roomy_package()).await;
    let theirs = log_record(
        account_id(&other),
        Action::UserUpdated,
        None,
        Some(log.alice),
        DateTime::parse_from_rfc3339(&log.records[1].time)
            .unwrap()
            .with_timezone(&Utc),
    );
    seed_log(app, std::slice::from_ref(&theirs)).await;
    for query in [
        log.window.clone(),
        format!("{}&userId={}", log.window, log.alice),
        format!("{}&action=user.updated", log.window),
    ] {
        let page = logged(app, &other.owner_token, &query).await;
        assert_eq!(ids_of(&page), vec![theirs.id.clone()], "{query}");
        assert_eq!(page["total"], 1, "{query}");
    }
    // And the first account's admin does not see the other's record.
    let own = log.page(&format!("userId={}", log.alice)).await;
    assert_eq!(own["total"], 3);
    assert!(!ids_of(&own).contains(&theirs.id));
}

#[tokio::test]
async fn bad_audit_log_parameters_answer_default_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    for (query, name) in [
        ("pagesize=0", "pagesize"),
        ("pagesize=1001", "pagesize"),
        ("page=0", "page"),
        ("action=nope", "action"),
        ("from=yesterday", "from"),
        ("to=2026-12-01", "to"),
        ("userId=x", "userId"),
        ("userId=", "userId"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
    ] {
        let message = audit_log(&app, &account.owner_token, query)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(name), "{query}: {message}");
    }
    // Unknown parameters are left alone, as the lists do.
    audit_log(&app, &account.owner_token, "sortfield=time")
        .await
        .assert_ok();
}

#[tokio::test]
async fn audit_log_bounds_far_in_the_future_or_past_answer_what_exists() {
    let log = AuditLog::new().await;
    let token = &log.account.owner_token;
    for query in [
        "from=2200-01-01T00:00:00Z".to_owned(),
        "from=9999-12-31T23:59:59Z".to_owned(),
        format!("from=2200-01-01T00:00:00Z&userId={}", log.alice),
        "from=2200-01-01T00:00:00Z&action=user.updated".to_owned(),
        "to=1969-12-31T23:59:59Z".to_owned(),
        "from=0001-01-01T00:00:00Z&to=1970-01-01T00:00:00Z".to_owned(),
    ] {
        let page = logged(&log.app, token, &query).await;
        assert_eq!(page["total"], 0, "{query}: {page}");
    }
    let alice = log.newest_first(|_, r| r.target_id == Some(log.alice));
    for to in [
        "2300-01-01T00:00:00Z",
        "3000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let from = iso(shared::domain::clock::now() - Duration::days(30));
        for filter in [format!("userId={}", log.alice), String::new()] {
            let query = format!("from={from}&to={to}&{filter}");
            let page = logged(&log.app, token, &query).await;
            let ids = ids_of(&page);
            assert!(alice.iter().all(|id| ids.contains(id)), "{query}: {page}");
        }
    }
}
