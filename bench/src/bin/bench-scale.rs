//! `make bench-scale`: the list functions on accounts of 1,000, 10,000 and 100,000 users,
//! then the audit log (`GET /api/v1/user/audit_log`) of an account of 10,000 users with
//! 10,000 and 100,000 records. The release binaries run under the Runtime API stub
//! against an in-process fake DynamoDB (see `bench::scale`); prints a table per account
//! size and per log, then one summary line per size and endpoint (default request) and
//! per log and scenario.
//!
//! Usage: bench-scale [--sizes 1000,10000,100000] [--invocations 20] [--latency-ms 5]
//!                    [--unindexed] [--release-dir DIR] [--seed N]
//!                    [--audit 10000,100000|none] [--audit-users 10000] [--audit-days 365]
//!                    [--audit-in-process] [--skip-lists]
//!
//! `--unindexed` builds the accounts without the list index, as accounts are before the
//! migration reaches them, to compare. `--audit-in-process` measures `audit::read_log`
//! in-process instead of the `audit-log` binary (also what happens when the binary is
//! not built): no caller check, no peak memory. `--skip-lists` runs the audit log only.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench::scale::account;
use bench::scale::audit_log::{self, thousands, LogScenario};
use bench::scale::dynamo_json::item_json;
use bench::scale::fake_dynamo::{CallSummary, FakeDynamo};
use bench::scale::runner::{measure, BoxError, Measurement, TABLE};
use bench::scale::scenario::{Endpoint, Scenario};
use local::moto::repo_root;
use local::runtime_api::RuntimeApi;
use shared::adapters::db::model;

/// What the list index adds to each user write: one strongly consistent BatchGetItem of
/// the levels of the user's leaf path and the put of that leaf inside the write's
/// transaction, which DynamoDB charges two write units per KB (transactional writes cost
/// double). Computed from the leaves the encoder builds for the account.
fn print_write_cost(account: &account::Account) -> Result<(), BoxError> {
    let items = shared::adapters::db::list_leaves::leaf_items(account.id, &account.users)?;
    let sizes: Vec<u64> = items
        .iter()
        .filter(|item| !shared::adapters::db::list_leaves::is_marker(item))
        .map(|item| bench::scale::dynamo_json::item_size(&item_json(item)))
        .collect();
    let max = sizes.iter().copied().max().unwrap_or_default();
    let mean = sizes.iter().sum::<u64>() as f64 / sizes.len().max(1) as f64;
    let write_units = |bytes: u64| 2 * bytes.div_ceil(1024);
    println!(
        "list index: {} leaves ({} split markers), mean {:.1} KB, max {:.1} KB; each user write adds {} write units on average (up to {})",
        sizes.len(),
        items.len() - sizes.len(),
        mean / 1024.0,
        max as f64 / 1024.0,
        write_units(mean.ceil() as u64),
        write_units(max),
    );
    Ok(())
}

/// Accounts of this many users are loaded lean (see `main`).
const LEAN_FROM: usize = 1_000_000;

/// Whether Get All Users reads this item: anything but a user other than the owner, a
/// billing line or a relation.
fn read_by_get_all_users(item: &shared::adapters::db::Item) -> bool {
    let kind = shared::adapters::db::string_attribute(item, "kind").unwrap_or_default();
    match kind {
        model::KIND_USER => matches!(
            item.get("owner"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
        ),
        model::KIND_BILLING
        | model::KIND_MEMBERSHIP
        | model::KIND_PROJECT_PERMISSION
        | model::KIND_DRIVE_PERMISSION => false,
        _ => true,
    }
}

/// Lambda gives a function one full vCPU at 1,769 MB, and CPU in proportion below.
const FULL_CPU_MB: f64 = 1769.0;

struct Options {
    sizes: Vec<usize>,
    invocations: usize,
    /// How long the fake DynamoDB takes to answer each call.
    latency: Duration,
    /// Accounts without the list index.
    unindexed: bool,
    release_dir: PathBuf,
    seed: u64,
    /// Audit logs to measure, by number of records (none: no audit log).
    audit: Vec<usize>,
    /// The users of the account the audit logs belong to.
    audit_users: usize,
    /// The UTC days the audit logs span (up to the run's day).
    audit_days: usize,
    /// `audit::read_log` in-process instead of the function's binary.
    audit_in_process: bool,
    skip_lists: bool,
}

const USAGE: &str = "usage: bench-scale [--sizes 1000,10000,100000,1000000] [--invocations 20] [--latency-ms 5] [--unindexed] [--release-dir DIR] [--seed N] [--audit 10000,100000|none] [--audit-users 10000] [--audit-days 365] [--audit-in-process] [--skip-lists]";

fn counts(value: &str) -> Result<Vec<usize>, std::num::ParseIntError> {
    if value == "none" {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|count| count.trim().replace('_', "").parse())
        .collect()
}

fn options() -> Options {
    let mut options = Options {
        sizes: vec![1_000, 10_000, 100_000, 1_000_000],
        invocations: 20,
        latency: Duration::from_millis(5),
        unindexed: false,
        release_dir: repo_root().join("target/release"),
        seed: 20_261_128,
        audit: vec![10_000, 100_000],
        audit_users: 10_000,
        audit_days: 365,
        audit_in_process: false,
        skip_lists: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--unindexed" => options.unindexed = true,
            "--audit-in-process" => options.audit_in_process = true,
            "--skip-lists" => options.skip_lists = true,
            _ => {
                let value = args.next().unwrap_or_default();
                if !option(&mut options, &arg, &value) {
                    eprintln!("{USAGE}");
                    std::process::exit(2);
                }
            }
        }
    }
    if options.sizes.contains(&0)
        || options.invocations == 0
        || options.audit.contains(&0)
        || options.audit_users < 2
        || options.audit_days == 0
    {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    options
}

/// Sets the option `name` from `value`; false if unknown or unreadable.
fn option(options: &mut Options, name: &str, value: &str) -> bool {
    match name {
        "--sizes" => counts(value).map(|sizes| options.sizes = sizes).is_ok(),
        "--audit" => counts(value).map(|audit| options.audit = audit).is_ok(),
        "--audit-users" => value.parse().map(|n| options.audit_users = n).is_ok(),
        "--audit-days" => value.parse().map(|n| options.audit_days = n).is_ok(),
        "--invocations" => value.parse().map(|n| options.invocations = n).is_ok(),
        "--latency-ms" => value
            .parse()
            .map(|ms| options.latency = Duration::from_millis(ms))
            .is_ok(),
        "--release-dir" => {
            options.release_dir = value.into();
            true
        }
        "--seed" => value.parse().map(|n| options.seed = n).is_ok(),
        _ => false,
    }
}

/// One line of a size's table.
struct Row {
    endpoint: Endpoint,
    scenario: String,
    measurement: Measurement,
}

impl Row {
    fn median_cpu_ms(&self) -> f64 {
        median(&self.measurement.cpu_ms)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// CPU time stretched by the share of a vCPU that `memory_mb` buys.
fn latency_ms(cpu_ms: f64, memory_mb: f64) -> f64 {
    cpu_ms / (memory_mb / FULL_CPU_MB).min(1.0)
}

fn print_table(size: usize, rows: &[Row], invocations: usize) {
    println!();
    println!("### {size} users");
    println!();
    println!("| endpoint | scenario | Query pages | other calls | bytes read | read units | sequential calls | handler CPU ms (median of {invocations}) | peak RSS MB | est. latency 128 MB ms | est. latency 1024 MB ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let CallSummary {
            query_pages,
            other_calls,
            bytes,
            read_units,
            rounds,
            ..
        } = &row.measurement.calls;
        let cpu = row.median_cpu_ms();
        println!(
            "| {} | {} | {query_pages} | {other_calls} | {bytes} | {read_units} | {rounds} | {cpu:.1} | {:.1} | {:.0} | {:.0} |",
            row.endpoint.name(),
            row.scenario,
            row.measurement.peak_rss_mb,
            latency_ms(cpu, 128.0),
            latency_ms(cpu, 1024.0),
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let options = options();
    let list_endpoints = if options.skip_lists {
        &[][..]
    } else {
        &Endpoint::ALL[..]
    };
    for endpoint in list_endpoints {
        let binary = options.release_dir.join(endpoint.function());
        if !binary.exists() {
            return Err(format!(
                "{} is missing: `make bench-scale` builds the release binaries",
                binary.display()
            )
            .into());
        }
    }
    let started = Instant::now();
    let fake = FakeDynamo::start(TABLE, options.latency).await?;
    let mut api = RuntimeApi::start().await?;
    let mut summaries = Vec::new();
    let sizes = if options.skip_lists {
        &[][..]
    } else {
        &options.sizes[..]
    };
    for &size in sizes {
        fake.clear();
        // From LEAN_FROM users on, the fake holds what Get All Users reads (the account,
        // the owner, the index) and not the other users' items and relations, which only
        // With Details reads: a million users' items would not fit this machine's memory.
        let lean = size >= LEAN_FROM && !options.unindexed;
        let account = account::build(size, options.seed, !options.unindexed, &mut |item| {
            if !lean || read_by_get_all_users(&item) {
                fake.put(item_json(&item))
            }
        })?;
        let (items, bytes) = fake.contents();
        println!();
        println!(
            "account of {size} users{}: {items} items, {bytes} bytes ({:.1} MB)",
            if options.unindexed {
                ", without the list index"
            } else {
                ""
            },
            bytes as f64 / 1e6
        );
        if !options.unindexed {
            print_write_cost(&account)?;
        }
        let mut rows = Vec::new();
        let endpoints: &[Endpoint] = if lean {
            &[Endpoint::GetAllUsers]
        } else {
            &Endpoint::ALL
        };
        for &endpoint in endpoints {
            for scenario in Scenario::all(size) {
                eprintln!("{size} users, {}, {}", endpoint.name(), scenario.name);
                let expected = scenario.expected(&account.users);
                let measurement = measure(
                    &mut api,
                    &fake,
                    &options.release_dir.join(endpoint.function()),
                    &scenario.event(endpoint, &account.owner_sub),
                    options.invocations,
                    |answer| {
                        scenario
                            .check(endpoint, &account, &expected, answer.status, &answer.body)
                            .map_err(|err| format!("{size} users, {}: {err}", scenario.name))
                    },
                )
                .await?;
                rows.push(Row {
                    endpoint,
                    scenario: scenario.name,
                    measurement,
                });
            }
        }
        print_table(size, &rows, options.invocations);
        let default = Scenario::default_list().name;
        for row in rows.iter().filter(|row| row.scenario == default) {
            summaries.push(format!(
                "scale users={size} endpoint={} read_units={} cpu_ms={:.1} peak_rss_mb={:.1} calls={}",
                row.endpoint.name(),
                row.measurement.calls.read_units,
                row.median_cpu_ms(),
                row.measurement.peak_rss_mb,
                row.measurement.calls.rounds,
            ));
        }
    }
    for &records in &options.audit {
        summaries.extend(measure_audit_log(&options, &fake, &mut api, records).await?);
    }
    println!();
    println!("Read units as DynamoDB charges them (4 KB per unit, a Query page as a whole, strongly consistent); sequential calls: rounds of calls that do not overlap, with the fake answering each call in {} ms. Latency estimates: handler CPU time / (memory MB / {FULL_CPU_MB}), waits on DynamoDB excluded. Run took {:.0} s.", options.latency.as_millis(), started.elapsed().as_secs_f64());
    println!();
    for line in summaries {
        println!("{line}");
    }
    Ok(())
}

/// The audit log of an account of `options.audit_users` users with `records` records:
/// builds it in the fake, measures every scenario (the `audit-log` binary, or
/// `audit::read_log` in-process), checks each answer against the generated records and
/// prints a table and the cost of reading the whole log; gives the summary lines.
async fn measure_audit_log(
    options: &Options,
    fake: &FakeDynamo,
    api: &mut RuntimeApi,
    records: usize,
) -> Result<Vec<String>, BoxError> {
    let binary = options.release_dir.join(audit_log::FUNCTION);
    let in_process = options.audit_in_process || !binary.exists();
    fake.clear();
    let users = options.audit_users;
    let account = account::build(users, options.seed, true, &mut |item| {
        fake.put(item_json(&item))
    })?;
    let (account_items, account_bytes) = fake.contents();
    let retention = chrono::Duration::days(i64::from(
        shared::domain::config::DEFAULT_AUDIT_RETENTION_DAYS,
    ));
    // The log ends where the run's UTC day begins: the same records all day long.
    let end = chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let shape = audit_log::Shape {
        count: records,
        days: options.audit_days,
        end,
        seed: options.seed,
        retention,
        account_name: format!("Scale {users}"),
    };
    let log = audit_log::generate(&account, &shape, &mut |json| fake.put(json))?;
    println!();
    println!(
        "audit log of {} records over {} UTC days up to {} on an account of {} users ({account_items} items, {:.1} MB): {} items (records, user copies, {} day counters of {:.0} KB in all), {:.1} MB; busiest day {} ({} records), busiest user {} records",
        thousands(records as u64),
        log.days,
        shared::domain::clock::iso(end),
        thousands(users as u64),
        account_bytes as f64 / 1e6,
        thousands(log.items as u64),
        log.counters,
        log.counter_bytes as f64 / 1024.0,
        log.bytes as f64 / 1e6,
        log.busiest_day.0,
        thousands(log.busiest_day.1 as u64),
        log.busiest_user.1,
    );
    if in_process {
        println!(
            "{}: audit::read_log measured in-process (no caller check, no peak memory)",
            if options.audit_in_process {
                "--audit-in-process".to_owned()
            } else {
                format!("{} is not built", binary.display())
            }
        );
    }
    let mut rows = Vec::new();
    for scenario in LogScenario::all(&log) {
        eprintln!("audit log of {records} records, {}", scenario.name);
        let expected = scenario.expected(&log, chrono::Utc::now(), retention);
        let label = format!("audit log of {records} records, {}", scenario.name);
        let measurement = if in_process {
            let expected = expected.clone();
            audit_log::measure_in_process(
                fake,
                account.id,
                scenario.log_query()?,
                options.invocations,
                move |status, body| {
                    expected
                        .check(status, body)
                        .map_err(|err| format!("{label}: {err}"))
                },
            )
            .await?
        } else {
            measure(
                api,
                fake,
                &binary,
                &scenario.event(&account.owner_sub),
                options.invocations,
                |answer| {
                    expected
                        .check(answer.status, &answer.body)
                        .map_err(|err| format!("{label}: {err}"))
                },
            )
            .await?
        };
        rows.push((scenario.name, expected.total, measurement));
    }

    println!();
    println!(
        "### audit log, {} records ({})",
        thousands(records as u64),
        if in_process {
            "read_log in-process"
        } else {
            "release binary"
        }
    );
    println!();
    println!("| scenario | total (= generated) | Query pages | other calls | read units | sequential calls | CPU ms (median of {}) | peak RSS MB | est. latency 128 MB ms |", options.invocations);
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut summaries = Vec::new();
    for (name, total, measurement) in &rows {
        let CallSummary {
            query_pages,
            other_calls,
            read_units,
            rounds,
            ..
        } = &measurement.calls;
        let cpu = median(&measurement.cpu_ms);
        let rss = if measurement.peak_rss_mb.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.1}", measurement.peak_rss_mb)
        };
        println!(
            "| {name} | {} | {query_pages} | {other_calls} | {read_units} | {rounds} | {cpu:.1} | {rss} | {:.0} |",
            thousands(*total as u64),
            latency_ms(cpu, 128.0),
        );
        summaries.push(format!(
            "scale audit_records={records} scenario=\"{name}\" total={total} read_units={read_units} cpu_ms={cpu:.1} peak_rss_mb={rss} calls={} rounds={rounds}",
            query_pages + other_calls,
        ));
    }
    println!();
    println!(
        "Reading the whole log instead (every record, newest first): {} Query pages, {} read units.",
        log.naive_pages,
        thousands(log.naive_read_units),
    );
    Ok(summaries)
}
