//! A dependency that hangs costs at most the AWS clients' time budget
//! (`shared::adapters::aws::CALL_TIMEOUT`), and the caller gets a 500 well before the function's
//! 10 s timeout would end it without an answer.

use integration_tests::{with_dynamodb, TestApp};
use shared::edge::endpoints::Services;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The `Timeout` of every function in template.yaml.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP endpoint that accepts connections and never answers; its address.
async fn endpoint_that_never_answers() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

/// The services with DynamoDB behind `endpoint`, under the functions' time budget.
fn dynamodb_at(
    services: Services,
    dynamodb: &aws_sdk_dynamodb::Config,
    endpoint: &str,
) -> Services {
    let config = dynamodb
        .to_builder()
        .endpoint_url(endpoint)
        .timeout_config(shared::adapters::aws::timeout_config())
        .retry_config(shared::adapters::aws::retry_config())
        .build();
    with_dynamodb(services, config)
}

#[tokio::test]
async fn a_hanging_dependency_is_a_500_within_the_time_budget() {
    let hanging = endpoint_that_never_answers().await;
    let app = TestApp::spawn_with_dynamodb(
        |_| {},
        |services, dynamodb| dynamodb_at(services, dynamodb, &hanging),
    )
    .await;
    // The budget leaves room for the rest of the request inside the function timeout.
    assert!(shared::adapters::aws::CALL_TIMEOUT + Duration::from_secs(2) <= FUNCTION_TIMEOUT);

    let started = Instant::now();
    let answer = app
        .get(
            "/api/v1/user/signupinfo?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
        )
        .await;
    let elapsed = started.elapsed();

    assert_eq!(answer.status, 500, "body: {}", answer.text);
    assert!(answer.text.is_empty());
    assert!(
        elapsed >= shared::adapters::aws::ATTEMPT_TIMEOUT,
        "answered in {elapsed:?}: the endpoint was not the one waited on"
    );
    assert!(
        elapsed < shared::adapters::aws::CALL_TIMEOUT + Duration::from_secs(1),
        "answered in {elapsed:?}, beyond the time budget"
    );
}
