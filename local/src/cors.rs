//! CORS as the deployed HTTP API answers it, from the `CorsConfiguration` of the
//! template's `AWS::Serverless::HttpApi`: API Gateway answers every preflight itself
//! (before routes and authorizers) and adds the allow-origin and expose headers to the
//! answers of requests from an allowed origin. A refused origin gets no CORS header, so
//! the browser blocks the answer.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_yaml::Value;

use crate::function_env::Bindings;
use crate::provision::BoxError;

#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

fn resolved_list(bindings: &Bindings, value: &Value) -> Result<Vec<String>, BoxError> {
    value
        .as_sequence()
        .map(|items| items.iter().map(|item| bindings.resolve(item)).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

impl Cors {
    /// The HTTP API's `CorsConfiguration`, its references resolved with `bindings` (the
    /// `CorsAllowOrigin` parameter's default or override); None when the API has none.
    pub fn from_template(text: &str, bindings: &Bindings) -> Result<Option<Self>, BoxError> {
        let template: Value = serde_yaml::from_str(text)?;
        let api = template["Resources"]
            .as_mapping()
            .ok_or("template.yaml has no Resources")?
            .values()
            .find(|r| r["Type"].as_str() == Some("AWS::Serverless::HttpApi"))
            .ok_or("template.yaml has no AWS::Serverless::HttpApi")?;
        let configuration = &api["Properties"]["CorsConfiguration"];
        if configuration.is_null() {
            return Ok(None);
        }
        Ok(Some(Self {
            allow_origins: resolved_list(bindings, &configuration["AllowOrigins"])?,
            allow_methods: resolved_list(bindings, &configuration["AllowMethods"])?,
            // Header names are case-insensitive: compared and answered in lower case.
            allow_headers: resolved_list(bindings, &configuration["AllowHeaders"])?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            expose_headers: resolved_list(bindings, &configuration["ExposeHeaders"])?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            max_age: configuration["MaxAge"].as_u64(),
            allow_credentials: configuration["AllowCredentials"].as_bool().unwrap_or(false),
        }))
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some("*".into());
        }
        // `https://*` and `http://*` allow every origin of that scheme.
        self.allow_origins
            .iter()
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(scheme) => origin.to_ascii_lowercase().starts_with(scheme),
                None => allowed.eq_ignore_ascii_case(origin),
            })
            .then(|| origin.to_owned())
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allow_methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(method))
    }

    fn allows_headers(&self, requested: &str) -> bool {
        requested
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .all(|h| self.allow_headers.iter().any(|a| a == "*" || *a == h))
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or None for any other request.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response> {
        if method != Method::OPTIONS {
            return None;
        }
        let origin = header(headers, "origin")?;
        let requested_method = header(headers, "access-control-request-method")?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        let requested_headers = header(headers, "access-control-request-headers").unwrap_or("");
        let allowed = self.allowed_origin(origin).filter(|_| {
            self.allows_method(requested_method) && self.allows_headers(requested_headers)
        });
        // A refused preflight is still a 204, only without CORS headers.
        if let Some(allowed) = allowed {
            let out = response.headers_mut();
            insert(out, "access-control-allow-origin", &allowed);
            insert(
                out,
                "access-control-allow-methods",
                &self.allow_methods.join(","),
            );
            if !self.allow_headers.is_empty() {
                insert(
                    out,
                    "access-control-allow-headers",
                    &self.allow_headers.join(","),
                );
            }
            if let Some(max_age) = self.max_age {
                insert(out, "access-control-max-age", &max_age.to_string());
            }
            if self.allow_credentials {
                insert(out, "access-control-allow-credentials", "true");
            }
        }
        Some(response)
    }

    /// Adds the CORS headers to the answer of a request from an allowed origin. As in API
    /// Gateway, CORS headers of the handler's own are dropped.
    pub fn decorate(&self, request_headers: &HeaderMap, response: &mut Response) {
        let handler_cors: Vec<_> = response
            .headers()
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in handler_cors {
            response.headers_mut().remove(name);
        }
        let Some(allowed) = header(request_headers, "origin").and_then(|o| self.allowed_origin(o))
        else {
            return;
        };
        let out = response.headers_mut();
        insert(out, "access-control-allow-origin", &allowed);
        if !self.expose_headers.is_empty() {
            insert(
                out,
                "access-control-expose-headers",
                &self.expose_headers.join(","),
            );
        }
        if self.allow_credentials {
            insert(out, "access-control-allow-credentials", "true");
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moto::repo_root;

    fn template_cors(origin: &str) -> Cors {
        let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
        let bindings =
            Bindings::with_defaults(&text, &[("CorsAllowOrigin", origin.into())]).unwrap();
        Cors::from_template(&text, &bindings).unwrap().unwrap()
    }

    #[test]
    fn the_template_configuration_is_read_with_the_origin_parameter_resolved() {
        let cors = template_cors("https://app.example.com");
        assert_eq!(cors.allow_origins, ["https://app.example.com"]);
        assert!(cors.allows_method("POST"));
        assert!(cors.allows_headers("Content-Type, Authorization"));
        assert!(!cors.allows_headers("x-other"));
        assert_eq!(cors.expose_headers, ["error-code", "retry-after"]);
        assert_eq!(cors.max_age, Some(600));
    }

    #[test]
    fn a_scheme_wildcard_allows_every_origin_of_that_scheme_only() {
        let cors = template_cors("https://*");
        assert_eq!(
            cors.allowed_origin("https://app.example.com"),
            Some("https://app.example.com".into())
        );
        assert_eq!(cors.allowed_origin("http://app.example.com"), None);
    }

    #[test]
    fn a_wildcard_origin_is_answered_with_a_wildcard() {
        assert_eq!(
            template_cors("*").allowed_origin("https://anywhere.example"),
            Some("*".into())
        );
    }
}
