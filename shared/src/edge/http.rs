//! The HTTP edge: reading requests (claims, bearer token, query, JSON body) and writing
//! answers. Handlers return `Result<Reply, ApiError>`; `respond` is the only place that
//! turns either into a response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

use crate::domain::error::{ApiError, ErrorCode};

/// A successful answer.
#[derive(Debug)]
pub enum Reply {
    /// 200 with a JSON document.
    Json(serde_json::Value),
    /// 200 with a plain-text body.
    Text(String),
    /// 200 with an empty body.
    Empty,
}

impl Reply {
    pub fn json<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        serde_json::to_value(value)
            .map(Reply::Json)
            .map_err(|e| ApiError::internal(format!("serialize response: {e}")))
    }
}

/// The response for a handler's result.
pub fn respond(result: Result<Reply, ApiError>) -> Response<Body> {
    let (body, content_type) = match result {
        Err(err) => {
            if let Some(code) = err.code() {
                tracing::info!(error_code = %code, "request refused");
            }
            return err.into_response();
        }
        Ok(Reply::Json(value)) => (Body::Text(value.to_string()), Some("application/json")),
        Ok(Reply::Text(text)) => (Body::Text(text), Some("text/plain; charset=utf-8")),
        Ok(Reply::Empty) => (Body::Empty, None),
    };
    let mut response = Response::new(body);
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert("content-type", http::HeaderValue::from_static(content_type));
    }
    response
}

/// The JWT claims the HTTP API authorizer verified, from the request context.
pub fn claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()
            .map(|jwt| &jwt.claims),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The raw access token from `Authorization: Bearer ...`, for calls made on the user's behalf.
pub fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// The query string's parameters, decoded, in the order given. Every endpoint reads them
/// through `known`, by one rule (docs/api.md): names match without regard to case; a
/// parameter repeated with the same value (spaces around it aside) counts once, repeated
/// with another value it is a 499 DEFAULT naming it, since acting on either would be a
/// guess; names an endpoint does not know are ignored, however often they come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

pub fn query(req: &Request) -> Query {
    Query::parse(req.uri().query().unwrap_or_default())
}

impl Query {
    pub fn parse(raw: &str) -> Self {
        form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect()
    }

    /// The values of the parameters in `names` that are given, keyed by their name as
    /// `names` spells it.
    pub fn known<'q>(
        &'q self,
        names: &[&'static str],
    ) -> Result<HashMap<&'static str, &'q str>, ApiError> {
        let mut given: HashMap<&'static str, &str> = HashMap::new();
        for (name, value) in &self.0 {
            let Some(known) = names.iter().copied().find(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            match given.insert(known, value) {
                Some(other) if other.trim() != value.trim() => {
                    return Err(ApiError::app(
                        ErrorCode::Default,
                        format!("{known} is given more than once."),
                    ))
                }
                _ => {}
            }
        }
        Ok(given)
    }
}

impl FromIterator<(String, String)> for Query {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }
}

/// Parses a JSON body into `T`; malformed JSON, wrong types or missing fields are a 499
/// DEFAULT that says what is wrong.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::app(
            ErrorCode::Default,
            "A JSON request body is required.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let detail = e.to_string();
        // serde's message names the field and the expected type; drop the position suffix.
        let detail = detail.split(" at line ").next().unwrap_or(&detail);
        ApiError::app(
            ErrorCode::Default,
            format!("Invalid request body: {detail}."),
        )
    })
}

/// Whether the client asked for JSON explicitly.
pub fn accepts_json(req: &Request) -> bool {
    req.headers()
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

#[cfg(test)]
mod tests {

    const NAMES: [&str; 4] = ["page", "pagesize", "id", "token"];

    #[test]
    fn a_known_parameter_repeated_with_another_value_is_refused_in_any_case() {
        for raw in [
            "pagesize=1&pagesize=2",
            "id=a&id=b",
            "token=bogus&token=good",
            "page=1&PAGE=2",
            "TOKEN=good&token=bogus",
        ] {
            let err = Query::parse(raw).known(&NAMES).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default), "{raw}");
            assert!(err.to_string().contains("is given more than once"), "{raw}");
        }
    }

    #[test]
    fn names_match_in_any_case_a_repeat_of_one_value_counts_once_and_unknown_names_are_ignored() {
        for raw in [
            "token=t",
            "TOKEN=t",
            "Token=t",
            "TOKEN=t&token=t",
            "token=t&TOKEN=%20t",
            "foo=1&foo=2&token=t&FOO=3",
        ] {
            let query = Query::parse(raw);
            let given = query.known(&NAMES).unwrap();
            assert_eq!(given.get("token").map(|t| t.trim()), Some("t"), "{raw}");
            assert_eq!(given.len(), 1, "{raw}");
        }
    }

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body2 {
        name: String,
        count: u32,
    }

    fn request(body: &str) -> Request {
        let mut req = Request::new(Body::Text(body.to_owned()));
        *req.uri_mut() = "/x?page=2&username=Ada%20L&page=3".parse().unwrap();
        req
    }

    #[test]
    fn a_malformed_body_is_a_default_error_naming_the_problem() {
        for (body, needle) in [
            ("{", "EOF"),
            ("{\"name\":\"a\"}", "count"),
            ("{\"name\":1,\"count\":1}", "string"),
            ("", "required"),
        ] {
            let err = json_body::<Body2>(&request(body)).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default));
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    /// What a function receives from API Gateway (HTTP API, payload 2.0) for a body that is
    /// not text: the bytes in base64, which lambda_http decodes before the handler.
    fn binary_event_request(bytes: &[u8]) -> Request {
        use base64::Engine as _;
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "PUT /api/v1/user/update_user",
            "rawPath": "/api/v1/user/update_user",
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "example", "requestId": "id", "routeKey": "PUT /api/v1/user/update_user",
                "stage": "$default", "time": "03/Dec/2026:12:00:00 +0000", "timeEpoch": 1796300000000i64,
                "http": {"method": "PUT", "path": "/api/v1/user/update_user", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "test"}
            },
            "body": base64::engine::general_purpose::STANDARD.encode(bytes),
            "isBase64Encoded": true
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn a_body_with_bytes_that_are_not_utf8_is_a_default_error_on_the_lambda_path() {
        for bytes in [
            &b"{\"name\":\"Bad\xffName\",\"count\":1}"[..],
            // An overlong encoding of '/', and an encoded surrogate half.
            &b"{\"name\":\"Bad\xc0\xafName\",\"count\":1}"[..],
            &b"{\"name\":\"Bad\xed\xa0\x80Name\",\"count\":1}"[..],
        ] {
            let err = json_body::<Body2>(&binary_event_request(bytes)).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default), "{bytes:?}");
        }
        let fine = binary_event_request("{\"name\":\"Zoë\",\"count\":1}".as_bytes());
        assert_eq!(json_body::<Body2>(&fine).unwrap().name, "Zoë");
    }

    #[test]
    fn query_parameters_are_decoded_and_a_conflicting_repeat_is_refused() {
        let q = Query::parse("page=3&username=Ada%20L");
        let given = q.known(&["page", "username"]).unwrap();
        assert_eq!(given["page"], "3");
        assert_eq!(given["username"], "Ada L");
        // The request's query gives page=2 and page=3.
        assert!(query(&request("")).known(&["page"]).is_err());
    }

    #[test]
    fn a_request_without_authorizer_claims_has_none() {
        assert!(claims(&request("")).is_none());
        assert!(bearer_token(&request("")).is_err());
    }
}
