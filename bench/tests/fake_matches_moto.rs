//! The fake DynamoDB against moto: the product's own condition and update expressions
//! (from `shared/src/db`), sent through the SDK to both, on the same items; the answers
//! (success, the error code, the item a failed condition returns, the reasons of a
//! cancelled transaction) and the items left behind must be the same. Needs moto
//! (`make venv`); takes a few seconds.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ConditionCheck, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use bench::scale::fake_dynamo::FakeDynamo;
use local::moto::Moto;

type Item = HashMap<String, AttributeValue>;

const TABLE: &str = "fake-vs-moto";
const PK: &str = "ACCOUNT#1";

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}
fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}
fn b(flag: bool) -> AttributeValue {
    AttributeValue::Bool(flag)
}

fn key(sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(PK)), ("sk".to_owned(), s(sk))])
}

fn item(sk: &str, attributes: &[(&str, AttributeValue)]) -> Item {
    let mut item = key(sk);
    for (name, value) in attributes {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

type Names = Vec<(&'static str, &'static str)>;
type Values = Vec<(&'static str, AttributeValue)>;

/// One request, sent the same way to both.
#[derive(Clone)]
enum Request {
    Put(Item, Option<&'static str>, Values),
    Update {
        key: Item,
        update: &'static str,
        condition: Option<&'static str>,
        names: Names,
        values: Values,
        return_new: bool,
    },
    Delete(Item, Option<&'static str>, Values),
    Transact(Vec<TransactWriteItem>),
}

/// What came back, comparable between the two.
#[derive(Debug, PartialEq)]
enum Outcome {
    Done(Option<Item>),
    Failed {
        code: String,
        item: Option<Item>,
        reasons: Vec<(String, Option<Item>)>,
    },
}

fn failed(code: Option<&str>, item: Option<&Item>) -> Outcome {
    Outcome::Failed {
        code: code.unwrap_or("?").to_owned(),
        item: item.cloned(),
        reasons: vec![],
    }
}

async fn send(client: &Client, request: &Request) -> Outcome {
    let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
    match request.clone() {
        Request::Put(item, condition, values) => {
            let mut put = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_owned))
                .return_values_on_condition_check_failure(all_old);
            for (name, value) in values {
                put = put.expression_attribute_values(name, value);
            }
            match put.send().await {
                Ok(_) => Outcome::Done(None),
                Err(err) => match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(e)) => {
                        failed(e.code(), e.item())
                    }
                    Some(other) => failed(other.code(), None),
                    None => panic!("{err:?}"),
                },
            }
        }
        Request::Update {
            key,
            update,
            condition,
            names,
            values,
            return_new,
        } => {
            let mut request = client
                .update_item()
                .table_name(TABLE)
                .set_key(Some(key))
                .update_expression(update)
                .set_condition_expression(condition.map(str::to_owned))
                .return_values_on_condition_check_failure(all_old);
            if return_new {
                request = request.return_values(ReturnValue::AllNew);
            }
            for (placeholder, name) in names {
                request = request.expression_attribute_names(placeholder, name);
            }
            for (placeholder, value) in values {
                request = request.expression_attribute_values(placeholder, value);
            }
            match request.send().await {
                Ok(output) => Outcome::Done(output.attributes),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                        failed(e.code(), e.item())
                    }
                    Some(other) => failed(other.code(), None),
                    None => panic!("{err:?}"),
                },
            }
        }
        Request::Delete(key, condition, values) => {
            let mut delete = client
                .delete_item()
                .table_name(TABLE)
                .set_key(Some(key))
                .set_condition_expression(condition.map(str::to_owned))
                .return_values_on_condition_check_failure(all_old);
            for (name, value) in values {
                delete = delete.expression_attribute_values(name, value);
            }
            match delete.send().await {
                Ok(_) => Outcome::Done(None),
                Err(err) => match err.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(e)) => {
                        failed(e.code(), e.item())
                    }
                    Some(other) => failed(other.code(), None),
                    None => panic!("{err:?}"),
                },
            }
        }
        Request::Transact(items) => {
            match client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => Outcome::Done(None),
                Err(err) => match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                        Outcome::Failed {
                            code: e.code().unwrap_or("?").to_owned(),
                            item: None,
                            reasons: e
                                .cancellation_reasons()
                                .iter()
                                .map(|r| (r.code().unwrap_or("?").to_owned(), r.item().cloned()))
                                .collect(),
                        }
                    }
                    Some(other) => failed(other.code(), None),
                    None => panic!("{err:?}"),
                },
            }
        }
    }
}

fn update(
    sk: &str,
    update: &'static str,
    condition: Option<&'static str>,
    names: Names,
    values: Values,
) -> Request {
    Request::Update {
        key: key(sk),
        update,
        condition,
        names,
        values,
        return_new: false,
    }
}

fn tx_put(item: Item, condition: Option<&str>, values: Values) -> TransactWriteItem {
    let mut put = Put::builder()
        .table_name(TABLE)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, value) in values {
        put = put.expression_attribute_values(name, value);
    }
    TransactWriteItem::builder()
        .put(put.build().unwrap())
        .build()
}

fn tx_update(
    sk: &str,
    expression: &str,
    condition: &str,
    names: Names,
    values: Values,
) -> TransactWriteItem {
    let mut update = Update::builder()
        .table_name(TABLE)
        .set_key(Some(key(sk)))
        .update_expression(expression)
        .condition_expression(condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (placeholder, name) in names {
        update = update.expression_attribute_names(placeholder, name);
    }
    for (placeholder, value) in values {
        update = update.expression_attribute_values(placeholder, value);
    }
    TransactWriteItem::builder()
        .update(update.build().unwrap())
        .build()
}

fn tx_check(sk: &str, condition: &str) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(TABLE)
        .set_key(Some(key(sk)))
        .condition_expression(condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .unwrap();
    TransactWriteItem::builder().condition_check(check).build()
}

fn tx_delete(sk: &str, condition: &str, values: Values) -> TransactWriteItem {
    let mut delete = Delete::builder()
        .table_name(TABLE)
        .set_key(Some(key(sk)))
        .condition_expression(condition);
    for (name, value) in values {
        delete = delete.expression_attribute_values(name, value);
    }
    TransactWriteItem::builder()
        .delete(delete.build().unwrap())
        .build()
}

/// The cases: a name, the items there before, the request, and the keys to compare after.
fn cases() -> Vec<(&'static str, Vec<Item>, Request, Vec<&'static str>)> {
    let window = |start: i64, sends: i64| {
        item(
            "MAILS",
            &[
                ("kind", s("window")),
                ("windowStart", n(start)),
                ("sends", n(sends)),
                ("expiresAt", n(start + 3600)),
            ],
        )
    };
    let pending = item(
        "USER#1",
        &[
            ("status", n(1)),
            ("deleted", b(false)),
            ("tokenHash", s("h1")),
            ("signupLease", s("L1")),
            ("signupLeaseUntil", n(500)),
            ("firstname", s("Ivy")),
            ("userType", n(8)),
            ("owner", b(false)),
        ],
    );
    let account = item(
        "ACCOUNT",
        &[
            ("name", s("Demo")),
            ("usedAdminUsers", n(3)),
            ("limitAdminUsers", n(4)),
            ("usedCreativeUsers", n(1)),
            ("limitCreativeUsers", n(1)),
        ],
    );
    let leaf = item(
        "ROWS#0001",
        &[
            ("version", n(7)),
            ("rows", AttributeValue::B(vec![1, 2, 3].into())),
        ],
    );
    let open_window = || {
        update(
            "MAILS",
            "SET #kind = :kind, #start = :now, #sends = :one, #expires = :end",
            Some("attribute_not_exists(pk) OR #start <= :cutoff"),
            vec![
                ("#kind", "kind"),
                ("#start", "windowStart"),
                ("#sends", "sends"),
                ("#expires", "expiresAt"),
            ],
            vec![
                (":kind", s("window")),
                (":now", n(1000)),
                (":one", n(1)),
                (":end", n(4600)),
                (":cutoff", n(0)),
            ],
        )
    };
    let count_send = || {
        update(
            "MAILS",
            "SET #sends = #sends + :one",
            Some("#start > :cutoff AND #sends < :limit"),
            vec![("#start", "windowStart"), ("#sends", "sends")],
            vec![(":one", n(1)), (":cutoff", n(100)), (":limit", n(5))],
        )
    };
    let signup = || {
        update(
        "USER#1",
        "SET #status = :active, firstname = :first, lastname = :last, #sub = :sub, updateDate = :now REMOVE tokenHash, signupLease, signupLeaseUntil",
        Some("signupLease = :lease AND tokenHash = :hash AND #status = :pending AND deleted = :false"),
        vec![("#status", "status"), ("#sub", "sub")],
        vec![(":active", n(2)), (":first", s("Ivy")), (":last", s("Signed")), (":sub", s("sub-1")), (":now", s("2026-01-01")), (":lease", s("L1")), (":hash", s("h1")), (":pending", n(1)), (":false", b(false))],
    )
    };
    let take_lease = |now: i64| {
        Request::Update {
        key: key("USER#1"),
        update: "SET signupLease = :lease, signupLeaseUntil = :until",
        condition: Some("#status = :pending AND deleted = :false AND tokenHash = :hash AND (attribute_not_exists(signupLeaseUntil) OR signupLeaseUntil < :now)"),
        names: vec![("#status", "status")],
        values: vec![(":pending", n(1)), (":false", b(false)), (":hash", s("h1")), (":lease", s("L2")), (":until", n(now + 30)), (":now", n(now))],
        return_new: true,
    }
    };
    let seats = |condition: &'static str| {
        update(
            "ACCOUNT",
            "SET #to = #to + :one, #from = #from - :one, updateDate = :now",
            Some(condition),
            vec![
                ("#to", "usedAdminUsers"),
                ("#limit", "limitAdminUsers"),
                ("#from", "usedCreativeUsers"),
            ],
            vec![(":one", n(1)), (":now", s("2026-01-01")), (":zero", n(0))],
        )
    };
    let counter = || {
        update(
            "AUDITDAY#2026-01-01",
            "ADD #total :total, #a0 :a0 SET #kind = :kind, #expires = :expires",
            Some("attribute_not_exists(#total) OR #total < :cap"),
            vec![
                ("#total", "total"),
                ("#kind", "kind"),
                ("#expires", "expiresAt"),
                ("#a0", "a.user.invited"),
            ],
            vec![
                (":total", n(2)),
                (":a0", n(2)),
                (":kind", s("day")),
                (":expires", n(99)),
                (":cap", n(3)),
            ],
        )
    };
    vec![
        ("put new", vec![], Request::Put(pending.clone(), Some("attribute_not_exists(pk)"), vec![]), vec!["USER#1"]),
        ("put existing", vec![pending.clone()], Request::Put(item("USER#1", &[]), Some("attribute_not_exists(pk)"), vec![]), vec!["USER#1"]),
        ("put if same user", vec![item("EMAIL#a", &[("userId", s("u1"))])], Request::Put(item("EMAIL#a", &[("userId", s("u2"))]), Some("attribute_not_exists(pk) OR userId = :user"), vec![(":user", s("u2"))]), vec!["EMAIL#a"]),
        ("window opened", vec![], open_window(), vec!["MAILS"]),
        ("window still open", vec![window(10, 2)], open_window(), vec!["MAILS"]),
        ("send counted", vec![window(200, 4)], count_send(), vec!["MAILS"]),
        ("send over limit", vec![window(200, 5)], count_send(), vec!["MAILS"]),
        ("send uncounted", vec![window(200, 1)], update("MAILS", "SET #sends = #sends - :one", Some("#start = :start AND #sends > :zero"), vec![("#start", "windowStart"), ("#sends", "sends")], vec![(":one", n(1)), (":zero", n(0)), (":start", n(200))]), vec!["MAILS"]),
        ("signup", vec![pending.clone()], signup(), vec!["USER#1"]),
        ("signup lost lease", vec![item("USER#1", &[("status", n(1)), ("deleted", b(false)), ("tokenHash", s("h1")), ("signupLease", s("L9"))])], signup(), vec!["USER#1"]),
        ("signup no user", vec![], signup(), vec!["USER#1"]),
        ("lease taken (expired)", vec![pending.clone()], take_lease(600), vec!["USER#1"]),
        ("lease held", vec![pending.clone()], take_lease(400), vec!["USER#1"]),
        ("lease released", vec![pending.clone()], update("USER#1", "REMOVE #lease, #until", Some("#lease = :lease"), vec![("#lease", "signupLease"), ("#until", "signupLeaseUntil")], vec![(":lease", s("L1"))]), vec!["USER#1"]),
        ("seats moved", vec![account.clone()], seats("attribute_exists(pk) AND #to < #limit AND #from > :zero"), vec!["ACCOUNT"]),
        ("seats full", vec![item("ACCOUNT", &[("usedAdminUsers", n(4)), ("limitAdminUsers", n(4)), ("usedCreativeUsers", n(1))])], seats("attribute_exists(pk) AND #to < #limit AND #from > :zero"), vec!["ACCOUNT"]),
        ("counter new", vec![], counter(), vec!["AUDITDAY#2026-01-01"]),
        ("counter capped", vec![item("AUDITDAY#2026-01-01", &[("total", n(3))])], counter(), vec!["AUDITDAY#2026-01-01"]),
        ("counter added", vec![item("AUDITDAY#2026-01-01", &[("total", n(1)), ("a.user.invited", n(1))])], counter(), vec!["AUDITDAY#2026-01-01"]),
        ("migration flag", vec![item("ACCOUNT", &[("listLeaves", b(false))])], update("ACCOUNT", "SET listLeaves = :true", Some("attribute_exists(pk) AND (attribute_not_exists(listLeaves) OR listLeaves = :false)"), vec![], vec![(":true", b(true)), (":false", b(false))]), vec!["ACCOUNT"]),
        ("rename wrong name", vec![account.clone()], update("ACCOUNT", "SET #name = :name, updateDate = :now", Some("attribute_exists(pk) AND #name = :replaced"), vec![("#name", "name")], vec![(":name", s("New")), (":now", s("x")), (":replaced", s("Other"))]), vec!["ACCOUNT"]),
        ("not-equal on missing", vec![account.clone()], update("ACCOUNT", "SET x = :v", Some("nothing <> :v AND NOT nothing = :v"), vec![], vec![(":v", s("a"))]), vec!["ACCOUNT"]),
        ("delete versioned", vec![leaf.clone()], Request::Delete(key("ROWS#0001"), Some("version = :read"), vec![(":read", n(7))]), vec!["ROWS#0001"]),
        ("delete stale", vec![leaf.clone()], Request::Delete(key("ROWS#0001"), Some("version = :read"), vec![(":read", n(6))]), vec!["ROWS#0001"]),
        ("arithmetic on missing", vec![], update("MAILS", "SET #sends = #sends + :one", None, vec![("#sends", "sends")], vec![(":one", n(1))]), vec!["MAILS"]),
        ("unused value", vec![], update("MAILS", "SET a = :one", None, vec![], vec![(":one", n(1)), (":two", n(2))]), vec!["MAILS"]),
        ("undefined name", vec![], update("MAILS", "SET #a = :one", None, vec![], vec![(":one", n(1))]), vec!["MAILS"]),
        ("key updated", vec![], update("MAILS", "SET sk = :one", None, vec![], vec![(":one", s("x"))]), vec!["MAILS"]),
        ("section twice", vec![], update("MAILS", "SET a = :one SET b = :one", None, vec![], vec![(":one", n(1))]), vec!["MAILS"]),
        ("overlapping paths", vec![], update("MAILS", "SET a = :one REMOVE a", None, vec![], vec![(":one", n(1))]), vec!["MAILS"]),
        (
            "transaction commits",
            vec![account.clone(), leaf.clone()],
            Request::Transact(vec![
                tx_put(item("ROWS#0001", &[("version", n(8))]), Some("version = :read"), vec![(":read", n(7))]),
                tx_check("ROWS#0002", "attribute_not_exists(pk)"),
                tx_update("ACCOUNT", "SET #to = #to + :one, updateDate = :now", "attribute_exists(pk) AND #to < #limit", vec![("#to", "usedAdminUsers"), ("#limit", "limitAdminUsers")], vec![(":one", n(1)), (":now", s("t"))]),
                tx_put(pending.clone(), Some("attribute_not_exists(pk)"), vec![]),
                tx_delete("MAILS", "attribute_exists(pk)", vec![]),
            ]),
            vec!["ROWS#0001", "ROWS#0002", "ACCOUNT", "USER#1"],
        ),
        (
            "transaction cancelled",
            vec![item("ACCOUNT", &[("usedAdminUsers", n(4)), ("limitAdminUsers", n(4))]), leaf.clone(), pending.clone()],
            Request::Transact(vec![
                tx_put(item("ROWS#0001", &[("version", n(8))]), Some("version = :read"), vec![(":read", n(6))]),
                tx_check("ROWS#0002", "attribute_not_exists(pk)"),
                tx_update("ACCOUNT", "SET #to = #to + :one, updateDate = :now", "attribute_exists(pk) AND #to < #limit", vec![("#to", "usedAdminUsers"), ("#limit", "limitAdminUsers")], vec![(":one", n(1)), (":now", s("t"))]),
                tx_put(item("USER#1", &[]), Some("attribute_not_exists(pk)"), vec![]),
            ]),
            vec!["ROWS#0001", "ROWS#0002", "ACCOUNT", "USER#1"],
        ),
        (
            "transaction on one item twice",
            vec![],
            Request::Transact(vec![tx_check("ACCOUNT", "attribute_not_exists(pk)"), tx_put(item("ACCOUNT", &[]), None, vec![])]),
            vec!["ACCOUNT"],
        ),
    ]
}

/// Where moto is known not to answer as DynamoDB does; the fake answers as DynamoDB.
const MOTO_DEVIATES: [(&str, &str); 1] = [(
    "undefined name",
    "moto 5.2.5 fails with a KeyError (a 500) on an undefined #name; DynamoDB answers a ValidationException",
)];

async fn client(endpoint: &str) -> Client {
    let sdk = local::stack::emulator_sdk_config(endpoint, "us-east-1").await;
    Client::new(&sdk)
}

async fn reset(client: &Client, items: &[Item]) {
    for sk in [
        "USER#1",
        "EMAIL#a",
        "MAILS",
        "ACCOUNT",
        "AUDITDAY#2026-01-01",
        "ROWS#0001",
        "ROWS#0002",
    ] {
        client
            .delete_item()
            .table_name(TABLE)
            .set_key(Some(key(sk)))
            .send()
            .await
            .unwrap();
    }
    for item in items {
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item.clone()))
            .send()
            .await
            .unwrap();
    }
}

async fn get(client: &Client, sk: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(TABLE)
        .set_key(Some(key(sk)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_answers_the_products_writes_as_moto_does() {
    let moto = Moto::start(true).expect("moto starts (run `make venv` to create .venv)");
    let fake = FakeDynamo::start(TABLE, Duration::ZERO).await.unwrap();
    let (moto_client, fake_client) = (client(&moto.endpoint).await, client(&fake.endpoint).await);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key_element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    moto_client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key_element("pk", KeyType::Hash))
        .key_schema(key_element("sk", KeyType::Range))
        .send()
        .await
        .unwrap();

    let mut differences = Vec::new();
    let cases = cases();
    for (name, before, request, keys) in &cases {
        reset(&moto_client, before).await;
        reset(&fake_client, before).await;
        let from_moto = send(&moto_client, request).await;
        let from_fake = send(&fake_client, request).await;
        if let Some((_, why)) = MOTO_DEVIATES.iter().find(|(case, _)| case == name) {
            eprintln!("{name}: moto {from_moto:?}, fake {from_fake:?} ({why})");
            assert!(matches!(from_moto, Outcome::Failed { .. }), "{name}");
            assert_eq!(
                from_fake,
                failed(Some("ValidationException"), None),
                "{name}"
            );
            continue;
        }
        if from_moto != from_fake {
            differences.push(format!(
                "{name}: answers differ\n  moto: {from_moto:?}\n  fake: {from_fake:?}"
            ));
        }
        for sk in keys {
            let (in_moto, in_fake) = (get(&moto_client, sk).await, get(&fake_client, sk).await);
            if in_moto != in_fake {
                differences.push(format!(
                    "{name}: {sk} differs\n  moto: {in_moto:?}\n  fake: {in_fake:?}"
                ));
            }
        }
        eprintln!("{name}: {from_fake:?}");
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}
