//! PUT /api/v1/user/edit_user

use shared::adapters::{aws, db::Db};
use shared::edge::{endpoints::edit_user, lambda, telemetry};
use shared::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let db = Db::from_config(&aws::from_lambda_environment(), &config);
    lambda::serve(|req| edit_user::handle(&db, req)).await
}
