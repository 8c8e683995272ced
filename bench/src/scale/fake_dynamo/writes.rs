//! The write side of the fake DynamoDB: PutItem, UpdateItem, DeleteItem,
//! TransactWriteItems (Put, Update, Delete, ConditionCheck) and BatchWriteItem, with
//! their conditions, the write units DynamoDB charges, its size limits, transaction
//! conflicts and per-partition throttling.
//!
//! - Write units: 1 per started KB of the item (the larger of the item before and after
//!   a put or an update; the item deleted or checked), at least 1; twice that inside a
//!   transaction. A write whose condition failed is charged as well; a throttled one or
//!   one refused by a conflict is not.
//! - Limits: 400 KB per item; 100 items and 4 MB (the items as written) per transaction;
//!   one operation per item in a transaction; 25 requests per BatchWriteItem.
//! - Conflicts: a transaction holds its items from its arrival until it is answered (the
//!   modelled latency). A transaction that names an item held by another is cancelled
//!   with `TransactionConflict` for that item; a PutItem, UpdateItem or DeleteItem of a
//!   held item fails with `TransactionConflictException`, as in DynamoDB.
//! - Throttling: write units are counted over a sliding second per partition key and
//!   per item; a request that would take either over its limit (1,000 units/s by
//!   default, DynamoDB's per-partition write limit) is refused: a single write with
//!   `ProvisionedThroughputExceededException` (the SDK retries it), a transaction with
//!   `TransactionCanceledException` whose reason for the hot item is `ThrottlingError`,
//!   a BatchWriteItem's hot requests come back unprocessed.
//!
//! Not modelled: DynamoDB splitting a hot item collection across partitions by sort key
//! ("split for heat") or its burst capacity; `ClientRequestToken` idempotency; TTL
//! deletions; streams; consumed capacity in answers.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{invalid, key_of, only, Fault, Key, Served, StoredItem, Table};
use crate::scale::dynamo_json::item_size;
use crate::scale::expressions::{Condition, Placeholders, Update};
use shared::adapters::db::model::{PK, SK};

/// The largest item DynamoDB stores.
pub const MAX_ITEM_BYTES: u64 = 400 * 1024;
/// The most operations in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// The most bytes of items in one transaction.
pub const MAX_TRANSACTION_BYTES: u64 = 4 * 1024 * 1024;
/// The most requests in one BatchWriteItem.
pub const MAX_BATCH_WRITES: usize = 25;
/// One write unit covers this many bytes.
const WRITE_UNIT_BYTES: u64 = 1024;

const THROTTLED: &str = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.";

/// Write units a second, over a sliding second, above which writes are throttled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteLimits {
    pub partition_units_per_s: f64,
    pub item_units_per_s: f64,
}

impl Default for WriteLimits {
    /// DynamoDB's limit of one partition, which also bounds one item.
    fn default() -> Self {
        Self {
            partition_units_per_s: 1_000.0,
            item_units_per_s: 1_000.0,
        }
    }
}

/// What the writes since the last `take_write_stats` cost and met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteStats {
    pub write_units: f64,
    /// Write requests (or transaction items) refused for throughput.
    pub throttled: u64,
    /// Transactions cancelled, and single writes refused, for a transaction in flight.
    pub conflicts: u64,
    /// Single writes and transactions whose condition failed.
    pub condition_failures: u64,
    /// The item with the most write units in one sliding second: its key and units.
    pub hottest_item: Option<(String, f64)>,
    /// The partition key with the most write units in one sliding second.
    pub hottest_partition: Option<(String, f64)>,
    /// Write units charged, by item (`pk|sk`).
    pub units_by_item: HashMap<String, f64>,
}

#[derive(Default)]
struct Window {
    events: VecDeque<(Instant, f64)>,
    sum: f64,
}

impl Window {
    fn at(&mut self, now: Instant) -> f64 {
        while let Some(&(at, units)) = self.events.front() {
            if now.duration_since(at) < Duration::from_secs(1) {
                break;
            }
            self.sum -= units;
            self.events.pop_front();
        }
        self.sum.max(0.0)
    }

    fn add(&mut self, now: Instant, units: f64) -> f64 {
        self.events.push_back((now, units));
        self.sum += units;
        self.sum
    }
}

#[derive(Default)]
struct Meter {
    limits: WriteLimits,
    partitions: HashMap<String, Window>,
    items: HashMap<Key, Window>,
    stats: WriteStats,
}

fn key_text((pk, sk): &Key) -> String {
    format!("{pk}|{sk}")
}

impl Meter {
    /// The charges (by position) that would take their item or partition over its limit.
    fn over(&mut self, now: Instant, charges: &[(Key, f64)]) -> Vec<usize> {
        let mut by_partition: HashMap<&str, f64> = HashMap::new();
        let mut by_item: HashMap<&Key, f64> = HashMap::new();
        for (key, units) in charges {
            *by_partition.entry(key.0.as_str()).or_default() += units;
            *by_item.entry(key).or_default() += units;
        }
        let hot_partitions: HashSet<&str> = by_partition
            .iter()
            .filter(|(pk, units)| {
                let window = self.partitions.entry((**pk).to_owned()).or_default();
                window.at(now) + **units > self.limits.partition_units_per_s
            })
            .map(|(pk, _)| *pk)
            .collect();
        let hot_items: HashSet<&Key> = by_item
            .iter()
            .filter(|(key, units)| {
                let window = self.items.entry((**key).clone()).or_default();
                window.at(now) + **units > self.limits.item_units_per_s
            })
            .map(|(key, _)| *key)
            .collect();
        charges
            .iter()
            .enumerate()
            .filter(|(_, (key, _))| {
                hot_partitions.contains(key.0.as_str()) || hot_items.contains(key)
            })
            .map(|(index, _)| index)
            .collect()
    }

    fn charge(&mut self, now: Instant, charges: &[(Key, f64)]) {
        for (key, units) in charges {
            self.stats.write_units += units;
            *self.stats.units_by_item.entry(key_text(key)).or_default() += units;
            let in_second = self.items.entry(key.clone()).or_default().add(now, *units);
            if self
                .stats
                .hottest_item
                .as_ref()
                .is_none_or(|(_, most)| in_second > *most)
            {
                self.stats.hottest_item = Some((key_text(key), in_second));
            }
            let in_second = self
                .partitions
                .entry(key.0.clone())
                .or_default()
                .add(now, *units);
            if self
                .stats
                .hottest_partition
                .as_ref()
                .is_none_or(|(_, most)| in_second > *most)
            {
                self.stats.hottest_partition = Some((key.0.clone(), in_second));
            }
        }
    }
}

/// The fake's write state: the items held by transactions in flight and the meter.
#[derive(Default)]
pub(super) struct Writes {
    holds: Arc<Mutex<HashMap<Key, u64>>>,
    next_transaction: AtomicU64,
    meter: Mutex<Meter>,
}

/// The items a transaction holds until it is answered; released when dropped.
pub(super) struct Hold {
    holds: Arc<Mutex<HashMap<Key, u64>>>,
    transaction: u64,
    keys: Vec<Key>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut holds = self.holds.lock().expect("holds");
        for key in &self.keys {
            if holds.get(key) == Some(&self.transaction) {
                holds.remove(key);
            }
        }
    }
}

impl Writes {
    pub(super) fn set_limits(&self, limits: WriteLimits) {
        self.meter.lock().expect("meter").limits = limits;
    }

    pub(super) fn take_stats(&self) -> WriteStats {
        std::mem::take(&mut self.meter.lock().expect("meter").stats)
    }

    fn count(&self, update: impl FnOnce(&mut WriteStats)) {
        update(&mut self.meter.lock().expect("meter").stats);
    }

    fn held(&self, key: &Key) -> bool {
        self.holds.lock().expect("holds").contains_key(key)
    }

    /// Holds `keys` for a new transaction, or says which of them another one holds.
    fn hold(&self, keys: &[Key]) -> Result<Hold, Vec<usize>> {
        let mut holds = self.holds.lock().expect("holds");
        let taken: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| holds.contains_key(*key))
            .map(|(index, _)| index)
            .collect();
        if !taken.is_empty() {
            return Err(taken);
        }
        let transaction = self.next_transaction.fetch_add(1, Ordering::Relaxed);
        for key in keys {
            holds.insert(key.clone(), transaction);
        }
        Ok(Hold {
            holds: Arc::clone(&self.holds),
            transaction,
            keys: keys.to_vec(),
        })
    }
}

/// A failure the fake answers as DynamoDB would, after the modelled latency.
fn answered(kind: &'static str, message: impl Into<String>, extra: Map<String, Value>) -> Fault {
    Fault {
        kind,
        message: message.into(),
        extra,
        answered: true,
        write_units: 0.0,
    }
}

enum Kind {
    Put(Map<String, Value>),
    Update(Update),
    Delete,
    Check,
}

/// One write of one item, parsed and checked.
struct Op {
    key: Key,
    kind: Kind,
    condition: Option<Condition>,
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD`
    old_on_failure: bool,
    /// `ReturnValues`: NONE, ALL_OLD or ALL_NEW.
    return_values: String,
}

/// What one write would do to its item.
struct Effect {
    old: Option<Map<String, Value>>,
    /// The item after the write (`None`: no item), if the condition held.
    new: Option<Option<Map<String, Value>>>,
    /// The bytes the write is charged for.
    charged_bytes: u64,
    /// The item's size as written (for the 4 MB of a transaction).
    written_bytes: u64,
}

fn units(bytes: u64, transactional: bool) -> f64 {
    let units = bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64;
    if transactional {
        2.0 * units
    } else {
        units
    }
}

fn item_key(item: &Map<String, Value>) -> Result<Key, Fault> {
    let part = |name: &str| match item.get(name).and_then(|value| value.get("S")) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) | None => Err(invalid(format!(
            "One or more parameter values were invalid: Missing the key {name} in the item"
        ))),
    };
    Ok((part(PK)?, part(SK)?))
}

fn parse_op(operation: &str, body: &Value, table: &Table) -> Result<Op, Fault> {
    let common = [
        "TableName",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValuesOnConditionCheckFailure",
        "ReturnValues",
        "ReturnConsumedCapacity",
    ];
    let own: &[&str] = match operation {
        "Put" | "PutItem" => &["Item"],
        "Update" | "UpdateItem" => &["Key", "UpdateExpression"],
        _ => &["Key"],
    };
    let known: Vec<&str> = common.iter().chain(own).copied().collect();
    only(body, operation, &known)?;
    table.check_table(&body["TableName"])?;
    if let Some(capacity) = body.get("ReturnConsumedCapacity") {
        if capacity != "NONE" {
            return Err(invalid(format!(
                "{operation}: the fake does not report consumed capacity ({capacity})"
            )));
        }
    }
    let mut placeholders = Placeholders::of(body);
    let condition = body
        .get("ConditionExpression")
        .and_then(Value::as_str)
        .map(|text| Condition::parse(text, &mut placeholders))
        .transpose()
        .map_err(|err| invalid(err.0))?;
    let (key, kind) = match operation {
        "Put" | "PutItem" => {
            let item = body["Item"]
                .as_object()
                .cloned()
                .ok_or_else(|| invalid(format!("{operation} without an Item")))?;
            (item_key(&item)?, Kind::Put(item))
        }
        "Update" | "UpdateItem" => {
            let text = body["UpdateExpression"]
                .as_str()
                .ok_or_else(|| invalid(format!("{operation} without an UpdateExpression")))?;
            let update = Update::parse(text, &mut placeholders).map_err(|err| invalid(err.0))?;
            if let Some(path) = update.paths().find(|path| *path == PK || *path == SK) {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Cannot update attribute {path}. This attribute is part of the key"
                )));
            }
            (key_of(&body["Key"])?, Kind::Update(update))
        }
        "ConditionCheck" => {
            if condition.is_none() {
                return Err(invalid("ConditionCheck without a ConditionExpression"));
            }
            (key_of(&body["Key"])?, Kind::Check)
        }
        _ => (key_of(&body["Key"])?, Kind::Delete),
    };
    placeholders
        .check_all_used()
        .map_err(|err| invalid(err.0))?;
    let old_on_failure = match body["ReturnValuesOnConditionCheckFailure"].as_str() {
        None | Some("NONE") => false,
        Some("ALL_OLD") => true,
        Some(other) => {
            return Err(invalid(format!(
                "{operation}: ReturnValuesOnConditionCheckFailure {other}"
            )))
        }
    };
    let return_values = body["ReturnValues"].as_str().unwrap_or("NONE").to_owned();
    let allowed: &[&str] = match operation {
        "UpdateItem" => &["NONE", "ALL_OLD", "ALL_NEW"],
        "PutItem" | "DeleteItem" => &["NONE", "ALL_OLD"],
        _ => &["NONE"],
    };
    if !allowed.contains(&return_values.as_str()) {
        return Err(invalid(format!(
            "{operation}: the fake does not serve ReturnValues {return_values}"
        )));
    }
    Ok(Op {
        key,
        kind,
        condition,
        old_on_failure,
        return_values,
    })
}

impl StoredItem {
    fn map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.json).expect("a stored item")
    }

    pub(super) fn of(item: Map<String, Value>) -> Self {
        Self {
            size: item_size(&item),
            json: Value::Object(item).to_string(),
        }
    }
}

impl Op {
    /// What the write would do, from the item as it is.
    fn effect(&self, stored: Option<&StoredItem>) -> Result<Effect, Fault> {
        let old = stored.map(StoredItem::map);
        let old_bytes = stored.map_or(0, |item| item.size);
        let holds = self
            .condition
            .as_ref()
            .is_none_or(|condition| condition.holds(old.as_ref()));
        let new = match &self.kind {
            Kind::Put(item) => Some(item.clone()),
            Kind::Update(update) => {
                let mut item = old.clone().unwrap_or_else(|| {
                    let mut key = Map::new();
                    key.insert(PK.to_owned(), json!({ "S": self.key.0 }));
                    key.insert(SK.to_owned(), json!({ "S": self.key.1 }));
                    key
                });
                if holds {
                    update.apply(&mut item).map_err(|err| invalid(err.0))?;
                }
                Some(item)
            }
            Kind::Delete | Kind::Check => None,
        };
        let new_bytes = new.as_ref().map_or(0, item_size);
        if new_bytes > MAX_ITEM_BYTES {
            let message = match self.kind {
                Kind::Update(_) => "Item size to update has exceeded the maximum allowed size",
                _ => "Item size has exceeded the maximum allowed size",
            };
            return Err(invalid(message));
        }
        let (charged_bytes, written_bytes) = match self.kind {
            Kind::Put(_) | Kind::Update(_) if holds => (old_bytes.max(new_bytes), new_bytes),
            _ => (old_bytes, old_bytes),
        };
        let new = match self.kind {
            _ if !holds => None,
            Kind::Put(_) | Kind::Update(_) => Some(new),
            Kind::Delete => Some(None),
            Kind::Check => None,
        };
        Ok(Effect {
            old,
            new,
            charged_bytes,
            written_bytes,
        })
    }

    fn passed(&self, effect: &Effect) -> bool {
        effect.new.is_some() || matches!(self.kind, Kind::Check) && self.condition_holds(effect)
    }

    fn condition_holds(&self, effect: &Effect) -> bool {
        self.condition
            .as_ref()
            .is_none_or(|condition| condition.holds(effect.old.as_ref()))
    }

    /// The `Item` of a failed condition's answer, when ALL_OLD was asked for.
    fn old_item(&self, effect: &Effect) -> Option<Value> {
        match (&effect.old, self.old_on_failure) {
            (Some(old), true) => Some(Value::Object(old.clone())),
            _ => None,
        }
    }
}

fn commit(items: &mut BTreeMap<Key, StoredItem>, key: &Key, new: Option<Map<String, Value>>) {
    match new {
        Some(item) => {
            items.insert(key.clone(), StoredItem::of(item));
        }
        None => {
            items.remove(key);
        }
    }
}

impl Table {
    /// PutItem, UpdateItem or DeleteItem.
    pub(super) fn write_item(&self, operation: &str, request: &Value) -> Result<Served, Fault> {
        let op = parse_op(operation, request, self)?;
        if self.writes.held(&op.key) {
            self.writes.count(|stats| stats.conflicts += 1);
            return Err(answered(
                "TransactionConflictException",
                "Transaction is ongoing for the item",
                Map::new(),
            ));
        }
        let now = Instant::now();
        let mut items = self.items.write().expect("items");
        let effect = op.effect(items.get(&op.key))?;
        let charge = [(op.key.clone(), units(effect.charged_bytes, false))];
        let mut meter = self.writes.meter.lock().expect("meter");
        if !meter.over(now, &charge).is_empty() {
            meter.stats.throttled += 1;
            return Err(answered(
                "ProvisionedThroughputExceededException",
                THROTTLED,
                Map::new(),
            ));
        }
        meter.charge(now, &charge);
        let write_units = charge[0].1;
        let Some(new) = effect.new.clone() else {
            meter.stats.condition_failures += 1;
            let mut extra = Map::new();
            if let Some(old) = op.old_item(&effect) {
                extra.insert("Item".into(), old);
            }
            let mut fault = answered(
                "ConditionalCheckFailedException",
                "The conditional request failed",
                extra,
            );
            fault.write_units = write_units;
            return Err(fault);
        };
        drop(meter);
        let attributes = match op.return_values.as_str() {
            "ALL_OLD" => effect.old.clone(),
            "ALL_NEW" => new.clone(),
            _ => None,
        };
        commit(&mut items, &op.key, new);
        let body = match attributes {
            Some(item) => json!({ "Attributes": item }).to_string(),
            None => "{}".to_owned(),
        };
        Ok(Served {
            body,
            bytes: 0,
            read_units: 0.0,
            write_units,
        })
    }

    /// TransactWriteItems: all or nothing. `hold` keeps the items held by this
    /// transaction until the caller has answered.
    pub(super) fn transact_write_items(
        &self,
        request: &Value,
        hold: &mut Option<Hold>,
    ) -> Result<Served, Fault> {
        only(
            request,
            "TransactWriteItems",
            &[
                "TransactItems",
                "ClientRequestToken",
                "ReturnConsumedCapacity",
            ],
        )?;
        if let Some(capacity) = request.get("ReturnConsumedCapacity") {
            if capacity != "NONE" {
                return Err(invalid(
                    "TransactWriteItems: the fake does not report consumed capacity",
                ));
            }
        }
        let entries = request["TransactItems"]
            .as_array()
            .ok_or_else(|| invalid("TransactWriteItems without TransactItems"))?;
        if entries.is_empty() || entries.len() > MAX_TRANSACTION_ITEMS {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_TRANSACTION_ITEMS} and greater than or equal to 1 (it has {})",
                entries.len()
            )));
        }
        let mut ops = Vec::new();
        for entry in entries {
            let object = entry
                .as_object()
                .filter(|object| object.len() == 1)
                .ok_or_else(|| invalid(format!("a TransactItem names one operation: {entry}")))?;
            let (operation, body) = object.iter().next().expect("one entry");
            if !["Put", "Update", "Delete", "ConditionCheck"].contains(&operation.as_str()) {
                return Err(invalid(format!(
                    "TransactWriteItems: unknown operation {operation}"
                )));
            }
            ops.push(parse_op(operation, body, self)?);
        }
        let keys: Vec<Key> = ops.iter().map(|op| op.key.clone()).collect();
        if keys.iter().collect::<HashSet<_>>().len() != keys.len() {
            return Err(invalid(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        let cancelled = |reasons: Vec<Value>| {
            let codes: Vec<&str> = reasons
                .iter()
                .map(|reason| reason["Code"].as_str().unwrap_or("None"))
                .collect();
            let mut extra = Map::new();
            extra.insert("CancellationReasons".into(), Value::Array(reasons.clone()));
            answered(
                "TransactionCanceledException",
                format!(
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                    codes.join(", ")
                ),
                extra,
            )
        };
        match self.writes.hold(&keys) {
            Ok(held) => *hold = Some(held),
            Err(taken) => {
                self.writes.count(|stats| stats.conflicts += 1);
                let reasons = (0..ops.len())
                    .map(|index| match taken.contains(&index) {
                        true => json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}),
                        false => json!({"Code": "None"}),
                    })
                    .collect();
                return Err(cancelled(reasons));
            }
        }
        let now = Instant::now();
        let mut items = self.items.write().expect("items");
        let effects = ops
            .iter()
            .map(|op| op.effect(items.get(&op.key)))
            .collect::<Result<Vec<_>, _>>()?;
        let written: u64 = effects.iter().map(|effect| effect.written_bytes).sum();
        if written > MAX_TRANSACTION_BYTES {
            return Err(invalid(format!(
                "Transaction request cannot be larger than 4 MB ({written} bytes of items)"
            )));
        }
        let charges: Vec<(Key, f64)> = ops
            .iter()
            .zip(&effects)
            .map(|(op, effect)| (op.key.clone(), units(effect.charged_bytes, true)))
            .collect();
        let mut meter = self.writes.meter.lock().expect("meter");
        let hot = meter.over(now, &charges);
        if !hot.is_empty() {
            meter.stats.throttled += hot.len() as u64;
            let reasons = (0..ops.len())
                .map(|index| match hot.contains(&index) {
                    true => json!({"Code": "ThrottlingError", "Message": THROTTLED}),
                    false => json!({"Code": "None"}),
                })
                .collect();
            return Err(cancelled(reasons));
        }
        meter.charge(now, &charges);
        let write_units: f64 = charges.iter().map(|(_, units)| units).sum();
        let passed: Vec<bool> = ops
            .iter()
            .zip(&effects)
            .map(|(op, effect)| op.passed(effect))
            .collect();
        if passed.contains(&false) {
            meter.stats.condition_failures += 1;
            let reasons = ops
                .iter()
                .zip(&effects)
                .zip(&passed)
                .map(|((op, effect), passed)| {
                    if *passed {
                        return json!({"Code": "None"});
                    }
                    let mut reason = json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"});
                    if let Some(old) = op.old_item(effect) {
                        reason["Item"] = old;
                    }
                    reason
                })
                .collect();
            let mut fault = cancelled(reasons);
            fault.write_units = write_units;
            return Err(fault);
        }
        drop(meter);
        for (op, effect) in ops.iter().zip(effects) {
            if let Some(new) = effect.new {
                commit(&mut items, &op.key, new);
            }
        }
        Ok(Served {
            body: "{}".to_owned(),
            bytes: 0,
            read_units: 0.0,
            write_units,
        })
    }

    /// BatchWriteItem: puts and deletes without conditions, at most 25; the requests
    /// over the throughput limit come back unprocessed.
    pub(super) fn batch_write_item(&self, request: &Value) -> Result<Served, Fault> {
        only(
            request,
            "BatchWriteItem",
            &["RequestItems", "ReturnConsumedCapacity"],
        )?;
        let tables = request["RequestItems"]
            .as_object()
            .ok_or_else(|| invalid("BatchWriteItem without RequestItems"))?;
        let mut writes = Vec::new();
        for (name, requests) in tables {
            self.check_table(&Value::from(name.as_str()))?;
            for entry in requests.as_array().into_iter().flatten() {
                let write = match (entry.get("PutRequest"), entry.get("DeleteRequest")) {
                    (Some(put), None) => {
                        let item = put["Item"]
                            .as_object()
                            .cloned()
                            .ok_or_else(|| invalid("PutRequest without an Item"))?;
                        (item_key(&item)?, Some(item), entry.clone())
                    }
                    (None, Some(delete)) => (key_of(&delete["Key"])?, None, entry.clone()),
                    _ => return Err(invalid(format!("a WriteRequest: {entry}"))),
                };
                writes.push(write);
            }
        }
        if writes.is_empty() || writes.len() > MAX_BATCH_WRITES {
            return Err(invalid(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_WRITES} (it has {})",
                writes.len()
            )));
        }
        if writes.iter().map(|w| &w.0).collect::<HashSet<_>>().len() != writes.len() {
            return Err(invalid("Provided list of item keys contains duplicates"));
        }
        for (_, item, _) in &writes {
            if item
                .as_ref()
                .is_some_and(|item| item_size(item) > MAX_ITEM_BYTES)
            {
                return Err(invalid("Item size has exceeded the maximum allowed size"));
            }
        }
        let now = Instant::now();
        let mut items = self.items.write().expect("items");
        let mut meter = self.writes.meter.lock().expect("meter");
        let (mut unprocessed, mut write_units) = (Vec::new(), 0.0);
        for (key, item, entry) in writes {
            let old = items.get(&key).map_or(0, |stored| stored.size);
            let new = item.as_ref().map_or(0, item_size);
            let charge = [(key.clone(), units(old.max(new), false))];
            if !meter.over(now, &charge).is_empty() || self.writes.held(&key) {
                meter.stats.throttled += 1;
                unprocessed.push(entry);
                continue;
            }
            meter.charge(now, &charge);
            write_units += charge[0].1;
            commit(&mut items, &key, item);
        }
        let body = match unprocessed.is_empty() {
            true => json!({ "UnprocessedItems": {} }),
            false => json!({ "UnprocessedItems": { self.name(): unprocessed } }),
        };
        Ok(Served {
            body: body.to_string(),
            bytes: 0,
            read_units: 0.0,
            write_units,
        })
    }
}
