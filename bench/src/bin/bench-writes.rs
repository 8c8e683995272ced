//! `make bench-writes`: the user writes under concurrent load, on one account whose list
//! index holds 1,000 to 1,000,000 users, through `make run`'s stack (the handlers the
//! Lambda functions run, behind the local gateway), with the table in the scale bench's
//! fake DynamoDB (`BENCH_DYNAMO=fake`, the default) or in the patched moto
//! (`BENCH_DYNAMO=moto`). Cognito and SES are moto's in both modes.
//!
//! The fake (bench/src/scale/fake_dynamo.rs, shared with bench-scale) serves the table's
//! reads and writes with DynamoDB's write semantics: PutItem, UpdateItem, DeleteItem,
//! TransactWriteItems and BatchWriteItem with their condition and update expressions
//! (the forms the product uses; any other is refused with a 400), failed conditions
//! answered as DynamoDB answers them (the old item with ALL_OLD, cancellation reasons in
//! order); write units as DynamoDB charges them; 400 KB per item, 100 items and 4 MB per
//! transaction; a transaction that meets another in flight on one of its items is
//! cancelled with `TransactionConflict` (a single write meeting one fails with
//! `TransactionConflictException`); every call answered after a modelled latency
//! (`BENCH_FAKE_LATENCY_MS`, default 5: DynamoDB's single-digit-millisecond in-region
//! round trip, the same as bench-scale's), during which a transaction holds its items;
//! and throttling when one item or one partition key takes more than 1,000 write units
//! in a sliding second (`BENCH_FAKE_PARTITION_WCU` changes the partition key's limit,
//! 0 for none; the item's stays 1,000). A throttled single write is retried by the SDK
//! (up to 3 attempts); a throttled transaction is cancelled with `ThrottlingError`, which
//! the product answers 429.
//!
//! What the fake does not model: DynamoDB splitting a hot partition key across
//! partitions by sort key ("split for heat", which lifts the per-key limit towards the
//! per-item one over minutes) and burst capacity; `ClientRequestToken` idempotency; TTL
//! expiry; DynamoDB Streams: the stack reads none (its change events are built from the
//! audit records on `GET /local/events`, a Scan the fake refuses; the bench does not call
//! it), so change events are not delivered in fake mode, as in moto mode. The stack
//! still provisions its table in moto, where it stays empty.
//!
//! What it measures, per mix and number of concurrent writers:
//! - the write units of one whole write: every item each DynamoDB write request of the
//!   case names, charged as DynamoDB charges them (1 unit per KB per item, twice that in
//!   a transaction; failed attempts included). A put's size is read from the request; an
//!   update's or a condition check's from the item as it is after the case; a delete's
//!   from the last put of that item the bench saw (else counted as 1 KB);
//! - the largest item written, and the write units per second of the hottest item;
//! - answers: ok, 429, 5xx, and the cancelled transactions (conditions that failed:
//!   mostly a leaf that moved, retried inside the request);
//! - throughput and p99 latency: against moto, one Python process that serves one request
//!   at a time, these bound moto, not the product; against the fake they bound the
//!   product's code on this machine, Cognito's calls to moto, and the fake's limits;
//! - in fake mode, the fake's own figures: its write units per successful write (failed
//!   conditions included; throttled and conflicting attempts, which the meter above
//!   counts, are not charged), the requests it throttled, the conflicts and failed
//!   conditions it answered, and the most write units one item and one partition key
//!   took in a sliding second (`peak_item` names the item's kind).
//!
//! The account's index is loaded with its leaves for the size (as the encoder builds them
//! for generated users); the generated users' own items are not loaded, since no write
//! reads another user's item. The account's package is made large enough for every mix.
//!
//! Usage: bench-writes [users ...]   (default: 1000 10000 100000 1000000)
//! `BENCH_WRITERS` (default "8,32") and `BENCH_WRITES` (default 96 per case; in fake mode
//! a case of 96 lasts about a second, so the throttling figures are those of a first
//! second; use 500 or more for a steady state). `BENCH_DYNAMO`, `BENCH_FAKE_LATENCY_MS`
//! and `BENCH_FAKE_PARTITION_WCU` as above.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use bench::scale::dynamo_json::{item_json, item_size};
use bench::scale::fake_dynamo::{FakeDynamo, WriteLimits, WriteStats};
use local::moto::Moto;
use local::seed::{seed, DEFAULT_OWNER_PASSWORD, OWNER_EMAIL};
use local::stack::{LocalStack, StackOptions};
use serde_json::{json, Map, Value};
use shared::adapters::db::model;
use shared::domain::{AccountId, UserId};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WRITER_PASSWORD: &str = "Bench-Writer-1";

/// Concurrent loops of refused requests in the refusal-flood mix.
const FLOODERS: usize = 4;

/// One item named by a write request.
#[derive(Debug, Clone)]
struct Touch {
    key: String,
    transactional: bool,
    /// The item's size when the request carries it whole (a put).
    put_size: Option<u64>,
}

/// What the DynamoDB client of the stack wrote, request by request.
#[derive(Debug, Default)]
struct Ledger {
    touches: Vec<Touch>,
    cancelled: u64,
    /// The size of every item the bench saw put, by key, for the deletes.
    last_put: HashMap<String, u64>,
}

#[derive(Debug, Clone, Default)]
struct WriteMeter(Arc<Mutex<Ledger>>);

fn key_text(key: &Map<String, Value>) -> String {
    let part = |name: &str| key[name]["S"].as_str().unwrap_or_default().to_owned();
    format!("{}|{}", part("pk"), part("sk"))
}

impl WriteMeter {
    fn record(&self, operation: &str, body: &Value) {
        let mut touches = Vec::new();
        let mut add = |entry: &Value, transactional: bool| {
            if let Some(item) = entry.get("Item").and_then(Value::as_object) {
                touches.push(Touch {
                    key: key_text(item),
                    transactional,
                    put_size: Some(item_size(item)),
                });
            } else if let Some(key) = entry.get("Key").and_then(Value::as_object) {
                touches.push(Touch {
                    key: key_text(key),
                    transactional,
                    put_size: None,
                });
            }
        };
        match operation {
            "PutItem" | "UpdateItem" | "DeleteItem" => add(body, false),
            "TransactWriteItems" => {
                for entry in body["TransactItems"].as_array().into_iter().flatten() {
                    for kind in ["Put", "Update", "Delete", "ConditionCheck"] {
                        if let Some(inner) = entry.get(kind) {
                            add(inner, true);
                        }
                    }
                }
            }
            _ => return,
        }
        let mut ledger = self.0.lock().expect("ledger");
        for touch in &touches {
            if let Some(size) = touch.put_size {
                ledger.last_put.insert(touch.key.clone(), size);
            }
        }
        ledger.touches.extend(touches);
    }

    /// The touches and the cancelled transactions since the last call, and the size of
    /// every item put so far.
    fn take(&self) -> (Vec<Touch>, u64, HashMap<String, u64>) {
        let mut ledger = self.0.lock().expect("ledger");
        let touches = std::mem::take(&mut ledger.touches);
        let cancelled = std::mem::take(&mut ledger.cancelled);
        (touches, cancelled, ledger.last_put.clone())
    }
}

impl aws_sdk_dynamodb::config::Intercept for WriteMeter {
    fn name(&self) -> &'static str {
        "WriteMeter"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let operation = shared::adapters::aws::operation_name(request);
        if operation == "TransactWriteItems" {
            cfg.interceptor_state().store_put(IsTransaction);
        }
        if let Some(bytes) = request.body().bytes() {
            if let Ok(body) = serde_json::from_slice::<Value>(bytes) {
                self.record(&operation, &body);
            }
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // A transaction answered 400 was cancelled (a condition failed, or a conflict).
        if cfg.load::<IsTransaction>().is_some() && context.response().status().as_u16() == 400 {
            self.0.lock().expect("ledger").cancelled += 1;
        }
        Ok(())
    }
}

/// Marks a call's configuration as a TransactWriteItems.
#[derive(Debug, Clone)]
struct IsTransaction;

impl aws_smithy_types::config_bag::Storable for IsTransaction {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// Keeps every email the stack sends (and sends it on), so the bench reads signup tokens
/// without dumping moto's state.
struct KeptMail {
    inner: Arc<dyn shared::adapters::mail::Mailer>,
    sent: Arc<Mutex<HashMap<String, String>>>,
}

#[async_trait::async_trait]
impl shared::adapters::mail::Mailer for KeptMail {
    async fn send(
        &self,
        email: shared::adapters::mail::Email,
    ) -> Result<(), shared::adapters::mail::MailError> {
        self.sent
            .lock()
            .expect("mail")
            .insert(email.to.clone(), email.text.clone());
        self.inner.send(email).await
    }
}

/// One request's outcome.
struct Outcome {
    status: u16,
    took: Duration,
}

/// The figures of one case.
struct Case {
    outcomes: Vec<Outcome>,
    elapsed: Duration,
}

impl Case {
    fn ok(&self) -> usize {
        self.outcomes.iter().filter(|o| o.status == 200).count()
    }

    fn p99_ms(&self) -> f64 {
        let mut took: Vec<Duration> = self.outcomes.iter().map(|o| o.took).collect();
        took.sort();
        took.get((took.len() * 99).div_ceil(100).saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

struct Bench {
    stack: LocalStack,
    /// The fake DynamoDB the stack's table is served by (`BENCH_DYNAMO=fake`), else moto.
    fake: Option<FakeDynamo>,
    http: reqwest::Client,
    raw: aws_sdk_dynamodb::Client,
    meter: WriteMeter,
    mail: Arc<Mutex<HashMap<String, String>>>,
    account: AccountId,
    owner_token: String,
}

impl Bench {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.base_url)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.json().await.unwrap_or(Value::Null);
                (status, body)
            }
            Err(_) => (599, Value::Null),
        }
    }

    async fn login(&self, username: &str, password: &str) -> Result<String, BoxError> {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/local/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        body["accessToken"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("login of {username}: {status} {body}").into())
    }

    /// Runs `requests` (method, path, token, body) with `writers` at once.
    async fn run(
        self: &Arc<Self>,
        writers: usize,
        requests: Vec<(reqwest::Method, String, String, Value)>,
    ) -> Case {
        let queue = Arc::new(Mutex::new(requests));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..writers {
            let (bench, queue) = (Arc::clone(self), Arc::clone(&queue));
            tasks.spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((method, path, token, body)) = next else {
                        return outcomes;
                    };
                    let at = Instant::now();
                    let (status, _) = bench.call(method, &path, Some(&token), Some(body)).await;
                    outcomes.push(Outcome {
                        status,
                        took: at.elapsed(),
                    });
                }
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = tasks.join_next().await {
            outcomes.extend(done.unwrap_or_default());
        }
        Case {
            outcomes,
            elapsed: started.elapsed(),
        }
    }

    /// Replaces the account's index with the leaves of `users` generated users and the
    /// account's own users.
    async fn load_index(&self, users: usize) -> Result<(u64, usize), BoxError> {
        let db = &self.stack.services.db;
        let pk = model::account_pk(self.account);
        let old = db
            .query_partition(pk.clone(), Some(model::ROWS_SK_PREFIX))
            .await?;
        let mut rows: Vec<model::UserItem> = db
            .query_partition(pk.clone(), Some(model::USER_SK_PREFIX))
            .await?
            .into_iter()
            .map(shared::adapters::db::from_item)
            .collect::<Result<_, _>>()?;
        let mut rng = bench::scale::account::Rng(users as u64);
        let own = rows.len();
        rows.extend(
            (own..users.max(own))
                .map(|index| bench::scale::account::user(&mut rng, self.account, index + 1)),
        );
        for item in old {
            let sk = shared::adapters::db::string_attribute(&item, model::SK)
                .unwrap_or_default()
                .to_owned();
            if let Some(fake) = &self.fake {
                fake.remove(&pk, &sk);
                continue;
            }
            self.raw
                .delete_item()
                .table_name(db.table())
                .set_key(Some(shared::adapters::db::key(&pk, sk)))
                .send()
                .await?;
        }
        let leaves = shared::adapters::db::list_leaves::leaf_items(self.account, &rows)?;
        let largest = leaves
            .iter()
            .map(|item| item_size(&item_json(item)))
            .max()
            .unwrap_or_default();
        let count = leaves.len();
        if let Some(fake) = &self.fake {
            for item in &leaves {
                fake.put(item_json(item));
            }
            return Ok((largest, count));
        }
        // moto takes more than DynamoDB's 25 items per BatchWriteItem.
        for batch in leaves.chunks(500) {
            let requests: Vec<WriteRequest> = batch
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .expect("an item"),
                        )
                        .build()
                })
                .collect();
            self.raw
                .batch_write_item()
                .request_items(db.table(), requests)
                .send()
                .await?;
        }
        Ok((largest, count))
    }

    /// The sizes of the items touched, as they are now (updates and condition checks).
    async fn sizes_now(&self, keys: &HashSet<String>) -> Result<HashMap<String, u64>, BoxError> {
        let mut sizes = HashMap::new();
        for key in keys {
            let (pk, sk) = key.split_once('|').unwrap_or_default();
            let found = self
                .raw
                .get_item()
                .table_name(self.stack.services.db.table())
                .set_key(Some(shared::adapters::db::key(pk, sk)))
                .send()
                .await?;
            if let Some(item) = found.item {
                sizes.insert(key.clone(), item_size(&item_json(&item)));
            }
        }
        Ok(sizes)
    }

    /// Prints the line of one case from the meter's ledger since the last case.
    async fn report(
        &self,
        users: usize,
        mix: &str,
        writers: usize,
        case: &Case,
    ) -> Result<HashSet<String>, BoxError> {
        let (touches, cancelled, last_put) = self.meter.take();
        let not_put: HashSet<String> = touches
            .iter()
            .filter(|t| t.put_size.is_none())
            .map(|t| t.key.clone())
            .collect();
        let now = self.sizes_now(&not_put).await?;
        let mut units_by_item: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut units, mut largest) = (0u64, 0u64);
        for touch in &touches {
            let size = touch
                .put_size
                .or_else(|| now.get(&touch.key).copied())
                .or_else(|| last_put.get(&touch.key).copied())
                .unwrap_or(1024);
            let charged = size.div_ceil(1024).max(1) * if touch.transactional { 2 } else { 1 };
            units += charged;
            largest = largest.max(size);
            *units_by_item.entry(touch.key.as_str()).or_default() += charged;
        }
        let ok = case.ok();
        let seconds = case.elapsed.as_secs_f64();
        let hottest = units_by_item.values().copied().max().unwrap_or_default();
        // What the fake itself charged and refused (fake mode only).
        let fake = self
            .fake
            .as_ref()
            .map(|fake| fake_figures(&fake.take_write_stats(), ok))
            .unwrap_or_default();
        println!(
            "writes users={users} mix={mix} writers={writers} ok={ok} ok_per_s={:.1} p99_ms={:.0} conflicts={cancelled} answered_429={} answered_5xx={} wcu_per_write={:.1} max_item_kb={:.2} hottest_item_wcu_per_s={:.1}{fake}",
            ok as f64 / seconds,
            case.p99_ms(),
            case.outcomes.iter().filter(|o| o.status == 429).count(),
            case.outcomes.iter().filter(|o| o.status >= 500).count(),
            units as f64 / ok.max(1) as f64,
            largest as f64 / 1024.0,
            hottest as f64 / seconds,
        );
        Ok(touches.into_iter().map(|t| t.key).collect())
    }
}

/// The fake's own figures for a case: the write units it charged per successful write,
/// the requests it throttled, the conflicts it answered, and the most write units one
/// item and one partition key took in a sliding second.
fn fake_figures(stats: &WriteStats, ok: usize) -> String {
    let hottest = |hot: &Option<(String, f64)>| {
        hot.as_ref().map_or_else(
            || "0 -".to_owned(),
            |(key, units)| format!("{units:.0} {}", short_key(key)),
        )
    };
    let (item_units, item) = hottest(&stats.hottest_item)
        .split_once(' ')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap_or_default();
    let (partition_units, _) = hottest(&stats.hottest_partition)
        .split_once(' ')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap_or_default();
    format!(
        " fake_wcu_per_write={:.1} fake_throttled={} fake_conflicts={} fake_condition_failures={} peak_item_wcu_1s={item_units} peak_item={item} peak_partition_wcu_1s={partition_units}",
        stats.write_units / ok.max(1) as f64,
        stats.throttled,
        stats.conflicts,
        stats.condition_failures,
    )
}

/// An item key without its account id: `ACCOUNT#…|USER#…` as `USER#…`, for the report.
fn short_key(key: &str) -> String {
    let sk = key.split_once('|').map_or(key, |(_, sk)| sk);
    sk.split('#').next().unwrap_or(sk).to_owned()
}

fn counts_from_env(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}.{}@bench.example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if given.is_empty() {
            vec![1_000, 10_000, 100_000, 1_000_000]
        } else {
            given
        }
    };
    let writer_counts = counts_from_env("BENCH_WRITERS", "8,32");
    let writes = counts_from_env("BENCH_WRITES", "96")
        .first()
        .copied()
        .unwrap_or(96);
    let most_writers = writer_counts.iter().copied().max().unwrap_or(8);

    let moto = Moto::start(true)?;
    let fake = match std::env::var("BENCH_DYNAMO").as_deref() {
        Ok("moto") => None,
        Ok("fake") | Err(_) => {
            let latency = counts_from_env("BENCH_FAKE_LATENCY_MS", "5")
                .first()
                .copied()
                .unwrap_or(5);
            // Named once the stack has named its table.
            let fake = FakeDynamo::start("unnamed", Duration::from_millis(latency as u64)).await?;
            if let Some(&limit) = counts_from_env("BENCH_FAKE_PARTITION_WCU", "1000").first() {
                fake.set_write_limits(WriteLimits {
                    partition_units_per_s: if limit == 0 {
                        f64::INFINITY
                    } else {
                        limit as f64
                    },
                    ..WriteLimits::default()
                });
            }
            Some(fake)
        }
        Ok(other) => return Err(format!("BENCH_DYNAMO is fake or moto, not {other:?}").into()),
    };
    match &fake {
        Some(_) => println!(
            "dynamodb=fake latency_ms={} partition_wcu_per_s={} (Cognito and SES on moto)",
            counts_from_env("BENCH_FAKE_LATENCY_MS", "5")
                .first()
                .copied()
                .unwrap_or(5),
            std::env::var("BENCH_FAKE_PARTITION_WCU").unwrap_or_else(|_| "1000".into()),
        ),
        None => println!("dynamodb=moto"),
    }
    let meter = WriteMeter::default();
    let mut options = StackOptions::new(&moto.endpoint);
    options.name = "bench-writes".into();
    options.limits.invitation_mail_limits.per_account_per_hour = 10_000_000;
    let sdk = local::stack::emulator_sdk_config(&options.endpoint, &options.region).await;
    // The stack's DynamoDB client: the bench's own (metered), at the fake in fake mode. The
    // stack still provisions its table in moto, where it stays empty.
    let mut dynamodb_config = aws_sdk_dynamodb::Config::new(&sdk).to_builder();
    if let Some(fake) = &fake {
        dynamodb_config = dynamodb_config.endpoint_url(&fake.endpoint);
    }
    let raw_config = dynamodb_config.clone().build();
    let metered = dynamodb_config.interceptor(meter.clone()).build();
    let mail = Arc::new(Mutex::new(HashMap::new()));
    let kept = Arc::clone(&mail);
    let named = fake.clone();
    let stack = LocalStack::start_with(options, |mut services| {
        if let Some(fake) = &named {
            fake.rename_table(services.db.table());
        }
        services.mailer = Arc::new(KeptMail {
            inner: services.mailer,
            sent: kept,
        });
        let days = u32::try_from(services.db.audit_retention().num_days()).unwrap_or(90);
        services.db = shared::adapters::db::Db::from_client(
            aws_sdk_dynamodb::Client::from_conf(metered),
            services.db.table(),
        )
        .with_audit_retention_days(days);
        services
    })
    .await?;
    let seeded = seed(&stack.services, DEFAULT_OWNER_PASSWORD).await?;
    let raw = aws_sdk_dynamodb::Client::from_conf(raw_config);
    // A package for every mix: seats by the million.
    raw.update_item()
        .table_name(stack.services.db.table())
        .set_key(Some(shared::adapters::db::key(
            model::account_pk(seeded.account_id),
            model::ACCOUNT_SK,
        )))
        .update_expression(
            "SET limitAdminUsers = :many, limitCreativeUsers = :many, limitStandardUsers = :many",
        )
        .expression_attribute_values(":many", AttributeValue::N("10000000".into()))
        .send()
        .await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(64)
        .build()?;
    let mut bench = Bench {
        stack,
        fake,
        http,
        raw,
        meter,
        mail,
        account: seeded.account_id,
        owner_token: String::new(),
    };
    bench.owner_token = bench.login(OWNER_EMAIL, DEFAULT_OWNER_PASSWORD).await?;
    let bench = Arc::new(bench);

    // Writers who update their own profile: invited and signed up once, through the API.
    let mut writer_tokens = Vec::new();
    for n in 0..most_writers {
        let email = unique(&format!("writer{n}"));
        let (status, body) = bench
            .call(
                reqwest::Method::POST,
                "/api/v1/user/insert_user",
                Some(&bench.owner_token),
                Some(json!({"username": email, "email": email, "firstname": "Wren", "lastname": "Writer", "userType": 8})),
            )
            .await;
        if status != 200 {
            return Err(format!("invite of a writer: {status} {body}").into());
        }
        let token = signup_token(&bench, &email).await?;
        let (status, body) = bench
            .call(
                reqwest::Method::POST,
                "/api/v1/user/signup",
                None,
                Some(json!({"token": token, "firstname": "Wren", "lastname": "Writer", "password": WRITER_PASSWORD})),
            )
            .await;
        if status != 200 {
            return Err(format!("signup of a writer: {status} {body}").into());
        }
        writer_tokens.push(bench.login(&email, WRITER_PASSWORD).await?);
    }
    let flooder = writer_tokens[0].clone();

    for &users in &sizes {
        let loading = Instant::now();
        let (largest, leaves) = bench.load_index(users).await?;
        println!(
            "index users={users} leaves={leaves} largest_leaf_kb={:.2} loaded_in_s={:.0}",
            largest as f64 / 1024.0,
            loading.elapsed().as_secs_f64()
        );
        for &writers in &writer_counts {
            bench.meter.take();
            if let Some(fake) = &bench.fake {
                fake.take_write_stats();
            }
            // invite: new users into the account (a seat each).
            let invited: Vec<String> = (0..writes).map(|n| unique(&format!("inv{n}"))).collect();
            let requests = invited
                .iter()
                .map(|email| {
                    (
                        reqwest::Method::POST,
                        "/api/v1/user/insert_user".to_owned(),
                        bench.owner_token.clone(),
                        json!({"username": email, "email": email, "firstname": "Ivy", "lastname": "Invitee", "userType": 8}),
                    )
                })
                .collect();
            let case = bench.run(writers, requests).await;
            bench.report(users, "invite", writers, &case).await?;

            // signup: the invitations just made, each signed up once.
            // Only the invitations that were made (an invite answered 429 made none).
            let mut tokens = Vec::new();
            for email in &invited {
                if let Ok(token) = signup_token(&bench, email).await {
                    tokens.push(token);
                }
            }
            bench.meter.take();
            if let Some(fake) = &bench.fake {
                fake.take_write_stats();
            }
            let requests = tokens
                .into_iter()
                .map(|token| {
                    (
                        reqwest::Method::POST,
                        "/api/v1/user/signup".to_owned(),
                        String::new(),
                        json!({"token": token, "firstname": "Ivy", "lastname": "Signed", "password": WRITER_PASSWORD}),
                    )
                })
                .collect();
            let case = bench.run(writers, requests).await;
            bench.report(users, "signup", writers, &case).await?;

            // update: each writer renames themselves (the account's name unchanged).
            let requests = (0..writes)
                .map(|n| {
                    (
                        reqwest::Method::PUT,
                        "/api/v1/user/update_user".to_owned(),
                        writer_tokens[n % writers.min(writer_tokens.len())].clone(),
                        json!({"accountName": local::seed::DEMO_ACCOUNT_NAME, "firstName": format!("Wren{n}"), "lastName": "Writer"}),
                    )
                })
                .collect();
            let case = bench.run(writers, requests).await;
            bench.report(users, "update", writers, &case).await?;

            // retype: the invited users moved to creative seats (a seat moves each).
            let ids = invited_ids(&bench, &invited).await?;
            let retypes = |to: u8| -> Vec<(reqwest::Method, String, String, Value)> {
                ids.iter()
                    .map(|id| {
                        (
                            reqwest::Method::PUT,
                            "/api/v1/user/edit_user".to_owned(),
                            bench.owner_token.clone(),
                            json!({"id": id.to_string(), "userType": to}),
                        )
                    })
                    .collect()
            };
            let case = bench.run(writers, retypes(64)).await;
            let baseline_p99 = case.p99_ms();
            let admin_keys = bench.report(users, "retype", writers, &case).await?;

            // refusal-flood: the same retypes back, beside a non-admin listing in a loop.
            let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let flood: Vec<_> = (0..FLOODERS)
                .map(|_| {
                    let (bench, flooding, flooder) =
                        (Arc::clone(&bench), Arc::clone(&flooding), flooder.clone());
                    tokio::spawn(async move {
                        let mut refused = 0u64;
                        while flooding.load(std::sync::atomic::Ordering::SeqCst) {
                            let (status, _) = bench
                                .call(
                                    reqwest::Method::GET,
                                    "/api/v1/user/get_all_users",
                                    Some(&flooder),
                                    None,
                                )
                                .await;
                            refused += u64::from(status == 499);
                        }
                        refused
                    })
                })
                .collect();
            let case = bench.run(writers, retypes(8)).await;
            flooding.store(false, std::sync::atomic::Ordering::SeqCst);
            let mut refused = 0;
            for flooder in flood {
                refused += flooder.await.unwrap_or_default();
            }
            let flood_keys = bench.report(users, "refusal-flood", writers, &case).await?;
            // What the refusals wrote: their records and their actor's own counter; none
            // of it may be an item the admin's writes touch.
            let refusal_items: Vec<&String> = flood_keys
                .iter()
                .filter(|key| {
                    let sk = key.split_once('|').map_or("", |(_, sk)| sk);
                    sk.starts_with("AUDITDAY#") && sk.contains("#a")
                })
                .collect();
            let shared_items = refusal_items
                .iter()
                .filter(|key| admin_keys.contains(**key))
                .count();
            println!(
                "flood users={users} writers={writers} refused={refused} refused_per_s={:.1} admin_p99_ms_without={:.0} admin_p99_ms_with={:.0} refusal_counters={} items_touched_by_both={shared_items}",
                refused as f64 / case.elapsed.as_secs_f64(),
                baseline_p99,
                case.p99_ms(),
                refusal_items.len(),
            );
        }
    }
    drop(moto);
    Ok(())
}

/// The signup token of the newest invitation email to `email`.
async fn signup_token(bench: &Bench, email: &str) -> Result<String, BoxError> {
    let text = bench
        .mail
        .lock()
        .expect("mail")
        .get(email)
        .cloned()
        .unwrap_or_default();
    text.split("token=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| format!("no invitation for {email}").into())
}

/// The ids of the invited users, from the account's user items.
async fn invited_ids(bench: &Bench, emails: &[String]) -> Result<Vec<UserId>, BoxError> {
    let wanted: HashSet<&str> = emails.iter().map(String::as_str).collect();
    let users = bench
        .stack
        .services
        .db
        .query_partition(
            model::account_pk(bench.account),
            Some(model::USER_SK_PREFIX),
        )
        .await?;
    let mut ids = Vec::new();
    for item in users {
        let user: model::UserItem = shared::adapters::db::from_item(item)?;
        if wanted.contains(user.email.as_str()) {
            ids.push(user.id);
        }
    }
    Ok(ids)
}
