//! PUT /api/v1/user/update_user: the caller's first and last name, and (admins only) the
//! account's display name.
//!
//! Order: Cognito first, then one DynamoDB transaction. The record is what the API
//! answers with, so it changes last: a failure before it leaves the old names everywhere
//! the API shows them, and sending the same request again sets Cognito again (setting
//! attributes is idempotent) and then commits the record. A 200 means both are in step.

use lambda_http::Request;
use serde::Deserialize;

use crate::audit::{self, Action, AuditRecord, Entry, Origin};
use crate::auth::{admit, caller_with_account};
use crate::clock;
use crate::db::{accounts, failed_roles, users, Db, TxError};
use crate::domain::{bounded_text, PersonName, MAX_ACCOUNT_NAME_CHARS};
use crate::error::{ApiError, ErrorCode};
use crate::http::{json_body, Reply};
use crate::idp::IdentityProvider;
use crate::list_index::{self, RowChange, RowUpdate};
use crate::model::UserItem;
use crate::self_service::{cognito_username, update_names};
use crate::views::UserInfo;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateUserBody {
    account_name: String,
    first_name: String,
    last_name: String,
}

/// What each operation of the profile's transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProfileWrite {
    /// The caller's names (while still live, active and, for a rename, as privileged).
    User,
    /// The account's name.
    Account,
}

/// Four sequential calls: identity, user + account, AdminUpdateUserAttributes, TransactWriteItems.
pub async fn handle(db: &Db, idp: &dyn IdentityProvider, req: Request) -> Result<Reply, ApiError> {
    let (caller, mut account) = caller_with_account(db, &req).await?;
    let body: UpdateUserBody = json_body(&req)?;
    let firstname = PersonName::parse(&body.first_name, "firstName")?.into_inner();
    let lastname = PersonName::parse(&body.last_name, "lastName")?.into_inner();
    let account_name = bounded_text(&body.account_name, "accountName", 1, MAX_ACCOUNT_NAME_CHARS)?;
    let rename_account = account_name != account.name;
    let origin = Origin::of(&req);
    if rename_account && !caller.is_admin() {
        let entry = Entry::new(Action::AccessDenied, Some(caller.user.id), None).field(
            "name",
            &account.name,
            &account_name,
        );
        audit::record_refusal(db, account.id, entry, &origin).await;
        return Err(rename_refused());
    }

    let mut user = caller.user;
    update_names(idp, cognito_username(&user)?, &firstname, &lastname).await?;

    let now = clock::now_iso();
    let table = db.table();
    // The record must still be live and active; a rename also needs the privileges it
    // was allowed with (a concurrent demotion must not let it through).
    let mut roles = vec![ProfileWrite::User];
    let mut operations = vec![users::rename(
        table,
        &user,
        &firstname,
        &lastname,
        &now,
        rename_account,
    )?];
    if rename_account {
        roles.push(ProfileWrite::Account);
        operations.push(accounts::rename(table, account.id, &account_name, &now)?);
    }
    let renamed = RowChange::Update(
        user.id,
        RowUpdate {
            firstname: Some(firstname.clone()),
            lastname: Some(lastname.clone()),
            ..RowUpdate::touched(&now)
        },
    );
    // One record per action that changed something: the names, the account's name.
    let mut records = Vec::new();
    let names = Entry::new(Action::UserUpdated, Some(user.id), Some(user.id))
        .field_if_changed("firstname", user.firstname.as_str(), firstname.as_str())
        .field_if_changed("lastname", user.lastname.as_str(), lastname.as_str());
    if !names.changes.is_empty() {
        records.push(AuditRecord::new(account.id, names, &origin, clock::now()));
    }
    if rename_account {
        let entry = Entry::new(Action::AccountRenamed, Some(user.id), None).field(
            "name",
            &account.name,
            &account_name,
        );
        records.push(AuditRecord::new(account.id, entry, &origin, clock::now()));
    }
    match list_index::transact_indexed(db, operations, user.account_id, &renamed, &records).await {
        Ok(()) => {}
        Err(TxError::ConditionFailed(failed))
            if failed_roles(&roles, &failed).contains(&ProfileWrite::User) =>
        {
            return Err(refusal_after_concurrent_change(db, &user).await)
        }
        Err(err) => return Err(err.into()),
    }
    tracing::info!(user_id = %user.id, account_renamed = rename_account, "profile updated");

    user.firstname = firstname;
    user.lastname = lastname;
    user.update_date = now.clone();
    if rename_account {
        account.name = account_name;
        account.update_date = now;
    }
    Reply::json(&UserInfo::new(&user, &account))
}

/// The user changed between the read and the write: gone or inactive is 401, demoted is
/// ACCESS (only a rename checks the privileges).
async fn refusal_after_concurrent_change(db: &Db, user: &UserItem) -> ApiError {
    match db.get_user(user.account_id, user.id).await {
        Ok(Some(now)) => match admit(now) {
            Ok(_) => rename_refused(),
            Err(err) => err,
        },
        Ok(None) => ApiError::Unauthorized,
        Err(err) => err,
    }
}

fn rename_refused() -> ApiError {
    ApiError::app(
        ErrorCode::Access,
        "Only account administrators may change accountName.",
    )
}
