//! The scheduled list-index check (`functions/check-list-index`), invoked by an
//! EventBridge schedule: runs a bounded part of the walk of `db::index_check`, logs what
//! it did and publishes it as metrics, which an alarm watches (template.yaml).

use std::time::{Duration, Instant};

use crate::adapters::db::index_check::{self, RunReport};
use crate::adapters::db::Db;
use crate::domain::config::ConfigError;
use crate::domain::error::ApiError;
use crate::edge::telemetry;

/// Steps per run when the template does not say (`INDEX_CHECK_STEPS_PER_RUN`).
pub const DEFAULT_STEPS_PER_RUN: usize = 1_000;

/// The invocation stops starting steps this long before its deadline, which leaves time
/// for the step under way and the save of the walk's position.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// The settings of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    pub table_name: String,
    /// Steps one run takes at most: a step reads one leaf and the users of its range.
    pub steps_per_run: usize,
    /// The CloudWatch namespace of the metrics.
    pub metrics_namespace: String,
}

impl CheckConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let table_name = set("TABLE_NAME")
            .ok_or_else(|| ConfigError("environment variable TABLE_NAME is not set".into()))?;
        let steps_per_run = match set("INDEX_CHECK_STEPS_PER_RUN") {
            None => DEFAULT_STEPS_PER_RUN,
            Some(raw) => raw.parse().ok().filter(|steps| *steps > 0).ok_or_else(|| {
                ConfigError(format!(
                    "INDEX_CHECK_STEPS_PER_RUN must be a whole number above 0, not {raw:?}"
                ))
            })?,
        };
        let metrics_namespace = set("METRICS_NAMESPACE").unwrap_or_else(|| "UsersApi".into());
        Ok(Self {
            table_name,
            steps_per_run,
            metrics_namespace,
        })
    }
}

/// One run: the walk's next steps, then one log line and one metrics line of what they
/// found. Answers the run's report, for the invocation's result.
pub async fn handle(
    db: &Db,
    config: &CheckConfig,
    deadline: Option<Instant>,
) -> Result<RunReport, ApiError> {
    let deadline = deadline.map(|deadline| {
        deadline
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or_else(Instant::now)
    });
    let report = index_check::run(db, config.steps_per_run, deadline).await?;
    tracing::info!(%report, "list index check run");
    println!(
        "{}",
        telemetry::metrics_line(
            &config.metrics_namespace,
            &[
                ("IndexLeavesChecked", report.leaves_checked),
                ("IndexRowsRepaired", report.rows_repaired),
                ("IndexUnreadableLeaves", report.unreadable_leaves),
                ("IndexRepairsRaced", report.repairs_raced),
                ("IndexCyclesFinished", report.cycles_finished),
            ],
            chrono::Utc::now(),
        )
    );
    Ok(report)
}

/// Serves `handle` on the Lambda runtime; the event (the schedule's) carries nothing it
/// needs. A failed run is the invocation's error, for the function's errors alarm.
pub async fn serve(db: &Db, config: &CheckConfig) -> Result<(), lambda_http::Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    lambda_runtime::run(lambda_http::service_fn(
        |invocation: LambdaEvent<serde_json::Value>| async move {
            let left = invocation
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let report = handle(db, config, Some(Instant::now() + left)).await?;
            Ok::<_, lambda_http::Error>(serde_json::to_value(report)?)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<CheckConfig, ConfigError> {
        CheckConfig::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn the_check_needs_its_table_and_takes_its_defaults_otherwise() {
        assert!(config(&[]).is_err());
        assert_eq!(
            config(&[("TABLE_NAME", "users")]).unwrap(),
            CheckConfig {
                table_name: "users".into(),
                steps_per_run: DEFAULT_STEPS_PER_RUN,
                metrics_namespace: "UsersApi".into(),
            }
        );
        let set = config(&[
            ("TABLE_NAME", "users"),
            ("INDEX_CHECK_STEPS_PER_RUN", "50"),
            ("METRICS_NAMESPACE", "stack/ListIndex"),
        ])
        .unwrap();
        assert_eq!(set.steps_per_run, 50);
        assert_eq!(set.metrics_namespace, "stack/ListIndex");
        for bad in ["0", "-1", "many"] {
            assert!(
                config(&[("TABLE_NAME", "users"), ("INDEX_CHECK_STEPS_PER_RUN", bad)]).is_err()
            );
        }
    }
}
