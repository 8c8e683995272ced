//! What the lists read: the rows of an account's list index, or, for an account the
//! migration has not indexed yet, its item collection; the account's resources; the
//! relations of a page's users.

use crate::adapters::db::model;
use crate::adapters::db::{list_leaves, Db, Item};
use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::domain::AccountId;

use super::details::{AccountItems, Resources};

/// Every row of the account's index, from one paged Query of its leaves. Rows come out in
/// no particular order.
pub async fn read_rows(db: &Db, account: AccountId) -> Result<Vec<User>, ApiError> {
    Ok(list_leaves::read_leaves(db, account)
        .await?
        .into_iter()
        .flat_map(|leaf| leaf.rows)
        .collect())
}

/// What a list reads its rows from.
pub enum Rows {
    /// The account's list index, decoded.
    Indexed(Vec<User>),
    /// The account predates the index and the migration has not reached it yet: the list
    /// reads the item collection as before (`listing::AccountItems`).
    Unindexed,
}

/// An unindexed account's item collection (users only, or everything), sorted by kind.
pub async fn read_unindexed(
    db: &Db,
    account: AccountId,
    users_only: bool,
) -> Result<AccountItems, ApiError> {
    let prefix = users_only.then_some(model::USER_SK_PREFIX);
    AccountItems::from_items(
        db.query_partition(model::account_pk(account), prefix)
            .await?,
    )
}

/// How many relation Queries With Details keeps in flight: a page of 50 is one round.
const RELATION_QUERIES_IN_FLIGHT: usize = 64;

/// The account's groups, projects and drives: three Queries at once.
pub async fn read_resources(db: &Db, account: AccountId) -> Result<Resources, ApiError> {
    let pk = model::account_pk(account);
    let (groups, projects, drives) = tokio::try_join!(
        db.query_partition(pk.clone(), Some(model::GROUP_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::PROJECT_SK_PREFIX)),
        db.query_partition(pk.clone(), Some(model::DRIVE_SK_PREFIX)),
    )?;
    let mut resources = Resources::default();
    resources.add_items(groups)?;
    resources.add_items(projects)?;
    resources.add_items(drives)?;
    Ok(resources)
}

/// The relations of these users, one Query per user (their `REL#<id>#` range), at most
/// `RELATION_QUERIES_IN_FLIGHT` at once. Each user's relations stay in key order.
pub async fn read_relations(
    db: &Db,
    account: AccountId,
    users: &[&User],
) -> Result<Vec<Item>, ApiError> {
    let pk = model::account_pk(account);
    let prefixes: Vec<String> = users
        .iter()
        .map(|user| model::relations_prefix(user.id))
        .collect();
    let mut per_user = Vec::with_capacity(users.len());
    for batch in prefixes.chunks(RELATION_QUERIES_IN_FLIGHT) {
        let queries: Vec<_> = batch
            .iter()
            .map(|prefix| db.query_partition(pk.clone(), Some(prefix)))
            .collect();
        per_user.extend(futures_util::future::try_join_all(queries).await?);
    }
    Ok(per_user.into_iter().flatten().collect())
}
