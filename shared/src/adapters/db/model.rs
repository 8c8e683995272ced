//! DynamoDB items, one single table (see docs/data-model.md). Items go through serde
//! (serde_dynamo); keys are built only here.

use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, Email, Seat, UserId, UserStatus, UserType};

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub fn account_pk(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}
pub const ACCOUNT_SK: &str = "ACCOUNT";
pub const USER_SK_PREFIX: &str = "USER#";
pub fn user_sk(user: UserId) -> String {
    format!("{USER_SK_PREFIX}{user}")
}
pub fn billing_sk(user: UserId) -> String {
    format!("BILLING#{user}")
}
pub fn username_pk(email: &Email) -> String {
    format!("USERNAME#{email}")
}
pub const USERNAME_SK: &str = "USERNAME";
pub fn token_pk(token_hash: &str) -> String {
    format!("TOKEN#{token_hash}")
}
pub const TOKEN_SK: &str = "TOKEN";
pub fn identity_pk(sub: &str) -> String {
    format!("IDENTITY#{sub}")
}
pub const IDENTITY_SK: &str = "IDENTITY";
pub fn resend_pk(email: &Email) -> String {
    format!("RESEND#{email}")
}
pub const RESEND_SK: &str = "RESEND";
/// Invitation emails one account sent to one address in the current hour (invites and
/// resends): each account has its own budget per address, so no tenant spends another's.
pub fn invitation_mails_pk(account: AccountId, email: &Email) -> String {
    format!("INVITATION_MAILS#ACCOUNT#{account}#TO#{email}")
}
/// Invitation emails sent for one account in the current hour.
pub fn account_invitation_mails_pk(account: AccountId) -> String {
    format!("INVITATION_MAILS#ACCOUNT#{account}")
}
pub const INVITATION_MAILS_SK: &str = "INVITATION_MAILS";
/// The list index's shards of the layout before leaves (`LIST#<00..7f>`), which the
/// migration removes.
pub const LIST_SK_PREFIX: &str = "LIST#";
/// The list index's leaves (see `db::list_leaves`): `ROWS#<path>`.
pub const ROWS_SK_PREFIX: &str = "ROWS#";

/// An account with its package limits and what it uses of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: AccountId,
    pub name: String,
    pub owner_id: UserId,
    pub subscription_type: u8,
    pub migration: bool,
    pub auth_provider: u8,
    pub create_date: String,
    pub update_date: String,
    /// Whether the account's list index (its leaves) is complete: set when the account is
    /// created, or by the migration once it has built the index of an older account.
    /// Until then its lists read its users. (`listIndex`, the mark of the shards of the
    /// layout before leaves, is no longer read.)
    #[serde(default)]
    pub list_leaves: bool,
    #[serde(flatten)]
    pub limits: Limits,
    #[serde(flatten)]
    pub usage: Usage,
}

/// What a package allows (attribute names are those of `Seat::limit_attribute`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub limit_admin_users: i64,
    pub limit_creative_users: i64,
    pub limit_standard_users: i64,
    pub limit_storage: i64,
    pub limit_connections: i64,
    pub limit_projects: i64,
    pub limit_teams: i64,
    pub limit_drives: i64,
    pub limit_syncs: i64,
    pub logs: bool,
    pub sso: bool,
}

/// What the account uses. The user seats are kept by the same transactions that create,
/// retype and delete users, so they always equal the count of live users by seat kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub used_admin_users: i64,
    pub used_creative_users: i64,
    pub used_standard_users: i64,
    pub used_storage: i64,
    pub used_connections: i64,
    pub used_projects: i64,
    pub used_teams: i64,
    pub used_drives: i64,
    pub used_syncs: i64,
}

impl Usage {
    pub fn seats(&self, seat: Seat) -> i64 {
        match seat {
            Seat::Admin => self.used_admin_users,
            Seat::Creative => self.used_creative_users,
            Seat::Standard => self.used_standard_users,
        }
    }
}

/// A user of an account, in the account's item collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
    /// The Cognito `sub`, once the person has signed up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The hash of the one live signup token of a pending user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    /// A signup in progress holds this lease so concurrent signups cannot interleave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_lease: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_lease_until: Option<i64>,
}

impl UserItem {
    /// A person just invited to `account_id`: pending, no names, a standard user, no
    /// token yet. The keys and kind follow from the ids, so every user item (the
    /// invitation's, the seed's, a test's or a bench's) is built here and then given its
    /// own fields with struct update syntax.
    pub fn pending(
        account_id: AccountId,
        id: UserId,
        username: Email,
        email: Email,
        created: &str,
    ) -> Self {
        Self {
            pk: account_pk(account_id),
            sk: user_sk(id),
            kind: KIND_USER.to_owned(),
            id,
            account_id,
            username,
            email,
            firstname: String::new(),
            lastname: String::new(),
            user_type: UserType::DESKTOP_STANDARD_USER,
            status: UserStatus::PENDING,
            owner: false,
            mfa: false,
            deleted: false,
            create_date: created.to_owned(),
            update_date: created.to_owned(),
            delete_date: None,
            sub: None,
            token_hash: None,
            signup_lease: None,
            signup_lease_until: None,
        }
    }

    pub fn is_live(&self) -> bool {
        !self.deleted
    }
}

/// Claims a username (a lower-cased email) across all accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernameItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account_id: AccountId,
    pub user_id: UserId,
}

/// A signup token, stored only as its SHA-256. `expiresAt` (epoch seconds) is the TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub expires_at: i64,
}

/// Points a Cognito `sub` (the access token's subject) at its user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub account_id: AccountId,
    pub user_id: UserId,
}

/// The billing line of an invited user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub user_id: UserId,
    pub seat: Seat,
    pub user_type: UserType,
    pub start_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// `active` or `unsubscribed`.
    pub status: String,
}

pub const KIND_ACCOUNT: &str = "account";
pub const KIND_USER: &str = "user";
pub const KIND_USERNAME: &str = "username";
pub const KIND_TOKEN: &str = "token";
pub const KIND_IDENTITY: &str = "identity";
pub const KIND_BILLING: &str = "billing";
pub const KIND_GROUP: &str = "group";
pub const KIND_MEMBERSHIP: &str = "membership";
pub const KIND_PROJECT: &str = "project";
pub const KIND_PROJECT_PERMISSION: &str = "projectPermission";
pub const KIND_DRIVE: &str = "drive";
pub const KIND_DRIVE_PERMISSION: &str = "drivePermission";
pub const KIND_LIST_LEAF: &str = "listLeaf";

/// One leaf of an account's list index: the rows of the users whose id starts with its
/// path, encoded and compressed by `db::list_rows`; or, once it split, a marker with the
/// number of children its split created (`count`) and no rows. `version` grows by one
/// with every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListLeafItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub version: u64,
    /// Rows, or children of a marker.
    pub count: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split: bool,
    pub rows: serde_bytes::ByteBuf,
}

/// Where the scheduled check of the list indexes stands (`db::index_check`): one item for
/// the whole table. `version` grows by one with every run that saves it.
pub const INDEX_CHECK_PK: &str = "INDEX_CHECK";
pub const INDEX_CHECK_SK: &str = "CURSOR";
pub const KIND_INDEX_CHECK_CURSOR: &str = "indexCheckCursor";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexCheckCursorItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub version: u64,
    /// The account being checked, and the lowest user id of it not checked yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_user: Option<UserId>,
    /// The accounts of the last Scan page not checked yet, in the page's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_accounts: Vec<AccountId>,
    /// The key the walk over the accounts resumes after (none: the table's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_after_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_after_sk: Option<String>,
    /// The Scan reached the table's end: the walk ends once the pending accounts are done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scan_done: bool,
    /// Walks over every account finished so far.
    #[serde(default)]
    pub cycles: u64,
}

pub const GROUP_SK_PREFIX: &str = "GROUP#";
pub const PROJECT_SK_PREFIX: &str = "PROJECT#";
pub const DRIVE_SK_PREFIX: &str = "DRIVE#";
pub fn group_sk(group: &str) -> String {
    format!("{GROUP_SK_PREFIX}{group}")
}
/// Every relation of a user (memberships, project and drive permissions) is keyed under
/// `REL#<userId>#`, so the relations of one user are one Query (With Details reads only
/// those of the users on its page).
pub fn relations_prefix(user: UserId) -> String {
    format!("REL#{user}#")
}
pub fn membership_sk(user: UserId, group: &str) -> String {
    format!("REL#{user}#MEMBER#{group}")
}
pub fn project_sk(project: &str) -> String {
    format!("{PROJECT_SK_PREFIX}{project}")
}
pub fn project_permission_sk(user: UserId, project: &str) -> String {
    format!("REL#{user}#PPERM#{project}")
}
pub fn drive_sk(drive: &str) -> String {
    format!("{DRIVE_SK_PREFIX}{drive}")
}
pub fn drive_permission_sk(user: UserId, drive: &str) -> String {
    format!("REL#{user}#DPERM#{drive}")
}

/// A user group of an account (written by other parts of the product, read here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: String,
    pub name: String,
    pub create_date: String,
}

/// A user's membership of a group (`userUserGroup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: String,
    pub user_id: UserId,
    pub group_id: String,
    pub create_date: String,
}

/// A project or a shared cloud drive of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: String,
    pub name: String,
    pub create_date: String,
}

/// A user's permission on a project (`projectId`) or a drive (`driveId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    pub id: String,
    pub user_id: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_id: Option<String>,
    /// `read`, `write` or `admin`.
    pub permission: String,
}

pub const KIND_RESEND: &str = "resendCounter";
/// Counts invitation emails per address or account and hour: every attempt counts, so a
/// failed one leaves its count (bookkeeping of attempts, not of users).
pub const KIND_INVITATION_MAILS: &str = "invitationMailCounter";

/// Counts the invitation resends of one username in a fixed one-hour window that opens
/// with the first resend; `expiresAt` (the window's end, epoch seconds) lets TTL remove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendCounterItem {
    pub pk: String,
    pub sk: String,
    pub kind: String,
    /// When the current window opened (epoch seconds).
    pub window_start: i64,
    /// Resends in the current window.
    pub sends: i64,
    pub expires_at: i64,
}
