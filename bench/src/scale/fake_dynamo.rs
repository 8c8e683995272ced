//! An in-process stand-in for DynamoDB, just enough for the list functions and the audit
//! log at scale: GetItem, BatchGetItem and Query (forward or backward, with `Limit`,
//! `Select=COUNT` and an equality `FilterExpression`) on one table, over the SDK's JSON
//! protocol, with read units charged and every request timed as DynamoDB would see them. (moto takes ~20 s
//! per 1 MB Query page; this serves one in milliseconds.) Anything else is refused with
//! a 400 and logged, so a new access pattern is noticed, not silently mis-measured.
//!
//! The write side (PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem,
//! with conditions, write units, limits, conflicts and throttling) is in `writes`; the
//! expressions it evaluates in `super::expressions`.
//!
//! Every answer is held for a fixed latency, as the network round trip to DynamoDB
//! would, so calls a function issues together overlap here as they would there (with
//! instant answers, one would end before the next began, and count as a round of its
//! own).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Map, Value};

use shared::adapters::db::model::{PK, SK};

mod writes;
pub use writes::{
    WriteLimits, WriteStats, MAX_BATCH_WRITES, MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES,
    MAX_TRANSACTION_ITEMS,
};

/// A Query page stops once the items it read reach this many bytes (the item that
/// crosses the limit is included).
pub const PAGE_BYTES: u64 = 1 << 20;
/// One strongly consistent read unit covers this many bytes.
const UNIT_BYTES: u64 = 4096;

type Key = (String, String);

/// An item as served: its wire JSON, ready to copy into an answer, and its size.
struct StoredItem {
    json: String,
    size: u64,
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: &'static str,
    pub start: Instant,
    pub end: Instant,
    /// The bytes of the items read (what read units are charged on).
    pub bytes: u64,
    pub read_units: f64,
    /// Write units charged (a failed condition included).
    pub write_units: f64,
    /// The error it was answered with, if any (`ConditionalCheckFailedException`, ...).
    pub error: Option<&'static str>,
}

/// What a run of calls cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallSummary {
    pub query_pages: usize,
    /// Every other call (GetItem, BatchGetItem, and writes).
    pub other_calls: usize,
    pub bytes: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// Sequential calls: a call that starts after every earlier one has ended opens a
    /// new round; calls issued together share one.
    pub rounds: usize,
}

impl CallSummary {
    pub fn of(calls: &[Call]) -> Self {
        let mut by_start: Vec<&Call> = calls.iter().collect();
        by_start.sort_by_key(|call| call.start);
        let mut summary = Self::default();
        let mut all_ended: Option<Instant> = None;
        for call in by_start {
            if call.operation == "Query" {
                summary.query_pages += 1;
            } else {
                summary.other_calls += 1;
            }
            summary.bytes += call.bytes;
            summary.read_units += call.read_units;
            summary.write_units += call.write_units;
            if all_ended.is_none_or(|ended| call.start > ended) {
                summary.rounds += 1;
            }
            all_ended = Some(all_ended.map_or(call.end, |ended| ended.max(call.end)));
        }
        summary
    }
}

struct Table {
    name: RwLock<String>,
    latency: Duration,
    items: RwLock<BTreeMap<Key, StoredItem>>,
    calls: Mutex<Vec<Call>>,
    writes: writes::Writes,
}

/// The fake's handle: its endpoint (for `AWS_ENDPOINT_URL`), its items and its calls.
#[derive(Clone)]
pub struct FakeDynamo {
    pub endpoint: String,
    table: Arc<Table>,
}

impl FakeDynamo {
    /// Serves one table named `table` on a free port of 127.0.0.1, on the current runtime,
    /// each answer `latency` after its request.
    pub async fn start(table: &str, latency: Duration) -> std::io::Result<Self> {
        let table = Arc::new(Table {
            name: RwLock::new(table.to_owned()),
            latency,
            items: RwLock::default(),
            calls: Mutex::default(),
            writes: writes::Writes::default(),
        });
        // DynamoDB takes requests of up to 16 MB (a transaction of 4 MB of items, say).
        let app = Router::new()
            .route("/", post(handle))
            .layer(axum::extract::DefaultBodyLimit::max(16 << 20))
            .with_state(table.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { endpoint, table })
    }

    /// Stores an item given in wire JSON, replacing any with the same key.
    pub fn put(&self, item: Map<String, Value>) {
        let key = (string_attribute(&item, PK), string_attribute(&item, SK));
        let stored = StoredItem::of(item);
        self.table.items.write().expect("items").insert(key, stored);
    }

    /// Removes the item with this key, if there is one.
    pub fn remove(&self, pk: &str, sk: &str) {
        let key = (pk.to_owned(), sk.to_owned());
        self.table.items.write().expect("items").remove(&key);
    }

    /// The item with this key, in wire JSON.
    pub fn get(&self, pk: &str, sk: &str) -> Option<Map<String, Value>> {
        let key = (pk.to_owned(), sk.to_owned());
        let items = self.table.items.read().expect("items");
        items
            .get(&key)
            .map(|item| serde_json::from_str(&item.json).expect("a stored item"))
    }

    /// Serves the table under another name (a stack names its table when it starts).
    pub fn rename_table(&self, name: &str) {
        *self.table.name.write().expect("name") = name.to_owned();
    }

    /// The write units a second above which writes are throttled.
    pub fn set_write_limits(&self, limits: WriteLimits) {
        self.table.writes.set_limits(limits);
    }

    /// What the writes since the last call cost and met.
    pub fn take_write_stats(&self) -> WriteStats {
        self.table.writes.take_stats()
    }

    /// Removes every item.
    pub fn clear(&self) {
        self.table.items.write().expect("items").clear();
    }

    /// How many items there are, and their total size.
    pub fn contents(&self) -> (usize, u64) {
        let items = self.table.items.read().expect("items");
        (items.len(), items.values().map(|item| item.size).sum())
    }

    /// The calls answered since the last `take_calls`.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.table.calls.lock().expect("calls"))
    }
}

fn string_attribute(item: &Map<String, Value>, name: &str) -> String {
    item.get(name)
        .and_then(|value| value["S"].as_str())
        .unwrap_or_else(|| panic!("item without a string {name}: {item:?}"))
        .to_owned()
}

/// A refusal, in DynamoDB's error shape.
struct Fault {
    kind: &'static str,
    message: String,
    /// More members of the error body (`Item`, `CancellationReasons`).
    extra: Map<String, Value>,
    /// An answer DynamoDB gives in its course (a failed condition, a conflict, a
    /// throttle): timed and counted like a success. Otherwise a refusal of a request the
    /// fake does not serve or that is invalid: logged and answered at once.
    answered: bool,
    write_units: f64,
}

fn invalid(message: impl Into<String>) -> Fault {
    Fault {
        kind: "ValidationException",
        message: message.into(),
        extra: Map::new(),
        answered: false,
        write_units: 0.0,
    }
}

/// An answer and what it cost.
struct Served {
    body: String,
    bytes: u64,
    read_units: f64,
    write_units: f64,
}

async fn handle(State(table): State<Arc<Table>>, headers: HeaderMap, body: Bytes) -> Response {
    let start = Instant::now();
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    // The items a transaction holds until it is answered.
    let mut hold = None;
    let (operation, result): (&'static str, _) = match (
        target.strip_prefix("DynamoDB_20120810."),
        serde_json::from_slice::<Value>(&body),
    ) {
        (_, Err(err)) => (
            "?",
            Err(invalid(format!("request body is not JSON: {err}"))),
        ),
        (Some("GetItem"), Ok(request)) => ("GetItem", table.get_item(&request)),
        (Some("BatchGetItem"), Ok(request)) => ("BatchGetItem", table.batch_get_item(&request)),
        (Some("Query"), Ok(request)) => ("Query", table.query(&request)),
        (Some("PutItem"), Ok(request)) => ("PutItem", table.write_item("PutItem", &request)),
        (Some("UpdateItem"), Ok(request)) => {
            ("UpdateItem", table.write_item("UpdateItem", &request))
        }
        (Some("DeleteItem"), Ok(request)) => {
            ("DeleteItem", table.write_item("DeleteItem", &request))
        }
        (Some("TransactWriteItems"), Ok(request)) => (
            "TransactWriteItems",
            table.transact_write_items(&request, &mut hold),
        ),
        (Some("BatchWriteItem"), Ok(request)) => {
            ("BatchWriteItem", table.batch_write_item(&request))
        }
        (_, Ok(_)) => (
            "?",
            Err(invalid(format!("the fake does not serve {target:?}"))),
        ),
    };
    let json = [(header::CONTENT_TYPE, "application/x-amz-json-1.0")];
    let answered = result
        .as_ref()
        .map_or_else(|fault| fault.answered, |_| true);
    if answered {
        tokio::time::sleep_until((start + table.latency).into()).await;
        drop(hold);
        let (bytes, read_units, write_units, error) = match &result {
            Ok(served) => (served.bytes, served.read_units, served.write_units, None),
            Err(fault) => (0, 0.0, fault.write_units, Some(fault.kind)),
        };
        table.calls.lock().expect("calls").push(Call {
            operation,
            start,
            end: Instant::now(),
            bytes,
            read_units,
            write_units,
            error,
        });
    }
    match result {
        Ok(served) => (StatusCode::OK, json, served.body).into_response(),
        Err(fault) => {
            if !fault.answered {
                eprintln!("fake DynamoDB refused {target}: {}", fault.message);
            }
            let mut body = fault.extra;
            body.insert(
                "__type".into(),
                format!("com.amazonaws.dynamodb.v20120810#{}", fault.kind).into(),
            );
            // DynamoDB spells it "Message" in a cancelled transaction, "message" elsewhere.
            let message = match fault.kind {
                "TransactionCanceledException" => "Message",
                _ => "message",
            };
            body.insert(message.into(), fault.message.into());
            (
                StatusCode::BAD_REQUEST,
                json,
                Value::Object(body).to_string(),
            )
                .into_response()
        }
    }
}

/// Read units for `bytes` read at once: whole 4 KB units, at least one, half for an
/// eventually consistent read.
fn read_units(bytes: u64, consistent: bool) -> f64 {
    let units = bytes.div_ceil(UNIT_BYTES).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

fn consistent(request: &Value) -> bool {
    request["ConsistentRead"].as_bool() == Some(true)
}

/// Refuses a request with a parameter the fake does not implement.
fn only(request: &Value, operation: &str, known: &[&str]) -> Result<(), Fault> {
    let object = request
        .as_object()
        .ok_or_else(|| invalid(format!("{operation}: not an object")))?;
    match object.keys().find(|name| !known.contains(&name.as_str())) {
        Some(name) => Err(invalid(format!(
            "{operation}: the fake does not support {name}"
        ))),
        None => Ok(()),
    }
}

fn key_of(key: &Value) -> Result<Key, Fault> {
    let part = |name: &str| {
        key[name]["S"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| invalid(format!("key without a string {name}: {key}")))
    };
    if key.as_object().map(Map::len) != Some(2) {
        return Err(invalid(format!("a key has exactly {PK} and {SK}: {key}")));
    }
    Ok((part(PK)?, part(SK)?))
}

impl Table {
    fn name(&self) -> String {
        self.name.read().expect("name").clone()
    }

    fn check_table(&self, name: &Value) -> Result<(), Fault> {
        if name.as_str() == Some(self.name().as_str()) {
            Ok(())
        } else {
            Err(Fault {
                kind: "ResourceNotFoundException",
                message: format!("Requested resource not found: table {name}"),
                ..invalid("")
            })
        }
    }

    fn get_item(&self, request: &Value) -> Result<Served, Fault> {
        only(
            request,
            "GetItem",
            &[
                "TableName",
                "Key",
                "ConsistentRead",
                "ReturnConsumedCapacity",
            ],
        )?;
        self.check_table(&request["TableName"])?;
        let key = key_of(&request["Key"])?;
        let items = self.items.read().expect("items");
        let (body, bytes) = match items.get(&key) {
            Some(item) => (format!(r#"{{"Item":{}}}"#, item.json), item.size),
            None => ("{}".to_owned(), 0),
        };
        Ok(Served {
            body,
            bytes,
            read_units: read_units(bytes, consistent(request)),
            write_units: 0.0,
        })
    }

    fn batch_get_item(&self, request: &Value) -> Result<Served, Fault> {
        only(
            request,
            "BatchGetItem",
            &["RequestItems", "ReturnConsumedCapacity"],
        )?;
        let tables = request["RequestItems"]
            .as_object()
            .ok_or_else(|| invalid("BatchGetItem without RequestItems"))?;
        let items = self.items.read().expect("items");
        let (mut found, mut bytes, mut units) = (Vec::new(), 0, 0.0);
        for (name, wanted) in tables {
            self.check_table(&Value::from(name.as_str()))?;
            only(wanted, "BatchGetItem keys", &["Keys", "ConsistentRead"])?;
            for key in wanted["Keys"].as_array().into_iter().flatten() {
                let item = items.get(&key_of(key)?);
                let size = item.map_or(0, |item| item.size);
                found.extend(item.map(|item| item.json.as_str()));
                bytes += size;
                // Each key is charged as its own read, a missing one too.
                units += read_units(size, consistent(wanted));
            }
        }
        let body = format!(
            r#"{{"Responses":{{{}:[{}]}},"UnprocessedKeys":{{}}}}"#,
            Value::from(self.name()),
            found.join(",")
        );
        Ok(Served {
            body,
            bytes,
            read_units: units,
            write_units: 0.0,
        })
    }

    fn query(&self, request: &Value) -> Result<Served, Fault> {
        only(
            request,
            "Query",
            &[
                "TableName",
                "KeyConditionExpression",
                "FilterExpression",
                "ExpressionAttributeNames",
                "ExpressionAttributeValues",
                "ExclusiveStartKey",
                "ConsistentRead",
                "Limit",
                "ScanIndexForward",
                "Select",
                "ReturnConsumedCapacity",
            ],
        )?;
        self.check_table(&request["TableName"])?;
        let forward = request["ScanIndexForward"].as_bool() != Some(false);
        let count_only = match request["Select"].as_str() {
            None | Some("ALL_ATTRIBUTES") => false,
            Some("COUNT") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "Query: the fake does not serve Select {other}"
                )))
            }
        };
        let expression = request["KeyConditionExpression"]
            .as_str()
            .unwrap_or_default();
        let (pk, range) = KeyCondition::parse(expression, &request["ExpressionAttributeValues"])?;
        let filter = match request["FilterExpression"].as_str() {
            Some(filter) => Some(Filter::parse(
                filter,
                &request["ExpressionAttributeNames"],
                &request["ExpressionAttributeValues"],
            )?),
            None => None,
        };
        // Limit: the most items read (evaluated), before any filter, as DynamoDB counts.
        let limit = request["Limit"].as_u64().unwrap_or(u64::MAX);
        let start = request.get("ExclusiveStartKey").map(key_of).transpose()?;
        let (lower, upper) = range.bounds(&pk, forward, start)?;

        let items = self.items.read().expect("items");
        let in_range = items.range((lower, upper));
        let ordered: Box<dyn Iterator<Item = (&Key, &StoredItem)>> = if forward {
            Box::new(in_range)
        } else {
            Box::new(in_range.rev())
        };
        let mut page: Vec<&str> = Vec::new();
        let (mut bytes, mut scanned, mut last, mut more) = (0, 0u64, None, false);
        for ((item_pk, sk), item) in ordered {
            if *item_pk != pk || !range.admits(sk) {
                break;
            }
            if bytes >= PAGE_BYTES || scanned >= limit {
                more = true;
                break;
            }
            scanned += 1;
            bytes += item.size;
            last = Some(sk);
            if filter
                .as_ref()
                .is_none_or(|filter| filter.admits(&item.json))
            {
                page.push(&item.json);
            }
        }
        let count = page.len();
        let mut body = if count_only {
            format!(r#"{{"Count":{count},"ScannedCount":{scanned}"#)
        } else {
            format!(
                r#"{{"Count":{count},"ScannedCount":{scanned},"Items":[{}]"#,
                page.join(",")
            )
        };
        if let (true, Some(sk)) = (more, last) {
            let key = json!({ PK: { "S": pk }, SK: { "S": sk } });
            body.push_str(&format!(r#","LastEvaluatedKey":{key}"#));
        }
        body.push('}');
        Ok(Served {
            body,
            bytes,
            read_units: read_units(bytes, consistent(request)),
            write_units: 0.0,
        })
    }
}

/// A `FilterExpression` of the one form the product uses: `<name> = <:value>`, the name
/// given directly or as a `#placeholder` of `ExpressionAttributeNames`.
struct Filter {
    attribute: String,
    value: Value,
}

impl Filter {
    fn parse(expression: &str, names: &Value, values: &Value) -> Result<Self, Fault> {
        let tokens = tokens(expression);
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let [name, "=", placeholder] = tokens.as_slice() else {
            return Err(invalid(format!(
                "the fake does not support the filter {expression:?}"
            )));
        };
        let attribute = match name.strip_prefix('#') {
            Some(_) => names[*name]
                .as_str()
                .ok_or_else(|| invalid(format!("no name for {name} in {names}")))?,
            None => name,
        };
        let value = values
            .get(*placeholder)
            .cloned()
            .ok_or_else(|| invalid(format!("no value for {placeholder} in {values}")))?;
        Ok(Self {
            attribute: attribute.to_owned(),
            value,
        })
    }

    /// Whether the item (wire JSON) has the attribute with exactly this value.
    fn admits(&self, item_json: &str) -> bool {
        let item: Map<String, Value> = serde_json::from_str(item_json).expect("a stored item");
        item.get(&self.attribute) == Some(&self.value)
    }
}

/// The sort-key part of the key conditions the product uses.
#[derive(Debug, PartialEq)]
enum SkRange {
    Any,
    BeginsWith(String),
    Between(String, String),
}

impl SkRange {
    fn first_sk(&self) -> &str {
        match self {
            SkRange::Any => "",
            SkRange::BeginsWith(prefix) => prefix,
            SkRange::Between(low, _) => low,
        }
    }

    /// The keys a Query reads, in its direction: from `first_sk` up (forward), or from
    /// the range's upper end down (only `BETWEEN` has one), after `start` if given.
    fn bounds(
        &self,
        pk: &str,
        forward: bool,
        start: Option<Key>,
    ) -> Result<(Bound<Key>, Bound<Key>), Fault> {
        let first = (pk.to_owned(), self.first_sk().to_owned());
        if forward {
            let lower = match start {
                Some(start) if start >= first => Bound::Excluded(start),
                _ => Bound::Included(first),
            };
            return Ok((lower, Bound::Unbounded));
        }
        let SkRange::Between(_, high) = self else {
            return Err(invalid(
                "Query: the fake reads backward only with sk BETWEEN",
            ));
        };
        let top = (pk.to_owned(), high.clone());
        if first > top {
            return Err(invalid("Query: the BETWEEN bounds are in the wrong order"));
        }
        let upper = match start {
            Some(start) if start <= top => Bound::Excluded(start),
            _ => Bound::Included(top),
        };
        if matches!(&upper, Bound::Excluded(start) if *start <= first) {
            // Nothing left below the start key (an empty range for BTreeMap::range).
            return Ok((Bound::Excluded(first.clone()), Bound::Included(first)));
        }
        Ok((Bound::Included(first), upper))
    }

    /// Whether `sk`, at or after `first_sk`, is still in range (the range is contiguous).
    fn admits(&self, sk: &str) -> bool {
        match self {
            SkRange::Any => true,
            SkRange::BeginsWith(prefix) => sk.starts_with(prefix.as_str()),
            SkRange::Between(low, high) => low.as_str() <= sk && sk <= high.as_str(),
        }
    }
}

struct KeyCondition;

impl KeyCondition {
    /// `pk = :v`, optionally `AND begins_with(sk, :p)` or `AND sk BETWEEN :a AND :b`,
    /// whatever the spacing: the partition key and the sort-key range.
    fn parse(expression: &str, values: &Value) -> Result<(String, SkRange), Fault> {
        let tokens = tokens(expression);
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let value = |placeholder: &str| {
            values[placeholder]["S"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("no string value for {placeholder} in {values}")))
        };
        match tokens.as_slice() {
            ["pk", "=", pk] => Ok((value(pk)?, SkRange::Any)),
            ["pk", "=", pk, "AND", "begins_with", "(", "sk", ",", prefix, ")"] => {
                Ok((value(pk)?, SkRange::BeginsWith(value(prefix)?)))
            }
            ["pk", "=", pk, "AND", "sk", "BETWEEN", low, "AND", high] => {
                Ok((value(pk)?, SkRange::Between(value(low)?, value(high)?)))
            }
            _ => Err(invalid(format!(
                "the fake does not support the key condition {expression:?}"
            ))),
        }
    }
}

/// Words (names, placeholders, keywords in upper case) and the punctuation `=(),`.
fn tokens(expression: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in expression.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' || c == '#' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    for token in &mut tokens {
        if token.eq_ignore_ascii_case("and") || token.eq_ignore_ascii_case("between") {
            token.make_ascii_uppercase();
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_sdk_dynamodb::types::{
        AttributeValue, ConditionCheck, DeleteRequest, KeysAndAttributes, Put, PutRequest,
        ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, WriteRequest,
    };
    use aws_sdk_dynamodb::Client;

    use super::*;
    use crate::scale::dynamo_json::item_json;
    use shared::adapters::db::Item;

    const TABLE: &str = "scale-test";
    /// 2 + 9 (pk) + 2 + 9 (sk) + 4 + 5,000 (blob): 208 items stay under 1 MB, the 209th
    /// crosses it.
    const ITEM_BYTES: u64 = 5_026;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn item(pk: &str, sk: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), s(pk)),
            ("sk".to_owned(), s(sk)),
            ("blob".to_owned(), s(&"x".repeat(5_000))),
        ])
    }

    fn key(pk: &str, sk: &str) -> Item {
        HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
    }

    /// The real SDK client, as the functions build it, pointed at the fake.
    async fn fake_and_client() -> (FakeDynamo, Client) {
        let fake = FakeDynamo::start(TABLE, Duration::ZERO).await.unwrap();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(&fake.endpoint)
            .http_client(shared::adapters::aws::http_client())
            .build();
        // Account A: a group before the users and a drive after them; account B beside.
        fake.put(item_json(&item("ACCOUNT#A", "GROUP#1")));
        for user in 0..300 {
            fake.put(item_json(&item("ACCOUNT#A", &format!("USER#{user:04}"))));
        }
        fake.put(item_json(&item("ACCOUNT#A", "ZDRIVE#1")));
        fake.put(item_json(&item("ACCOUNT#B", "USER#0000")));
        (fake, Client::from_conf(config))
    }

    fn sks(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|item| item["sk"].as_s().unwrap().clone())
            .collect()
    }

    #[tokio::test]
    async fn query_pages_stop_after_the_item_that_crosses_1_mb() {
        let (fake, client) = fake_and_client().await;
        let query = || {
            client
                .query()
                .table_name(TABLE)
                .key_condition_expression("pk = :pk AND begins_with ( sk,:prefix )")
                .expression_attribute_values(":pk", s("ACCOUNT#A"))
                .expression_attribute_values(":prefix", s("USER#"))
                .consistent_read(true)
        };
        let first = query().send().await.unwrap();
        let first_sks = sks(first.items());
        assert_eq!(first_sks.len(), 209);
        assert_eq!(first_sks[0], "USER#0000");
        let last = first.last_evaluated_key().unwrap();
        assert_eq!(last, &key("ACCOUNT#A", "USER#0208"));

        let second = query()
            .set_exclusive_start_key(Some(last.clone()))
            .send()
            .await
            .unwrap();
        let second_sks = sks(second.items());
        assert_eq!(second_sks.len(), 91);
        assert_eq!(
            (second_sks[0].as_str(), second_sks[90].as_str()),
            ("USER#0209", "USER#0299")
        );
        assert!(second.last_evaluated_key().is_none());
        assert_eq!(second.items()[0], item("ACCOUNT#A", "USER#0209"));

        let calls = fake.take_calls();
        let units: Vec<f64> = calls.iter().map(|call| call.read_units).collect();
        // 209 × 5,026 = 1,050,434 bytes: 257 units; 91 × 5,026 = 457,366 bytes: 112.
        assert_eq!(units, [257.0, 112.0]);
        assert_eq!(calls[0].bytes, 209 * ITEM_BYTES);
    }

    #[tokio::test]
    async fn other_key_conditions_and_limits() {
        let (fake, client) = fake_and_client().await;
        let whole = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk=:pk")
            .expression_attribute_values(":pk", s("ACCOUNT#B"))
            .send()
            .await
            .unwrap();
        assert_eq!(sks(whole.items()), ["USER#0000"]);

        let between = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk and sk between :a and :b")
            .expression_attribute_values(":pk", s("ACCOUNT#A"))
            .expression_attribute_values(":a", s("USER#0298"))
            .expression_attribute_values(":b", s("ZZZ"))
            .limit(2)
            .send()
            .await
            .unwrap();
        assert_eq!(sks(between.items()), ["USER#0298", "USER#0299"]);
        assert_eq!(
            between.last_evaluated_key().unwrap(),
            &key("ACCOUNT#A", "USER#0299")
        );

        let unknown = client
            .query()
            .table_name(TABLE)
            .key_condition_expression("pk = :pk AND sk > :a")
            .expression_attribute_values(":pk", s("ACCOUNT#A"))
            .expression_attribute_values(":a", s("USER#"))
            .send()
            .await;
        assert!(unknown.is_err());

        // Eventually consistent: 2 × 5,026 bytes, 3 units, half price.
        let units: Vec<f64> = fake.take_calls().iter().map(|c| c.read_units).collect();
        assert_eq!(units, [2.0 / 2.0, 3.0 / 2.0]);
    }

    #[tokio::test]
    async fn backward_queries_counts_and_filters_as_dynamodb() {
        let (fake, client) = fake_and_client().await;
        let mut tagged = item("ACCOUNT#A", "USER#0150");
        tagged.insert("action".to_owned(), s("user.type_changed"));
        fake.put(item_json(&tagged));
        let db = shared::adapters::db::Db::from_client(client.clone(), TABLE);

        // Newest first, 3 items read; then from a start key, downwards.
        let last = db
            .query_range("ACCOUNT#A", "USER#0100", "USER#0199", true, None, Some(3))
            .await
            .unwrap();
        assert_eq!(sks(&last), ["USER#0199", "USER#0198", "USER#0197"]);
        let page = client
            .query()
            .table_name(TABLE)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s("ACCOUNT#A"))
            .expression_attribute_values(":low", s("USER#0100"))
            .expression_attribute_values(":high", s("USER#0199"))
            .exclusive_start_key("pk", s("ACCOUNT#A"))
            .exclusive_start_key("sk", s("USER#0102"))
            .send()
            .await
            .unwrap();
        assert_eq!(sks(page.items()), ["USER#0101", "USER#0100"]);
        // The whole backward range: 100 items in one page, all of them.
        let all = db
            .query_range("ACCOUNT#A", "USER#0100", "USER#0299", true, None, None)
            .await
            .unwrap();
        assert_eq!(all.len(), 200);
        assert_eq!(sks(&all)[199], "USER#0100");

        // COUNT reads every item in range (two pages past 1 MB) but sends only counts.
        let counted = db
            .count_range("ACCOUNT#A", "USER#0000", "USER#0299", None)
            .await
            .unwrap();
        assert_eq!(counted, 300);
        // A filter: one match of 100 items read, charged for all 100.
        let filter = || Some(("action", "user.type_changed".to_owned()));
        let matched = db
            .count_range("ACCOUNT#A", "USER#0100", "USER#0199", filter())
            .await
            .unwrap();
        assert_eq!(matched, 1);
        let found = db
            .query_range("ACCOUNT#A", "USER#0100", "USER#0199", true, filter(), None)
            .await
            .unwrap();
        assert_eq!(sks(&found), ["USER#0150"]);
        // Limit counts the items read before filtering: the 10 newest hold no match.
        let limited = client
            .query()
            .table_name(TABLE)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .filter_expression("#filter = :filter")
            .expression_attribute_names("#filter", "action")
            .expression_attribute_values(":pk", s("ACCOUNT#A"))
            .expression_attribute_values(":low", s("USER#0100"))
            .expression_attribute_values(":high", s("USER#0199"))
            .expression_attribute_values(":filter", s("user.type_changed"))
            .limit(10)
            .send()
            .await
            .unwrap();
        assert_eq!((limited.count(), limited.scanned_count()), (0, 10));
        assert_eq!(
            limited.last_evaluated_key().unwrap(),
            &key("ACCOUNT#A", "USER#0190")
        );

        let units: Vec<f64> = fake.take_calls().iter().map(|c| c.read_units).collect();
        // 3, 2, 200 items; 300 counted in two pages (209 + 91); 100 + 100 filtered; 10.
        // Each item is 5,026 bytes, the tagged one 5,056; the SDK calls without
        // ConsistentRead are charged half.
        assert_eq!(units, [4.0, 1.5, 246.0, 257.0, 112.0, 123.0, 123.0, 6.5]);
    }

    #[tokio::test]
    async fn get_item_and_batch_get_item_charge_per_item() {
        let (fake, client) = fake_and_client().await;
        let mut typed = key("ACCOUNT#C", "ACCOUNT");
        typed.insert("n".to_owned(), AttributeValue::N("42".into()));
        typed.insert("b".to_owned(), AttributeValue::B(vec![1, 2, 3].into()));
        typed.insert("t".to_owned(), AttributeValue::Bool(true));
        typed.insert("x".to_owned(), AttributeValue::Null(true));
        typed.insert(
            "m".to_owned(),
            AttributeValue::M(HashMap::from([(
                "l".to_owned(),
                AttributeValue::L(vec![s("a")]),
            )])),
        );
        fake.put(item_json(&typed));

        let got = client
            .get_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#C", "ACCOUNT")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(got.item().unwrap(), &typed);
        let missing = client
            .get_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#C", "NOTHING")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(missing.item().is_none());

        let keys = KeysAndAttributes::builder()
            .keys(key("ACCOUNT#A", "USER#0001"))
            .keys(key("ACCOUNT#A", "USER#0002"))
            .keys(key("ACCOUNT#A", "USER#9999"))
            .consistent_read(true)
            .build()
            .unwrap();
        let batch = client
            .batch_get_item()
            .request_items(TABLE, keys)
            .send()
            .await
            .unwrap();
        assert_eq!(batch.responses().unwrap()[TABLE].len(), 2);
        assert!(batch.unprocessed_keys().unwrap().is_empty());

        let wrong_table = client
            .get_item()
            .table_name("other")
            .set_key(Some(key("ACCOUNT#C", "ACCOUNT")))
            .send()
            .await;
        assert!(wrong_table.is_err());

        let calls = fake.take_calls();
        let units: Vec<f64> = calls.iter().map(|c| c.read_units).collect();
        // A small item, a missing one; then 2 units for each 5,026-byte user, 1 missing.
        assert_eq!(units, [1.0, 1.0, 5.0]);
        assert_eq!(calls[2].bytes, 2 * ITEM_BYTES);
    }

    /// A client of the fake that does not retry (so a throttle shows at once).
    async fn writer(latency: Duration) -> (FakeDynamo, Client) {
        let fake = FakeDynamo::start(TABLE, latency).await.unwrap();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(&fake.endpoint)
            .http_client(shared::adapters::aws::http_client())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        (fake, Client::from_conf(config))
    }

    fn n(number: i64) -> AttributeValue {
        AttributeValue::N(number.to_string())
    }

    fn code<E>(
        err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> String
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        err.as_service_error()
            .and_then(|e| e.code())
            .unwrap_or("(no service error)")
            .to_owned()
    }

    #[tokio::test]
    async fn conditional_writes_answer_as_dynamodb() {
        let (fake, client) = writer(Duration::ZERO).await;
        let mut user = key("ACCOUNT#A", "USER#1");
        user.insert("sends".to_owned(), n(4));
        user.insert("status".to_owned(), n(1));
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(user.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .unwrap();
        // The same put again: its condition fails, the old item comes back.
        let again = client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(user.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .unwrap_err();
        match again.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                assert_eq!(failed.item(), Some(&user));
            }
            other => panic!("{other:?}"),
        }
        // An update on a condition, with the item after it back.
        let updated = client
            .update_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#A", "USER#1")))
            .update_expression("SET #sends = #sends + :one, firstname = :first REMOVE #status")
            .condition_expression("#sends < :limit AND (attribute_not_exists(x) OR x = :one)")
            .expression_attribute_names("#sends", "sends")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(5))
            .expression_attribute_values(":first", s("Ada"))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .unwrap();
        let mut expected = key("ACCOUNT#A", "USER#1");
        expected.insert("sends".to_owned(), n(5));
        expected.insert("firstname".to_owned(), s("Ada"));
        assert_eq!(updated.attributes(), Some(&expected));
        // Now 5 is not below 5; no ALL_OLD asked: no item in the error.
        let failed = client
            .update_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#A", "USER#1")))
            .update_expression("SET #sends = #sends + :one")
            .condition_expression("#sends < :limit")
            .expression_attribute_names("#sends", "sends")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(5))
            .send()
            .await
            .unwrap_err();
        match failed.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                assert!(failed.item().is_none());
            }
            other => panic!("{other:?}"),
        }
        // An update of a missing item creates it from its key.
        client
            .update_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#A", "DAY#1")))
            .update_expression("ADD #total :n SET kind = :kind")
            .expression_attribute_names("#total", "total")
            .expression_attribute_values(":n", n(3))
            .expression_attribute_values(":kind", s("day"))
            .send()
            .await
            .unwrap();
        let day = fake.get("ACCOUNT#A", "DAY#1").unwrap();
        assert_eq!(day["total"], json!({"N": "3"}));
        // Unused placeholders, unknown forms and key updates are refused (400, validation).
        for (expression, value) in [
            ("SET a = :one", ":unused"),
            ("SET a = size(b)", ":one"),
            ("SET sk = :one", ":one"),
        ] {
            let refused = client
                .update_item()
                .table_name(TABLE)
                .set_key(Some(key("ACCOUNT#A", "DAY#1")))
                .update_expression(expression)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(value, n(1))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&refused), "ValidationException", "{expression}");
        }
        // A delete on a condition that fails, then one that holds.
        let kept = client
            .delete_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#A", "USER#1")))
            .condition_expression("firstname = :other")
            .expression_attribute_values(":other", s("Bea"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&kept), "ConditionalCheckFailedException");
        client
            .delete_item()
            .table_name(TABLE)
            .set_key(Some(key("ACCOUNT#A", "USER#1")))
            .condition_expression("firstname = :first")
            .expression_attribute_values(":first", s("Ada"))
            .send()
            .await
            .unwrap();
        assert!(fake.get("ACCOUNT#A", "USER#1").is_none());

        // Every call but the refused ones charged 1 unit (items under 1 KB), failures too.
        let calls = fake.take_calls();
        let units: Vec<(f64, Option<&str>)> =
            calls.iter().map(|c| (c.write_units, c.error)).collect();
        let failed = Some("ConditionalCheckFailedException");
        assert_eq!(
            units,
            [
                (1.0, None),
                (1.0, failed),
                (1.0, None),
                (1.0, failed),
                (1.0, None),
                (1.0, failed),
                (1.0, None)
            ]
        );
        let stats = fake.take_write_stats();
        assert_eq!((stats.write_units, stats.condition_failures), (7.0, 3));
        assert_eq!(stats.units_by_item["ACCOUNT#A|USER#1"], 6.0);
    }

    fn tx_put(item: Item, condition: Option<&str>) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(TABLE)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    }

    fn tx_check(pk: &str, sk: &str, condition: &str) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name(TABLE)
            .set_key(Some(key(pk, sk)))
            .condition_expression(condition)
            .build()
            .unwrap();
        TransactWriteItem::builder().condition_check(check).build()
    }

    fn reasons(
        err: &aws_sdk_dynamodb::error::SdkError<
            TransactWriteItemsError,
            aws_sdk_dynamodb::config::http::HttpResponse,
        >,
    ) -> Vec<(String, Option<Item>)> {
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| (r.code().unwrap_or_default().to_owned(), r.item().cloned()))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn transactions_are_all_or_nothing_and_charged_twice() {
        let (fake, client) = writer(Duration::ZERO).await;
        fake.put(item_json(&item("ACCOUNT#A", "ACCOUNT")));
        let big = item("ACCOUNT#A", "LEAF#1"); // 5,026 bytes: 5 units, 10 in a transaction
        let done = client
            .transact_write_items()
            .transact_items(tx_put(big.clone(), Some("attribute_not_exists(pk)")))
            .transact_items(tx_check("ACCOUNT#A", "ACCOUNT", "attribute_exists(pk)"))
            .send()
            .await;
        done.unwrap();
        assert_eq!(fake.get("ACCOUNT#A", "LEAF#1").unwrap(), item_json(&big));

        // The second put's condition fails: nothing is written, the reasons in order.
        let cancelled = client
            .transact_write_items()
            .transact_items(tx_put(key("ACCOUNT#A", "USER#9"), None))
            .transact_items(tx_put(big.clone(), Some("attribute_not_exists(pk)")))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            reasons(&cancelled),
            [
                ("None".to_owned(), None),
                ("ConditionalCheckFailed".to_owned(), Some(big.clone()))
            ]
        );
        assert!(fake.get("ACCOUNT#A", "USER#9").is_none());
        // Through the product's adapter: the failed position.
        let db = shared::adapters::db::Db::from_client(client.clone(), TABLE);
        let failed = db
            .transact(vec![
                shared::adapters::db::tx::put(TABLE, key("ACCOUNT#A", "USER#9"), None, vec![])
                    .unwrap(),
                shared::adapters::db::tx::check(
                    TABLE,
                    key("ACCOUNT#A", "ACCOUNT"),
                    "attribute_not_exists(pk)",
                    vec![],
                    vec![],
                )
                .unwrap(),
            ])
            .await;
        assert!(
            matches!(failed, Err(shared::adapters::db::TxError::ConditionFailed(ref at)) if at == &[1])
        );

        // Limits: one operation per item, 100 operations, 400 KB per item, 4 MB in all.
        let twice = client
            .transact_write_items()
            .transact_items(tx_put(key("ACCOUNT#A", "X"), None))
            .transact_items(tx_check("ACCOUNT#A", "X", "attribute_exists(pk)"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&twice), "ValidationException");
        let many = (0..101).fold(client.transact_write_items(), |tx, i| {
            tx.transact_items(tx_put(key("ACCOUNT#A", &format!("X#{i}")), None))
        });
        assert_eq!(code(&many.send().await.unwrap_err()), "ValidationException");
        let huge = |sk: &str, bytes: usize| {
            let mut item = key("ACCOUNT#A", sk);
            item.insert("blob".to_owned(), s(&"x".repeat(bytes)));
            item
        };
        let too_big = client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(huge("H", 400 * 1024)))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&too_big), "ValidationException");
        let eleven = (0..11).fold(client.transact_write_items(), |tx, i| {
            tx.transact_items(tx_put(huge(&format!("H#{i}"), 390 * 1024), None))
        });
        assert_eq!(
            code(&eleven.send().await.unwrap_err()),
            "ValidationException"
        );
        assert!(fake.get("ACCOUNT#A", "H#0").is_none());

        let units: Vec<f64> = fake.take_calls().iter().map(|c| c.write_units).collect();
        // The put and the check of a 5,026-byte item, 10 + 10; 2 + 10 (the failed put,
        // charged on the item that is there); 2 + 10 through the adapter; the refused ones
        // nothing (and no call recorded).
        assert_eq!(units, [20.0, 12.0, 12.0]);
    }

    #[tokio::test]
    async fn transactions_in_flight_conflict() {
        let latency = Duration::from_millis(300);
        let (fake, client) = writer(latency).await;
        fake.put(item_json(&key("ACCOUNT#A", "ACCOUNT")));
        let first = client
            .transact_write_items()
            .transact_items(tx_check("ACCOUNT#A", "ACCOUNT", "attribute_exists(pk)"))
            .transact_items(tx_put(key("ACCOUNT#A", "USER#1"), None))
            .send();
        let second = async {
            tokio::time::sleep(latency / 3).await;
            let tx = client
                .transact_write_items()
                .transact_items(tx_put(key("ACCOUNT#A", "USER#2"), None))
                .transact_items(tx_check("ACCOUNT#A", "ACCOUNT", "attribute_exists(pk)"))
                .send();
            let single = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(key("ACCOUNT#A", "USER#1")))
                .send();
            tokio::join!(tx, single)
        };
        let (first, (second, single)) = tokio::join!(first, second);
        first.unwrap();
        assert_eq!(
            reasons(&second.unwrap_err()),
            [
                ("None".to_owned(), None),
                ("TransactionConflict".to_owned(), None)
            ]
        );
        assert_eq!(code(&single.unwrap_err()), "TransactionConflictException");
        assert!(fake.get("ACCOUNT#A", "USER#2").is_none());
        assert_eq!(fake.take_write_stats().conflicts, 2);
        // Once answered, the items are free again.
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(key("ACCOUNT#A", "USER#1")))
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn hot_partitions_are_throttled() {
        let (fake, client) = writer(Duration::ZERO).await;
        fake.set_write_limits(WriteLimits {
            partition_units_per_s: 10.0,
            item_units_per_s: 6.0,
        });
        let put = |sk: String| {
            client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(key("ACCOUNT#A", &sk)))
                .send()
        };
        // One item: 6 units a second, the 7th write throttled.
        for _ in 0..6 {
            put("ONE".to_owned()).await.unwrap();
        }
        let hot_item = put("ONE".to_owned()).await.unwrap_err();
        assert_eq!(code(&hot_item), "ProvisionedThroughputExceededException");
        // The partition: 4 more units, then throttled, a transaction with ThrottlingError.
        for i in 0..4 {
            put(format!("OTHER#{i}")).await.unwrap();
        }
        assert_eq!(
            code(&put("OTHER#9".to_owned()).await.unwrap_err()),
            "ProvisionedThroughputExceededException"
        );
        let tx = client
            .transact_write_items()
            .transact_items(tx_put(key("ACCOUNT#B", "X"), None))
            .transact_items(tx_put(key("ACCOUNT#A", "Y"), None))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            reasons(&tx),
            [
                ("None".to_owned(), None),
                ("ThrottlingError".to_owned(), None)
            ]
        );
        // Another partition is not affected; a second later the window has moved on.
        put_other(&client).await;
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        put("ONE".to_owned()).await.unwrap();
        let stats = fake.take_write_stats();
        assert_eq!(stats.throttled, 3);
        assert_eq!(stats.hottest_item, Some(("ACCOUNT#A|ONE".to_owned(), 6.0)));
        assert_eq!(
            stats.hottest_partition,
            Some(("ACCOUNT#A".to_owned(), 10.0))
        );
        // The product's adapter makes a throttled transaction a 429.
        let db = shared::adapters::db::Db::from_client(client.clone(), TABLE);
        for i in 0..8 {
            put(format!("MORE#{i}")).await.unwrap();
        }
        let throttled = db
            .transact(vec![shared::adapters::db::tx::put(
                TABLE,
                key("ACCOUNT#A", "Z"),
                None,
                vec![],
            )
            .unwrap()])
            .await;
        match throttled {
            Err(shared::adapters::db::TxError::Other(
                shared::domain::error::ApiError::TooManyRequests { .. },
            )) => {}
            other => panic!("{other:?}"),
        }
    }

    async fn put_other(client: &Client) {
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(key("ACCOUNT#C", "X")))
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn batch_writes_put_and_delete() {
        let (fake, client) = writer(Duration::ZERO).await;
        fake.put(item_json(&key("ACCOUNT#A", "OLD")));
        let put = |sk: &str| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(key("ACCOUNT#A", sk)))
                        .build()
                        .unwrap(),
                )
                .build()
        };
        let delete = WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key("ACCOUNT#A", "OLD")))
                    .build()
                    .unwrap(),
            )
            .build();
        let done = client
            .batch_write_item()
            .request_items(TABLE, vec![put("NEW#1"), put("NEW#2"), delete])
            .send()
            .await
            .unwrap();
        assert!(done.unprocessed_items().unwrap().is_empty());
        assert_eq!(fake.contents().0, 2);
        let too_many = client
            .batch_write_item()
            .request_items(TABLE, (0..26).map(|i| put(&format!("N#{i}"))).collect())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&too_many), "ValidationException");
        assert_eq!(fake.take_write_stats().write_units, 3.0);
    }

    #[test]
    fn calls_that_overlap_make_one_round() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let call = |operation, start, end| Call {
            operation,
            start: at(start),
            end: at(end),
            bytes: 10,
            read_units: 1.0,
            write_units: 0.0,
            error: None,
        };
        // GetItem; then two overlapping; then a Query after both ended.
        let calls = [
            call("Query", 30, 40),
            call("GetItem", 0, 10),
            call("GetItem", 11, 20),
            call("BatchGetItem", 12, 25),
        ];
        let summary = CallSummary::of(&calls);
        assert_eq!(
            summary,
            CallSummary {
                query_pages: 1,
                other_calls: 3,
                bytes: 40,
                read_units: 4.0,
                write_units: 0.0,
                rounds: 3,
            }
        );
    }
}
