//! The platform: the gateway's authorizer, caller resolution, userinfo and package_inquiry.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use integration_tests::{field_names, unique_email, TestApp};
use serde_json::{json, Value};

use integration_tests::paths::*;

#[tokio::test]
async fn userinfo_answers_exactly_the_twelve_fields_of_the_signed_in_owner() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;

    let answer = app.get(USERINFO, Some(&account.owner_token)).await;
    answer.assert_ok();
    let body = answer.json();
    assert_eq!(
        field_names(&body),
        [
            "accountId",
            "accountName",
            "authProvider",
            "firstname",
            "lastname",
            "mfa",
            "migration",
            "owner",
            "subscriptionType",
            "userId",
            "userType",
            "username"
        ]
    );
    assert_eq!(body["userId"], account.owner_id.as_str());
    assert_eq!(body["accountId"], account.account_id.as_str());
    assert_eq!(body["username"], account.owner_email.as_str());
    assert_eq!(body["accountName"], "Test Studio");
    assert_eq!(body["firstname"], "Olivia");
    assert_eq!(body["userType"], 4);
    assert_eq!(body["owner"], true);
    assert_eq!(body["mfa"], false);
    assert_eq!(body["migration"], false);
    assert_eq!(body["subscriptionType"], 1);
    assert_eq!(body["authProvider"], 0);
}

#[tokio::test]
async fn userinfo_takes_two_sequential_aws_calls() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    app.stack.calls.reset();
    app.get(USERINFO, Some(&account.owner_token))
        .await
        .assert_ok();
    let calls = app.stack.calls.by_operation();
    assert_eq!(calls.get("GetItem"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("BatchGetItem"), Some(&1), "{calls:?}");
    assert_eq!(app.stack.calls.total(), 2, "{calls:?}");
}

#[tokio::test]
async fn package_inquiry_answers_limits_minus_live_users_by_seat_kind() {
    let app = TestApp::spawn().await;
    let package = json!({"adminUsers": 3, "creativeUsers": 2, "standardUsers": 4, "storage": 100, "connections": 5,
                         "projects": 10, "teams": 3, "drives": 4, "syncs": 2, "logs": true, "sso": false});
    let account = app.create_account(package).await;
    // The owner holds an admin seat; a creative and a standard (AccountUser) seat follow.
    app.add_active_user(&account, &unique_email("creative"), 32)
        .await;
    app.add_active_user(&account, &unique_email("standard"), 8)
        .await;

    let answer = app.get(PACKAGE, Some(&account.owner_token)).await;
    answer.assert_ok();
    assert_eq!(
        answer.json(),
        json!({"adminUsers": 2, "creativeUsers": 1, "standardUsers": 3, "storage": 100, "connections": 5,
               "projects": 10, "teams": 3, "drives": 4, "syncs": 2, "logs": true, "sso": false})
    );
}

#[tokio::test]
async fn package_inquiry_never_answers_below_zero() {
    let app = TestApp::spawn().await;
    let account = app.create_account(json!({"adminUsers": 1})).await;
    let answer = app.get(PACKAGE, Some(&account.owner_token)).await;
    answer.assert_ok();
    let body = answer.json();
    assert_eq!(body["adminUsers"], 0);
    assert_eq!(body["creativeUsers"], 0);
    assert_eq!(body["logs"], false);
}

#[tokio::test]
async fn protected_routes_without_a_token_answer_401() {
    let app = TestApp::spawn().await;
    for path in [USERINFO, PACKAGE] {
        assert_eq!(app.get(path, None).await.status, 401, "{path}");
        assert_eq!(app.get(path, Some("not-a-jwt")).await.status, 401, "{path}");
    }
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

fn encode_segment(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_token_with_a_forged_signature_answers_401() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let parts = segments(&account.owner_token);
    let mut claims = decode_segment(&parts[1]);
    claims["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let forged = format!("{}.{}.{}", parts[0], encode_segment(&claims), parts[2]);
    assert_eq!(app.get(USERINFO, Some(&forged)).await.status, 401);
}

#[tokio::test]
async fn an_id_token_instead_of_an_access_token_answers_401() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let login = app
        .login_answer(&account.owner_email, integration_tests::PASSWORD)
        .await
        .json();
    let id_token = login["idToken"].as_str().unwrap();
    assert_eq!(app.get(USERINFO, Some(id_token)).await.status, 401);
}

/// moto signs every pool's tokens with one key it ships; a test can sign with it too.
fn moto_signing_key() -> jsonwebtoken::EncodingKey {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::BigUint;
    let root = local::moto::repo_root();
    let path = std::fs::read_dir(root.join(".venv/lib"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .join("site-packages/moto/cognitoidp/resources/jwks-private.json.gz")
        })
        .find(|p| p.exists())
        .expect("moto's private JWKS");
    let output = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .output()
        .expect("gzip");
    let jwks: Value = serde_json::from_slice(&output.stdout).unwrap();
    // A single JWK with n, e and d; the primes are recovered from them.
    let key = &jwks;
    let int = |name: &str| {
        BigUint::from_bytes_be(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(key[name].as_str().unwrap())
                .unwrap(),
        )
    };
    let private =
        rsa::RsaPrivateKey::from_components(int("n"), int("e"), int("d"), vec![]).unwrap();
    jsonwebtoken::EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes())
}

fn resign(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let parts = segments(token);
    let mut claims = decode_segment(&parts[1]);
    change(&mut claims);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(
        decode_segment(&parts[0])["kid"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    jsonwebtoken::encode(&header, &claims, &moto_signing_key()).unwrap()
}

#[tokio::test]
async fn an_expired_but_validly_signed_token_answers_401() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    // The same claims re-signed with the pool's key are accepted...
    let fresh = resign(&account.owner_token, |_| {});
    app.get(USERINFO, Some(&fresh)).await.assert_ok();
    // ...but not once expired, nor for another app client or issuer.
    let expired = resign(&account.owner_token, |c| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        c["exp"] = json!(now - 10);
    });
    assert_eq!(app.get(USERINFO, Some(&expired)).await.status, 401);
    let other_client = resign(&account.owner_token, |c| {
        c["client_id"] = json!("someone-else")
    });
    assert_eq!(app.get(USERINFO, Some(&other_client)).await.status, 401);
    let other_issuer = resign(&account.owner_token, |c| {
        c["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other")
    });
    assert_eq!(app.get(USERINFO, Some(&other_issuer)).await.status, 401);
}

async fn set_user_attribute(
    app: &TestApp,
    account_id: &str,
    user_id: &str,
    name: &str,
    value: AttributeValue,
) {
    app.dynamodb_client()
        .update_item()
        .table_name(app.stack.services.db.table())
        .key("pk", AttributeValue::S(format!("ACCOUNT#{account_id}")))
        .key("sk", AttributeValue::S(format!("USER#{user_id}")))
        .update_expression("SET #name = :value")
        .expression_attribute_names("#name", name)
        .expression_attribute_values(":value", value)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deleted_caller_with_an_unexpired_token_answers_401() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    app.get(USERINFO, Some(&account.owner_token))
        .await
        .assert_ok();
    set_user_attribute(
        &app,
        &account.account_id,
        &account.owner_id,
        "deleted",
        AttributeValue::Bool(true),
    )
    .await;
    assert_eq!(
        app.get(USERINFO, Some(&account.owner_token)).await.status,
        401
    );
    assert_eq!(
        app.get(PACKAGE, Some(&account.owner_token)).await.status,
        401
    );
}

#[tokio::test]
async fn an_inactive_caller_answers_401() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    set_user_attribute(
        &app,
        &account.account_id,
        &account.owner_id,
        "status",
        AttributeValue::N("2".into()),
    )
    .await;
    assert_eq!(
        app.get(USERINFO, Some(&account.owner_token)).await.status,
        401
    );
}

#[tokio::test]
async fn an_unknown_route_answers_404_like_api_gateway() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/v1/user/nope", None).await.status, 404);
}

#[tokio::test]
async fn a_json_body_with_bytes_that_are_not_utf8_answers_default_on_every_json_endpoint() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = account.owner_token.as_str();
    let before = app.get(USERINFO, Some(token)).await.json();
    // An invalid byte, an overlong '/', an encoded surrogate half: inside a string field.
    for bad in [&b"\xff"[..], &b"\xc0\xaf"[..], &b"\xed\xa0\x80"[..]] {
        let text =
            |prefix: &str, suffix: &str| [prefix.as_bytes(), bad, suffix.as_bytes()].concat();
        for (method, path, signed_in, body) in [
            (
                Method::PUT,
                UPDATE_USER,
                true,
                text(
                    r#"{"accountName":"Test Studio","firstName":"Bad"#,
                    r#"Name","lastName":"L"}"#,
                ),
            ),
            (
                Method::POST,
                INSERT,
                true,
                text(
                    r#"{"username":"a@example.com","email":"a@example.com","firstname":"Bad"#,
                    r#"","lastname":"L","userType":64}"#,
                ),
            ),
            (
                Method::PUT,
                EDIT,
                true,
                text(r#"{"id":"x"#, r#"","userType":64}"#),
            ),
            (
                Method::POST,
                SIGNUP,
                false,
                text(
                    r#"{"token":"t","firstname":"Bad"#,
                    r#"","lastname":"L","password":"Str0ng-Passw0rd"}"#,
                ),
            ),
            (
                Method::POST,
                RESET_PASSWORD,
                true,
                text(
                    r#"{"currentPassword":"x"#,
                    r#"","password":"Str0ng-Passw0rd2"}"#,
                ),
            ),
            (
                Method::POST,
                SET_MFA,
                true,
                text(r#"{"enabled":true,"userCode":"12"#, r#"34"}"#),
            ),
            (
                Method::POST,
                RESEND,
                false,
                text(r#"{"username":"a"#, r#"@example.com"}"#),
            ),
        ] {
            let answer = app
                .request_raw(method, path, signed_in.then_some(token), &body)
                .await;
            answer.assert_problem(499, "DEFAULT");
        }
    }
    assert_eq!(app.get(USERINFO, Some(token)).await.json(), before);
}

#[tokio::test]
async fn a_database_that_keeps_throttling_answers_429_with_retry_after_once_the_sdk_has_retried() {
    use integration_tests::{throttling_dynamodb, Throttle};
    let throttle = Throttle::default();
    let app = TestApp::spawn_with_dynamodb(
        |_| {},
        |services, dynamodb| {
            throttling_dynamodb(
                services,
                dynamodb,
                &["BatchGetItem", "TransactWriteItems"],
                &throttle,
            )
        },
    )
    .await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = Some(account.owner_token.as_str());
    let rename = |n: usize| json!({"accountName": "Throttled Studio", "firstName": format!("Throttled{n}"), "lastName": "Owner"});

    for (n, code) in [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ]
    .into_iter()
    .enumerate()
    {
        throttle.answer_with(Some(code));
        // A read: userinfo's one BatchGetItem of the caller and the account.
        let read = app.get(USERINFO, token).await;
        assert_eq!(read.status, 429, "{code} on a read: {}", read.text);
        assert_eq!(retry_after(&read), Some("1"), "{code}");
        assert!(
            throttle.take_throttled() > 1,
            "{code}: the SDK retries a throttle before giving up"
        );
        // A write: update_user's transaction.
        let write = app.put(UPDATE_USER, token, rename(n)).await;
        assert_eq!(write.status, 429, "{code} on a write: {}", write.text);
        assert_eq!(retry_after(&write), Some("1"), "{code}");
        throttle.take_throttled();
    }

    // A transaction cancelled because one of its items was throttled.
    throttle.answer_with(Some("ThrottlingError"));
    let write = app.put(UPDATE_USER, token, rename(9)).await;
    assert_eq!(write.status, 429, "cancelled by throttling: {}", write.text);
    assert_eq!(retry_after(&write), Some("1"));
    assert!(throttle.take_throttled() >= 1);

    // Throttling over, the same request goes through: nothing was half-written.
    throttle.answer_with(None);
    app.put(UPDATE_USER, token, rename(9)).await.assert_ok();
    let me = app.get(USERINFO, token).await;
    me.assert_ok();
    assert_eq!(me.json()["firstname"], "Throttled9");
}

fn retry_after(answer: &integration_tests::Answer) -> Option<&str> {
    answer
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
}
