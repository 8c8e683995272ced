//! GET /api/v1/user/get_all_users

use shared::adapters::{aws, db::Db};
use shared::edge::{endpoints::get_all_users, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let db = Db::from_config(&aws::from_lambda_environment(), &config);
    lambda::serve(|req| get_all_users::handle(&db, req)).await
}
