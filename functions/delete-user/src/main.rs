//! DELETE /api/v1/user/delete_user

use shared::adapters::{aws, db::Db, idp::Cognito};
use shared::edge::{endpoints::delete_user, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::from_lambda_environment();
    let db = Db::from_config(&sdk, &config);
    let idp = Cognito::new(&sdk, &config.user_pool_id);
    lambda::serve(|req| delete_user::handle(&db, &idp, req)).await
}
