//! The integration-test harness: one moto per test binary (started from `.venv`, stopped
//! with the process), a fresh table, user pool and gateway per test, and a small HTTP
//! client that speaks to the gateway as an API client would.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

use local::moto::Moto;
pub use local::stack::{LocalStack, StackOptions};
use shared::domain::{AccountId, UserId};
use shared::edge::endpoints::Services;

pub const PASSWORD: &str = "Str0ng-Passw0rd";

/// The moto endpoint shared by the tests of this binary.
pub fn moto_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        // moto dies with the thread that started it (PR_SET_PDEATHSIG), so that thread
        // lives as long as the test process.
        std::thread::spawn(move || {
            let moto = Moto::start(true).expect("moto starts (run `make venv` to create .venv)");
            sender
                .send(moto.endpoint.clone())
                .expect("test harness waits");
            loop {
                std::thread::park();
                let _ = &moto;
            }
        });
        receiver.recv().expect("moto endpoint")
    })
}

/// A unique email address, so tests sharing moto never read each other's mail.
pub fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}.{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts a 499 problem document with `code` and returns its message.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.headers.get("error-code").and_then(|v| v.to_str().ok()),
            Some(code),
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["type"], code);
        assert_eq!(body["status"], status);
        let messages = body["errors"][code]
            .as_array()
            .expect("errors[code] is a list");
        assert_eq!(messages.len(), 1);
        messages[0].as_str().expect("a message").to_owned()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text);
        self
    }
}

/// A running stack and a client for it.
pub struct TestApp {
    pub stack: LocalStack,
    pub http: reqwest::Client,
}

/// An account created through the bootstrap path, with its owner signed up and signed in.
pub struct TestAccount {
    pub account_id: String,
    pub owner_id: String,
    pub owner_email: String,
    pub owner_token: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, |services| services).await
    }

    /// A stack with adjusted options and, if wanted, wrapped services.
    pub async fn spawn_with(
        options: impl FnOnce(&mut StackOptions),
        customize: impl FnOnce(Services) -> Services,
    ) -> Self {
        Self::start(Self::options(options), customize).await
    }

    /// As `spawn_with`, handing `customize` the DynamoDB configuration of the stack
    /// (its endpoint, region and credentials) to build a client of its own from, as
    /// `failing_dynamodb` does.
    pub async fn spawn_with_dynamodb(
        options: impl FnOnce(&mut StackOptions),
        customize: impl FnOnce(Services, &aws_sdk_dynamodb::Config) -> Services,
    ) -> Self {
        let options = Self::options(options);
        let dynamodb = dynamodb_config(&options).await;
        Self::start(options, |services| customize(services, &dynamodb)).await
    }

    fn options(adjust: impl FnOnce(&mut StackOptions)) -> StackOptions {
        let mut options = StackOptions::new(moto_endpoint());
        options.name = "test".into();
        adjust(&mut options);
        options
    }

    async fn start(options: StackOptions, customize: impl FnOnce(Services) -> Services) -> Self {
        let stack = LocalStack::start_with(options, customize)
            .await
            .expect("local stack starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self { stack, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.base_url)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("gateway answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        }
    }

    /// Sends a raw body, text or any bytes (for malformed-JSON tests).
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: impl AsRef<[u8]>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .body(body.as_ref().to_vec())
            .send()
            .await
            .expect("gateway answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(Method::DELETE, path, token, None).await
    }

    /// Signs in through `/local/login`; the answer is the tokens or an MFA challenge.
    pub async fn login_answer(&self, username: &str, password: &str) -> Answer {
        self.post(
            "/local/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let answer = self.login_answer(username, password).await;
        answer.assert_ok();
        answer.json()["accessToken"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Every email sent to `address` so far, oldest first.
    pub async fn outbox_for(&self, address: &str) -> Vec<Value> {
        let all = self.get("/local/outbox", None).await;
        all.assert_ok();
        all.json()
            .as_array()
            .expect("a list")
            .iter()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|t| t == address))
            })
            .cloned()
            .collect()
    }

    /// The signup token of the latest invitation sent to `address`.
    pub async fn latest_signup_token(&self, address: &str) -> String {
        let mails = self.outbox_for(address).await;
        let body = mails
            .iter()
            .rev()
            .filter_map(|m| m["body"].as_str())
            .find(|b| b.contains("token="))
            .unwrap_or_else(|| panic!("no invitation to {address}"));
        let start = body.find("token=").expect("a token") + "token=".len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Completes a signup from the latest invitation to `address`.
    pub async fn sign_up(&self, address: &str, first: &str, last: &str) -> Answer {
        let token = self.latest_signup_token(address).await;
        self.post(
            "/api/v1/user/signup",
            None,
            json!({"firstname": first, "lastname": last, "password": PASSWORD, "token": token}),
        )
        .await
    }

    /// A new account with `package` (Package Inquiry field names), its owner signed in.
    pub async fn create_account(&self, package: Value) -> TestAccount {
        let owner_email = unique_email("owner");
        let created = self
            .post(
                "/local/accounts",
                None,
                json!({"name": "Test Studio", "ownerEmail": owner_email, "package": package}),
            )
            .await;
        created.assert_ok();
        let created = created.json();
        self.sign_up(&owner_email, "Olivia", "Owner")
            .await
            .assert_ok();
        let owner_token = self.login(&owner_email, PASSWORD).await;
        TestAccount {
            account_id: created["accountId"].as_str().unwrap().to_owned(),
            owner_id: created["ownerId"].as_str().unwrap().to_owned(),
            owner_email,
            owner_token,
        }
    }

    /// A roomy package: 20 seats of every kind.
    pub fn roomy_package() -> Value {
        json!({"adminUsers": 20, "creativeUsers": 20, "standardUsers": 20, "storage": 100, "connections": 5,
               "projects": 10, "teams": 3, "drives": 4, "syncs": 2, "logs": true, "sso": false})
    }

    /// Invites `email` as `user_type` with the owner's token, signs them up and in.
    pub async fn add_active_user(
        &self,
        account: &TestAccount,
        email: &str,
        user_type: u8,
    ) -> (String, String) {
        let invited = self
            .post(
                "/api/v1/user/insert_user",
                Some(&account.owner_token),
                json!({"username": email, "email": email, "firstname": "Test", "lastname": "User", "userType": user_type}),
            )
            .await;
        invited.assert_ok();
        self.sign_up(email, "Test", "User").await.assert_ok();
        let id = invited.json()["id"].as_str().unwrap().to_owned();
        (id, self.login(email, PASSWORD).await)
    }
}

/// The TOTP code (RFC 6238, SHA-1, 30 s, 6 digits) of a base32 secret at `unix_time`.
pub fn totp(secret: &str, unix_time: u64) -> String {
    use hmac::{Hmac, Mac};
    let key = base32_decode(secret);
    let counter = (unix_time / 30).to_be_bytes();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("any key length");
    mac.update(&counter);
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// A code for now, waiting out the last seconds of a window (moto rejects the previous one).
pub async fn fresh_totp(secret: &str) -> String {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now % 30 < 27 {
            return totp(secret, now);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn base32_decode(secret: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in secret.to_ascii_uppercase().bytes().filter(|c| *c != b'=') {
        let index = ALPHABET.iter().position(|a| *a == c).expect("base32") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_the_rfc_6238_vector() {
        // RFC 6238 test key "12345678901234567890" in base32, T = 59 s.
        assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59), "287082");
    }
}

/// A switch for injected failures: off until `on()`, shared by the wrappers below.
#[derive(Debug, Clone, Default)]
pub struct FailSwitch(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl FailSwitch {
    pub fn on(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn off(&self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A DynamoDB client interceptor that fails the named operations ("UpdateItem",
/// "TransactWriteItems", ...) before they are sent, while its switch is on.
#[derive(Debug, Clone)]
struct FailDynamoDbOperations {
    operations: Vec<&'static str>,
    switch: FailSwitch,
}

impl aws_sdk_dynamodb::config::Intercept for FailDynamoDbOperations {
    fn name(&self) -> &'static str {
        "FailDynamoDbOperations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let operation = shared::adapters::aws::operation_name(context.request());
        if self.switch.is_on() && self.operations.contains(&operation.as_str()) {
            return Err(format!("injected failure of DynamoDB {operation}").into());
        }
        Ok(())
    }
}

/// DynamoDB throttling, injected: while a code is set, every call of the named operations
/// gets the error response DynamoDB sends when it throttles (HTTP 400 with that
/// `__type`), so the SDK's own retry policy sees a real throttle. Counts the calls that
/// were answered so.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    /// The error code to answer with, or a `TransactionCanceledException` whose reason is
    /// `ThrottlingError` when it is `"ThrottlingError"`; none: no injection.
    code: std::sync::Arc<std::sync::Mutex<Option<&'static str>>>,
    throttled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Throttle {
    pub fn answer_with(&self, code: Option<&'static str>) {
        *self.code.lock().expect("throttle lock") = code;
    }

    /// How many calls were answered with a throttle since the last call of this.
    pub fn take_throttled(&self) -> usize {
        self.throttled.swap(0, std::sync::atomic::Ordering::SeqCst)
    }

    fn body(code: &str) -> String {
        const PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";
        if code == "ThrottlingError" {
            json_text(&serde_json::json!({
                "__type": format!("{PREFIX}TransactionCanceledException"),
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]",
                "CancellationReasons": [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more global secondary indexes."}],
            }))
        } else {
            json_text(&serde_json::json!({
                "__type": format!("{PREFIX}{code}"),
                "message": "Rate of requests exceeds the allowed throughput.",
            }))
        }
    }
}

fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("JSON")
}

/// Marks, in one call's configuration, that its response is to be a throttle.
#[derive(Debug, Clone)]
struct ThrottleThisCall(&'static str);

impl aws_smithy_types::config_bag::Storable for ThrottleThisCall {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct ThrottleDynamoDbOperations {
    operations: Vec<&'static str>,
    throttle: Throttle,
}

impl aws_sdk_dynamodb::config::Intercept for ThrottleDynamoDbOperations {
    fn name(&self) -> &'static str {
        "ThrottleDynamoDbOperations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let operation = shared::adapters::aws::operation_name(context.request());
        let code = *self.throttle.code.lock().expect("throttle lock");
        // A cancellation reason exists only for transactions.
        let applies = |code: &&str| {
            self.operations.contains(&operation.as_str())
                && (*code != "ThrottlingError" || operation == "TransactWriteItems")
        };
        if let Some(code) = code.filter(applies) {
            cfg.interceptor_state().store_put(ThrottleThisCall(code));
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(ThrottleThisCall(code)) = cfg.load::<ThrottleThisCall>().cloned() {
            let response = context.response_mut();
            *response.status_mut() = 400.try_into()?;
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(Throttle::body(code));
            self.throttle
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Services whose DynamoDB `operations` are throttled while `throttle` has a code (for
/// `TestApp::spawn_with_dynamodb`).
pub fn throttling_dynamodb(
    services: Services,
    dynamodb: &aws_sdk_dynamodb::Config,
    operations: &[&'static str],
    throttle: &Throttle,
) -> Services {
    let config = dynamodb
        .to_builder()
        .interceptor(ThrottleDynamoDbOperations {
            operations: operations.to_vec(),
            throttle: throttle.clone(),
        })
        .build();
    with_dynamodb(services, config)
}

/// The DynamoDB configuration a stack with `options` builds its clients from (the
/// emulator's endpoint, the region and the dummy credentials), without the stack's call
/// counter: for clients of a test's own.
pub async fn dynamodb_config(options: &StackOptions) -> aws_sdk_dynamodb::Config {
    let sdk = local::stack::emulator_sdk_config(&options.endpoint, &options.region).await;
    aws_sdk_dynamodb::Config::new(&sdk)
}

/// Services whose table is reached through a client of `config`: the same table, with
/// the same audit retention.
pub fn with_dynamodb(mut services: Services, config: aws_sdk_dynamodb::Config) -> Services {
    let retention_days =
        u32::try_from(services.db.audit_retention().num_days()).expect("a retention of whole days");
    services.db = shared::adapters::db::Db::from_client(
        aws_sdk_dynamodb::Client::from_conf(config),
        services.db.table(),
    )
    .with_audit_retention_days(retention_days);
    services
}

/// Services whose DynamoDB `operations` fail while `switch` is on (for
/// `TestApp::spawn_with_dynamodb`, which hands over `dynamodb`).
pub fn failing_dynamodb(
    services: Services,
    dynamodb: &aws_sdk_dynamodb::Config,
    operations: &[&'static str],
    switch: &FailSwitch,
) -> Services {
    let config = dynamodb
        .to_builder()
        .interceptor(FailDynamoDbOperations {
            operations: operations.to_vec(),
            switch: switch.clone(),
        })
        .build();
    with_dynamodb(services, config)
}

/// A change by another writer at the worst moment. Armed with a future, it runs that
/// future to its end just before the next call of the raced DynamoDB operations is sent
/// (`racing_dynamodb`), so that call meets a table changed after the request read it: the
/// call's own conditions decide what happens. The change may go through the gateway; its
/// own calls are not raced. Needs a multi-threaded runtime
/// (`#[tokio::test(flavor = "multi_thread")]`): the raced call's thread waits for the
/// change while the others serve it.
#[derive(Clone, Default)]
pub struct Race(std::sync::Arc<std::sync::Mutex<Option<RacingChange>>>);

type RacingChange = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl Race {
    /// The next raced call waits until `change` is done.
    pub fn arm(&self, change: impl std::future::Future<Output = ()> + Send + 'static) {
        *self.0.lock().expect("race lock") = Some(Box::pin(change));
    }

    /// Whether a change waits for its call still (false once it ran).
    pub fn is_armed(&self) -> bool {
        self.0.lock().expect("race lock").is_some()
    }

    fn take(&self) -> Option<RacingChange> {
        self.0.lock().expect("race lock").take()
    }
}

impl std::fmt::Debug for Race {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let armed = self.0.lock().map(|c| c.is_some()).unwrap_or_default();
        f.debug_struct("Race").field("armed", &armed).finish()
    }
}

#[derive(Debug, Clone)]
struct RaceDynamoDbOperations {
    operations: Vec<&'static str>,
    race: Race,
}

impl aws_sdk_dynamodb::config::Intercept for RaceDynamoDbOperations {
    fn name(&self) -> &'static str {
        "RaceDynamoDbOperations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let operation = shared::adapters::aws::operation_name(context.request());
        if self.operations.contains(&operation.as_str()) {
            if let Some(change) = self.race.take() {
                let runtime = tokio::runtime::Handle::current();
                tokio::task::block_in_place(|| runtime.block_on(change));
            }
        }
        Ok(())
    }
}

/// Services whose next call of one of the DynamoDB `operations` waits, once `race` is
/// armed, for the racing change (for `TestApp::spawn_with_dynamodb`).
pub fn racing_dynamodb(
    services: Services,
    dynamodb: &aws_sdk_dynamodb::Config,
    operations: &[&'static str],
    race: &Race,
) -> Services {
    let config = dynamodb
        .to_builder()
        .interceptor(RaceDynamoDbOperations {
            operations: operations.to_vec(),
            race: race.clone(),
        })
        .build();
    with_dynamodb(services, config)
}

/// A mailer that refuses every email while its switch is on, and otherwise sends as
/// the one it wraps.
struct SwitchableMailer {
    inner: std::sync::Arc<dyn shared::adapters::mail::Mailer>,
    switch: FailSwitch,
}

#[async_trait::async_trait]
impl shared::adapters::mail::Mailer for SwitchableMailer {
    async fn send(
        &self,
        email: shared::adapters::mail::Email,
    ) -> Result<(), shared::adapters::mail::MailError> {
        if self.switch.is_on() {
            Err(shared::adapters::mail::MailError("injected failure".into()))
        } else {
            self.inner.send(email).await
        }
    }
}

/// Services whose emails fail while `switch` is on (for `TestApp::spawn_with`).
pub fn failing_mailer(mut services: Services, switch: &FailSwitch) -> Services {
    services.mailer = std::sync::Arc::new(SwitchableMailer {
        inner: services.mailer,
        switch: switch.clone(),
    });
    services
}

/// An identity provider whose named operations ("delete_user", "sign_out_everywhere",
/// ...) fail as an outage would while its switch is on, or wait at a `Hold`, and
/// otherwise call the one it wraps.
use shared::adapters::idp::IdpError;

struct SwitchableIdentityProvider {
    inner: std::sync::Arc<dyn shared::adapters::idp::IdentityProvider>,
    operations: Vec<&'static str>,
    switch: FailSwitch,
    /// An operation whose next call, once armed, waits until the hold is released.
    hold: Option<(&'static str, Hold)>,
}

/// Stops the next call of one operation where it starts, so a test can act while that
/// request is half-way (`holding_identity_provider`).
#[derive(Debug, Clone, Default)]
pub struct Hold {
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
    released: std::sync::Arc<tokio::sync::Notify>,
}

impl Hold {
    /// The next call of the held operation waits.
    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Returns once a call is waiting.
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    /// Lets the waiting call go on.
    pub fn release(&self) {
        self.released.notify_one();
    }

    async fn wait_if_armed(&self) {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.arrived.notify_one();
            self.released.notified().await;
        }
    }
}

impl SwitchableIdentityProvider {
    /// Waits at the hold if `operation` is held, then the injected failure of `operation`
    /// while the switch is on.
    async fn injected(&self, operation: &'static str) -> Result<(), IdpError> {
        if let Some((held, hold)) = &self.hold {
            if *held == operation {
                hold.wait_if_armed().await;
            }
        }
        if self.switch.is_on() && self.operations.contains(&operation) {
            Err(IdpError::Unavailable(format!(
                "injected failure of {operation}"
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl shared::adapters::idp::IdentityProvider for SwitchableIdentityProvider {
    async fn create_user(
        &self,
        email: &str,
        given: &str,
        family: &str,
    ) -> Result<String, IdpError> {
        self.injected("create_user").await?;
        self.inner.create_user(email, given, family).await
    }
    async fn set_permanent_password(&self, username: &str, password: &str) -> Result<(), IdpError> {
        self.injected("set_permanent_password").await?;
        self.inner.set_permanent_password(username, password).await
    }
    async fn update_names(
        &self,
        username: &str,
        given: &str,
        family: &str,
    ) -> Result<(), IdpError> {
        self.injected("update_names").await?;
        self.inner.update_names(username, given, family).await
    }
    async fn delete_user(&self, username: &str) -> Result<(), IdpError> {
        self.injected("delete_user").await?;
        self.inner.delete_user(username).await
    }
    async fn disable_user(&self, username: &str) -> Result<(), IdpError> {
        self.injected("disable_user").await?;
        self.inner.disable_user(username).await
    }
    async fn sign_out_everywhere(&self, username: &str) -> Result<(), IdpError> {
        self.injected("sign_out_everywhere").await?;
        self.inner.sign_out_everywhere(username).await
    }
    async fn change_password(
        &self,
        token: &str,
        previous: &str,
        proposed: &str,
    ) -> Result<(), IdpError> {
        self.injected("change_password").await?;
        self.inner.change_password(token, previous, proposed).await
    }
    async fn associate_software_token(&self, token: &str) -> Result<String, IdpError> {
        self.injected("associate_software_token").await?;
        self.inner.associate_software_token(token).await
    }
    async fn verify_software_token(&self, token: &str, code: &str) -> Result<(), IdpError> {
        self.injected("verify_software_token").await?;
        self.inner.verify_software_token(token, code).await
    }
    async fn set_software_token_mfa(&self, token: &str, enabled: bool) -> Result<(), IdpError> {
        self.injected("set_software_token_mfa").await?;
        self.inner.set_software_token_mfa(token, enabled).await
    }
}

/// Services whose identity provider `operations` (method names of `IdentityProvider`)
/// fail while `switch` is on (for `TestApp::spawn_with`).
pub fn failing_identity_provider(
    mut services: Services,
    operations: &[&'static str],
    switch: &FailSwitch,
) -> Services {
    services.idp = std::sync::Arc::new(SwitchableIdentityProvider {
        inner: services.idp,
        operations: operations.to_vec(),
        switch: switch.clone(),
        hold: None,
    });
    services
}

/// Services whose identity provider `operation`, once `hold` is armed, waits at its next
/// call until the hold is released (for `TestApp::spawn_with`).
pub fn holding_identity_provider(
    mut services: Services,
    operation: &'static str,
    hold: &Hold,
) -> Services {
    services.idp = std::sync::Arc::new(SwitchableIdentityProvider {
        inner: services.idp,
        operations: Vec::new(),
        switch: FailSwitch::default(),
        hold: Some((operation, hold.clone())),
    });
    services
}

impl TestApp {
    /// Writes users as other parts of the product must: each user item together with its
    /// list index row, in one transaction.
    pub async fn put_users(&self, users: &[shared::adapters::db::model::UserItem]) {
        use shared::adapters::db::indexed::transact_indexed;
        use shared::adapters::db::list_leaves::RowChange;
        let db = &self.stack.services.db;
        for user in users {
            let put = shared::adapters::db::tx::put(
                db.table(),
                shared::adapters::db::to_item(user).expect("a user item"),
                None,
                vec![],
            )
            .expect("a put");
            let row = RowChange::Put(shared::domain::views::User::from(user));
            transact_indexed(db, vec![put], user.account_id, &row, &[])
                .await
                .expect("a user written with its index row");
        }
    }

    /// A DynamoDB client of the test's own, for what the product never does to its table
    /// (`self.stack.services.db.table()`): raw reads and writes of items, fixtures, scans.
    /// Built from the stack's SDK configuration; its calls are not counted in
    /// `self.stack.calls`.
    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.stack.sdk)
    }

    /// Writes items straight into the stack's table (BatchWriteItem, 25 at a time), as
    /// other parts of the product or a fixture would.
    pub async fn put_items(&self, items: Vec<shared::adapters::db::Item>) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let db = &self.stack.services.db;
        let client = self.dynamodb_client();
        let mut requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .expect("an item"),
                    )
                    .build()
            })
            .collect();
        while !requests.is_empty() {
            let mut pending: Vec<WriteRequest> = requests.drain(..requests.len().min(25)).collect();
            while !pending.is_empty() {
                let output = client
                    .batch_write_item()
                    .request_items(db.table(), pending)
                    .send()
                    .await
                    .expect("BatchWriteItem");
                pending = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(db.table()))
                    .unwrap_or_default();
            }
        }
    }
}

/// The routes of the specification, for the tests' requests: each the path of its
/// endpoint's route in `shared::edge::endpoints::ROUTES`, looked up when the tests compile
/// (an endpoint without a route does not compile).
pub mod paths {
    use shared::edge::endpoints::{Endpoint, ROUTES};

    /// The path of the route that serves `endpoint`.
    pub const fn path(endpoint: Endpoint) -> &'static str {
        let mut i = 0;
        while i < ROUTES.len() {
            // `as` on a field-less enum: `==` is not const.
            if ROUTES[i].endpoint as usize == endpoint as usize {
                return ROUTES[i].path;
            }
            i += 1;
        }
        panic!("no route in shared::edge::endpoints::ROUTES serves this endpoint")
    }

    pub const SIGNUP_INFO: &str = path(Endpoint::GetSignupInfo);
    pub const SIGNUP: &str = path(Endpoint::UserSignup);
    pub const USERINFO: &str = path(Endpoint::GetUserInfo);
    pub const UPDATE_USER: &str = path(Endpoint::UpdateUser);
    pub const RESET_PASSWORD: &str = path(Endpoint::ResetPassword);
    pub const GENERATE_MFA_TOKEN: &str = path(Endpoint::GenerateMfaToken);
    pub const SET_MFA: &str = path(Endpoint::SetMfa);
    pub const LIST: &str = path(Endpoint::GetAllUsers);
    pub const DETAILS: &str = path(Endpoint::GetAllUsersWithDetails);
    pub const INSERT: &str = path(Endpoint::InsertUser);
    pub const EDIT: &str = path(Endpoint::EditUser);
    pub const DELETE: &str = path(Endpoint::DeleteUser);
    pub const RESEND: &str = path(Endpoint::ResendUserEmail);
    pub const PACKAGE: &str = path(Endpoint::PackageInquiry);
    pub const AUDIT_LOG: &str = path(Endpoint::AuditLog);
}

/// The fields of a User answer (none of them secret), sorted.
pub const USER_FIELDS: [&str; 13] = [
    "accountId",
    "createDate",
    "deleted",
    "email",
    "firstname",
    "id",
    "lastname",
    "mfa",
    "owner",
    "status",
    "updateDate",
    "userType",
    "username",
];

/// The field names of a JSON object, sorted.
pub fn field_names(object: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = object
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------- administration helpers
// (the `admin` and `api` binaries both use them)

/// The account's id, parsed.
pub fn account_id(account: &TestAccount) -> AccountId {
    AccountId::parse(&account.account_id, "accountId").unwrap()
}

/// A user id, parsed.
pub fn user_id(raw: &str) -> UserId {
    UserId::parse(raw, "id").unwrap()
}

/// The ids of a page's `data`, in order (a list of users or of audit records).
pub fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|row| row["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The package inquiry of the account's owner, asserted 200.
pub async fn package(app: &TestApp, account: &TestAccount) -> Value {
    let answer = app.get(paths::PACKAGE, Some(&account.owner_token)).await;
    answer.assert_ok();
    answer.json()
}

/// A package of 3 admin, 1 creative and 2 standard seats, without logs or SSO.
pub fn small_package() -> Value {
    json!({"adminUsers": 3, "creativeUsers": 1, "standardUsers": 2, "storage": 10, "connections": 1,
           "projects": 1, "teams": 1, "drives": 1, "syncs": 1, "logs": false, "sso": false})
}
