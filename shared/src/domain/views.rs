//! The documents the API answers with (see docs/api.md for the choices the
//! specification left open).

use serde::Serialize;

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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUserGroup {
    pub id: String,
    pub user_id: UserId,
    pub group_id: String,
    pub create_date: String,
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
