//! Creating an account with its package and inviting its owner: the first admin cannot
//! be invited through the API. Used by the bootstrap tool and the local stack.

use serde::Deserialize;

use crate::adapters::db::model::{self, AccountItem, Limits, Usage};
use crate::adapters::db::Db;
use crate::adapters::mail::Mailer;
use crate::domain::clock;
use crate::domain::config::Config;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::{auth_provider, subscription_type, AccountId, Email, UserId, UserType};
use crate::features::invitations::{invite, Invited, Inviter, NewUser, SeatSource};

/// A package's limits, with the field names of the Package Inquiry response.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Package {
    pub admin_users: i64,
    pub creative_users: i64,
    pub standard_users: i64,
    pub storage: i64,
    pub connections: i64,
    pub projects: i64,
    pub teams: i64,
    pub drives: i64,
    pub syncs: i64,
    pub logs: bool,
    pub sso: bool,
}

impl Package {
    /// A small default package: room for a team to start.
    pub fn starter() -> Self {
        Self {
            admin_users: 5,
            creative_users: 10,
            standard_users: 25,
            storage: 1024,
            connections: 10,
            projects: 50,
            teams: 10,
            drives: 10,
            syncs: 10,
            logs: true,
            sso: false,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            limit_admin_users: self.admin_users,
            limit_creative_users: self.creative_users,
            limit_standard_users: self.standard_users,
            limit_storage: self.storage,
            limit_connections: self.connections,
            limit_projects: self.projects,
            limit_teams: self.teams,
            limit_drives: self.drives,
            limit_syncs: self.syncs,
            logs: self.logs,
            sso: self.sso,
        }
    }
}

/// The new account and its invited (pending) owner.
#[derive(Debug)]
pub struct CreatedAccount {
    pub account_id: AccountId,
    pub owner: Invited,
}

/// Creates the account and its pending owner (an AccountAdmin) in one transaction and
/// emails the owner's invitation; nothing stays behind if the email fails.
pub async fn create_account(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    name: &str,
    owner_email: &str,
    package: &Package,
) -> Result<CreatedAccount, ApiError> {
    let name = crate::domain::bounded_text(name, "name", 1, crate::domain::MAX_ACCOUNT_NAME_CHARS)?;
    let owner_email = Email::parse(owner_email, "ownerEmail")?;
    if package.admin_users < 1 {
        return Err(ApiError::app(
            ErrorCode::Cost,
            "The package needs at least one admin user slot for the owner.",
        ));
    }
    let account_id = AccountId::new();
    let now = clock::now_iso();
    let account = AccountItem {
        pk: model::account_pk(account_id),
        sk: model::ACCOUNT_SK.into(),
        kind: model::KIND_ACCOUNT.into(),
        id: account_id,
        name: name.clone(),
        owner_id: UserId::new(), // replaced by the invited owner's id in the same transaction
        subscription_type: subscription_type::MONTHLY,
        migration: false,
        auth_provider: auth_provider::AWS_COGNITO,
        create_date: now.clone(),
        update_date: now,
        // A new account's index is complete from its first user on.
        list_leaves: true,
        limits: package.limits(),
        usage: Usage::default(),
    };
    let owner = invite(
        db,
        mailer,
        config,
        SeatSource::NewAccount(Box::new(account)),
        &Inviter {
            name: format!("The {name} team"),
        },
        NewUser {
            username: owner_email.clone(),
            email: owner_email,
            firstname: String::new(),
            lastname: String::new(),
            user_type: UserType::ACCOUNT_ADMIN,
            owner: true,
        },
        &crate::features::audit::Requester::tool(),
    )
    .await?;
    Ok(CreatedAccount { account_id, owner })
}
