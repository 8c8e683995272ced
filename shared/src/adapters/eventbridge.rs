//! EventBridge: where change events go (`PutEvents` on the stack's bus), behind the
//! small `Publisher` trait so the publishing logic is tested with a fake.

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::domain::change_event::{ChangeEvent, SOURCE};

/// EventBridge takes at most 10 entries per PutEvents call.
pub const MAX_ENTRIES_PER_PUT: usize = 10;

/// Why a call to EventBridge failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishError(pub String);

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "events not published: {}", self.0)
    }
}

impl std::error::Error for PublishError {}

/// Where events go: EventBridge, or a fake in tests.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Puts at most [`MAX_ENTRIES_PER_PUT`] events in one call. The answer has one
    /// element per event, in order: None when it was accepted, the reason when it was
    /// refused. An error means nothing is known to be accepted.
    async fn put(&self, events: &[ChangeEvent]) -> Result<Vec<Option<String>>, PublishError>;
}

/// EventBridge `PutEvents` on one bus.
#[derive(Debug, Clone)]
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridge {
    pub fn new(sdk: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        Self::from_client(aws_sdk_eventbridge::Client::new(sdk), bus_name)
    }

    pub fn from_client(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }
}

#[async_trait]
impl Publisher for EventBridge {
    async fn put(&self, events: &[ChangeEvent]) -> Result<Vec<Option<String>>, PublishError> {
        let entries = events
            .iter()
            .map(|event| entry(event, &self.bus_name))
            .collect();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| PublishError(format!("PutEvents: {}", DisplayErrorContext(err))))?;
        let results = output.entries();
        Ok((0..events.len())
            .map(|index| match results.get(index) {
                Some(result) if result.error_code().is_none() && result.event_id().is_some() => {
                    None
                }
                Some(result) => Some(format!(
                    "{}: {}",
                    result.error_code().unwrap_or("refused"),
                    result.error_message().unwrap_or_default()
                )),
                None => Some("no result for this entry".to_owned()),
            })
            .collect())
    }
}

/// The PutEvents entry of an event, on the bus `bus_name`.
fn entry(event: &ChangeEvent, bus_name: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(SOURCE)
        .detail_type(event.detail_type())
        .detail(event.detail_value().to_string())
        .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
            event.time.timestamp_millis(),
        ))
        .build()
}
