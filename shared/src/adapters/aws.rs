//! One `aws_config` load per process, over one rustls/ring HTTP client, and an SDK
//! interceptor that counts calls (for tests and the bench).

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::{tls, Builder};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The configuration of a function, from the environment Lambda provides: region, the
/// role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// and `AWS_ENDPOINT_URL` when pointed at an emulator. Built by hand rather than through
/// the default provider chain, so no profile, SSO, STS or instance-metadata code is
/// linked in or run at init.
pub fn from_lambda_environment() -> SdkConfig {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .map(Region::new);
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(http_client())
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(endpoint) = env("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

/// How long one AWS call may take, retries included: 4 s (a connection within 1 s, each
/// attempt within 2 s). The functions run for at most 10 s (template.yaml), so a hanging
/// dependency ends the call with a timeout error naming the operation, which the handler
/// logs and answers as a 500, with 6 s left, instead of Lambda killing the function
/// without an answer or a log line. A typical call takes 5-300 ms.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(4);
/// The bound of one attempt of a call, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound of a TCP + TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The time budget of every AWS call of a function (see [`CALL_TIMEOUT`]).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build()
}

/// Standard retries (3 attempts, jittered backoff) of throttling and transient errors,
/// timeouts included, within [`CALL_TIMEOUT`].
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// Loads region, credentials and endpoint through the SDK's full default chain
/// (profiles, SSO, web identity, ...): for tools run by people, not for functions.
pub async fn load() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The one HTTP client: hyper 1 with rustls on ring (no aws-lc, no second HTTP stack).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Counts SDK operations by name. Attach with `.interceptor(counter.clone())` on a
/// service config builder.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// Total calls so far.
    pub fn total(&self) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .sum()
    }

    /// Calls so far, by operation name (e.g. `Query`).
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn reset(&self) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// The name of the operation a request calls. JSON protocols name it in X-Amz-Target
/// ("DynamoDB_20120810.GetItem" → "GetItem"); REST protocols (SES v2) by method and path
/// ("POST /v2/email/outbound-emails").
pub fn operation_name(request: &HttpRequest) -> String {
    match request.headers().get("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => {
            let uri = request.uri();
            let path = uri
                .split_once("://")
                .map_or(uri, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
            format!(
                "{} {}",
                request.method(),
                path.split('?').next().unwrap_or(path)
            )
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation_name(context.request());
        *self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}
