//! The signup page (`web/`) as the local gateway serves it at `/signup`, and its
//! configuration `signup-config.json`, generated from `template.yaml` so that the password
//! rules the page shows have one source: the user pool's `Policies.PasswordPolicy`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::path::PathBuf;

use crate::moto::repo_root;
use crate::provision::{BoxError, Definitions, PasswordPolicy};

/// The name the page fetches its configuration from, beside its own files.
pub const CONFIG_FILE: &str = "signup-config.json";

/// The page's headers. `connect-src 'self'`: locally the API has the page's origin.
/// `form-action 'none'`: without its script the form can never send the password anywhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

/// What the page reads at start: where the API is, where to sign in, the password rules.
pub fn config_json(
    api_base_url: &str,
    sign_in_url: Option<&str>,
    policy: &PasswordPolicy,
) -> serde_json::Value {
    json!({
        "apiBaseUrl": api_base_url.trim_end_matches('/'),
        "signInUrl": sign_in_url,
        "passwordPolicy": {
            "minimumLength": policy.minimum_length,
            "requireLowercase": policy.require_lowercase,
            "requireUppercase": policy.require_uppercase,
            "requireNumbers": policy.require_numbers,
            "requireSymbols": policy.require_symbols,
        },
    })
}

/// The page's files and its generated configuration.
pub struct SignupPage {
    web_dir: PathBuf,
    config: String,
}

impl SignupPage {
    /// The page of this repository, calling the API on its own origin. Files are read at
    /// each request, so an edit to `web/` shows on reload without a rebuild.
    pub fn load(sign_in_url: Option<&str>) -> Result<Self, BoxError> {
        let definitions = Definitions::load(&repo_root().join("template.yaml"))?;
        Ok(Self {
            web_dir: repo_root().join("web"),
            config: config_json("", sign_in_url, &definitions.password_policy).to_string(),
        })
    }

    /// The answer for a GET of `path`, or None when the path is not the page's.
    pub fn serve(&self, path: &str) -> Option<Response> {
        let name = match path {
            "/signup" | "/signup/" => "signup.html",
            _ => path.strip_prefix('/')?,
        };
        if name == CONFIG_FILE {
            return Some(page_response(
                "application/json",
                self.config.clone().into_bytes(),
            ));
        }
        let content_type = content_type(name)?;
        // Only plain file names directly in web/: no way out of the directory.
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return None;
        }
        let bytes = std::fs::read(self.web_dir.join(name)).ok()?;
        Some(page_response(content_type, bytes))
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

fn page_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let static_header = HeaderValue::from_static;
    headers.insert(header::CONTENT_TYPE, static_header(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        static_header(CONTENT_SECURITY_POLICY),
    );
    // The address holds the token until the script removes it: never send it on.
    headers.insert(header::REFERRER_POLICY, static_header("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, static_header("nosniff"));
    headers.insert(header::CACHE_CONTROL, static_header("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> SignupPage {
        SignupPage::load(Some("https://app.example.com/")).unwrap()
    }

    #[test]
    fn the_page_is_served_at_signup_with_strict_headers() {
        let response = page().serve("/signup").expect("the page");
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
    }

    #[test]
    fn the_password_rules_come_from_the_template() {
        let definitions = Definitions::load(&repo_root().join("template.yaml")).unwrap();
        let policy = definitions.password_policy;
        let config: serde_json::Value = serde_json::from_str(&page().config).unwrap();
        assert_eq!(
            config["passwordPolicy"]["minimumLength"],
            policy.minimum_length
        );
        assert_eq!(
            config["passwordPolicy"]["requireNumbers"],
            policy.require_numbers
        );
        assert_eq!(config["apiBaseUrl"], "");
        assert_eq!(config["signInUrl"], "https://app.example.com/");
    }

    #[test]
    fn nothing_outside_the_web_directory_is_served() {
        let page = page();
        for path in [
            "/../template.yaml",
            "/..%2Ftemplate.yaml",
            "/.hidden.js",
            "/api/v1/user/userinfo",
            "/sub/signup.js",
            "/signup.txt",
        ] {
            assert!(page.serve(path).is_none(), "{path} was served");
        }
        assert!(page.serve("/signup.js").is_some());
    }
}
