//! Runs a function's release binary as its own process under the Runtime API stub and
//! measures each invocation: CPU time (from the kernel's scheduler statistics), the
//! DynamoDB calls it made (from the fake), and the process's peak resident memory.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedReceiver;

use super::fake_dynamo::{CallSummary, FakeDynamo};
use local::runtime_api::{Answer, RuntimeApi};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The table name the functions are configured with.
pub const TABLE: &str = "bench-scale-users";
/// Memory size given to the functions (as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
const MEMORY_MB: &str = "128";
/// Longest wait for one answer: a 100,000-user account takes seconds per invocation.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
/// Log lines kept for an error report.
const LOG_LINES: usize = 30;

/// What one process did over its measured invocations.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// CPU time of each measured invocation, in milliseconds.
    pub cpu_ms: Vec<f64>,
    /// The largest resident set of the process (VmHWM), warm-up included.
    pub peak_rss_mb: f64,
    /// The calls of the last measured invocation (every invocation makes the same).
    pub calls: CallSummary,
}

/// The environment Lambda gives a function, pointed at the stub and the fake.
fn lambda_env(command: &mut Command, function: &str, runtime_api: &str, dynamo: &str) {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench-scale")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_ENDPOINT_URL", dynamo)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TABLE_NAME", TABLE)
        .env("USER_POOL_ID", "us-east-1_benchscale")
        .env("USER_POOL_CLIENT_ID", "benchscaleclient")
        .env("SENDER_EMAIL", "no-reply@example.com")
        .env("SIGNUP_URL", "https://app.example.com/signup")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
}

/// Starts `binary`, invokes it once to warm up and `invocations` times measured with
/// `event`, and passes each answer to `check` (an error stops the run, with the
/// function's last log lines).
pub async fn measure(
    api: &mut RuntimeApi,
    fake: &FakeDynamo,
    binary: &Path,
    event: &str,
    invocations: usize,
    check: impl Fn(&Answer) -> Result<(), String>,
) -> Result<Measurement, BoxError> {
    let function = binary
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    while api.first_next.try_recv().is_ok() {}
    while api.responses.try_recv().is_ok() {}
    let mut command = Command::new(binary);
    lambda_env(&mut command, &function, &api.address, &fake.endpoint);
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let pid = child.id().ok_or("the function exited at once")?;
    let log = keep_last_lines(&mut child);
    let failed = |err: String| -> BoxError {
        let lines: Vec<String> = log.lock().expect("log").iter().cloned().collect();
        format!(
            "{function}: {err}\nits last log lines:\n{}",
            lines.join("\n")
        )
        .into()
    };

    wait(&mut api.first_next, &mut child, "starting")
        .await
        .map_err(failed)?;
    let mut measurement = Measurement {
        cpu_ms: Vec::with_capacity(invocations),
        peak_rss_mb: 0.0,
        calls: CallSummary::default(),
    };
    for round in 0..=invocations {
        fake.take_calls();
        let before = cpu_ns(pid)?;
        api.serve(event.to_owned(), 1);
        let answer = wait(&mut api.responses, &mut child, "invoked")
            .await
            .map_err(failed)?;
        // Done when it asks for the next event: what it does after answering counts too.
        wait(&mut api.first_next, &mut child, "finishing")
            .await
            .map_err(failed)?;
        let after = cpu_ns(pid)?;
        check(&answer).map_err(failed)?;
        if round > 0 {
            measurement.cpu_ms.push((after - before) as f64 / 1e6);
            measurement.calls = CallSummary::of(&fake.take_calls());
        }
    }
    measurement.peak_rss_mb = peak_rss_kb(pid)? as f64 / 1024.0;
    child.kill().await?;
    Ok(measurement)
}

/// The next message of `channel`, unless the process exits or takes too long.
async fn wait<T>(
    channel: &mut UnboundedReceiver<T>,
    child: &mut Child,
    doing: &str,
) -> Result<T, String> {
    tokio::select! {
        message = channel.recv() => message.ok_or_else(|| "the runtime stub stopped".to_owned()),
        status = child.wait() => Err(format!("exited while {doing}: {status:?}")),
        _ = tokio::time::sleep(ANSWER_TIMEOUT) => Err(format!("no progress in {ANSWER_TIMEOUT:?} while {doing}")),
    }
}

/// Keeps the last lines the process writes to stderr, for error reports.
fn keep_last_lines(child: &mut Child) -> Arc<Mutex<VecDeque<String>>> {
    let log = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let log = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = log.lock().expect("log");
                if log.len() == LOG_LINES {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
    }
    log
}

/// Nanoseconds the process's threads have run on a CPU: the first field of each
/// thread's schedstat (exact, where utime + stime count 10 ms ticks).
fn cpu_ns(pid: u32) -> Result<u64, BoxError> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or("unreadable schedstat")?;
    }
    Ok(total)
}

fn peak_rss_kb(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/<pid>/status".into())
}
