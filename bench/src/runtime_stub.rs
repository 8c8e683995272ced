//! A small Lambda Runtime API: hands out events, takes responses, and reports when a
//! process first asks for work (the end of its init).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

#[derive(Default)]
struct Queue {
    event: String,
    remaining: usize,
}

#[derive(Clone)]
struct Stub {
    queue: Arc<Mutex<Queue>>,
    first_next: mpsc::UnboundedSender<Instant>,
    responses: mpsc::UnboundedSender<u16>,
}

/// The stub's handle: where it listens and what it saw.
pub struct RuntimeApi {
    pub address: String,
    queue: Arc<Mutex<Queue>>,
    pub first_next: mpsc::UnboundedReceiver<Instant>,
    pub responses: mpsc::UnboundedReceiver<u16>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let (first_tx, first_rx) = mpsc::unbounded_channel();
        let (resp_tx, resp_rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(Queue::default()));
        let stub = Stub {
            queue: queue.clone(),
            first_next: first_tx,
            responses: resp_tx,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(stub);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            queue,
            first_next: first_rx,
            responses: resp_rx,
        })
    }

    /// Serve `event` to the next `count` requests for work; later requests wait.
    pub fn serve(&self, event: String, count: usize) {
        *self.queue.lock().expect("queue") = Queue {
            event,
            remaining: count,
        };
    }
}

async fn next(State(stub): State<Stub>) -> Response {
    let _ = stub.first_next.send(Instant::now());
    let event = {
        let mut queue = stub.queue.lock().expect("queue");
        if queue.remaining == 0 {
            None
        } else {
            queue.remaining -= 1;
            Some(queue.event.clone())
        }
    };
    match event {
        Some(event) => {
            let mut headers = HeaderMap::new();
            let id = format!(
                "bench-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            );
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 30_000;
            headers.insert("lambda-runtime-aws-request-id", id.parse().expect("ascii"));
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().expect("ascii"),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:bench"
                    .parse()
                    .expect("ascii"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000"
                    .parse()
                    .expect("ascii"),
            );
            (StatusCode::OK, headers, event).into_response()
        }
        // No more work: hold the request, as Lambda does between invocations.
        None => std::future::pending::<Response>().await,
    }
}

async fn response(State(stub): State<Stub>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let status = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64())
        .unwrap_or(0) as u16;
    let _ = stub.responses.send(status);
    StatusCode::ACCEPTED
}

async fn error(State(stub): State<Stub>, Path(_id): Path<String>) -> StatusCode {
    let _ = stub.responses.send(0);
    StatusCode::ACCEPTED
}

async fn init_error() -> StatusCode {
    StatusCode::ACCEPTED
}
