//! The data-model migrations (from the previous layout and from the sharded one to the
//! list index's leaves, with the same answers), the index under concurrent writes, and its
//! drift found and undone by the check, the repair and the scheduled check.

use std::collections::BTreeMap;

use integration_tests::paths::*;
use integration_tests::{account_id, ids_of, unique_email, TestAccount, TestApp};
use serde_json::{json, Value};
use shared::adapters::db::model::{self, UserItem};
use shared::adapters::db::{to_item, Item};
use shared::domain::{AccountId, UserId};

use crate::support::{edit, invite, listed, put_relations, put_user, Listing};

// ---------------------------------------------------------------- the previous layouts

/// What the lists answer an account's owner for a few queries, both lists: compared
/// before and after a migration.
async fn migration_answers(app: &TestApp, token: &str) -> Vec<Value> {
    let queries = [
        "",
        "deleted=true&sortfield=lastname&descending=false&pagesize=3&page=2",
        "username=a&userStatus=5",
    ];
    let mut answers = Vec::new();
    for path in [LIST, DETAILS] {
        for query in queries {
            answers.push(listed(app, token, path, query).await);
        }
    }
    answers
}

/// The keys the previous version gave relations (`MEMBER#`, `PPERM#`, `DPERM#` + user id).
fn legacy_sk(sk: &str) -> String {
    let rest = sk.strip_prefix("REL#").expect("a relation under its user");
    let (user, relation) = rest.split_once('#').unwrap();
    let (kind, target) = relation.split_once('#').unwrap();
    format!("{kind}#{user}#{target}")
}

/// Rewrites an account as the previous version left it: relations under their old keys,
/// no list index, the account not marked indexed.
async fn age_to_the_previous_layout(app: &TestApp, account: AccountId) {
    let db = &app.stack.services.db;
    let dynamodb = app.dynamodb_client();
    let items = db
        .query_partition(model::account_pk(account), None)
        .await
        .unwrap();
    let mut legacy = Vec::new();
    for item in items {
        let sk = match item.get("sk") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => sk.clone(),
            _ => panic!("an item without sk"),
        };
        if !(sk.starts_with("REL#") || sk.starts_with(model::ROWS_SK_PREFIX)) {
            continue;
        }
        dynamodb
            .delete_item()
            .table_name(db.table())
            .set_key(Some(shared::adapters::db::key(
                model::account_pk(account),
                &sk,
            )))
            .send()
            .await
            .unwrap();
        if sk.starts_with("REL#") {
            let mut old = item.clone();
            old.insert("sk".into(), shared::adapters::db::s(legacy_sk(&sk)));
            legacy.push(old);
        }
    }
    app.put_items(legacy).await;
    dynamodb
        .update_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(
            model::account_pk(account),
            model::ACCOUNT_SK,
        )))
        .update_expression("REMOVE listLeaves")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_migration_brings_an_account_of_the_previous_layout_to_the_index_with_the_same_answers()
{
    let listing = Listing::new().await;
    let aid = account_id(&listing.account);
    let alpha = listing.by_key("alpha").clone();
    let owner = listing.users.iter().find(|u| u.owner).unwrap().clone();
    let bravo = listing.by_key("bravo").clone();
    put_relations(&listing.app, aid, alpha.id, owner.id, bravo.id).await;
    let app = &listing.app;
    let token = listing.token();
    let indexed = migration_answers(app, token).await;

    age_to_the_previous_layout(app, aid).await;
    let db = &app.stack.services.db;
    let old_keys = |items: &[Item]| {
        items
            .iter()
            .filter(|item| {
                matches!(item.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk))
                    if sk.starts_with("MEMBER#") || sk.starts_with("PPERM#") || sk.starts_with("DPERM#"))
            })
            .count()
    };
    let collection = db
        .query_partition(model::account_pk(aid), None)
        .await
        .unwrap();
    assert_eq!(old_keys(&collection), 6, "the previous layout");
    // The previous layout still lists the same, from the user items.
    let unindexed = migration_answers(app, token).await;
    assert_eq!(unindexed, indexed);

    let first = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(first.relations_moved, 6);
    assert!(first.leaves_written >= 1);
    assert_eq!(first.accounts_marked, 1);
    // Again: nothing left to do.
    let second = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(
        (
            second.relations_moved,
            second.leaves_written,
            second.accounts_marked
        ),
        (0, 0, 0)
    );
    assert!(shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap()
        .is_empty());
    let collection = db
        .query_partition(model::account_pk(aid), None)
        .await
        .unwrap();
    assert_eq!(old_keys(&collection), 0);

    let migrated = migration_answers(app, token).await;
    assert_eq!(migrated, indexed);
}

#[tokio::test]
async fn every_write_of_a_user_keeps_the_list_index_equal_to_the_user_items() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let kept = invite(&app, &account, &unique_email("kept"), 64).await;
    let retyped = invite(&app, &account, &unique_email("retyped"), 64).await;
    let deleted = invite(&app, &account, &unique_email("deleted"), 8).await;
    let (_, active) = app
        .add_active_user(&account, &unique_email("active"), 8)
        .await;
    edit(&app, &account.owner_token, &retyped, 32)
        .await
        .assert_ok();
    app.delete(
        &format!("{DELETE}?id={deleted}"),
        Some(&account.owner_token),
    )
    .await
    .assert_ok();
    app.put(
        UPDATE_USER,
        Some(&active),
        json!({"firstName": "Renamed", "lastName": "Person", "accountName": "Test Studio"}),
    )
    .await
    .assert_ok();
    let db = &app.stack.services.db;
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let page = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    assert_eq!(page["total"], 5, "{page}");
    assert!(ids_of(&page).contains(&kept));
}

/// Rewrites an account as the layout before leaves left it: its list index in 128 shards
/// (`LIST#<00..7f>`, a user's by the first byte of their id, marked `listIndex`), and one
/// audit counter per day (`AUDITDAY#<day>`) instead of the slots and callers' counters.
async fn age_to_the_sharded_layout(app: &TestApp, account: AccountId) {
    let db = &app.stack.services.db;
    let dynamodb = app.dynamodb_client();
    let pk = model::account_pk(account);
    let items = db.query_partition(pk.clone(), None).await.unwrap();
    let mut shards: BTreeMap<u8, Vec<shared::domain::views::User>> = BTreeMap::new();
    let mut days: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for item in items {
        let sk = item["sk"].as_s().unwrap().clone();
        if sk.starts_with(model::USER_SK_PREFIX) {
            let user: UserItem = shared::adapters::db::from_item(item).unwrap();
            shards
                .entry(user.id.0.as_bytes()[0] % 128)
                .or_default()
                .push(shared::domain::views::User::from(&user));
            continue;
        }
        let counter = sk.starts_with("AUDITDAY#");
        if !(sk.starts_with(model::ROWS_SK_PREFIX) || counter) {
            continue;
        }
        if counter {
            let day = days.entry(sk[..19].to_owned()).or_default();
            for (name, value) in &item {
                if let aws_sdk_dynamodb::types::AttributeValue::N(count) = value {
                    if name == "total" || name.starts_with("n_") {
                        *day.entry(name.clone()).or_default() += count.parse::<i64>().unwrap();
                    }
                }
            }
        }
        dynamodb
            .delete_item()
            .table_name(db.table())
            .set_key(Some(shared::adapters::db::key(&pk, &sk)))
            .send()
            .await
            .unwrap();
    }
    let mut old = Vec::new();
    for (number, mut rows) in shards {
        rows.sort_by_key(|row| row.id);
        let mut shard = shared::adapters::db::key(&pk, format!("LIST#{number:02x}"));
        shard.insert("kind".into(), shared::adapters::db::s("listShard"));
        shard.insert("version".into(), shared::adapters::db::n(3));
        shard.insert("count".into(), shared::adapters::db::n(rows.len()));
        shard.insert(
            "rows".into(),
            aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                shared::adapters::db::list_rows::encode_rows(&rows),
            )),
        );
        old.push(shard);
    }
    for (sk, counts) in days {
        let mut counter = shared::adapters::db::key(&pk, sk);
        counter.insert("kind".into(), shared::adapters::db::s("auditDay"));
        for (name, count) in counts {
            counter.insert(name, shared::adapters::db::n(count));
        }
        old.push(counter);
    }
    app.put_items(old).await;
    dynamodb
        .update_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(&pk, model::ACCOUNT_SK)))
        .update_expression("REMOVE listLeaves SET listIndex = :true")
        .expression_attribute_values(":true", shared::adapters::db::b(true))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_migration_moves_an_account_of_the_sharded_layout_to_leaves_with_the_same_answers_and_log(
) {
    let listing = Listing::new().await;
    let aid = account_id(&listing.account);
    let app = &listing.app;
    let token = listing.token();
    let before = migration_answers(app, token).await;
    let log_before = app.get(AUDIT_LOG, Some(token)).await.json();

    age_to_the_sharded_layout(app, aid).await;
    let db = &app.stack.services.db;
    let count_prefix = |prefix: &'static str| async move {
        db.query_partition(model::account_pk(aid), Some(prefix))
            .await
            .unwrap()
            .len()
    };
    assert!(count_prefix(model::LIST_SK_PREFIX).await >= 1);
    assert_eq!(count_prefix(model::ROWS_SK_PREFIX).await, 0);
    // Before the migration the lists read the users, the log the old counters: the same.
    let unmigrated = migration_answers(app, token).await;
    assert_eq!(unmigrated, before);
    assert_eq!(app.get(AUDIT_LOG, Some(token)).await.json(), log_before);

    let first = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert!(first.leaves_written >= 1);
    assert_eq!(first.accounts_marked, 1);
    assert!(first.old_shards_removed >= 1);
    let second = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(
        (
            second.relations_moved,
            second.leaves_written,
            second.accounts_marked,
            second.old_shards_removed
        ),
        (0, 0, 0, 0),
        "a second run has nothing left to do"
    );
    assert!(shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(count_prefix(model::LIST_SK_PREFIX).await, 0);
    let migrated = migration_answers(app, token).await;
    assert_eq!(migrated, before);
    // New records count in slots beside the old day counter; the log sums both.
    app.put(
        UPDATE_USER,
        Some(token),
        json!({"accountName": "Migrated Studio", "firstName": "Mia", "lastName": "Grant"}),
    )
    .await
    .assert_ok();
    let log_after = app.get(AUDIT_LOG, Some(token)).await.json();
    assert_eq!(
        log_after["total"].as_u64().unwrap(),
        log_before["total"].as_u64().unwrap() + 2,
        "user.updated and account.renamed"
    );
}

// ---------------------------------------------------------------- the index's leaves

/// `count` fixture users of the account (user items with their rows, no Cognito user),
/// written 16 at a time through the product's own indexed write.
async fn put_users_concurrently(app: &TestApp, account: AccountId, count: usize) -> Vec<UserItem> {
    use futures_util::StreamExt;
    use shared::adapters::db::indexed::transact_indexed;
    use shared::adapters::db::list_leaves::RowChange;
    let users: Vec<UserItem> = (0..count)
        .map(|n| {
            put_user(
                account,
                &format!(
                    "leaf{n}.{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                &format!("First{n}"),
                &format!("Last{n}"),
                8,
                1,
                false,
                (n % 60) as u32,
                (n % 60) as u32,
            )
        })
        .collect();
    let db = &app.stack.services.db;
    futures_util::stream::iter(&users)
        .for_each_concurrent(16, |user| async move {
            let put =
                shared::adapters::db::tx::put(db.table(), to_item(user).unwrap(), None, vec![])
                    .unwrap();
            let row = RowChange::Put(shared::domain::views::User::from(user));
            transact_indexed(db, vec![put], user.account_id, &row, &[])
                .await
                .expect("a user written with its index row");
        })
        .await;
    users
}

async fn leaf_items(app: &TestApp, account: AccountId) -> Vec<Item> {
    app.stack
        .services
        .db
        .query_partition(model::account_pk(account), Some(model::ROWS_SK_PREFIX))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_index_that_splits_under_concurrent_writes_lists_every_user_and_no_leaf_passes_its_bound(
) {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    put_users_concurrently(&app, aid, 400).await;

    let leaves = leaf_items(&app, aid).await;
    let markers = leaves
        .iter()
        .filter(|item| shared::adapters::db::list_leaves::is_marker(item))
        .count();
    assert!(
        markers >= 1,
        "400 users split the root: {} items",
        leaves.len()
    );
    for leaf in &leaves {
        let size = shared::adapters::db::item_size(leaf);
        assert!(size <= 3 * 1024, "a leaf of {size} bytes");
    }
    let db = &app.stack.services.db;
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let listed = listed(&app, &account.owner_token, LIST, "pagesize=1000").await;
    assert_eq!(listed["total"], 401, "400 users and the owner");
}

/// An account of 200 users whose index drifted three ways.
struct DriftedIndex {
    account: TestAccount,
    /// A user written without its row, as a careless writer would.
    missing: UserItem,
    /// A row whose user item was deleted behind the index's back.
    stray: UserId,
    /// A leaf whose rows do not decode (one that holds neither of the others).
    corrupt_sk: String,
}

const CORRUPT_ROWS: [u8; 3] = [2, 0xde, 0xad];

async fn drifted_index(app: &TestApp) -> DriftedIndex {
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let users = put_users_concurrently(app, aid, 200).await;
    let db = &app.stack.services.db;

    let missing = put_user(aid, "unindexed", "Una", "Indexed", 8, 1, false, 1, 1);
    app.put_items(vec![to_item(&missing).unwrap()]).await;
    let stray = users[0].id;
    app.dynamodb_client()
        .delete_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(
            model::account_pk(aid),
            model::user_sk(stray),
        )))
        .send()
        .await
        .unwrap();
    let holds = |item: &Item, user: UserId| {
        let path = &item["sk"].as_s().unwrap()[model::ROWS_SK_PREFIX.len()..];
        shared::adapters::db::list_leaves::path_of(user, path.len()) == path
    };
    let victim = leaf_items(app, aid)
        .await
        .into_iter()
        .find(|item| {
            !shared::adapters::db::list_leaves::is_marker(item)
                && !holds(item, missing.id)
                && !holds(item, stray)
        })
        .unwrap();
    let corrupt_sk = victim["sk"].as_s().unwrap().clone();
    let mut corrupt = victim.clone();
    corrupt.insert(
        "rows".into(),
        aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            CORRUPT_ROWS.to_vec(),
        )),
    );
    app.put_items(vec![corrupt]).await;
    DriftedIndex {
        account,
        missing,
        stray,
        corrupt_sk,
    }
}

impl DriftedIndex {
    /// The lists again equal the users, and the corrupt leaf was rewritten.
    async fn assert_repaired(&self, app: &TestApp) {
        let aid = account_id(&self.account);
        assert_eq!(
            shared::adapters::db::migration::check_account(&app.stack.services.db, aid)
                .await
                .unwrap(),
            Vec::<String>::new()
        );
        let rewritten = leaf_items(app, aid)
            .await
            .into_iter()
            .find(|item| item["sk"].as_s().unwrap() == &self.corrupt_sk)
            .unwrap();
        assert_ne!(
            rewritten["rows"],
            aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                CORRUPT_ROWS.to_vec()
            ))
        );
        let listed = listed(app, &self.account.owner_token, LIST, "pagesize=1000").await;
        let ids: std::collections::BTreeSet<String> = ids_of(&listed).into_iter().collect();
        assert_eq!(
            listed["total"], 201,
            "199 fixture users, the unindexed one, the owner"
        );
        assert!(ids.contains(&self.missing.id.to_string()));
        assert!(!ids.contains(&self.stray.to_string()));
    }
}

#[tokio::test]
async fn drift_in_the_index_is_found_by_the_check_and_undone_by_the_repair() {
    let app = TestApp::spawn().await;
    let drifted = drifted_index(&app).await;
    let aid = account_id(&drifted.account);
    let db = &app.stack.services.db;

    let problems = shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap();
    let found = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        found(&format!("user {}: not in the index", drifted.missing.id)),
        "{problems:#?}"
    );
    assert!(
        found(&format!("index row {}: no such user", drifted.stray)),
        "{problems:#?}"
    );
    assert!(found("unreadable"), "{problems:#?}");
    assert_eq!(
        app.get(LIST, Some(&drifted.account.owner_token))
            .await
            .status,
        500,
        "a leaf that does not decode is an error, never a wrong list"
    );

    let written = shared::adapters::db::migration::repair_account(db, aid)
        .await
        .unwrap();
    assert!(written >= 2, "{written} leaf writes");
    assert_eq!(
        shared::adapters::db::migration::repair_account(db, aid)
            .await
            .unwrap(),
        0
    );
    drifted.assert_repaired(&app).await;
}

#[tokio::test]
async fn drift_in_the_index_is_found_and_repaired_by_the_scheduled_check_in_bounded_runs() {
    let app = TestApp::spawn().await;
    let drifted = drifted_index(&app).await;
    let db = &app.stack.services.db;
    let config = shared::edge::check_list_index::CheckConfig {
        table_name: db.table().to_owned(),
        steps_per_run: 25,
        metrics_namespace: "test".into(),
    };
    // Runs of 25 steps, as the schedule invokes them, until one walk over every account
    // ends: the account's index has at least 64 leaves, so that takes several runs, each
    // resuming where the last one saved its position.
    let mut total = shared::adapters::db::index_check::RunReport::default();
    let mut runs = 0;
    while total.cycles_finished == 0 {
        runs += 1;
        assert!(runs <= 40, "no cycle ended in {runs} runs: {total}");
        let report = shared::edge::check_list_index::handle(db, &config, None)
            .await
            .unwrap();
        assert!(report.steps <= 25, "{report}");
        total.steps += report.steps;
        total.leaves_checked += report.leaves_checked;
        total.rows_repaired += report.rows_repaired;
        total.unreadable_leaves += report.unreadable_leaves;
        total.repairs_raced += report.repairs_raced;
        total.cycles_finished += report.cycles_finished;
    }
    assert!(runs >= 3, "{runs} runs: {total}");
    assert_eq!(total.unreadable_leaves, 1, "{total}");
    assert_eq!(total.repairs_raced, 0, "{total}");
    // The missing row and the stray one, and the corrupt leaf's users rewritten.
    assert!(total.rows_repaired >= 3, "{total}");
    drifted.assert_repaired(&app).await;

    // The next walk finds nothing to repair.
    let mut again = shared::adapters::db::index_check::RunReport::default();
    while again.cycles_finished == 0 {
        let report = shared::edge::check_list_index::handle(db, &config, None)
            .await
            .unwrap();
        again.rows_repaired += report.rows_repaired;
        again.unreadable_leaves += report.unreadable_leaves;
        again.cycles_finished += report.cycles_finished;
        again.leaves_checked += report.leaves_checked;
    }
    assert_eq!(again.rows_repaired + again.unreadable_leaves, 0, "{again}");
    assert!(again.leaves_checked >= 64, "{again}");
}

#[tokio::test]
async fn the_scheduled_check_beside_live_writes_rewrites_nothing_and_the_index_stays_right() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let db = &app.stack.services.db;
    let config = shared::edge::check_list_index::CheckConfig {
        table_name: db.table().to_owned(),
        steps_per_run: 10,
        metrics_namespace: "test".into(),
    };
    let writes_done = std::sync::atomic::AtomicBool::new(false);
    // Users written through the indexed write path while runs of the check go on: a
    // write that lands between a step's reads makes its rewrite fail, never undo it.
    let writes = async {
        put_users_concurrently(&app, aid, 150).await;
        writes_done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let checks = async {
        let mut total = shared::adapters::db::index_check::RunReport::default();
        let mut cycles_after_writes = 0;
        while cycles_after_writes < 2 {
            let done = writes_done.load(std::sync::atomic::Ordering::SeqCst);
            let report = shared::edge::check_list_index::handle(db, &config, None)
                .await
                .unwrap();
            total.rows_repaired += report.rows_repaired;
            total.unreadable_leaves += report.unreadable_leaves;
            total.repairs_raced += report.repairs_raced;
            total.leaves_checked += report.leaves_checked;
            if done {
                cycles_after_writes += report.cycles_finished;
            }
        }
        total
    };
    let ((), total) = tokio::join!(writes, checks);
    assert_eq!(total.rows_repaired + total.unreadable_leaves, 0, "{total}");
    // At least one whole walk of the account's 64 or more leaves after the writes.
    assert!(total.leaves_checked >= 64, "{total}");
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}
