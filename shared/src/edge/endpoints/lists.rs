//! What the two list endpoints share: their parameters, and the caller checked to be an
//! admin with the rows of the account read at the same time.

use crate::adapters::db::Db;
use crate::domain::error::ApiError;
use crate::domain::AccountId;
use crate::edge::auth::{self, Caller};
use crate::features::listing::reads::{read_rows, Rows};
use crate::features::listing::ListParams;

/// The list parameters of a request. Refused parameters are reported only to a caller
/// who may list at all: anyone else hears 401 or ACCESS first, whatever the parameters.
pub async fn list_params(db: &Db, req: &lambda_http::Request) -> Result<ListParams, ApiError> {
    match ListParams::from_query(&crate::edge::http::query(req)) {
        Ok(params) => Ok(params),
        Err(invalid) => {
            let caller = auth::caller(db, req).await?;
            crate::edge::auth::require_admin(db, req, &caller, None).await?;
            Err(invalid)
        }
    }
}

/// The caller, checked to be an admin, with every row of their account's list index, and
/// what `also` reads of the account at the same time. When the container knows the
/// caller's identity, the caller's record, the index and `also` are one concurrent round;
/// the caller is checked before anything read is used. A caller this container refused
/// before is checked first, so that a non-admin calling a list in a loop costs one read
/// of their own record per call, not a read of the whole index.
pub async fn admin_and_rows<F, T>(
    db: &Db,
    req: &lambda_http::Request,
    also: impl FnOnce(AccountId) -> F,
) -> Result<(Caller, Rows, T), ApiError>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let identity = auth::identity(db, req).await?;
    let account_id = identity.account_id;
    let (caller, account, indexed, extra) = if refused_non_admins::contains(identity.user_id) {
        let (caller, account) = auth::user_with_account(db, &identity).await?;
        crate::edge::auth::require_admin(db, req, &caller, None).await?;
        refused_non_admins::forget(identity.user_id);
        let (indexed, extra) = tokio::join!(read_rows(db, account_id), also(account_id));
        (caller, account, indexed, extra)
    } else {
        let (checked, indexed, extra) = tokio::join!(
            auth::user_with_account(db, &identity),
            read_rows(db, account_id),
            also(account_id)
        );
        let (caller, account) = checked?;
        if let Err(refused) = crate::edge::auth::require_admin(db, req, &caller, None).await {
            refused_non_admins::remember(identity.user_id);
            return Err(refused);
        }
        (caller, account, indexed, extra)
    };
    let rows = if account.list_leaves {
        Rows::Indexed(indexed?)
    } else {
        Rows::Unindexed
    };
    Ok((caller, rows, extra?))
}

/// The callers this container refused as non-admins, so their next list call checks
/// them before reading the index. Bounded: emptied when full (it only saves reads).
mod refused_non_admins {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};

    use crate::domain::UserId;

    const CAPACITY: usize = 4096;

    fn set() -> &'static Mutex<HashSet<UserId>> {
        static SET: OnceLock<Mutex<HashSet<UserId>>> = OnceLock::new();
        SET.get_or_init(Default::default)
    }

    pub fn contains(user: UserId) -> bool {
        set().lock().is_ok_and(|set| set.contains(&user))
    }

    pub fn remember(user: UserId) {
        if let Ok(mut set) = set().lock() {
            if set.len() >= CAPACITY {
                set.clear();
            }
            set.insert(user);
        }
    }

    pub fn forget(user: UserId) {
        if let Ok(mut set) = set().lock() {
            set.remove(&user);
        }
    }
}
