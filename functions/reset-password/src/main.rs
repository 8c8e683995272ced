//! POST /api/v1/user/reset_password

use shared::adapters::{aws, db::Db, idp::Cognito, mail::Ses};
use shared::edge::{endpoints::reset_password, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::from_lambda_environment();
    let db = Db::from_config(&sdk, &config);
    let idp = Cognito::new(&sdk, &config.user_pool_id);
    let mailer = Ses::new(&sdk, &config);
    lambda::serve(|req| reset_password::handle(&db, &idp, &mailer, req)).await
}
