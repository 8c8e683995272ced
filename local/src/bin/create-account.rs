//! Creates an account with its package and invites its owner by email, against real AWS
//! or the local stack (whatever the standard AWS environment points at).
//!
//! ```text
//! TABLE_NAME=... USER_POOL_ID=... USER_POOL_CLIENT_ID=... SENDER_EMAIL=... SIGNUP_URL=... \
//!   create-account --name "Example Studio" --owner-email owner@example.com [--package package.json]
//! ```

use shared::features::accounts::{create_account, Package};
use shared::{adapters::aws, adapters::db::Db, adapters::mail::Ses, Config};

fn usage() -> ! {
    eprintln!("usage: create-account --name NAME --owner-email EMAIL [--package FILE.json]");
    eprintln!("  FILE.json has the fields of the Package Inquiry response, as limits.");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let (mut name, mut owner, mut package) = (None, None, Package::starter());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--name" => name = args.next(),
            "--owner-email" => owner = args.next(),
            "--package" => {
                let path = args.next().unwrap_or_else(|| usage());
                package = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            }
            _ => usage(),
        }
    }
    let (Some(name), Some(owner)) = (name, owner) else {
        usage()
    };
    let config = Config::from_env()?;
    let sdk = aws::load().await;
    let db = Db::from_config(&sdk, &config);
    let mailer = Ses::new(&sdk, &config);
    match create_account(&db, &mailer, &config, &name, &owner, &package).await {
        Ok(created) => {
            println!(
                "{{\"accountId\":\"{}\",\"ownerId\":\"{}\"}}",
                created.account_id, created.owner.user.id
            );
            eprintln!("Invitation sent to {owner}.");
            Ok(())
        }
        Err(err) => Err(format!("account not created: {err}").into()),
    }
}
