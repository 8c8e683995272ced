//! CORS on the local gateway, as the HTTP API answers it from template.yaml's
//! `CorsConfiguration` (here with `CorsAllowOrigin` set to the signup page's origin).

use integration_tests::TestApp;
use reqwest::Method;

const PAGE_ORIGIN: &str = "https://app.example.com";

async fn app() -> TestApp {
    TestApp::spawn_with(
        |options| options.cors_allow_origin = Some(PAGE_ORIGIN.into()),
        |services| services,
    )
    .await
}

/// A preflight of `path` from `origin` for `method` with `headers`.
async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_preflight_from_the_page_origin_is_answered_with_the_template_configuration() {
    let app = app().await;
    let response = preflight(
        &app,
        "/api/v1/user/signup",
        PAGE_ORIGIN,
        "POST",
        "Content-Type",
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(PAGE_ORIGIN)
    );
    assert_eq!(
        header(&response, "access-control-allow-methods").as_deref(),
        Some("GET,POST,PUT,DELETE,OPTIONS")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers").as_deref(),
        Some("authorization,content-type")
    );
    assert_eq!(
        header(&response, "access-control-max-age").as_deref(),
        Some("600")
    );
}

#[tokio::test]
async fn a_preflight_for_a_protected_route_needs_no_token() {
    let app = app().await;
    let response = preflight(
        &app,
        "/api/v1/user/userinfo",
        PAGE_ORIGIN,
        "GET",
        "authorization",
    )
    .await;
    assert_eq!(response.status(), 204);
    assert!(header(&response, "access-control-allow-origin").is_some());
}

#[tokio::test]
async fn a_request_from_the_allowed_origin_gets_the_origin_and_exposed_headers() {
    let app = app().await;
    let response = app
        .http
        .get(app.url("/api/v1/user/signupinfo?token=unknown"))
        .header("origin", PAGE_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some(PAGE_ORIGIN)
    );
    assert_eq!(
        header(&response, "access-control-expose-headers").as_deref(),
        Some("error-code,retry-after")
    );
}

#[tokio::test]
async fn another_origin_gets_no_cors_header_on_a_preflight_or_a_request() {
    let app = app().await;
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/api/v1/user/signup"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    let request = app
        .http
        .get(app.url("/api/v1/user/signupinfo?token=unknown"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&request, "access-control-allow-origin"), None);
    assert_eq!(header(&request, "access-control-expose-headers"), None);
}

#[tokio::test]
async fn a_preflight_asking_for_a_header_the_template_does_not_allow_is_refused() {
    let app = app().await;
    let response = preflight(&app, "/api/v1/user/signup", PAGE_ORIGIN, "POST", "x-custom").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_an_override_the_template_default_allows_any_origin() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .request(Method::OPTIONS, app.url("/api/v1/user/signup"))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}
