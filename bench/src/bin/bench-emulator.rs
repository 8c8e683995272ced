//! `make bench-emulator`: what one invite and one list call cost on `make run`'s stack
//! (the demo seed, through the gateway, against moto) when the table holds 100, 10,000
//! and 100,000 items, and moto's resident memory after the writes.
//!
//! moto runs as moto_server.py starts it: with local/moto_patches.py (transactions and
//! queries that cost what they touch) unless the environment sets `MOTO_AS_SHIPPED=1`
//! (moto as released: the figures before the patches). The Makefile runs both.
//!
//! Usage: bench-emulator [items ...]   (default: 100 10000 100000)
//! `BENCH_INVITES` (default 10) and `BENCH_LISTS` (default 10) set the calls timed per size.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, Select, WriteRequest};
use local::moto::Moto;
use local::seed::{seed, DEFAULT_OWNER_PASSWORD, OWNER_EMAIL};
use local::stack::{LocalStack, StackOptions};
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Items of other accounts' sizes (a user item is about 400 bytes), in partitions of 100.
const FILLER_PAYLOAD_BYTES: usize = 300;
const FILLER_PARTITION_ITEMS: usize = 100;
/// moto takes more than DynamoDB's 25 items per BatchWriteItem.
const FILLER_BATCH: usize = 500;

fn count_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// moto's resident set in MiB, from /proc.
fn resident_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median_and_max(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    match (samples.get(samples.len() / 2), samples.last()) {
        (Some(median), Some(max)) => (ms(*median), ms(*max)),
        _ => (f64::NAN, f64::NAN),
    }
}

async fn table_items(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<usize, BoxError> {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        count += page.count() as usize;
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok(count);
        }
    }
}

/// Fills the table up to `items` with items of other partitions (none of the demo
/// account's), so only the table's size changes.
async fn fill(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    from: usize,
    items: usize,
) -> Result<(), BoxError> {
    let payload = "x".repeat(FILLER_PAYLOAD_BYTES);
    let mut next = from;
    while next < items {
        let end = (next + FILLER_BATCH).min(items);
        let writes = (next..end)
            .map(|n| {
                let item = [
                    ("pk", format!("BENCHFILL#{}", n / FILLER_PARTITION_ITEMS)),
                    ("sk", format!("ITEM#{n:08}")),
                    ("kind", "benchFiller".to_owned()),
                    ("payload", payload.clone()),
                ]
                .into_iter()
                .map(|(name, value)| (name.to_owned(), AttributeValue::S(value)))
                .collect();
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, _>>()?;
        dynamodb
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await?;
        next = end;
    }
    Ok(())
}

async fn call(
    http: &reqwest::Client,
    request: reqwest::RequestBuilder,
) -> Result<(Duration, Value), BoxError> {
    let started = Instant::now();
    let response = http.execute(request.build()?).await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let took = started.elapsed();
    if !status.is_success() {
        return Err(format!("{status}: {body}").into());
    }
    Ok((took, body))
}

async fn measure(items: usize, invites: usize, lists: usize) -> Result<String, BoxError> {
    let moto = Moto::start(true)?;
    let mut options = StackOptions::new(moto.endpoint.clone());
    options.name = "bench".into();
    let stack = LocalStack::start(options).await?;
    seed(&stack.services, DEFAULT_OWNER_PASSWORD).await?;
    let table = stack.services.config.table_name.clone();
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let seeded = table_items(&dynamodb, &table).await?;
    let started = Instant::now();
    fill(&dynamodb, &table, seeded, items).await?;
    let fill_s = started.elapsed().as_secs_f64();
    let items = table_items(&dynamodb, &table).await?;
    let rss_filled = resident_mib(moto.pid());

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let url = |path: &str| format!("{}{path}", stack.base_url);
    let (_, login) = call(
        &http,
        http.post(url("/local/login"))
            .json(&json!({"username": OWNER_EMAIL, "password": DEFAULT_OWNER_PASSWORD})),
    )
    .await?;
    let token = login["accessToken"]
        .as_str()
        .ok_or("no access token")?
        .to_owned();

    let mut invite_times = Vec::new();
    for n in 0..invites {
        let email = format!(
            "bench.{n}.{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let (took, _) = call(
            &http,
            http.post(url("/api/v1/user/insert_user"))
                .bearer_auth(&token)
                .json(
                    &json!({"username": email, "email": email, "firstname": "Bench",
                              "lastname": format!("User {n}"), "userType": 64}),
                ),
        )
        .await?;
        invite_times.push(took);
    }
    let rss_written = resident_mib(moto.pid());
    let mut list_times = Vec::new();
    let mut total = Value::Null;
    for _ in 0..lists {
        let (took, page) = call(
            &http,
            http.get(url("/api/v1/user/get_all_users?page=1&pagesize=25"))
                .bearer_auth(&token),
        )
        .await?;
        total = page["total"].clone();
        list_times.push(took);
    }
    let (invite_median, invite_max) = median_and_max(invite_times);
    let (list_median, list_max) = median_and_max(list_times);
    let moto = if std::env::var("MOTO_AS_SHIPPED").as_deref() == Ok("1") {
        "as-shipped"
    } else {
        "patched"
    };
    Ok(format!(
        "emulator moto={moto} items={items} fill_s={fill_s:.1} invites={invites} \
         invite_ms_median={invite_median:.0} invite_ms_max={invite_max:.0} lists={lists} \
         list_ms_median={list_median:.0} list_ms_max={list_max:.0} listed_total={total} \
         moto_rss_mib_filled={rss_filled:.0} moto_rss_mib_after_invites={rss_written:.0}"
    ))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|arg| {
            arg.parse()
                .map_err(|_| format!("not a number of items: {arg}"))
        })
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![100, 10_000, 100_000]
    } else {
        sizes
    };
    let invites = count_from_env("BENCH_INVITES", 10);
    let lists = count_from_env("BENCH_LISTS", 10);
    for items in sizes {
        println!("{}", measure(items, invites, lists).await?);
    }
    Ok(())
}
