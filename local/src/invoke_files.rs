//! What `make run` writes to `.local/` for invoking the functions themselves against its
//! stack: `env.json` for `sam local invoke --env-vars` (per function logical id, the
//! emulator as a container reaches it), `lambda.env` (plain `NAME=value` lines for a
//! process on this machine), `events/<function>.json` (the sample events acting as the
//! demo owner; for the change-event publisher, a stream event of the stored audit records
//! of changes) and `stack.json` (where the stack runs, for `make invoke`).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

use crate::fixtures::{realized_events_for, EventOwner};
use crate::function_env::{lambda_service_environment, load_template_functions};
use crate::moto::repo_root;
use crate::provision::BoxError;
use crate::stack::LocalStack;

/// Where the running stack is, as `make invoke` reads it from `.local/stack.json`.
/// The most stream records one invocation of the publisher gets (`BatchSize` of its
/// event source in template.yaml).
const STREAM_BATCH_SIZE: usize = 25;

pub const STACK_FILE: &str = "stack.json";

/// `endpoint` as a container sees it: loopback names become `container_host`.
pub fn container_endpoint(endpoint: &str, container_host: &str) -> String {
    ["127.0.0.1", "localhost", "0.0.0.0"]
        .iter()
        .fold(endpoint.to_owned(), |url, loopback| {
            url.replace(&format!("//{loopback}:"), &format!("//{container_host}:"))
        })
}

/// Writes `.local/`-style files into `dir` (replacing earlier ones).
pub async fn write_invoke_files(
    dir: &Path,
    stack: &LocalStack,
    owner: &EventOwner,
    container_host: &str,
) -> Result<(), BoxError> {
    let functions = load_template_functions(&repo_root().join("template.yaml"))?;
    let bindings = stack.template_bindings()?;
    let events_dir = dir.join("events");
    std::fs::create_dir_all(&events_dir)?;

    // SAM sets only the variables the template declares (AWS_ENDPOINT_URL among them);
    // the credentials come from the shell running `sam` (see README).
    let in_container = container_endpoint(&stack.emulator_endpoint, container_host);
    let mut env_json = Map::new();
    let mut common: Option<BTreeMap<String, String>> = None;
    for function in &functions {
        let mut environment = function.environment(&bindings)?;
        environment.insert("AWS_ENDPOINT_URL".into(), in_container.clone());
        env_json.insert(function.logical_id.clone(), json!(environment));
        // lambda.env: what every function shares (today, all of it: Globals only).
        let mine = function.environment(&bindings)?;
        common = Some(match common {
            None => mine,
            Some(shared) => shared
                .into_iter()
                .filter(|(name, value)| mine.get(name) == Some(value))
                .collect(),
        });
    }
    std::fs::write(
        dir.join("env.json"),
        serde_json::to_string_pretty(&Value::Object(env_json))? + "\n",
    )?;

    let mut plain = common.unwrap_or_default();
    for (name, value) in
        lambda_service_environment("local", &stack.region, &stack.emulator_endpoint)
    {
        if name.starts_with("AWS_") && !name.starts_with("AWS_LAMBDA_") {
            plain.insert(name, value);
        }
    }
    let lines: String = plain
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::write(
        dir.join("lambda.env"),
        format!("# The functions' environment against the local stack, for a process on this machine.\n{lines}"),
    )?;

    // The reset-password event sets the owner's password to what it was, so the demo
    // credentials keep working after it.
    for (function, event) in realized_events_for(stack, owner, &owner.password).await? {
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&event)?)?;
        std::fs::write(events_dir.join(format!("{function}.json")), pretty + "\n")?;
    }

    // The publisher's: a stream event of the audit records of changes stored so far, as
    // many as one invocation gets (the template's BatchSize for the table's stream).
    let mut items = crate::change_events::stored_change_items(&stack.services.db).await?;
    items.truncate(STREAM_BATCH_SIZE);
    let stream =
        crate::change_events::stream_event(&items, &stack.region, stack.services.db.table());
    std::fs::write(
        events_dir.join("publish-change-events.json"),
        serde_json::to_string_pretty(&stream)? + "\n",
    )?;

    // The index check's: a schedule's event, which carries nothing it reads.
    std::fs::write(
        events_dir.join("check-list-index.json"),
        include_str!("../../events/check-list-index.json"),
    )?;

    std::fs::write(
        dir.join(STACK_FILE),
        serde_json::to_string_pretty(&json!({
            "gateway": stack.base_url,
            "emulator": stack.emulator_endpoint,
            "region": stack.region,
            "pid": std::process::id(),
        }))? + "\n",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_endpoint_is_seen_through_the_container_host() {
        assert_eq!(
            container_endpoint("http://127.0.0.1:5000", "host.docker.internal"),
            "http://host.docker.internal:5000"
        );
        assert_eq!(
            container_endpoint("http://moto.internal:5000", "host.docker.internal"),
            "http://moto.internal:5000"
        );
    }
}
