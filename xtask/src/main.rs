//! Project chores.
//!
//! `cargo xtask new-endpoint <function> <METHOD> <path> [--open]`: writes the parts of a
//! new endpoint that follow from its name and route (docs/adding-an-endpoint.md, steps 3
//! to 5): the function crate, its sample API Gateway event and its row in the template's
//! table of functions (template.yaml written again from it), then prints the steps left,
//! which need decisions (the handler, `ROUTES`, the row's policy, OpenAPI). Nothing
//! existing is overwritten.
//!
//! `cargo xtask template [--check]`: writes template.yaml from template/ (see
//! `template.rs` and docs/template.md), or checks that it is what they generate.

mod template;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

/// What the command is asked to create.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewEndpoint {
    /// The function crate and binary, e.g. `audit-log`.
    function: String,
    method: String,
    path: String,
    /// Whether the route is open (no JWT authorizer).
    open: bool,
}

impl NewEndpoint {
    fn parse(args: &[String]) -> Result<Self, String> {
        let usage = "usage: cargo xtask new-endpoint <function> <METHOD> <path> [--open]";
        let (positional, flags): (Vec<&String>, Vec<&String>) =
            args.iter().partition(|arg| !arg.starts_with("--"));
        let [function, method, path] = positional.as_slice() else {
            return Err(usage.to_owned());
        };
        if flags.iter().any(|flag| flag.as_str() != "--open") {
            return Err(usage.to_owned());
        }
        let valid_name = !function.is_empty()
            && function
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !function.starts_with('-');
        if !valid_name {
            return Err(format!(
                "{function}: a function name is lower-case words joined by '-'"
            ));
        }
        let method = method.to_ascii_uppercase();
        if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
            return Err(format!("{method}: not an HTTP method the API uses"));
        }
        if !path.starts_with("/api/v1/") {
            return Err(format!("{path}: routes live under /api/v1/"));
        }
        Ok(Self {
            function: function.to_string(),
            method,
            path: path.to_string(),
            open: !flags.is_empty(),
        })
    }

    /// The handler's module in `shared/src/edge/endpoints/`.
    fn module(&self) -> String {
        self.function.replace('-', "_")
    }

    fn cargo_toml(&self) -> String {
        format!(
            r#"[package]
name = "{}"
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
shared.workspace = true
lambda_http.workspace = true
tokio.workspace = true

[lints]
workspace = true
"#,
            self.function
        )
    }

    fn main_rs(&self) -> String {
        format!(
            r#"//! {} {}

use shared::adapters::{{aws, db::Db}};
use shared::edge::{{endpoints::{module}, lambda, telemetry}};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {{
    telemetry::init();
    let config = Config::from_env()?;
    let db = Db::from_config(&aws::from_lambda_environment(), &config);
    lambda::serve(|req| {module}::handle(&db, req)).await
}}
"#,
            self.method,
            self.path,
            module = self.module()
        )
    }

    /// A sample event from a neighbour's: the same shape and caller, this route.
    fn event(&self, neighbour: &str) -> Result<String, String> {
        let mut event: Value =
            serde_json::from_str(neighbour).map_err(|e| format!("the neighbour event: {e}"))?;
        let route_key = format!("{} {}", self.method, self.path);
        event["routeKey"] = route_key.clone().into();
        event["rawPath"] = self.path.clone().into();
        event["rawQueryString"] = "".into();
        event["queryStringParameters"] = Value::Null;
        event["body"] = Value::Null;
        let context = &mut event["requestContext"];
        context["routeKey"] = route_key.into();
        context["http"]["method"] = self.method.clone().into();
        context["http"]["path"] = self.path.clone().into();
        if self.open {
            if let Some(context) = context.as_object_mut() {
                context.remove("authorizer");
            }
        }
        serde_json::to_string_pretty(&event)
            .map(|text| text + "\n")
            .map_err(|e| e.to_string())
    }

    /// Writes the function crate and the sample event under `root`; the paths written.
    fn write(&self, root: &Path) -> Result<Vec<PathBuf>, String> {
        let crate_dir = root.join("functions").join(&self.function);
        let event_file = root.join("events").join(format!("{}.json", self.function));
        for existing in [&crate_dir, &event_file] {
            if existing.exists() {
                return Err(format!("{} exists already", existing.display()));
            }
        }
        let neighbour = std::fs::read_to_string(root.join("events/get-all-users.json"))
            .map_err(|e| format!("events/get-all-users.json: {e}"))?;
        let event = self.event(&neighbour)?;
        std::fs::create_dir_all(crate_dir.join("src")).map_err(|e| e.to_string())?;
        let files = [
            (crate_dir.join("Cargo.toml"), self.cargo_toml()),
            (crate_dir.join("src/main.rs"), self.main_rs()),
            (event_file, event),
        ];
        for (path, text) in &files {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(files.into_iter().map(|(path, _)| path).collect())
    }

    /// The row of the function in the template's table.
    fn template_row(&self) -> String {
        let open = if self.open { "\n    open: true" } else { "" };
        format!(
            "
  {function}:
    route: {method} {path}{open}
    description: {method} {path} (say in one sentence what it does).
    # Only the actions the handler calls: the permissions test names each one missing.
    grants:
      UsersTable: [dynamodb:GetItem]
",
            function = self.function,
            method = self.method,
            path = self.path,
        )
    }

    /// Fails if the table under `root` has a row of this function already.
    fn check_no_row(&self, root: &Path) -> Result<(), String> {
        let table = std::fs::read_to_string(root.join(template::TABLE))
            .map_err(|e| format!("{}: {e}", template::TABLE))?;
        let has_row = table
            .lines()
            .any(|line| line.trim_end() == format!("  {}:", self.function));
        if has_row {
            return Err(format!(
                "{}: {} has a row already",
                template::TABLE,
                self.function
            ));
        }
        Ok(())
    }

    /// Appends the function's row to the table under `root` and writes template.yaml
    /// again; the paths written.
    fn add_template_row(&self, root: &Path) -> Result<Vec<PathBuf>, String> {
        self.check_no_row(root)?;
        let path = root.join(template::TABLE);
        let mut table =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", template::TABLE))?;
        if !table.ends_with('\n') {
            table.push('\n');
        }
        table.push_str(&self.template_row());
        // Refused before anything is written if the table does not take the row.
        let base = std::fs::read_to_string(root.join(template::BASE))
            .map_err(|e| format!("{}: {e}", template::BASE))?;
        template::render(&base, &table)?;
        std::fs::write(&path, table).map_err(|e| format!("{}: {e}", path.display()))?;
        template::write(root)?;
        Ok(vec![path, root.join(template::OUTPUT)])
    }

    fn steps_left(&self) -> String {
        let module = self.module();
        format!(
            "Left to do (docs/adding-an-endpoint.md; `make test` names each one forgotten):
  1. shared/src/edge/endpoints/{module}.rs: `pub async fn handle(db: &Db, req: Request)`, and
     `pub mod {module};` in shared/src/edge/endpoints/mod.rs; main.rs passes only the adapters
     the handler takes.
  2. Endpoint variant, the ROUTES line (\"{}\", \"{}\", \"{}\", {}) and the dispatch arm.
  3. template/functions.yaml, its row: the description, and in `grants` only the actions
     the handler calls; then `cargo xtask template` (docs/template.md).
  4. openapi.yaml: the path, parameters, schemas and problem responses.
  5. The tests of its area (tests/tests/suite/) and the docs (docs/api.md, data-model.md).",
            self.method, self.path, self.function, !self.open
        )
    }
}

const USAGE: &str = "usage: cargo xtask new-endpoint <function> <METHOD> <path> [--open]
       cargo xtask template [--check]";

fn workspace_root() -> Result<PathBuf, String> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "the workspace root".to_owned())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((command, rest)) if command == "new-endpoint" => {
            NewEndpoint::parse(rest).and_then(|endpoint| {
                let root = workspace_root()?;
                endpoint.check_no_row(&root)?;
                let mut written = endpoint.write(&root)?;
                written.extend(endpoint.add_template_row(&root)?);
                for path in written {
                    println!("wrote {}", path.display());
                }
                println!("{}", endpoint.steps_left());
                Ok(())
            })
        }
        Some((command, rest)) if command == "template" => {
            workspace_root().and_then(|root| match rest {
                [] => template::write(&root).map(|changed| {
                    if changed {
                        println!("wrote {}", template::OUTPUT);
                    }
                }),
                [flag] if flag == "--check" => template::check(&root),
                _ => Err(USAGE.into()),
            })
        }
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_new_endpoint_gets_its_function_crate_and_a_sample_event_of_its_route() {
        let root = std::env::temp_dir().join(format!("xtask-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("events")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        std::fs::copy(
            repo.join("events/get-all-users.json"),
            root.join("events/get-all-users.json"),
        )
        .unwrap();
        let endpoint =
            NewEndpoint::parse(&args("user-groups get /api/v1/user/user_groups")).unwrap();

        let written = endpoint.write(&root).unwrap();

        assert_eq!(written.len(), 3);
        let main = std::fs::read_to_string(root.join("functions/user-groups/src/main.rs")).unwrap();
        assert!(main.contains("user_groups::handle(&db, req)"), "{main}");
        let manifest =
            std::fs::read_to_string(root.join("functions/user-groups/Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"user-groups\""));
        let event: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("events/user-groups.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(event["routeKey"], "GET /api/v1/user/user_groups");
        assert_eq!(
            event["requestContext"]["http"]["path"],
            "/api/v1/user/user_groups"
        );
        assert!(event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"].is_string());
        // Nothing is overwritten.
        assert!(endpoint
            .write(&root)
            .unwrap_err()
            .contains("exists already"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_open_route_has_no_authorizer_in_its_event() {
        let neighbour = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/get-all-users.json"),
        )
        .unwrap();
        let endpoint = NewEndpoint::parse(&args("ping GET /api/v1/user/ping --open")).unwrap();
        let event: Value = serde_json::from_str(&endpoint.event(&neighbour).unwrap()).unwrap();
        assert!(event["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn a_new_endpoint_gets_its_row_in_the_template_table_and_its_blocks_in_the_template() {
        let root = std::env::temp_dir().join(format!("xtask-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("template")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for file in [template::BASE, template::TABLE] {
            std::fs::copy(repo.join(file), root.join(file)).unwrap();
        }
        let endpoint =
            NewEndpoint::parse(&args("user-groups get /api/v1/user/user_groups")).unwrap();

        let written = endpoint.add_template_row(&root).unwrap();

        assert_eq!(written.len(), 2);
        let template: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(root.join("template.yaml")).unwrap())
                .unwrap();
        let function = &template["Resources"]["UserGroupsFunction"];
        assert_eq!(
            function["Metadata"]["BuildProperties"]["Binary"],
            "user-groups"
        );
        let api = &function["Properties"]["Events"]["Api"]["Properties"];
        assert_eq!(api["Path"], "/api/v1/user/user_groups");
        assert_eq!(api["Method"], "GET");
        assert!(api.get("Auth").is_none(), "behind the JWT authorizer");
        for alarm in [
            "UserGroupsFunctionErrorsAlarm",
            "UserGroupsFunctionThrottlesAlarm",
            "UserGroupsRouteLatencyAlarm",
            "UserGroupsFunctionLogGroup",
        ] {
            assert!(template["Resources"].get(alarm).is_some(), "{alarm}");
        }
        template::check(&root).unwrap();
        // Nothing is overwritten.
        assert!(endpoint
            .add_template_row(&root)
            .unwrap_err()
            .contains("has a row already"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn names_methods_and_paths_are_checked() {
        for bad in [
            "User_Groups GET /api/v1/user/x",
            "x FETCH /api/v1/user/x",
            "x GET /elsewhere",
            "x GET",
            "x GET /api/v1/user/x --closed",
        ] {
            assert!(NewEndpoint::parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
