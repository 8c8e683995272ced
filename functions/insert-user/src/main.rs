//! POST /api/v1/user/insert_user

use shared::adapters::{aws, db::Db, mail::Ses};
use shared::edge::{endpoints::insert_user, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::from_lambda_environment();
    let db = Db::from_config(&sdk, &config);
    let mailer = Ses::new(&sdk, &config);
    lambda::serve(|req| insert_user::handle(&db, &mailer, &config, req)).await
}
