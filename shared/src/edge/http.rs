//! The HTTP edge: reading requests (claims, bearer token, query, JSON body) and writing
//! answers. Handlers return `Result<Reply, ApiError>`; `respond` is the only place that
//! turns either into a response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

use crate::domain::audit::Origin;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::query::Query;
use lambda_http::http::{HeaderValue, StatusCode};

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
            return error_response(err);
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

pub fn query(req: &Request) -> Query {
    Query::parse(req.uri().query().unwrap_or_default())
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

/// The longest user agent kept: a client cannot make records large.
const MAX_USER_AGENT_CHARS: usize = 512;

/// Where a request came from, as API Gateway saw it (for audit records).
pub fn origin(req: &Request) -> Origin {
    let header = req
        .headers()
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut origin = Origin {
        user_agent: header,
        ..Origin::default()
    };
    if let Some(RequestContext::ApiGatewayV2(context)) = req.request_context_ref() {
        origin.source_ip = context.http.source_ip.clone();
        origin.request_id = context.request_id.clone();
        if context.http.user_agent.is_some() {
            origin.user_agent = context.http.user_agent.clone();
        }
    }
    origin.user_agent = origin
        .user_agent
        .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect());
    origin
}

/// An error's wire form, the one place errors become responses: 401 bare, 499 and
/// 400 problem documents with the `error-code` header, 429 with `Retry-After`, 500 with
/// no body (its detail goes to the log only).
pub fn error_response(err: ApiError) -> Response<Body> {
    match err {
        ApiError::Unauthorized => empty(StatusCode::UNAUTHORIZED),
        ApiError::App { code, message } => problem(499, code, message),
        ApiError::BadRequest { code, message } => problem(400, code, message),
        ApiError::TooManyRequests {
            retry_after_seconds,
        } => {
            let mut response = problem(
                429,
                ErrorCode::Default,
                format!("Too many requests. Try again in {retry_after_seconds} seconds."),
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after_seconds.into());
            response
        }
        ApiError::Internal(detail) => {
            tracing::error!(error = %detail.chain(), "internal error");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// The ASP.NET ValidationProblemDetails document with the `error-code` header.
fn problem(status: u16, code: ErrorCode, message: String) -> Response<Body> {
    let body = serde_json::json!({
        "type": code.as_str(),
        "status": status,
        "errors": { code.as_str(): [message] },
    });
    let mut response = Response::new(Body::Text(body.to_string()));
    // Only 400 and 499 reach here; anything else would be a bug, not a client's fault.
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert("error-code", HeaderValue::from_static(code.as_str()));
    response
}

#[cfg(test)]
mod tests {

    use super::*;
    use serde_json::json;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn an_application_error_is_a_499_problem_document_with_the_error_code_header() {
        let response = error_response(ApiError::app(ErrorCode::Duplicate, "taken"));
        assert_eq!(response.status().as_u16(), 499);
        assert_eq!(response.headers()["error-code"], "DUPLICATE");
        assert_eq!(
            body_json(&response),
            json!({"type": "DUPLICATE", "status": 499, "errors": {"DUPLICATE": ["taken"]}})
        );
    }

    #[test]
    fn an_internal_error_is_a_500_without_a_body() {
        let response = error_response(ApiError::internal("table missing"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.body().as_ref().is_empty());
    }

    #[test]
    fn a_bad_request_keeps_the_problem_shape_with_status_400() {
        let response = error_response(ApiError::bad_request(
            ErrorCode::NotFound,
            "no pending user",
        ));
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(body_json(&response)["status"], 400);
    }

    #[test]
    fn too_many_requests_carries_retry_after() {
        let response = error_response(ApiError::TooManyRequests {
            retry_after_seconds: 42,
        });
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "42");
    }

    #[test]
    fn unauthorized_is_a_bare_401() {
        let response = error_response(ApiError::Unauthorized);
        assert_eq!(response.status().as_u16(), 401);
        assert!(response.body().as_ref().is_empty());
    }

    #[derive(Debug, serde::Deserialize)]
    struct NamedCount {
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
            let err = json_body::<NamedCount>(&request(body)).unwrap_err();
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
            let err = json_body::<NamedCount>(&binary_event_request(bytes)).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default), "{bytes:?}");
        }
        let fine = binary_event_request("{\"name\":\"Zoë\",\"count\":1}".as_bytes());
        let read = json_body::<NamedCount>(&fine).unwrap();
        assert_eq!((read.name.as_str(), read.count), ("Zoë", 1));
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
