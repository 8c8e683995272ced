//! POST /api/v1/user/signup

use shared::adapters::{aws, db::Db, idp::Cognito};
use shared::edge::{endpoints::user_signup, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::from_lambda_environment();
    let db = Db::from_config(&sdk, &config);
    let idp = Cognito::new(&sdk, &config.user_pool_id);
    lambda::serve(|req| user_signup::handle(&db, &idp, req)).await
}
