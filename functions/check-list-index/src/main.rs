//! EventBridge schedule → a bounded part of the walk that finds and repairs list-index drift.

use shared::adapters::{aws, db::Db};
use shared::edge::check_list_index::{self, CheckConfig};
use shared::edge::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let config = CheckConfig::from_env()?;
    let db = Db::new(&aws::from_lambda_environment(), &config.table_name);
    check_list_index::serve(&db, &config).await
}
