//! POST /api/v1/user/resend_user_email

use shared::adapters::{aws, db::Db, mail::Ses};
use shared::edge::{endpoints::resend_user_email, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::from_lambda_environment();
    let db = Db::from_config(&sdk, &config);
    let mailer = Ses::new(&sdk, &config);
    lambda::serve(|req| resend_user_email::handle(&db, &mailer, &config, req)).await
}
