//! The documents the API answers with (see docs/api.md for the choices the
//! specification left open).

use serde::Serialize;

use crate::adapters::db::model::{AccountItem, UserItem};
use crate::domain::{AccountId, Email, UserId, UserStatus, UserType};

/// The `User` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub username: Email,
    pub email: Email,
    pub firstname: String,
    pub lastname: String,
    pub user_type: UserType,
    pub status: UserStatus,
    pub owner: bool,
    pub mfa: bool,
    pub deleted: bool,
    pub create_date: String,
    pub update_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
}

impl From<&UserItem> for User {
    fn from(item: &UserItem) -> Self {
        Self {
            id: item.id,
            account_id: item.account_id,
            username: item.username.clone(),
            email: item.email.clone(),
            firstname: item.firstname.clone(),
            lastname: item.lastname.clone(),
            user_type: item.user_type,
            status: item.status,
            owner: item.owner,
            mfa: item.mfa,
            deleted: item.deleted,
            create_date: item.create_date.clone(),
            update_date: item.update_date.clone(),
            delete_date: item.delete_date.clone(),
        }
    }
}

/// The profile of Get User Info and Update User: exactly the 12 fields of the specification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub user_id: UserId,
    pub username: Email,
    pub firstname: String,
    pub lastname: String,
    pub user_type: UserType,
    pub mfa: bool,
    pub migration: bool,
    pub owner: bool,
    pub account_id: AccountId,
    pub account_name: String,
    pub subscription_type: u8,
    pub auth_provider: u8,
}

impl UserInfo {
    pub fn new(user: &UserItem, account: &AccountItem) -> Self {
        Self {
            user_id: user.id,
            username: user.username.clone(),
            firstname: user.firstname.clone(),
            lastname: user.lastname.clone(),
            user_type: user.user_type,
            mfa: user.mfa,
            migration: account.migration,
            owner: user.owner,
            account_id: account.id,
            account_name: account.name.clone(),
            subscription_type: account.subscription_type,
            auth_provider: account.auth_provider,
        }
    }
}

/// Remaining capacity of the account's package, never below zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageInquiry {
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

impl From<&AccountItem> for PackageInquiry {
    fn from(account: &AccountItem) -> Self {
        let (l, u) = (&account.limits, &account.usage);
        let left = |limit: i64, used: i64| (limit - used).max(0);
        Self {
            admin_users: left(l.limit_admin_users, u.used_admin_users),
            creative_users: left(l.limit_creative_users, u.used_creative_users),
            standard_users: left(l.limit_standard_users, u.used_standard_users),
            storage: left(l.limit_storage, u.used_storage),
            connections: left(l.limit_connections, u.used_connections),
            projects: left(l.limit_projects, u.used_projects),
            teams: left(l.limit_teams, u.used_teams),
            drives: left(l.limit_drives, u.used_drives),
            syncs: left(l.limit_syncs, u.used_syncs),
            logs: l.logs,
            sso: l.sso,
        }
    }
}

/// `DTOCollection<T>`: one page of results and the number of matches before paging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collection<T> {
    pub data: Vec<T>,
    pub total: usize,
}

/// A row of Get All Users With Details: the user and, inline, their groups, project
/// permissions and shared-cloud-drive permissions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserWithDetails {
    pub id: UserId,
    pub email: Email,
    pub username: Email,
    pub firstname: String,
    pub lastname: String,
    pub user_type: UserType,
    pub status: UserStatus,
    pub deleted: bool,
    pub groups: Vec<GroupMembership>,
    pub projects_data: Vec<ProjectAccess>,
    pub drives_data: Vec<DriveAccess>,
}

impl UserWithDetails {
    /// The row of `user`, with no relations yet.
    pub fn new(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            username: user.username.clone(),
            firstname: user.firstname.clone(),
            lastname: user.lastname.clone(),
            user_type: user.user_type,
            status: user.status,
            deleted: user.deleted,
            groups: Vec::new(),
            projects_data: Vec::new(),
            drives_data: Vec::new(),
        }
    }
}

/// A user's membership of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembership {
    pub user: User,
    pub user_group: UserGroup,
    pub user_user_group: UserUserGroup,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGroup {
    pub id: String,
    pub name: String,
    pub create_date: String,
}

impl From<&crate::adapters::db::model::GroupItem> for UserGroup {
    fn from(item: &crate::adapters::db::model::GroupItem) -> Self {
        Self {
            id: item.id.clone(),
            name: item.name.clone(),
            create_date: item.create_date.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUserGroup {
    pub id: String,
    pub user_id: UserId,
    pub group_id: String,
    pub create_date: String,
}

impl From<&crate::adapters::db::model::MembershipItem> for UserUserGroup {
    fn from(item: &crate::adapters::db::model::MembershipItem) -> Self {
        Self {
            id: item.id.clone(),
            user_id: item.user_id,
            group_id: item.group_id.clone(),
            create_date: item.create_date.clone(),
        }
    }
}

/// A user's permission on a project.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAccess {
    pub user: User,
    pub project: Project,
    pub permission: ProjectPermission,
}

/// A project or a shared cloud drive: both are stored as a `ResourceItem` and answered
/// with the same fields (the OpenAPI names them Project and SharedCloudDrive).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub id: String,
    pub name: String,
    pub create_date: String,
}

impl From<&crate::adapters::db::model::ResourceItem> for Resource {
    fn from(item: &crate::adapters::db::model::ResourceItem) -> Self {
        Self {
            id: item.id.clone(),
            name: item.name.clone(),
            create_date: item.create_date.clone(),
        }
    }
}

pub type Project = Resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPermission {
    pub id: String,
    pub user_id: UserId,
    pub project_id: String,
    pub permission: String,
}

/// A user's permission on a shared cloud drive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveAccess {
    pub user: User,
    /// Spelled so in the public API.
    #[serde(rename = "sharedClouDrive")]
    pub shared_cloud_drive: SharedCloudDrive,
    pub permission: DrivePermission,
}

pub type SharedCloudDrive = Resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrivePermission {
    pub id: String,
    pub user_id: UserId,
    pub drive_id: String,
    pub permission: String,
}
