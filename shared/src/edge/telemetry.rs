//! Structured JSON logs. The Lambda runtime opens a span per invocation that carries the
//! request id; including the current span puts it on every line.

use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber once. `RUST_LOG` takes `level` or `target=level,...`
/// directives (default `info`); the regex-based EnvFilter is left out to keep binaries small.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| Targets::from_str(&directives).ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init();
}

/// One CloudWatch embedded-metric-format line: Lambda's log agent turns it into the
/// metrics `values` (counts) of `namespace`, with no dimension. Printed on its own line,
/// apart from the tracing logs, as the format requires the whole line to be its object.
pub fn metrics_line(
    namespace: &str,
    values: &[(&str, usize)],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut line = serde_json::Map::new();
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": values
                    .iter()
                    .map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"}))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in values {
        line.insert((*name).into(), (*value).into());
    }
    serde_json::Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_line_names_each_value_in_its_namespace() {
        let now = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let line: serde_json::Value = serde_json::from_str(&metrics_line(
            "Users/ListIndex",
            &[("RowsRepaired", 3)],
            now,
        ))
        .unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Users/ListIndex",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "RowsRepaired", "Unit": "Count"}],
                    }],
                },
                "RowsRepaired": 3,
            })
        );
    }
}
