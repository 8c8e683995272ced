//! GET /api/v1/user/get_all_users: a page of the caller's account's users (admins only).

use lambda_http::Request;

use crate::auth::caller;
use crate::db::{from_item, Db};
use crate::error::ApiError;
use crate::http::{query, Reply};
use crate::listing::{page_of_users, ListParams};
use crate::model::{self, UserItem};
use crate::views::{Collection, User};

/// Three sequential calls and more only for a large account: the identity, the caller,
/// then the account's users by Query (one call per MB of users).
pub async fn handle(db: &Db, req: Request) -> Result<Reply, ApiError> {
    let caller = caller(db, &req).await?;
    caller.require_admin()?;
    let params = ListParams::from_query(&query(&req))?;
    let users = db
        .query_partition(
            model::account_pk(caller.user.account_id),
            Some(model::USER_SK_PREFIX),
        )
        .await?
        .into_iter()
        .map(from_item::<UserItem>)
        .collect::<Result<Vec<_>, _>>()?;
    let page = page_of_users(&users, &params);
    Reply::json(&Collection {
        data: page.data.iter().map(|user| User::from(*user)).collect(),
        total: page.total,
    })
}
