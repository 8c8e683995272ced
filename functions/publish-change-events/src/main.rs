//! The users table's stream (new audit records of changes) → change events on EventBridge.

use shared::adapters::{aws, eventbridge::EventBridge};
use shared::edge::publish_change_events::{self, PublisherConfig};
use shared::edge::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = PublisherConfig::from_env()?;
    let publisher = EventBridge::new(&aws::from_lambda_environment(), config.event_bus_name);
    publish_change_events::serve(&publisher).await
}
