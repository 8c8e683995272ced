//! The deployment descriptions agree with each other and with the code: template.yaml,
//! openapi.yaml, the gateway's routes and the function crates; and the local stack
//! provisions what the template declares.

use integration_tests::TestApp;
use local::moto::repo_root;
use local::provision::Definitions;
use serde_yaml::Value;
use shared::domain::UserStatus;
use shared::edge::endpoints::ROUTES;
use std::collections::BTreeSet;

fn yaml(file: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo_root().join(file)).unwrap()).unwrap()
}

fn router_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect()
}

#[test]
fn openapi_documents_exactly_the_routes_of_the_gateway() {
    let openapi = yaml("openapi.yaml");
    let mut documented = BTreeSet::new();
    for (path, operations) in openapi["paths"].as_mapping().unwrap() {
        for (method, _) in operations.as_mapping().unwrap() {
            let method = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                documented.insert((method, path.as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(documented, router_routes());
}

/// The functions of template.yaml: each one's binary (crate) name and resource.
fn template_functions(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|resource| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|resource| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned();
            (binary, resource)
        })
        .collect()
}

#[test]
fn the_template_deploys_one_function_per_route_with_the_gateway_routes_and_auth() {
    let template = yaml("template.yaml");
    let mut deployed = BTreeSet::new();
    for (binary, resource) in template_functions(&template) {
        for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let properties = &event["Properties"];
            let method = properties["Method"].as_str().unwrap().to_uppercase();
            let path = properties["Path"].as_str().unwrap().to_owned();
            let open = properties["Auth"]["Authorizer"].as_str() == Some("NONE");
            deployed.insert((method, path, binary.clone(), !open));
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
                r.authenticated,
            )
        })
        .collect();
    assert_eq!(deployed, expected);
}

#[test]
fn every_route_has_its_function_crate_and_sample_event() {
    for route in ROUTES {
        let manifest = repo_root().join(format!("functions/{}/Cargo.toml", route.function));
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|_| panic!("{} is missing", manifest.display()));
        assert!(
            text.contains(&format!("name = \"{}\"", route.function)),
            "{}",
            manifest.display()
        );
        let event: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(repo_root().join(format!("events/{}.json", route.function)))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            event["routeKey"],
            format!("{} {}", route.method, route.path),
            "{}",
            route.function
        );
        let has_claims = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"].is_string();
        assert_eq!(has_claims, route.authenticated, "{}", route.function);
    }
}

#[test]
fn the_template_declares_what_the_local_stack_provisions() {
    let definitions = Definitions::load(&repo_root().join("template.yaml")).unwrap();
    assert_eq!(
        definitions.table_keys,
        [
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned())
        ]
    );
    assert_eq!(definitions.table_indexes, 0);
    assert_eq!(definitions.ttl_attribute, "expiresAt");
    assert_eq!(definitions.username_attributes, ["email"]);
    assert_eq!(definitions.mfa_configuration, "OPTIONAL");
    assert!(definitions
        .auth_flows
        .iter()
        .any(|f| f == "ALLOW_USER_PASSWORD_AUTH"));
    assert!(definitions.password_policy.minimum_length >= 8);
}

#[tokio::test]
async fn the_emulated_resources_match_the_template() {
    let app = TestApp::spawn().await;
    let definitions = Definitions::load(&repo_root().join("template.yaml")).unwrap();
    let config = &app.stack.services.config;

    let dynamodb = aws_sdk_dynamodb::Client::new(&app.stack.sdk);
    let table = dynamodb
        .describe_table()
        .table_name(&config.table_name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<(String, String)> = table
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(keys, definitions.table_keys);
    assert!(table.global_secondary_indexes().is_empty());
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&config.table_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|t| t.attribute_name()),
        Some("expiresAt")
    );

    let pool = app
        .stack
        .cognito
        .describe_user_pool()
        .user_pool_id(&config.user_pool_id)
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let usernames: Vec<&str> = pool
        .username_attributes()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(usernames, definitions.username_attributes);
    assert_eq!(
        pool.mfa_configuration().map(|m| m.as_str()),
        Some(definitions.mfa_configuration.as_str())
    );
    let policy = pool.policies().and_then(|p| p.password_policy()).unwrap();
    assert_eq!(
        policy.minimum_length(),
        Some(definitions.password_policy.minimum_length)
    );
    assert_eq!(
        policy.require_uppercase(),
        definitions.password_policy.require_uppercase
    );
    assert_eq!(
        policy.require_numbers(),
        definitions.password_policy.require_numbers
    );

    let client = app
        .stack
        .cognito
        .describe_user_pool_client()
        .user_pool_id(&config.user_pool_id)
        .client_id(&config.user_pool_client_id)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap();
    let flows: Vec<&str> = client
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(flows, definitions.auth_flows);
}

/// The IAM actions of each function in template.yaml.
fn granted_actions() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let template = yaml("template.yaml");
    let mut granted = std::collections::BTreeMap::new();
    for (binary, resource) in template_functions(&template) {
        let mut actions = BTreeSet::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                match &statement["Action"] {
                    Value::Sequence(list) => {
                        actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
                    }
                    Value::String(one) => {
                        actions.insert(one.clone());
                    }
                    _ => {}
                }
            }
        }
        granted.insert(binary, actions);
    }
    granted
}

/// The IAM action an SDK operation (as the call counter names it) needs, if any: calls
/// made with the user's own access token need none.
fn required_action(operation: &str) -> Option<String> {
    const DYNAMODB: [&str; 6] = [
        "GetItem",
        "BatchGetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
    ];
    if DYNAMODB.contains(&operation) {
        Some(format!("dynamodb:{operation}"))
    } else if operation == "TransactWriteItems" {
        // IAM checks each item of a transaction against its own action; every
        // transaction here updates at least one item.
        Some("dynamodb:UpdateItem".into())
    } else if operation.starts_with("POST /v2/email/outbound-emails") {
        Some("ses:SendEmail".into())
    } else if operation.starts_with("Admin") {
        Some(format!("cognito-idp:{operation}"))
    } else {
        None
    }
}

#[tokio::test]
async fn every_sample_event_runs_through_its_handler_with_only_the_permissions_the_template_grants()
{
    let app = TestApp::spawn().await;
    let granted = granted_actions();
    let events = local::fixtures::realized_events(&app.stack).await.unwrap();
    let mut failures = Vec::new();
    for (function, event) in events {
        let route = ROUTES.iter().find(|r| r.function == function).unwrap();
        let request = lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{function}: not an API Gateway event: {e}"));
        app.stack.calls.reset();
        let response =
            shared::edge::endpoints::dispatch(&app.stack.services, route.endpoint, request).await;
        if response.status() != 200 {
            failures.push(format!(
                "{function}: {} {:?}",
                response.status(),
                response.body()
            ));
        }
        for operation in app.stack.calls.by_operation().keys() {
            if let Some(action) = required_action(operation) {
                if !granted[function].contains(&action) {
                    failures.push(format!(
                        "{function} calls {operation} but template.yaml does not grant {action}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// Regression tests for what `make fuzz` (schemathesis with openapi.yaml) found.

#[tokio::test]
async fn problem_documents_carry_the_content_type_openapi_documents() {
    let openapi = yaml("openapi.yaml");
    let documented: Vec<String> = openapi["components"]["responses"]["ApplicationError"]["content"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let app = TestApp::spawn().await;
    let answer = app.get("/api/v1/user/signupinfo?token=unknown", None).await;
    answer.assert_problem(499, "TOKEN");
    let content_type = answer.headers["content-type"].to_str().unwrap().to_owned();
    assert_eq!(documented, [content_type]);
}

#[tokio::test]
async fn the_demo_data_matches_the_documented_schemas() {
    let app = TestApp::spawn().await;
    local::seed::seed(&app.stack.services, "Demo-Owner-1")
        .await
        .unwrap();
    let token = app.login(local::seed::OWNER_EMAIL, "Demo-Owner-1").await;
    let answer = app
        .get(
            "/api/v1/user/get_all_users_with_details?deleted=true&pagesize=100",
            Some(&token),
        )
        .await;
    answer.assert_ok();
    let rows = answer.json()["data"].as_array().unwrap().clone();
    assert!(rows.len() >= 9);
    let mut ids = 0;
    for row in &rows {
        for (list, object, permission) in [
            ("groups", "userGroup", "userUserGroup"),
            ("projectsData", "project", "permission"),
            ("drivesData", "sharedClouDrive", "permission"),
        ] {
            for entry in row[list].as_array().unwrap() {
                for id in [&entry[object]["id"], &entry[permission]["id"]] {
                    uuid::Uuid::parse_str(id.as_str().unwrap())
                        .unwrap_or_else(|_| panic!("{list}: {id} is not a UUID"));
                    ids += 1;
                }
            }
        }
    }
    assert!(ids > 0, "the demo data has relations");
}

/// What the template passes every function that is not a limit: where things are, who
/// sends mail, names and logging.
const NOT_LIMITS: [&str; 9] = [
    "TABLE_NAME",
    "USER_POOL_ID",
    "USER_POOL_CLIENT_ID",
    "SENDER_EMAIL",
    "SES_CONFIGURATION_SET",
    "SIGNUP_URL",
    "MFA_ISSUER",
    "RUST_LOG",
    "AWS_ENDPOINT_URL",
];

#[test]
fn every_limit_the_template_passes_the_functions_can_be_set_for_make_run_by_its_name() {
    let template = yaml("template.yaml");
    let variables = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap();
    let limits: Vec<&str> = variables
        .keys()
        .filter_map(Value::as_str)
        .filter(|name| !NOT_LIMITS.contains(name))
        .collect();
    assert!(limits.len() >= 5, "{limits:?}");
    let defaults = shared::domain::config::Limits::default();
    for name in limits {
        // 17 is none of the defaults, and in range for every limit.
        let set = shared::domain::config::Limits::from_lookup(|asked| {
            (asked == name).then(|| "17".into())
        })
        .unwrap();
        assert_ne!(
            set, defaults,
            "{name} is passed to the functions but `make run` ignores it"
        );
    }
}

#[tokio::test]
async fn a_larger_demo_account_is_seeded_through_the_product_writes() {
    let app = TestApp::spawn().await;
    let seeded = local::seed::seed_with_users(&app.stack.services, "Demo-Owner-1", 40)
        .await
        .unwrap();
    assert_eq!(seeded.users.len(), 8 + 40, "the named people and the crowd");
    let token = app.login(local::seed::OWNER_EMAIL, "Demo-Owner-1").await;
    let total = |query: String| {
        let (app, token) = (&app, &token);
        async move {
            let answer = app
                .get(&format!("/api/v1/user/get_all_users?{query}"), Some(token))
                .await;
            answer.assert_ok();
            answer.json()["total"].as_u64().unwrap()
        }
    };
    // Every user is in the list index with the status its writes gave it.
    assert_eq!(total(String::new()).await, 1 + 48);
    for status in [
        UserStatus::ACTIVE,
        UserStatus::INACTIVE,
        UserStatus::PENDING,
    ] {
        let seeded_with = seeded.users.iter().filter(|u| u.status == status).count() as u64
            + u64::from(status == UserStatus::ACTIVE);
        let query = format!("userStatus={}", status.0);
        assert_eq!(total(query.clone()).await, seeded_with, "{query}");
    }
    assert!(
        total("userStatus=2".into()).await > 1 && total("userStatus=4".into()).await > 2,
        "the crowd has inactive and pending users"
    );
    // Each invitation, the owner's with the account's creation, is in the audit trail.
    let invited = app
        .get(
            "/api/v1/user/audit_log?action=user.invited&pagesize=100",
            Some(&token),
        )
        .await;
    invited.assert_ok();
    assert_eq!(invited.json()["total"], 1 + 48);
    // An active member of the crowd signs in with the demo password.
    let member = seeded.users[8..]
        .iter()
        .find(|u| u.status == UserStatus::ACTIVE && u.email.as_str().ends_with("@demo.example.com"))
        .unwrap();
    app.login(member.email.as_str(), local::seed::DEMO_USER_PASSWORD)
        .await;
}

/// The logical id a `!Ref` names.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// The value of the dimension `name` of an alarm, as written in the template.
fn dimension<'a>(alarm: &'a Value, name: &str) -> Option<&'a Value> {
    alarm["Properties"]["Dimensions"]
        .as_sequence()?
        .iter()
        .find(|d| d["Name"].as_str() == Some(name))
        .map(|d| &d["Value"])
}

#[test]
fn every_function_and_route_has_its_alarms_and_rolls_back_on_its_errors() {
    let template = yaml("template.yaml");
    let resources = template["Resources"].as_mapping().unwrap();
    let alarms: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    let alarm_on = |metric: &str, dimension_name: &str, value: &str| {
        alarms.iter().any(|a| {
            a["Properties"]["MetricName"].as_str() == Some(metric)
                && dimension(a, dimension_name)
                    .is_some_and(|v| reference(v) == Some(value) || v.as_str() == Some(value))
        })
    };
    let mut missing = Vec::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        for metric in ["Errors", "Throttles"] {
            if !alarm_on(metric, "FunctionName", id) {
                missing.push(format!("{id}: no {metric} alarm"));
            }
        }
        let rollback: Vec<&str> = resource["Properties"]["DeploymentPreference"]["Alarms"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(reference)
            .collect();
        let errors_alarm = format!("{id}ErrorsAlarm");
        if rollback != [errors_alarm.as_str()]
            || dimension(&template["Resources"][&errors_alarm], "FunctionName").and_then(reference)
                != Some(id)
        {
            missing.push(format!(
                "{id}: deployments do not roll back on {errors_alarm}"
            ));
        }
    }
    for route in ROUTES {
        let latency = alarms.iter().any(|a| {
            a["Properties"]["MetricName"].as_str() == Some("Latency")
                && a["Properties"]["ExtendedStatistic"].as_str() == Some("p99")
                && dimension(a, "Resource").and_then(Value::as_str) == Some(route.path)
                && dimension(a, "Method").and_then(Value::as_str) == Some(route.method)
        });
        if !latency {
            missing.push(format!(
                "{} {}: no p99 latency alarm",
                route.method, route.path
            ));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn the_app_client_allows_no_flow_that_nothing_uses() {
    let definitions = Definitions::load(&repo_root().join("template.yaml")).unwrap();
    assert!(!definitions
        .auth_flows
        .iter()
        .any(|f| f == "ALLOW_ADMIN_USER_PASSWORD_AUTH"));
}

/// An SES client interceptor that keeps the body of the request about to be sent, and
/// stops it there.
#[derive(Debug, Clone, Default)]
struct SentBody(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl aws_sdk_sesv2::config::Intercept for SentBody {
    fn name(&self) -> &'static str {
        "SentBody"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_sesv2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sesv2::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let body = context.request().body().bytes().unwrap_or_default();
        *self.0.lock().unwrap() = Some(String::from_utf8_lossy(body).into_owned());
        Err("kept, not sent".into())
    }
}

/// The JSON body of the SendEmail request a mailer with `configuration_set` makes.
async fn send_email_body(configuration_set: Option<&str>) -> Value {
    use shared::adapters::mail::Mailer;
    let sent = SentBody::default();
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url("http://127.0.0.1:9")
        .interceptor(sent.clone())
        .build();
    let mailer = shared::adapters::mail::Ses::from_client(
        aws_sdk_sesv2::Client::from_conf(config),
        "no-reply@example.com",
    )
    .with_configuration_set(configuration_set.map(str::to_owned));
    let email = shared::adapters::mail::notification("someone@example.com", "Subject", &["Text"]);
    assert!(mailer.send(email).await.is_err());
    let body = sent.0.lock().unwrap().clone().expect("a request was made");
    serde_yaml::from_str(&body).unwrap()
}

#[tokio::test]
async fn mail_goes_through_the_configuration_set_the_template_names() {
    let template = yaml("template.yaml");
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        reference(&variables["SES_CONFIGURATION_SET"]),
        Some("EmailConfigurationSet")
    );
    assert_eq!(
        send_email_body(Some("users-api-mail")).await["ConfigurationSetName"].as_str(),
        Some("users-api-mail")
    );
    assert!(send_email_body(None).await["ConfigurationSetName"].is_null());
}

/// The binary targets of the workspace, as cargo sees them.
fn workspace_binaries() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|package| package["targets"].as_array().unwrap())
        .filter(|target| {
            target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "bin")
        })
        .map(|target| target["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_function_in_the_template_names_a_binary_the_workspace_builds_from_its_root() {
    let template = yaml("template.yaml");
    let binaries = workspace_binaries();
    let functions = template_functions(&template);
    // One per route, the change-event publisher and the list-index check.
    assert_eq!(functions.len(), ROUTES.len() + 2);
    for (binary, resource) in functions {
        assert!(binaries.contains(&binary), "no workspace binary {binary}");
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
        // cargo lambda runs `--bin <Binary>` where CodeUri points: the workspace root.
        assert_eq!(resource["Properties"]["CodeUri"], ".", "{binary}");
    }
}

#[test]
fn the_functions_run_on_arm64_unless_the_architecture_parameter_says_x86_64() {
    let template = yaml("template.yaml");
    let parameter = &template["Parameters"]["Architecture"];
    assert_eq!(parameter["Default"], "arm64");
    assert_eq!(
        parameter["AllowedValues"],
        serde_yaml::from_str::<Value>("[arm64, x86_64]").unwrap()
    );
    let architectures = template["Globals"]["Function"]["Architectures"]
        .as_sequence()
        .unwrap();
    assert_eq!(architectures.len(), 1);
    assert_eq!(reference(&architectures[0]), Some("Architecture"));
}

#[test]
fn only_new_audit_records_of_changes_reach_the_publisher_and_it_may_only_put_on_its_bus() {
    let template = yaml("template.yaml");
    let resources = &template["Resources"];
    assert_eq!(
        resources["UsersTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_IMAGE"
    );
    let function = &resources["PublishChangeEventsFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "publish-change-events"
    );
    let properties = &function["Properties"];
    assert_eq!(
        reference(&properties["Environment"]["Variables"]["EVENT_BUS_NAME"]),
        Some("ChangeEventBus")
    );
    let stream = &properties["Events"]["Stream"];
    assert_eq!(stream["Type"], "DynamoDB");
    let source = &stream["Properties"];
    assert_eq!(
        source["FunctionResponseTypes"],
        serde_yaml::from_str::<Value>("[ReportBatchItemFailures]").unwrap()
    );
    assert_eq!(source["BisectBatchOnFunctionError"], true);
    assert!(source["MaximumRetryAttempts"].as_u64().is_some());
    assert_eq!(
        source["DestinationConfig"]["OnFailure"]["Destination"],
        serde_yaml::from_str::<Value>("!GetAtt ChangeEventsDeadLetterQueue.Arn").unwrap()
    );
    let filters = source["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({
            "eventName": ["INSERT"],
            "dynamodb": {"NewImage": {
                "kind": {"S": [shared::adapters::db::audit_records::KIND_RECORD]},
                "change": {"BOOL": [true]},
            }},
        })
    );
    let granted = granted_actions();
    assert_eq!(
        granted["publish-change-events"],
        BTreeSet::from(["events:PutEvents".to_owned()])
    );
    let statements = properties["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["Resource"],
        serde_yaml::from_str::<Value>("!GetAtt ChangeEventBus.Arn").unwrap()
    );
}

#[tokio::test]
async fn the_index_check_runs_on_a_schedule_one_run_at_a_time_with_the_reads_and_writes_it_makes() {
    let template = yaml("template.yaml");
    let resources = &template["Resources"];
    let function = &resources["CheckListIndexFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "check-list-index"
    );
    let properties = &function["Properties"];
    assert_eq!(properties["ReservedConcurrentExecutions"], 1);
    let schedule = &properties["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(
        reference(&schedule["Properties"]["Schedule"]),
        Some("IndexCheckSchedule")
    );
    let variables = &properties["Environment"]["Variables"];
    assert_eq!(
        reference(&variables["INDEX_CHECK_STEPS_PER_RUN"]),
        Some("IndexCheckStepsPerRun")
    );
    // The drift alarm watches the metrics the function publishes, in its namespace.
    let namespace = variables["METRICS_NAMESPACE"].clone();
    let alarm = &resources["ListIndexDriftAlarm"]["Properties"];
    let watched: BTreeSet<String> = alarm["Metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|query| {
            let metric = &query["MetricStat"]["Metric"];
            assert!(metric.is_null() || metric["Namespace"] == namespace);
            metric["MetricName"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(
        watched,
        BTreeSet::from([
            "IndexRowsRepaired".to_owned(),
            "IndexUnreadableLeaves".to_owned()
        ])
    );

    // Every call a run makes is granted, and nothing it does not need.
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    app.add_active_user(&account, &integration_tests::unique_email("checked"), 8)
        .await;
    app.stack.calls.reset();
    let config = shared::edge::check_list_index::CheckConfig {
        table_name: app.stack.services.db.table().to_owned(),
        steps_per_run: 1_000,
        metrics_namespace: "test".into(),
    };
    shared::edge::check_list_index::handle(&app.stack.services.db, &config, None)
        .await
        .unwrap();
    let called: BTreeSet<String> = app.stack.calls.by_operation().into_keys().collect();
    assert_eq!(
        called,
        BTreeSet::from(
            [
                "GetItem",
                "BatchGetItem",
                "Query",
                "Scan",
                "TransactWriteItems"
            ]
            .map(str::to_owned)
        ),
        "a run reads the position, walks the accounts and their leaves, and saves the position"
    );
    assert_eq!(
        granted_actions()["check-list-index"],
        BTreeSet::from(
            [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
            ]
            .map(str::to_owned)
        )
    );
}

/// template/functions.yaml's `open: true` gives a route three things at once (see
/// docs/template.md): no authorizer, the open routes' throttling, reserved concurrency.
#[test]
fn every_open_route_is_throttled_on_its_own_and_reserves_its_concurrency() {
    let template = yaml("template.yaml");
    let throttled: BTreeSet<String> = template["Resources"]["HttpApi"]["Properties"]
        ["RouteSettings"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(route, settings)| {
            assert!(
                settings["ThrottlingRateLimit"].as_u64().is_some(),
                "{route:?}"
            );
            route.as_str().unwrap().to_owned()
        })
        .collect();
    let mut open = BTreeSet::new();
    for (binary, resource) in template_functions(&template) {
        for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
            let properties = &event["Properties"];
            if event["Type"] == "HttpApi" && properties["Auth"]["Authorizer"] == "NONE" {
                open.insert(format!(
                    "{} {}",
                    properties["Method"].as_str().unwrap(),
                    properties["Path"].as_str().unwrap()
                ));
                assert!(
                    resource["Properties"]
                        .get("ReservedConcurrentExecutions")
                        .is_some(),
                    "{binary}: an open route without reserved concurrency"
                );
            }
        }
    }
    assert_eq!(open, throttled);
}

/// Every "<number> endpoints" in a document, as written.
fn endpoint_counts(text: &str) -> Vec<usize> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|pair| pair[1].trim_end_matches([',', '.', ')', ':']) == "endpoints")
        .filter_map(|pair| pair[0].parse().ok())
        .collect()
}

#[test]
fn the_docs_count_the_endpoints_of_the_specification_as_the_routes_do() {
    // Every route is the specification's but the audit log, which the product adds.
    let specified = ROUTES
        .iter()
        .filter(|route| route.function != "audit-log")
        .count();
    for file in ["README.md", "docs/api.md", "docs/adding-an-endpoint.md"] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        for count in endpoint_counts(&text) {
            assert_eq!(count, specified, "{file} counts {count} endpoints");
        }
    }
    assert_eq!(
        endpoint_counts("the 14 endpoints, its 3 endpoints."),
        [14, 3]
    );
}
