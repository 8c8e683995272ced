//! `make invoke FN=<function> [EVENT=<file>]`: runs one function's real binary (the
//! debug build) under a local Lambda Runtime API against the stack `make run` runs, with
//! the environment `make run` wrote to `.local/`, hands it the event and prints the
//! Lambda response. No Docker.
//!
//! Usage: invoke <function> [event.json]   (default event: .local/events/<function>.json)

use local::function_env::{lambda_service_environment, load_template_functions};
use local::invoke_files::STACK_FILE;
use local::moto::repo_root;
use local::runtime_api::RuntimeApi;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const START_THE_STACK: &str =
    "no local stack is running: start it with `make run` (in another terminal), then invoke again";

fn read_json(path: &PathBuf) -> Result<Value, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// The emulator of the running stack, or None when `make run` is not running.
fn running_emulator(local_dir: &std::path::Path) -> Option<(String, String)> {
    let stack = read_json(&local_dir.join(STACK_FILE)).ok()?;
    let emulator = stack["emulator"].as_str()?.to_owned();
    let region = stack["region"].as_str().unwrap_or("us-east-1").to_owned();
    let address = emulator
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    std::net::TcpStream::connect_timeout(
        &std::net::ToSocketAddrs::to_socket_addrs(&address)
            .ok()?
            .next()?,
        Duration::from_secs(1),
    )
    .ok()?;
    Some((emulator, region))
}

async fn invoke(function: &str, event_path: Option<PathBuf>) -> Result<(), BoxError> {
    let root = repo_root();
    let functions = load_template_functions(&root.join("template.yaml"))?;
    let Some(template_function) = functions.iter().find(|f| f.binary == function) else {
        let names: Vec<&str> = functions.iter().map(|f| f.binary.as_str()).collect();
        return Err(format!(
            "unknown function {function:?}; the functions are: {}",
            names.join(" ")
        )
        .into());
    };
    let local_dir = root.join(".local");
    let Some((emulator, region)) = running_emulator(&local_dir) else {
        return Err(START_THE_STACK.into());
    };
    let event_path =
        event_path.unwrap_or_else(|| local_dir.join(format!("events/{function}.json")));
    let event = read_json(&event_path)?.to_string();

    // The template's variables as `make run` resolved them for this function; the
    // emulator as this machine reaches it.
    let env_json = read_json(&local_dir.join("env.json"))?;
    let mut environment: BTreeMap<String, String> =
        lambda_service_environment(&template_function.logical_id, &region, &emulator);
    for (name, value) in env_json[&template_function.logical_id]
        .as_object()
        .ok_or_else(|| format!("env.json has no {}", template_function.logical_id))?
    {
        environment.insert(name.clone(), value.as_str().unwrap_or_default().to_owned());
    }
    environment.insert("AWS_ENDPOINT_URL".into(), emulator);

    let binary = root.join("target/debug").join(function);
    let mut api = RuntimeApi::start().await?;
    let mut child = tokio::process::Command::new(&binary)
        .env_clear()
        .envs(&environment)
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .stdin(Stdio::null())
        // Its logs (both streams) go to our stderr, as they would go to CloudWatch:
        // stdout holds only the response.
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    tokio::select! {
        asked = api.first_next.recv() => { asked.ok_or("the runtime stub stopped")?; }
        status = child.wait() => {
            return Err(format!("{function} stopped before asking for work ({})", status?).into());
        }
    }
    api.serve(event, 1);
    let answer = tokio::time::timeout(Duration::from_secs(30), api.responses.recv())
        .await
        .map_err(|_| format!("{function} gave no answer within 30 s"))?
        .ok_or("the runtime stub stopped")?;
    child.kill().await?;
    let printed = serde_json::from_str::<Value>(&answer.raw)
        .and_then(|json| serde_json::to_string_pretty(&json))
        .unwrap_or(answer.raw);
    println!("{printed}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(function) = args.next().filter(|f| !f.is_empty()) else {
        eprintln!("usage: make invoke FN=<function> [EVENT=<file>]");
        return ExitCode::from(2);
    };
    let event = args.next().filter(|e| !e.is_empty()).map(PathBuf::from);
    match invoke(&function, event).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
