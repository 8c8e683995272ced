//! `make bench`: for every function, the stripped binary size (x86_64 and arm64), init time
//! (exec to first request for work, under a local Runtime API), peak resident memory over
//! a run of realistic invocations against moto, and the AWS calls per invocation; beside
//! the init time of a Python handler that builds the same three boto3 clients.
//!
//! Usage: bench [--release-dir DIR] [--arm64-dir DIR] [--starts N] [--invocations N]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use local::fixtures::realized_events;
use local::moto::{repo_root, Moto};
use local::runtime_api::RuntimeApi;
use local::stack::{LocalStack, StackOptions};
use shared::edge::endpoints::{dispatch, ROUTES};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    release_dir: PathBuf,
    arm64_dir: PathBuf,
    starts: usize,
    invocations: usize,
}

fn options() -> Options {
    let root = repo_root();
    let mut options = Options {
        release_dir: root.join("target/release"),
        arm64_dir: root.join("target/lambda"),
        starts: 20,
        invocations: 200,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--release-dir" => options.release_dir = value.into(),
            "--arm64-dir" => options.arm64_dir = value.into(),
            "--starts" => options.starts = value.parse().expect("--starts N"),
            "--invocations" => options.invocations = value.parse().expect("--invocations N"),
            _ => {
                eprintln!("usage: bench [--release-dir DIR] [--arm64-dir DIR] [--starts N] [--invocations N]");
                std::process::exit(2);
            }
        }
    }
    options
}

fn size_mb(path: &Path) -> Option<f64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1_000_000.0)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// The environment Lambda gives a function, pointed at the emulator.
fn lambda_env(
    command: &mut tokio::process::Command,
    stack: &LocalStack,
    function: &str,
    runtime_api: &str,
) {
    let config = &stack.services.config;
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_ENDPOINT_URL", &stack.emulator_endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", &config.table_name)
        .env("USER_POOL_ID", &config.user_pool_id)
        .env("USER_POOL_CLIENT_ID", &config.user_pool_client_id)
        .env("SENDER_EMAIL", &config.sender_email)
        .env("SIGNUP_URL", &config.signup_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
}

/// Milliseconds from exec to the first request for work, `starts` times.
async fn init_times(
    api: &mut RuntimeApi,
    starts: usize,
    mut command: impl FnMut() -> tokio::process::Command,
) -> Result<Vec<f64>, BoxError> {
    let mut times = Vec::new();
    for _ in 0..starts {
        while api.first_next.try_recv().is_ok() {}
        let started = Instant::now();
        let mut child = command().spawn()?;
        let ready = tokio::time::timeout(Duration::from_secs(20), api.first_next.recv())
            .await
            .map_err(|_| "the process never asked for work")?
            .ok_or("runtime stub stopped")?;
        times.push(ready.duration_since(started).as_secs_f64() * 1000.0);
        child.kill().await?;
    }
    Ok(times)
}

/// Peak resident memory (MB) of one process over `count` invocations of `event`, and
/// the status codes it answered.
async fn peak_memory(
    api: &mut RuntimeApi,
    count: usize,
    event: String,
    mut command: tokio::process::Command,
) -> Result<(f64, Vec<u16>), BoxError> {
    while api.responses.try_recv().is_ok() {}
    api.serve(event, count);
    let mut child = command.spawn()?;
    let pid = child.id().ok_or("no pid")?;
    let mut statuses = Vec::new();
    while statuses.len() < count {
        let answer = tokio::time::timeout(Duration::from_secs(60), api.responses.recv())
            .await
            .map_err(|_| "invocation timed out")?
            .ok_or("runtime stub stopped")?;
        statuses.push(answer.status);
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let peak_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM")?;
    child.kill().await?;
    Ok((peak_kb / 1024.0, statuses))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let options = options();
    let moto = Moto::start(true)?;
    let stack = LocalStack::start(StackOptions::new(moto.endpoint.clone())).await?;

    // AWS calls per invocation, counted by an SDK interceptor on the same handlers.
    let mut calls = std::collections::HashMap::new();
    for (function, event) in realized_events(&stack).await? {
        let route = ROUTES
            .iter()
            .find(|r| r.function == function)
            .expect("route");
        stack.calls.reset();
        let request = lambda_http::request::from_str(&event)?;
        let response = dispatch(&stack.services, route.endpoint, request).await;
        calls.insert(
            function,
            (
                stack.calls.total(),
                response.status().as_u16(),
                stack.calls.by_operation(),
            ),
        );
    }

    let mut api = RuntimeApi::start().await?;
    let events = realized_events(&stack).await?;
    let mut rows = Vec::new();
    for (function, event) in events {
        let binary = options.release_dir.join(function);
        if !binary.exists() {
            eprintln!(
                "{} is missing: `make bench` builds the release binaries",
                binary.display()
            );
            continue;
        }
        let address = api.address.clone();
        let mut inits = init_times(&mut api, options.starts, || {
            let mut command = tokio::process::Command::new(&binary);
            lambda_env(&mut command, &stack, function, &address);
            command
        })
        .await?;
        let max = inits.iter().cloned().fold(0.0, f64::max);
        let mut command = tokio::process::Command::new(&binary);
        lambda_env(&mut command, &stack, function, &address);
        let (rss, statuses) = peak_memory(&mut api, options.invocations, event, command).await?;
        let first_status = statuses.first().copied().unwrap_or(0);
        rows.push((function, median(&mut inits), max, rss, first_status));
        eprintln!("measured {function}");
    }

    let python = repo_root().join(".venv/bin/python");
    let script = repo_root().join("bench/python_handler.py");
    let address = api.address.clone();
    let mut python_inits = init_times(&mut api, options.starts, || {
        let mut command = tokio::process::Command::new(&python);
        lambda_env(&mut command, &stack, "python-boto3", &address);
        command.arg(&script);
        command
    })
    .await?;
    let python_median = median(&mut python_inits);

    println!("| function | x86_64 MB | arm64 MB | init median ms | init max ms | × faster than Python | peak RSS MB ({} calls) | status | AWS calls (all sequential) |", options.invocations);
    println!("|---|---|---|---|---|---|---|---|---|");
    for (function, init_median, init_max, rss, status) in &rows {
        let x86 = size_mb(&options.release_dir.join(function))
            .map_or("n/a".into(), |s| format!("{s:.1}"));
        let arm = size_mb(&options.arm64_dir.join(function).join("bootstrap"))
            .map_or("n/a (no aarch64 build)".into(), |s| format!("{s:.1}"));
        let Some((count, in_process_status, by_operation)) = calls.get(function) else {
            continue;
        };
        let operations: Vec<String> = by_operation
            .iter()
            .map(|(op, n)| {
                if *n > 1 {
                    format!("{op}×{n}")
                } else {
                    op.clone()
                }
            })
            .collect();
        println!(
            "| {function} | {x86} | {arm} | {init_median:.1} | {init_max:.1} | {:.0}× | {rss:.1} | {status} / {in_process_status} | {count}: {} |",
            python_median / init_median,
            operations.join(", ")
        );
    }
    println!(
        "| python + boto3 (3 clients) | - | - | {python_median:.1} | {:.1} | 1× | - | - | - |",
        python_inits.iter().cloned().fold(0.0, f64::max)
    );
    println!();
    println!("status: first answer of the binary under the Runtime API / of the handler in-process (both against moto).");
    Ok(())
}
