//! `make run`: the whole API on 127.0.0.1 against moto, seeded with a demo account.

use local::fixtures::EventOwner;
use local::invoke_files::{container_endpoint, write_invoke_files, STACK_FILE};
use local::moto::{repo_root, Moto};
use local::seed::{
    seed_with_users, DEFAULT_OWNER_PASSWORD, DEMO_ACCOUNT_NAME, DEMO_USER_PASSWORD, OWNER_EMAIL,
};
use local::stack::{LocalStack, StackOptions};
use shared::domain::config::Limits;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::edge::telemetry::init();
    let port: u16 = number_from_env("PORT", 3000, "a port number (0-65535)")?;
    let owner_password =
        std::env::var("DEMO_OWNER_PASSWORD").unwrap_or_else(|_| DEFAULT_OWNER_PASSWORD.to_owned());
    let demo_users: u32 = number_from_env("DEMO_USERS", 0, "a number of users")?;

    // Use the emulator the caller points at, or start our own (stopped when we exit).
    let (endpoint, _moto) = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => (endpoint, None),
        _ => {
            // For containers (`sam local invoke`): every interface, and a port that stays
            // the same from one `make run` to the next. Off by default: bound to every
            // interface, the emulator (with the demo data and no authentication) is open
            // to anyone on the network.
            let bind_all = matches!(
                std::env::var("MOTO_BIND_ALL").as_deref(),
                Ok("1" | "true" | "yes")
            );
            let moto_port = match std::env::var("MOTO_PORT") {
                Ok(text) if !text.trim().is_empty() => Some(
                    text.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("MOTO_PORT must be a port number, got {text:?}"))?,
                ),
                _ => None,
            };
            let host = if bind_all { "0.0.0.0" } else { "127.0.0.1" };
            let moto = Moto::start_on(true, host, moto_port)?;
            if bind_all {
                eprintln!(
                    "moto listens on every interface (MOTO_BIND_ALL): reachable from the network"
                );
            }
            eprintln!("moto started on {} (pid {})", moto.endpoint, moto.pid());
            (moto.endpoint.clone(), Some(moto))
        }
    };
    let mut options = StackOptions::new(endpoint);
    options.port = port;
    // The limits a deployment takes from its template parameters, by the same names.
    options.limits = Limits::from_lookup(|name| std::env::var(name).ok())?;
    // The demo's invitations count against the account's hourly bound of invitation
    // emails; raised by as many, the developer can still invite after the seed.
    let mail_limits = &mut options.limits.invitation_mail_limits;
    mail_limits.per_account_per_hour = mail_limits.per_account_per_hour.saturating_add(demo_users);
    let limits = options.limits;
    if let Ok(region) = std::env::var("AWS_REGION") {
        options.region = region;
    }
    // Unset: invitations link to this gateway's own /signup, at its real port.
    options.signup_url = std::env::var("SIGNUP_URL")
        .ok()
        .filter(|url| !url.is_empty());
    // As `CorsAllowOrigin` of a deployment; unset: the template's default.
    options.cors_allow_origin = std::env::var("CORS_ALLOW_ORIGIN")
        .ok()
        .filter(|origin| !origin.is_empty());
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
    let seeding = std::time::Instant::now();
    let seeded = seed_with_users(&stack.services, &owner_password, demo_users).await?;
    let seed_seconds = seeding.elapsed().as_secs_f64();

    // What `make invoke` and `sam local invoke` need, acting as the demo owner.
    let local_dir = repo_root().join(".local");
    let container_host =
        std::env::var("CONTAINER_HOST").unwrap_or_else(|_| "host.docker.internal".to_owned());
    let demo_owner = EventOwner {
        email: OWNER_EMAIL.to_owned(),
        password: owner_password.clone(),
        sub: seeded
            .owner
            .sub
            .clone()
            .ok_or("the demo owner has no sub")?,
        account_id: seeded.account_id,
        account_name: DEMO_ACCOUNT_NAME.to_owned(),
    };
    write_invoke_files(&local_dir, &stack, &demo_owner, &container_host).await?;

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
        "  demo account {} with {} more users (seeded in {seed_seconds:.0} s)",
        seeded.account_id,
        seeded.users.len()
    );
    println!(
        "  limits: SIGNUP_TOKEN_TTL_SECONDS={} RESEND_LIMIT_PER_HOUR={} \
         INVITATION_MAILS_PER_ADDRESS_PER_HOUR={} INVITATION_MAILS_PER_ACCOUNT_PER_HOUR={}{} \
         AUDIT_RETENTION_DAYS={}",
        limits.signup_token_ttl.as_secs(),
        limits.resend_limit_per_hour,
        limits.invitation_mail_limits.per_address_per_hour,
        limits.invitation_mail_limits.per_account_per_hour,
        if demo_users > 0 {
            format!(" (with DEMO_USERS={demo_users})")
        } else {
            String::new()
        },
        limits.audit_retention_days,
    );
    println!("  owner: {OWNER_EMAIL} / {owner_password}   (others: <name>@example.com / {DEMO_USER_PASSWORD})");
    println!();
    println!("  TOKEN=$(curl -s -X POST {0}/local/login -d '{{\"username\":\"{OWNER_EMAIL}\",\"password\":\"{owner_password}\"}}' | jq -r .accessToken)", stack.base_url);
    println!(
        "  curl -s {0}/api/v1/user/userinfo -H \"Authorization: Bearer $TOKEN\"",
        stack.base_url
    );
    println!();
    println!(
        "  for invoking the functions themselves (make invoke FN=<function>, sam local invoke): {}/",
        local_dir.display()
    );
    println!(
        "    env.json (sam --env-vars, emulator at {}), lambda.env, events/<function>.json",
        container_endpoint(&stack.emulator_endpoint, &container_host)
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
    // `make invoke` reads it to find a running stack.
    let _ = std::fs::remove_file(local_dir.join(STACK_FILE));
    Ok(())
}

/// The number in the environment variable `name`, `default` when it is unset or empty;
/// anything else is an error saying what `name` must be.
fn number_from_env<T: std::str::FromStr>(name: &str, default: T, what: &str) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) if text.trim().is_empty() => Ok(default),
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be {what}, got {text:?}")),
    }
}
