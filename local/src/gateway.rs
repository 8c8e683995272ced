//! The local API gateway: every route of the specification, mapped to the very handler
//! its Lambda runs, behind the same JWT check the HTTP API authorizer makes; plus the
//! development endpoints under /local/ (never deployed), and the signup page at /signup.

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::LambdaRequest;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

use shared::edge::endpoints::{dispatch, find_route, Services};

use crate::cors::Cors;
use crate::dev::{self, DevTools};
use crate::jwt::JwtAuthorizer;
use crate::signup_page::SignupPage;

/// What the gateway needs besides the handlers' services.
pub struct Gateway {
    pub services: Services,
    pub authorizer: JwtAuthorizer,
    /// What the `/local/*` endpoints reach.
    pub dev: DevTools,
    /// The signup page of `web/`, where invitation links land.
    pub signup_page: SignupPage,
    /// The HTTP API's CORS configuration, if the template has one.
    pub cors: Option<Cors>,
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new().fallback(handle).with_state(gateway)
}

fn status_json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// CORS around everything, as API Gateway puts it in front of routes and authorizers.
async fn handle(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cors) = &gateway.cors else {
        return route_request(&gateway, method, uri, headers, body).await;
    };
    if let Some(preflight) = cors.preflight(&method, &headers) {
        return preflight;
    }
    let request_headers = headers.clone();
    let mut response = route_request(&gateway, method, uri, headers, body).await;
    cors.decorate(&request_headers, &mut response);
    response
}

async fn route_request(
    gateway: &Gateway,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if let Some(dev_path) = path.strip_prefix("/local/") {
        return dev::handle(&gateway.dev, &method, dev_path, &body).await;
    }
    if method == Method::GET {
        if let Some(page) = gateway.signup_page.serve(&path) {
            return page;
        }
    }
    let Some(route) = find_route(method.as_str(), &path) else {
        return status_json(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    };
    let claims = if route.authenticated {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        match token {
            Some(token) => match gateway.authorizer.verify(token.trim()).await {
                Some(claims) => Some(claims),
                None => {
                    return status_json(
                        StatusCode::UNAUTHORIZED,
                        json!({"message": "Unauthorized"}),
                    )
                }
            },
            None => {
                return status_json(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
            }
        }
    } else {
        None
    };
    let request = lambda_request(
        &method,
        &uri,
        headers,
        &body,
        route.method,
        route.path,
        claims,
    );
    into_axum(dispatch(&gateway.services, route.endpoint, request).await)
}

/// The request as Lambda would receive it: an HTTP API (payload 2.0) event, converted by
/// lambda_http's own conversion.
fn lambda_request(
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: &Bytes,
    route_method: &str,
    route_path: &str,
    claims: Option<HashMap<String, String>>,
) -> lambda_http::Request {
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(format!("{route_method} {route_path}"));
    event.raw_path = Some(uri.path().to_owned());
    event.raw_query_string = Some(uri.query().unwrap_or_default().to_owned());
    event.headers = headers;
    // Text goes as text; anything else as API Gateway hands over a payload that is not
    // text: base64 with isBase64Encoded, so the handler parses the bytes as sent (a lossy
    // conversion here would store U+FFFD where the client sent an invalid byte).
    let (text, base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (BASE64.encode(body), true),
    };
    event.is_base64_encoded = base64_encoded;
    event.body = (!body.is_empty()).then_some(text);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.stage = Some("$default".into());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.route_key = event.route_key.clone();
    context.domain_name = Some("localhost".into());
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method.clone();
    http.path = Some(uri.path().to_owned());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("127.0.0.1".into());
    context.http = http;
    if let Some(claims) = claims {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        context.authorizer = Some(authorizer);
    }
    event.request_context = context;
    LambdaRequest::ApiGatewayV2(event).into()
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}
