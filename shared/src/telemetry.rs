//! Structured JSON logs. The Lambda runtime opens a span per invocation that carries the
//! request id; including the current span puts it on every line.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; `RUST_LOG` sets the level (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
