//! The API's records (`domain::views`) made from the table's items.

use super::model::{AccountItem, GroupItem, MembershipItem, ResourceItem, UserItem};
use crate::domain::views::{PackageInquiry, Resource, User, UserGroup, UserInfo, UserUserGroup};

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

impl From<&GroupItem> for UserGroup {
    fn from(item: &GroupItem) -> Self {
        Self {
            id: item.id.clone(),
            name: item.name.clone(),
            create_date: item.create_date.clone(),
        }
    }
}

impl From<&MembershipItem> for UserUserGroup {
    fn from(item: &MembershipItem) -> Self {
        Self {
            id: item.id.clone(),
            user_id: item.user_id,
            group_id: item.group_id.clone(),
            create_date: item.create_date.clone(),
        }
    }
}

impl From<&ResourceItem> for Resource {
    fn from(item: &ResourceItem) -> Self {
        Self {
            id: item.id.clone(),
            name: item.name.clone(),
            create_date: item.create_date.clone(),
        }
    }
}
