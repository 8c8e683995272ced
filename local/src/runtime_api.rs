//! A small Lambda Runtime API: hands out events, takes responses, and reports each time a
//! process asks for work (the first time marks the end of its init; later ones, that it
//! is idle again after an invocation). The function binaries run under it in the benches
//! (`make bench`, `make bench-scale`, `make invoke`) and in the tests (`tests/tests/binaries.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, Notify};

#[derive(Default)]
struct Queue {
    event: String,
    remaining: usize,
}

impl Queue {
    fn take(&mut self) -> Option<String> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.event.clone())
    }
}

/// What a function answered to one invocation: the status code and body of its HTTP
/// response (status 0 when it reported an error instead).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// What the function posted, as posted.
    pub raw: String,
}

#[derive(Clone)]
struct Stub {
    queue: Arc<Mutex<Queue>>,
    /// Wakes the requests for work that wait on an empty queue.
    work_queued: Arc<Notify>,
    first_next: mpsc::UnboundedSender<Instant>,
    responses: mpsc::UnboundedSender<Answer>,
}

/// The stub's handle: where it listens and what it saw.
pub struct RuntimeApi {
    pub address: String,
    queue: Arc<Mutex<Queue>>,
    work_queued: Arc<Notify>,
    /// When each request for work arrived.
    pub first_next: mpsc::UnboundedReceiver<Instant>,
    pub responses: mpsc::UnboundedReceiver<Answer>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let (first_tx, first_rx) = mpsc::unbounded_channel();
        let (resp_tx, resp_rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(Queue::default()));
        let work_queued = Arc::new(Notify::new());
        let stub = Stub {
            queue: queue.clone(),
            work_queued: work_queued.clone(),
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
            work_queued,
            first_next: first_rx,
            responses: resp_rx,
        })
    }

    /// Serve `event` to the next `count` requests for work, waiting ones included; later
    /// requests wait.
    pub fn serve(&self, event: String, count: usize) {
        *self.queue.lock().expect("queue") = Queue {
            event,
            remaining: count,
        };
        self.work_queued.notify_waiters();
    }
}

async fn next(State(stub): State<Stub>) -> Response {
    let _ = stub.first_next.send(Instant::now());
    // No work yet: hold the request until there is some, as Lambda does between
    // invocations. (The wake-up is registered before the queue is looked at, so a
    // `serve` in between is not missed.)
    let event = loop {
        let queued = stub.work_queued.notified();
        if let Some(event) = stub.queue.lock().expect("queue").take() {
            break event;
        }
        queued.await;
    };
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

async fn response(
    State(stub): State<Stub>,
    Path(_id): Path<String>,
    body_bytes: Bytes,
) -> StatusCode {
    let response = serde_json::from_slice::<serde_json::Value>(&body_bytes).unwrap_or_default();
    let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
    let body = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"].as_bool() == Some(true) {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    } else {
        body.to_owned()
    };
    let _ = stub.responses.send(Answer {
        status,
        body,
        raw: String::from_utf8_lossy(&body_bytes).into_owned(),
    });
    StatusCode::ACCEPTED
}

async fn error(State(stub): State<Stub>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let text = String::from_utf8_lossy(&body).into_owned();
    let _ = stub.responses.send(Answer {
        status: 0,
        body: text.clone(),
        raw: text,
    });
    StatusCode::ACCEPTED
}

async fn init_error() -> StatusCode {
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn ask_for_work(address: &str) -> TcpStream {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: stub\r\n\r\n")
            .await
            .unwrap();
        stream
    }

    #[tokio::test]
    async fn a_process_that_went_away_takes_no_work() {
        let mut api = RuntimeApi::start().await.unwrap();
        // A process asks for work and is killed while it waits.
        drop(ask_for_work(&api.address).await);
        api.first_next.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The next process gets the event.
        let mut next = ask_for_work(&api.address).await;
        api.first_next.recv().await.unwrap();
        api.serve("{\"event\":1}".to_owned(), 1);
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(Duration::from_secs(5), next.read(&mut answer))
            .await
            .expect("the live process was given the event")
            .unwrap();
        assert!(String::from_utf8_lossy(&answer[..read]).contains("{\"event\":1}"));
    }
}
