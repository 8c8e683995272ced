//! The change-event publisher's entry (`functions/publish-change-events`): its
//! configuration and serving `features::events::publish` on the Lambda runtime.

use aws_lambda_events::event::dynamodb::Event as StreamEvent;

use crate::adapters::eventbridge::Publisher;
use crate::domain::config::ConfigError;
use crate::features::events::publish;

/// The publisher's configuration, read once at start: only the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherConfig {
    /// The EventBridge bus the events go to.
    pub event_bus_name: String,
}

impl PublisherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let event_bus_name = lookup("EVENT_BUS_NAME")
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| ConfigError("environment variable EVENT_BUS_NAME is not set".into()))?;
        Ok(Self { event_bus_name })
    }
}

/// Runs the publisher on the Lambda runtime: one stream batch per invocation.
pub async fn serve(publisher: &dyn Publisher) -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    lambda_runtime::run(lambda_http::service_fn(
        |invocation: LambdaEvent<StreamEvent>| async move {
            let deadline = invocation.context.deadline();
            publish(publisher, &invocation.payload, Some(deadline))
                .await
                .map_err(lambda_http::Error::from)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publisher_reads_its_bus_from_the_environment() {
        let config = PublisherConfig::from_lookup(|name| {
            (name == "EVENT_BUS_NAME").then(|| "users-changes".to_owned())
        })
        .unwrap();
        assert_eq!(config.event_bus_name, "users-changes");
        let missing = PublisherConfig::from_lookup(|_| Some(" ".into())).unwrap_err();
        assert!(missing.to_string().contains("EVENT_BUS_NAME"), "{missing}");
    }
}
