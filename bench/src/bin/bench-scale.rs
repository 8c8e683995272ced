//! `make bench-scale`: the list functions on accounts of 1,000, 10,000 and 100,000 users.
//! Their release binaries run under the Runtime API stub against an in-process fake
//! DynamoDB (see `bench::scale`); prints a table per account size, then one summary line
//! per size and endpoint (default request).
//!
//! Usage: bench-scale [--sizes 1000,10000,100000] [--invocations 20] [--latency-ms 5]
//!                    [--unindexed] [--release-dir DIR] [--seed N]
//!
//! `--unindexed` builds the accounts without the list index, as accounts are before the
//! migration reaches them, to compare.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bench::runtime_stub::RuntimeApi;
use bench::scale::account;
use bench::scale::dynamo_json::item_json;
use bench::scale::fake_dynamo::{CallSummary, FakeDynamo};
use bench::scale::runner::{measure, BoxError, Measurement, TABLE};
use bench::scale::scenario::{Endpoint, Scenario};
use local::moto::repo_root;

/// What the list index adds to each user write: one strongly consistent GetItem of the
/// user's shard and its put inside the write's transaction, which DynamoDB charges two
/// write units per KB (transactional writes cost double).
fn print_write_cost(account: &account::Account) -> Result<(), BoxError> {
    let sizes: Vec<u64> = shared::list_index::shard_items(account.id, &account.users)?
        .iter()
        .map(|item| bench::scale::dynamo_json::item_size(&item_json(item)))
        .collect();
    let max = sizes.iter().copied().max().unwrap_or_default();
    let mean = sizes.iter().sum::<u64>() as f64 / sizes.len().max(1) as f64;
    let write_units = |bytes: u64| 2 * bytes.div_ceil(1024);
    println!(
        "list index: {} shards, mean {:.1} KB, max {:.1} KB; each user write adds {} read units on average (up to {}) and {} write units on average (up to {})",
        sizes.len(),
        mean / 1024.0,
        max as f64 / 1024.0,
        (mean.ceil() as u64).div_ceil(4096),
        max.div_ceil(4096),
        write_units(mean.ceil() as u64),
        write_units(max),
    );
    Ok(())
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
}

const USAGE: &str = "usage: bench-scale [--sizes 1000,10000,100000] [--invocations 20] [--latency-ms 5] [--unindexed] [--release-dir DIR] [--seed N]";

fn options() -> Options {
    let mut options = Options {
        sizes: vec![1_000, 10_000, 100_000],
        invocations: 20,
        latency: Duration::from_millis(5),
        unindexed: false,
        release_dir: repo_root().join("target/release"),
        seed: 20_261_128,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--unindexed" {
            options.unindexed = true;
            continue;
        }
        let value = args.next().unwrap_or_default();
        let parsed = match arg.as_str() {
            "--sizes" => value
                .split(',')
                .map(|size| size.trim().replace('_', "").parse())
                .collect::<Result<Vec<usize>, _>>()
                .map(|sizes| options.sizes = sizes)
                .is_ok(),
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
        };
        if !parsed || options.sizes.contains(&0) || options.invocations == 0 {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    options
}

/// One line of a size's table.
struct Row {
    endpoint: Endpoint,
    scenario: String,
    measurement: Measurement,
}

impl Row {
    fn median_cpu_ms(&self) -> f64 {
        let mut cpu = self.measurement.cpu_ms.clone();
        cpu.sort_by(f64::total_cmp);
        cpu[cpu.len() / 2]
    }
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
    for endpoint in Endpoint::ALL {
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
    for &size in &options.sizes {
        fake.clear();
        let account = account::build(size, options.seed, !options.unindexed, &mut |item| {
            fake.put(item_json(&item))
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
        for endpoint in Endpoint::ALL {
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
    println!();
    println!("Read units as DynamoDB charges them (4 KB per unit, a Query page as a whole, strongly consistent); sequential calls: rounds of calls that do not overlap, with the fake answering each call in {} ms. Latency estimates: handler CPU time / (memory MB / {FULL_CPU_MB}), waits on DynamoDB excluded. Run took {:.0} s.", options.latency.as_millis(), started.elapsed().as_secs_f64());
    println!();
    for line in summaries {
        println!("{line}");
    }
    Ok(())
}
