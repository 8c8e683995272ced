//! Every function binary as Lambda runs it: its own process under a Lambda Runtime API,
//! with exactly the environment template.yaml gives that function (resolved against the
//! test's local stack) plus what the Lambda service adds, answering its sample event made
//! real. This covers what the in-process tests do not: each `main.rs` (configuration,
//! client wiring) and the lambda_http event and response handling.
//!
//! The function that is not behind a route, the change-event publisher, answers a
//! DynamoDB stream event of the audit records of changes the other functions stored.
//!
//! The binaries are the workspace's debug builds beside this test (`make test` builds
//! them before `cargo test`).

use integration_tests::TestApp;
use local::fixtures::realized_events;
use local::function_env::{lambda_service_environment, load_template_functions};
use local::moto::repo_root;
use local::runtime_api::RuntimeApi;
use serde_json::Value;
use shared::edge::endpoints::{dispatch, ROUTES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Where cargo put the workspace's binaries: this test runs from `<target>/debug/deps/`.
fn binary_dir() -> PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    test.parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A source file of the function (or of `shared/`) changed since `binary_path` was built,
/// if any: `cargo test` alone does not rebuild other crates' binaries.
fn newer_source(binary_path: &Path, function: &str) -> Option<PathBuf> {
    let built = modified(binary_path)?;
    let mut pending = vec![
        repo_root().join("shared/src"),
        repo_root().join(format!("functions/{function}/src")),
    ];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if modified(&path).is_some_and(|changed| changed > built) {
                return Some(path);
            }
        }
    }
    None
}

/// A function process waiting for work under its own Runtime API.
struct RunningFunction {
    api: RuntimeApi,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

/// Starts `binary` with only `environment` and waits until it asks for work; if it stops
/// first, the error is what it wrote to stderr (its own message).
async fn start_function(
    binary: &str,
    environment: &BTreeMap<String, String>,
) -> Result<RunningFunction, String> {
    let path = binary_dir().join(binary);
    if !path.exists() {
        return Err(format!(
            "{} is missing: build the functions first (`make test` does: cargo build -p {binary})",
            path.display()
        ));
    }
    if let Some(newer) = newer_source(&path, binary) {
        return Err(format!(
            "{} is older than {}: rebuild it (`make test` does: cargo build -p {binary})",
            path.display(),
            newer.display()
        ));
    }
    let mut api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let mut child = Command::new(&path)
        .env_clear()
        .envs(environment)
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{binary}: {e}"))?;
    // Drained all along, so the logs never fill the pipe and are there to quote.
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().expect("piped stderr");
    let drained = {
        let stderr = stderr.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            let mut chunk = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut chunk).await {
                if read == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&chunk[..read]));
                *stderr.lock().unwrap() = text.clone();
            }
        })
    };
    tokio::select! {
        asked = tokio::time::timeout(Duration::from_secs(30), api.first_next.recv()) => {
            asked
                .map_err(|_| format!("{binary} did not ask for work within 30 s"))?
                .ok_or("the runtime stub stopped")?;
        }
        status = child.wait() => {
            let _ = drained.await;
            let said = stderr.lock().unwrap().trim().to_owned();
            return Err(format!("{binary} stopped before asking for work ({}): {said}",
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())));
        }
    }
    Ok(RunningFunction { api, child, stderr })
}

impl RunningFunction {
    /// Hands the function one event and returns its HTTP status and body (status 0: it
    /// reported an error to the runtime).
    async fn invoke(&mut self, event: String) -> Result<(u16, String), String> {
        let answer = self.invoke_raw(event).await?;
        Ok((answer.status, answer.body))
    }

    /// Hands the function one event and returns what it posted to the runtime.
    async fn invoke_raw(&mut self, event: String) -> Result<local::runtime_api::Answer, String> {
        self.api.serve(event, 1);
        let answer = tokio::time::timeout(Duration::from_secs(30), self.api.responses.recv())
            .await
            .map_err(|_| {
                format!(
                    "no answer within 30 s; stderr: {}",
                    self.stderr.lock().unwrap()
                )
            })?
            .ok_or("the runtime stub stopped")?;
        Ok(answer)
    }
}

/// The functions of the template that no route invokes: the change-event publisher,
/// invoked by the table's stream, and the list-index check, invoked by a schedule.
const OTHER_FUNCTIONS: [&str; 2] = ["publish-change-events", "check-list-index"];

/// A JSON value's structure: field names and value kinds, lists by their first element.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), shape(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => Value::Null,
    }
}

fn body_shape(body: &str) -> Value {
    serde_json::from_str(body)
        .map(|json| shape(&json))
        .unwrap_or_else(|_| Value::String(format!("not JSON: {body}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_binary_answers_its_sample_event_with_the_environment_the_template_gives_it()
{
    let app = TestApp::spawn().await;
    let bindings = app.stack.template_bindings().unwrap();
    let functions = load_template_functions(&repo_root().join("template.yaml")).unwrap();
    assert_eq!(
        functions.len(),
        ROUTES.len() + OTHER_FUNCTIONS.len(),
        "one template function per route, and the others"
    );

    // All processes start at once (their inits overlap); the events then go one at a
    // time, in route order, as the in-process test sends them: some act on the same users.
    let started = futures_util::future::join_all(functions.iter().map(|function| {
        let mut environment = lambda_service_environment(
            &function.logical_id,
            &app.stack.region,
            &app.stack.emulator_endpoint,
        );
        environment.extend(function.environment(&bindings).unwrap());
        // The template leaves it empty for AWS; pointed at the emulator as
        // `.local/env.json` points it for `sam local invoke`.
        environment.insert(
            "AWS_ENDPOINT_URL".into(),
            app.stack.emulator_endpoint.clone(),
        );
        async move {
            (
                function.binary.clone(),
                start_function(&function.binary, &environment).await,
            )
        }
    }))
    .await;
    let mut running: BTreeMap<String, RunningFunction> = BTreeMap::new();
    let mut failures = Vec::new();
    for (binary, result) in started {
        match result {
            Ok(function) => {
                running.insert(binary, function);
            }
            Err(message) => failures.push(message),
        }
    }

    // The same fixtures twice: one set for the binaries, one for the handlers in-process,
    // whose answers give the expected body shapes.
    let binary_events = realized_events(&app.stack).await.unwrap();
    let in_process_events: BTreeMap<_, _> = realized_events(&app.stack)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for (function, event) in binary_events {
        let Some(process) = running.get_mut(function) else {
            continue;
        };
        let (status, body) = match process.invoke(event).await {
            Ok(answer) => answer,
            Err(message) => {
                failures.push(format!("{function}: {message}"));
                continue;
            }
        };
        let route = ROUTES.iter().find(|r| r.function == function).unwrap();
        let request = lambda_http::request::from_str(&in_process_events[function]).unwrap();
        let expected = dispatch(&app.stack.services, route.endpoint, request).await;
        let expected_body = match expected.body() {
            lambda_http::Body::Text(text) => text.clone(),
            lambda_http::Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            lambda_http::Body::Empty => String::new(),
            _ => String::new(),
        };
        if status != 200 {
            failures.push(format!("{function}: {status} {body}"));
        } else if body_shape(&body) != body_shape(&expected_body) {
            failures.push(format!(
                "{function}: body {body} is not shaped like the handler's {expected_body}"
            ));
        }
    }

    // The publisher, on a stream event of the audit records of changes the functions
    // above stored (or, without any, of one stored here), against the emulator's bus.
    if let Some(process) = running.get_mut("publish-change-events") {
        let db = &app.stack.services.db;
        let mut items = local::change_events::stored_change_items(db).await.unwrap();
        if items.is_empty() {
            let record = shared::features::audit::AuditRecord::new(
                shared::domain::AccountId::new(),
                shared::features::audit::Entry::new(
                    shared::features::audit::Action::UserDeleted,
                    None,
                    Some(shared::domain::UserId::new()),
                )
                .field("deleted", false, true),
                &shared::features::audit::Origin::default(),
                chrono::Utc::now(),
            );
            app.put_items(
                shared::adapters::db::audit_records::items_of(&[record], db.audit_retention())
                    .unwrap(),
            )
            .await;
            items = local::change_events::stored_change_items(db).await.unwrap();
        }
        let event = local::change_events::stream_event(&items, &app.stack.region, db.table());
        match process.invoke_raw(event.to_string()).await {
            Ok(answer) => {
                let posted: Value = serde_json::from_str(&answer.raw).unwrap_or_default();
                if posted != serde_json::json!({"batchItemFailures": []}) {
                    failures.push(format!(
                        "publish-change-events ({} records): {}",
                        items.len(),
                        answer.raw
                    ));
                }
            }
            Err(message) => failures.push(format!("publish-change-events: {message}")),
        }
    }
    // The index check, on its schedule's sample event, walks the stack's table: every
    // account's index agrees with its users, so it repairs nothing.
    if let Some(process) = running.get_mut("check-list-index") {
        let event =
            std::fs::read_to_string(repo_root().join("events/check-list-index.json")).unwrap();
        match process.invoke_raw(event).await {
            Ok(answer) => {
                let posted: Value = serde_json::from_str(&answer.raw).unwrap_or_default();
                if posted["steps"].as_u64().unwrap_or_default() == 0
                    || posted["rowsRepaired"] != 0
                    || posted["unreadableLeaves"] != 0
                {
                    failures.push(format!("check-list-index: {}", answer.raw));
                }
            }
            Err(message) => failures.push(format!("check-list-index: {message}")),
        }
    }
    for (_, mut function) in running {
        let _ = function.child.kill().await;
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_function_missing_a_variable_it_needs_stops_with_its_own_message() {
    let app = TestApp::spawn().await;
    let bindings = app.stack.template_bindings().unwrap();
    let functions = load_template_functions(&repo_root().join("template.yaml")).unwrap();
    let function = functions
        .iter()
        .find(|f| f.binary == "get-user-info")
        .unwrap();
    let mut environment =
        lambda_service_environment(&function.logical_id, "us-east-1", "http://127.0.0.1:9");
    environment.extend(function.environment(&bindings).unwrap());
    environment.remove("TABLE_NAME");
    let error = match start_function(&function.binary, &environment).await {
        Ok(_) => panic!("get-user-info started without TABLE_NAME"),
        Err(error) => error,
    };
    assert!(
        error.contains("environment variable TABLE_NAME is not set"),
        "{error}"
    );
}
