//! The whole API on this machine: resources provisioned in the emulator from
//! template.yaml, the handlers' services, and the gateway listening on 127.0.0.1.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use shared::adapters::aws::CallCounter;
use shared::adapters::db::Db;
use shared::adapters::idp::Cognito;
use shared::adapters::mail::Ses;
use shared::domain::config::Limits;
use shared::edge::endpoints::Services;
use shared::Config;

use crate::cors::Cors;
use crate::dev::DevTools;
use crate::function_env::Bindings;
use crate::gateway::{router, Gateway};
use crate::jwt::JwtAuthorizer;
use crate::moto::repo_root;
use crate::provision::{provision, BoxError, Definitions};
use crate::signup_page::SignupPage;

/// How to build a local stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The emulator (moto) base URL.
    pub endpoint: String,
    pub region: String,
    /// A name prefix for the table and pool; a random suffix keeps stacks apart.
    pub name: String,
    pub sender: String,
    /// Where invitations link to; None: the gateway's own page, `<base_url>/signup`.
    pub signup_url: Option<String>,
    /// The sign-in link the signup page shows once an account is ready, if any.
    pub sign_in_url: Option<String>,
    /// The limits the template passes to the functions (`make run` reads them from the
    /// environment by the same names).
    pub limits: Limits,
    /// Port to listen on, 0 for any free one.
    pub port: u16,
    /// Overrides the template's `CorsAllowOrigin` parameter (the origin CORS allows).
    pub cors_allow_origin: Option<String>,
}

impl StackOptions {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            name: "users-local".into(),
            sender: "no-reply@example.com".into(),
            signup_url: None,
            sign_in_url: None,
            limits: Limits::default(),
            port: 0,
            cors_allow_origin: None,
        }
    }
}

/// A running local stack. The gateway stops when this is dropped.
pub struct LocalStack {
    pub base_url: String,
    pub sdk: SdkConfig,
    pub services: Services,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// Counts every AWS call the services make.
    pub calls: CallCounter,
    pub emulator_endpoint: String,
    pub region: String,
    /// The SES configuration set the template's `EmailConfigurationSet` stands for.
    pub ses_configuration_set: String,
    /// The EventBridge bus the template's `ChangeEventBus` stands for.
    pub event_bus_name: String,
    server: JoinHandle<()>,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The SDK configuration for the emulator: explicit region and dummy credentials, so no
/// process environment and no instance metadata lookup is involved.
pub async fn emulator_sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared::adapters::aws::http_client())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}

impl LocalStack {
    /// Provisions fresh resources and starts the gateway with the real adapters.
    pub async fn start(options: StackOptions) -> Result<Self, BoxError> {
        Self::start_with(options, |services| services).await
    }

    /// As `start`, letting the caller wrap the services (for example to inject failures).
    pub async fn start_with(
        options: StackOptions,
        customize: impl FnOnce(Services) -> Services,
    ) -> Result<Self, BoxError> {
        let sdk = emulator_sdk_config(&options.endpoint, &options.region).await;
        let definitions = Definitions::load(&repo_root().join("template.yaml"))?;
        let template_text = std::fs::read_to_string(repo_root().join("template.yaml"))?;
        let cors_overrides: Vec<(&str, String)> = options
            .cors_allow_origin
            .iter()
            .map(|origin| ("CorsAllowOrigin", origin.clone()))
            .collect();
        let cors = Cors::from_template(
            &template_text,
            &Bindings::with_defaults(&template_text, &cors_overrides)?,
        )?;
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("{}-{suffix}", options.name);
        let provisioned = provision(&sdk, &definitions, &name, &name, &options.sender).await?;
        // Bound first: the invitation links need the real address and port.
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let ses_configuration_set = provisioned.configuration_set.clone();
        let event_bus_name = provisioned.event_bus_name.clone();
        let config = Config {
            table_name: provisioned.table_name,
            user_pool_id: provisioned.user_pool_id,
            user_pool_client_id: provisioned.user_pool_client_id,
            sender_email: options.sender.clone(),
            ses_configuration_set: None,
            signup_url: options
                .signup_url
                .clone()
                .unwrap_or_else(|| format!("{base_url}/signup")),
            signup_token_ttl: options.limits.signup_token_ttl,
            resend_limit_per_hour: options.limits.resend_limit_per_hour,
            invitation_mail_limits: options.limits.invitation_mail_limits,
            mfa_issuer: "Amove".into(),
            audit_retention_days: options.limits.audit_retention_days,
        };
        let calls = CallCounter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let services = customize(Services {
            db: Db::from_client(dynamodb, &config.table_name)
                .with_audit_retention_days(config.audit_retention_days),
            idp: Arc::new(Cognito::from_client(cognito.clone(), &config.user_pool_id)),
            mailer: Arc::new(Ses::from_client(ses, &config.sender_email)),
            config: Arc::new(config),
        });
        let authorizer = JwtAuthorizer::new(
            format!(
                "{}/{}/.well-known/jwks.json",
                options.endpoint, services.config.user_pool_id
            ),
            format!(
                "https://cognito-idp.{}.amazonaws.com/{}",
                options.region, services.config.user_pool_id
            ),
            services.config.user_pool_client_id.clone(),
        );
        let gateway = Arc::new(Gateway {
            services: services.clone(),
            authorizer,
            dev: DevTools {
                services: services.clone(),
                cognito: cognito.clone(),
                emulator_endpoint: options.endpoint.clone(),
            },
            signup_page: SignupPage::load(options.sign_in_url.as_deref())?,
            cors,
        });
        let app = router(gateway);
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "local gateway stopped");
            }
        });
        Ok(Self {
            base_url,
            sdk,
            services,
            cognito,
            calls,
            emulator_endpoint: options.endpoint,
            region: options.region,
            ses_configuration_set,
            event_bus_name,
            server,
        })
    }

    /// What the template's references stand for in this stack: its resources, and the
    /// parameters it runs with (as `sam deploy --parameter-overrides` would pass them).
    pub fn template_bindings(&self) -> Result<Bindings, BoxError> {
        let text = std::fs::read_to_string(repo_root().join("template.yaml"))?;
        let config = &self.services.config;
        let mut bindings = Bindings::with_defaults(
            &text,
            &[
                ("SenderEmail", config.sender_email.clone()),
                ("SignupUrl", config.signup_url.clone()),
                (
                    "SignupTokenTtlSeconds",
                    config.signup_token_ttl.as_secs().to_string(),
                ),
                (
                    "ResendLimitPerHour",
                    config.resend_limit_per_hour.to_string(),
                ),
                (
                    "InvitationMailsPerAddressPerHour",
                    config
                        .invitation_mail_limits
                        .per_address_per_hour
                        .to_string(),
                ),
                (
                    "InvitationMailsPerAccountPerHour",
                    config
                        .invitation_mail_limits
                        .per_account_per_hour
                        .to_string(),
                ),
                (
                    "AuditRetentionDays",
                    config.audit_retention_days.to_string(),
                ),
                ("MfaIssuer", config.mfa_issuer.clone()),
            ],
        )?;
        bindings.region = self.region.clone();
        let account = bindings.account_id.clone();
        let region = self.region.clone();
        for (id, physical) in [
            ("UsersTable", config.table_name.clone()),
            ("UserPool", config.user_pool_id.clone()),
            ("UserPoolClient", config.user_pool_client_id.clone()),
            ("EmailConfigurationSet", self.ses_configuration_set.clone()),
            ("ChangeEventBus", self.event_bus_name.clone()),
        ] {
            bindings.resources.insert(id.into(), physical);
        }
        bindings.attributes.insert(
            "ChangeEventBus.Arn".into(),
            format!(
                "arn:aws:events:{region}:{account}:event-bus/{}",
                self.event_bus_name
            ),
        );
        bindings.attributes.insert(
            "UsersTable.Arn".into(),
            format!(
                "arn:aws:dynamodb:{region}:{account}:table/{}",
                config.table_name
            ),
        );
        bindings.attributes.insert(
            "UserPool.Arn".into(),
            format!(
                "arn:aws:cognito-idp:{region}:{account}:userpool/{}",
                config.user_pool_id
            ),
        );
        Ok(bindings)
    }
}
