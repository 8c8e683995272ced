//! `make run`: the whole API on 127.0.0.1 against moto, seeded with a demo account.

use local::moto::Moto;
use local::seed::{seed, DEFAULT_OWNER_PASSWORD, DEMO_USER_PASSWORD, OWNER_EMAIL};
use local::stack::{LocalStack, StackOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::telemetry::init();
    let port: u16 = match std::env::var("PORT") {
        Err(_) => 3000,
        Ok(text) if text.trim().is_empty() => 3000,
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number (0-65535), got {text:?}"))?,
    };
    let owner_password =
        std::env::var("DEMO_OWNER_PASSWORD").unwrap_or_else(|_| DEFAULT_OWNER_PASSWORD.to_owned());

    // Use the emulator the caller points at, or start our own (stopped when we exit).
    let (endpoint, _moto) = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => (endpoint, None),
        _ => {
            let moto = Moto::start(true)?;
            eprintln!("moto started on {} (pid {})", moto.endpoint, moto.pid());
            (moto.endpoint.clone(), Some(moto))
        }
    };
    let mut options = StackOptions::new(endpoint);
    options.port = port;
    if let Ok(region) = std::env::var("AWS_REGION") {
        options.region = region;
    }
    // Unset: invitations link to this gateway's own /signup, at its real port.
    options.signup_url = std::env::var("SIGNUP_URL")
        .ok()
        .filter(|url| !url.is_empty());
    options.sign_in_url = std::env::var("SIGN_IN_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let stack = LocalStack::start(options).await.map_err(|err| {
        let taken = err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
        if taken {
            format!("port {port} is already in use: stop what listens there, or run with PORT=<another port>").into()
        } else {
            err
        }
    })?;
    let seeded = seed(&stack.services, &owner_password).await?;

    println!();
    println!("User API running at {}", stack.base_url);
    println!(
        "  signup page {}/signup (invitations link to {})",
        stack.base_url, stack.services.config.signup_url
    );
    println!(
        "  table {}, user pool {}, app client {}",
        stack.services.config.table_name,
        stack.services.config.user_pool_id,
        stack.services.config.user_pool_client_id
    );
    println!(
        "  demo account {} with {} more users",
        seeded.account_id,
        seeded.users.len()
    );
    println!("  owner: {OWNER_EMAIL} / {owner_password}   (others: <name>@example.com / {DEMO_USER_PASSWORD})");
    println!();
    println!("  TOKEN=$(curl -s -X POST {0}/local/login -d '{{\"username\":\"{OWNER_EMAIL}\",\"password\":\"{owner_password}\"}}' | jq -r .accessToken)", stack.base_url);
    println!(
        "  curl -s {0}/api/v1/user/userinfo -H \"Authorization: Bearer $TOKEN\"",
        stack.base_url
    );
    println!();
    println!("Ctrl-C stops the gateway and everything it started.");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("stopping");
    drop(stack);
    Ok(())
}
