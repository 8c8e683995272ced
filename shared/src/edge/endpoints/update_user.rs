//! PUT /api/v1/user/update_user: the caller's first and last name, and (admins only) the
//! account's display name.
//!
//! Order: Cognito first, then one DynamoDB transaction. The record is what the API
//! answers with, so it changes last: a failure before it leaves the old names everywhere
//! the API shows them, and sending the same request again sets Cognito again (setting
//! attributes is idempotent) and then commits the record. A 200 means both are in step.

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::indexed;
use crate::adapters::db::list_leaves::RowChange;
use crate::adapters::db::model::{AccountItem, UserItem};
use crate::adapters::db::{accounts, failed_roles, tx, users, Db, TxError};
use crate::adapters::idp::IdentityProvider;
use crate::domain::clock;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::views::UserInfo;
use crate::domain::{bounded_text, PersonName, MAX_ACCOUNT_NAME_CHARS};
use crate::edge::auth::{admit, caller_with_account};
use crate::edge::http::{json_body, Reply};
use crate::features::audit::{self, Action, AuditRecord, Entry, Origin};
use crate::features::self_service::{cognito_username, update_names};

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
    let origin = crate::edge::http::origin(&req);
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

    // The writes are conditioned on the names read, so each record's "before" is what its
    // write replaced; a concurrent change of those names sends us back to read them again.
    let mut attempt = 0;
    let now = loop {
        attempt += 1;
        let rename_account = account_name != account.name;
        if rename_account && !user.owner && !user.user_type.is_admin() {
            return Err(rename_refused());
        }
        let now = clock::now_iso();
        let profile = ProfileChange {
            user: &user,
            account: &account,
            firstname: &firstname,
            lastname: &lastname,
            account_name: rename_account.then_some(account_name.as_str()),
        };
        let ProfileWrites {
            roles,
            operations,
            renamed,
            records,
        } = profile.writes(db.table(), &now, &origin)?;
        match indexed::transact_indexed(db, operations, user.account_id, &renamed, &records).await {
            Ok(()) => break now,
            Err(TxError::ConditionFailed(failed)) if !failed_roles(&roles, &failed).is_empty() => {
                let (fresh_user, fresh_account) = reread(db, &user).await?;
                let privileges_kept =
                    fresh_user.user_type == user.user_type && fresh_user.owner == user.owner;
                if rename_account && !privileges_kept {
                    return Err(rename_refused());
                }
                if attempt >= PROFILE_ATTEMPTS {
                    return Err(ApiError::contended(
                        "the profile kept changing while it was written",
                    ));
                }
                (user, account) = (fresh_user, fresh_account);
                tokio::time::sleep(crate::adapters::db::contention_pause(attempt)).await;
            }
            Err(err) => return Err(err.into()),
        }
    };
    let rename_account = account_name != account.name;
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

/// How many times a profile update reads and writes again after a concurrent change of
/// the names it replaces, before it answers 429.
const PROFILE_ATTEMPTS: u32 = 4;

/// One attempt of a profile update, from the user and account as read.
struct ProfileChange<'a> {
    user: &'a UserItem,
    account: &'a AccountItem,
    firstname: &'a str,
    lastname: &'a str,
    /// The account's new name, when it changes.
    account_name: Option<&'a str>,
}

impl ProfileChange<'_> {
    /// The operations with their roles, and one record per action that changes something
    /// (the names, the account's name), each "before" the value its write replaces.
    fn writes(&self, table: &str, now: &str, origin: &Origin) -> Result<ProfileWrites, ApiError> {
        let (user, account) = (self.user, self.account);
        // The record must still be live and active; a rename also needs the privileges it
        // was allowed with (a concurrent demotion must not let it through).
        let renamed = users::rename(
            table,
            user,
            self.firstname,
            self.lastname,
            now,
            self.account_name.is_some(),
        )?;
        let mut roles = vec![ProfileWrite::User];
        let mut operations = vec![renamed.write];
        let mut records = Vec::new();
        let names = Entry::new(Action::UserUpdated, Some(user.id), Some(user.id))
            .field_if_changed("firstname", user.firstname.as_str(), self.firstname)
            .field_if_changed("lastname", user.lastname.as_str(), self.lastname);
        if !names.changes.is_empty() {
            records.push(AuditRecord::new(account.id, names, origin, clock::now()));
        }
        if let Some(name) = self.account_name {
            roles.push(ProfileWrite::Account);
            operations.push(accounts::rename(
                table,
                account.id,
                &account.name,
                name,
                now,
            )?);
            let entry = Entry::new(Action::AccountRenamed, Some(user.id), None).field(
                "name",
                &account.name,
                name,
            );
            records.push(AuditRecord::new(account.id, entry, origin, clock::now()));
        }
        Ok(ProfileWrites {
            roles,
            operations,
            renamed: renamed.row,
            records,
        })
    }
}

/// The operations of one attempt, the role of each, the change to the user's list row,
/// and the records they append.
struct ProfileWrites {
    roles: Vec<ProfileWrite>,
    operations: Vec<tx::Write>,
    renamed: RowChange,
    records: Vec<AuditRecord>,
}

/// The user and account as they are now, after a write lost to a concurrent change: a
/// user gone or inactive is 401.
async fn reread(db: &Db, user: &UserItem) -> Result<(UserItem, AccountItem), ApiError> {
    match db.get_user_and_account(user.account_id, user.id).await? {
        (Some(user), Some(account)) => Ok((admit(user)?, account)),
        _ => Err(ApiError::Unauthorized),
    }
}

fn rename_refused() -> ApiError {
    ApiError::app(
        ErrorCode::Access,
        "Only account administrators may change accountName.",
    )
}
