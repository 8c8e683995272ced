//! GET /api/v1/user/signupinfo

use shared::adapters::{aws, db::Db};
use shared::edge::{endpoints::get_signup_info, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let db = Db::from_config(&aws::from_lambda_environment(), &config);
    lambda::serve(|req| get_signup_info::handle(&db, req)).await
}
