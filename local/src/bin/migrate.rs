//! Brings a table written by an earlier version to the current layout (relations under
//! their user, the list index built, accounts marked indexed), against real AWS or the
//! local stack (whatever the standard AWS environment points at). Idempotent and
//! resumable: run it again after any failure. Deploy the current code first.
//!
//! ```text
//! TABLE_NAME=... migrate [--account ACCOUNT_ID] [--check | --repair]
//! ```
//!
//! `--check` reports every difference between a list index and its users and changes
//! nothing; `--repair` makes the index equal the users again (rows missing, stray,
//! different, or in a leaf that does not decode), beside live traffic.

use shared::adapters::db::migration::{
    accounts, check_account, migrate_account, migrate_table, repair_account,
};
use shared::domain::AccountId;
use shared::{adapters::aws, adapters::db::Db};

fn usage() -> ! {
    eprintln!("usage: migrate [--account ACCOUNT_ID] [--check | --repair]");
    eprintln!("  --check compares each account's list index with its users and changes nothing.");
    eprintln!("  --repair rewrites what differs, through the index's own conditional writes.");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let (mut account, mut check, mut repair) = (None, false, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--account" => {
                let raw = args.next().unwrap_or_else(|| usage());
                account = Some(AccountId::parse(&raw, "--account")?);
            }
            "--check" => check = true,
            "--repair" => repair = true,
            _ => usage(),
        }
    }
    if check && repair {
        usage();
    }
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let db = Db::new(&aws::load().await, table);
    if repair {
        let targets = match account {
            Some(account) => vec![account],
            None => accounts(&db).await?,
        };
        for account in targets {
            let written = repair_account(&db, account).await?;
            println!("account {account}: {written} leaf writes");
        }
        return Ok(());
    }
    if check {
        let targets = match account {
            Some(account) => vec![account],
            None => accounts(&db).await?,
        };
        let mut problems = 0;
        for account in targets {
            for problem in check_account(&db, account).await? {
                println!("account {account}: {problem}");
                problems += 1;
            }
        }
        return if problems == 0 {
            println!("every list index matches its users");
            Ok(())
        } else {
            Err(format!("{problems} differences").into())
        };
    }
    let report = match account {
        Some(account) => migrate_account(&db, account).await?,
        None => migrate_table(&db).await?,
    };
    println!("{report}");
    Ok(())
}
