//! Writes the signup page's configuration for hosting `web/` anywhere (a bucket, a CDN):
//! the API base URL, the sign-in link, and the password rules read from `template.yaml`.
//!
//! ```text
//! cargo run -p local --bin signup-config -- --api-base-url https://api.example.com \
//!   [--sign-in-url https://app.example.com/login] > web/signup-config.json
//! ```
//!
//! It also prints the response headers the host should send with the page.

use local::moto::repo_root;
use local::provision::Definitions;
use local::signup_page::{config_json, CONTENT_SECURITY_POLICY};

fn usage() -> ! {
    eprintln!(
        "usage: signup-config --api-base-url URL [--sign-in-url URL] > web/signup-config.json"
    );
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let (mut api_base_url, mut sign_in_url) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--api-base-url" => api_base_url = args.next(),
            "--sign-in-url" => sign_in_url = args.next(),
            _ => usage(),
        }
    }
    let Some(api_base_url) = api_base_url else {
        usage()
    };
    let definitions = Definitions::load(&repo_root().join("template.yaml"))?;
    let config = config_json(
        &api_base_url,
        sign_in_url.as_deref(),
        &definitions.password_policy,
    );
    println!("{}", serde_json::to_string_pretty(&config)?);
    // The page calls the API on its own origin or on the configured one, nowhere else.
    let api_origin = api_base_url
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    let policy = CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'",
        &format!("connect-src 'self' {api_origin}"),
    );
    eprintln!("Serve signup.html with these headers:");
    eprintln!("  Content-Security-Policy: {policy}");
    eprintln!("  Referrer-Policy: no-referrer");
    eprintln!("  Cache-Control: no-store");
    Ok(())
}
