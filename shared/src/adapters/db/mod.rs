//! The DynamoDB adapter: typed reads, conditional writes and transactions over the
//! single table. Every read on a request path is by key or a Query, never a Scan.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

use crate::domain::error::ApiError;

pub type Item = HashMap<String, AttributeValue>;

/// The table and the client that reaches it.
#[derive(Debug, Clone)]
pub struct Db {
    client: Client,
    table: String,
    /// How long audit records are kept (their TTL).
    audit_retention: chrono::Duration,
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TxError {
    /// A condition failed: the index of each operation whose condition failed.
    ConditionFailed(Vec<usize>),
    /// Anything else (throttling, conflict with another transaction, service error).
    Other(ApiError),
}

/// What the operations at `positions` do, from the roles a transaction was built with
/// (`roles[i]` says what operation `i` does): failures are read by role, not position.
pub fn failed_roles<R: Copy>(roles: &[R], positions: &[usize]) -> Vec<R> {
    positions
        .iter()
        .filter_map(|position| roles.get(*position).copied())
        .collect()
}

impl From<TxError> for ApiError {
    fn from(err: TxError) -> Self {
        match err {
            TxError::ConditionFailed(indexes) => ApiError::internal(format!(
                "unexpected transaction condition failure at {indexes:?}"
            )),
            TxError::Other(err) => err,
        }
    }
}

/// The error codes by which DynamoDB says "too much, slow down": a table, an index, an
/// item or a partition over its throughput, or the account over its request rate.
const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// The reason code of a transaction item cancelled by throttling.
const THROTTLED_REASON: &str = "ThrottlingError";

/// Whether an error code is one of DynamoDB's throttles.
pub fn is_throttle(code: Option<&str>) -> bool {
    code.is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// Turns an SDK error into 429 when DynamoDB throttled the request (the SDK has already
/// retried it with backoff by then), else into a logged 500.
fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> ApiError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if is_throttle(err.code()) {
        return ApiError::throttled(format!(
            "DynamoDB {operation}: {}",
            DisplayErrorContext(&err)
        ));
    }
    // The SDK error stays the cause: the log shows its service code and transport failure.
    ApiError::internal_caused_by(format!("DynamoDB {operation}"), err)
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// A string attribute of a raw item, if it has one of that name.
pub fn string_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(model::PK.to_owned(), s(pk)), (model::SK.to_owned(), s(sk))])
}

/// An item's size as DynamoDB counts it against its 400 KB limit and in write units:
/// attribute names and values in bytes (numbers by their significant digits, nested
/// documents with their per-element overhead).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number's size: about one byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits = number
        .trim_start_matches('-')
        .replace('.', "")
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len();
    digits.div_ceil(2) + 1
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, ApiError> {
    serde_dynamo::to_item(value).map_err(|e| ApiError::internal(format!("serialize item: {e}")))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    serde_dynamo::from_item(item).map_err(|e| ApiError::internal(format!("deserialize item: {e}")))
}

impl Db {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(Client::new(sdk), table)
    }

    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            audit_retention: chrono::Duration::days(i64::from(
                crate::domain::config::DEFAULT_AUDIT_RETENTION_DAYS,
            )),
        }
    }

    /// The table and retention a function's configuration names.
    pub fn from_config(sdk: &aws_config::SdkConfig, config: &crate::Config) -> Self {
        Self::new(sdk, &config.table_name).with_audit_retention_days(config.audit_retention_days)
    }

    pub fn with_audit_retention_days(mut self, days: u32) -> Self {
        self.audit_retention = chrono::Duration::days(i64::from(days));
        self
    }

    pub fn audit_retention(&self) -> chrono::Duration {
        self.audit_retention
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes an item whatever was there (seeding the local stack).
    pub async fn put<T: Serialize>(&self, item: &T) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// One conditional UpdateItem. A failed condition is an answer, not an error: it
    /// comes back with the item as it was (if there was one).
    pub(super) async fn update(&self, update: SingleUpdate<'_>) -> Result<Updated, ApiError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key))
            .update_expression(update.expression)
            .condition_expression(update.condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if update.return_new {
            request = request.return_values(ReturnValue::AllNew);
        }
        for (placeholder, name) in update.names {
            request = request.expression_attribute_names(placeholder, name);
        }
        for (placeholder, value) in update.values {
            request = request.expression_attribute_values(placeholder, value);
        }
        match request.send().await {
            Ok(output) => Ok(Updated::Done(output.attributes)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Updated::ConditionFailed(failed.item().cloned()))
                }
                _ => Err(sdk_error("UpdateItem", err)),
            },
        }
    }

    /// Writes all or nothing; a failed condition reports which operations failed.
    /// A transaction cancelled only because another transaction touched the same items
    /// at the same time (`TransactionConflict`) is tried again, a few times, with backoff.
    pub async fn transact(&self, operations: Vec<tx::Write>) -> Result<(), TxError> {
        const ATTEMPTS: u32 = 5;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.transact_once(operations.clone()).await {
                Err(Attempt::Conflict(_)) if attempt < ATTEMPTS => {
                    tracing::info!(attempt, "transaction conflict, trying again");
                    let jitter = u64::from(std::process::id() % 7)
                        + u64::from(crate::domain::clock::nanos() % 13);
                    tokio::time::sleep(std::time::Duration::from_millis((15 << attempt) + jitter))
                        .await;
                }
                Err(Attempt::Conflict(reasons)) => {
                    return Err(TxError::Other(ApiError::contended(format!(
                        "transaction kept conflicting after {ATTEMPTS} attempts: {reasons}"
                    ))))
                }
                Err(Attempt::Failed(err)) => return Err(err),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn transact_once(&self, operations: Vec<tx::Write>) -> Result<(), Attempt> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(operations.into_iter().map(|write| write.0).collect()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let failed: Vec<usize> = reasons
                        .iter()
                        .enumerate()
                        .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
                        .map(|(index, _)| index)
                        .collect();
                    if !failed.is_empty() {
                        Err(Attempt::Failed(TxError::ConditionFailed(failed)))
                    } else if reasons.iter().any(|r| r.code() == Some(THROTTLED_REASON)) {
                        Err(Attempt::Failed(TxError::Other(ApiError::throttled(
                            format!("DynamoDB TransactWriteItems cancelled: {reasons:?}"),
                        ))))
                    } else if reasons
                        .iter()
                        .any(|r| r.code() == Some("TransactionConflict"))
                    {
                        Err(Attempt::Conflict(format!("{reasons:?}")))
                    } else {
                        Err(Attempt::Failed(TxError::Other(ApiError::internal(
                            format!("transaction cancelled: {reasons:?}"),
                        ))))
                    }
                }
                other if is_throttle(other.code()) => Err(Attempt::Failed(TxError::Other(
                    ApiError::throttled(format!(
                        "DynamoDB TransactWriteItems: {}",
                        DisplayErrorContext(other)
                    )),
                ))),
                other => Err(Attempt::Failed(TxError::Other(ApiError::internal(
                    format!(
                        "DynamoDB TransactWriteItems: {}",
                        DisplayErrorContext(other)
                    ),
                )))),
            },
            Err(other) => Err(Attempt::Failed(TxError::Other(sdk_error(
                "TransactWriteItems",
                other,
            )))),
        }
    }
}

/// One conditional update of one item, for `Db::update`.
pub(super) struct SingleUpdate<'a> {
    key: Item,
    expression: &'a str,
    condition: &'a str,
    names: Vec<(&'a str, &'a str)>,
    values: Vec<(&'a str, AttributeValue)>,
    /// Whether the item as it is after the update comes back.
    return_new: bool,
}

/// What a conditional update did.
pub(super) enum Updated {
    /// Applied; the item after it when asked for.
    Done(Option<Item>),
    /// Not applied: the condition failed on this item (`None`: there was no item).
    ConditionFailed(Option<Item>),
}

/// The outcome of one try of a transaction.
enum Attempt {
    Conflict(String),
    Failed(TxError),
}

/// How long a write that lost to a concurrent write of the same user waits before it
/// reads the user again: growing, with jitter so that the racers do not meet again.
pub fn contention_pause(attempt: u32) -> std::time::Duration {
    let jitter = u64::from(crate::domain::clock::nanos() % 20);
    std::time::Duration::from_millis(10 * u64::from(attempt) + jitter)
}

/// Builders for the operations of a transaction.
mod reads;
pub mod tx;

pub mod accounts;
pub mod audit_log;
pub mod audit_records;
pub mod billing;
pub mod identities;
pub mod index_check;
pub mod indexed;
pub mod leases;
pub mod list_leaves;
pub mod list_rows;
pub mod migration;
pub mod model;
pub mod rate_windows;
pub mod seats;
pub mod tokens;
pub mod usernames;
pub mod users;
mod views;
