//! Get All Users With Details: the account's groups, projects and drives, an unindexed
//! account's item collection, and the page's rows joined with their relations.

use std::collections::HashMap;

use crate::adapters::db::model::{
    self, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use crate::adapters::db::{from_item, string_attribute, Item};
use crate::domain::error::ApiError;
use crate::domain::views::{
    Collection, DriveAccess, DrivePermission, GroupMembership, Project, ProjectAccess,
    ProjectPermission, SharedCloudDrive, User, UserGroup, UserUserGroup, UserWithDetails,
};
use crate::domain::UserId;

use super::{page_of_users, ListParams};

/// An account's groups, projects and shared cloud drives, by id: the targets of the
/// details' relations.
#[derive(Debug, Default)]
pub struct Resources {
    pub groups: HashMap<String, GroupItem>,
    pub projects: HashMap<String, ResourceItem>,
    pub drives: HashMap<String, ResourceItem>,
}

fn kind_of(item: &Item) -> Option<&str> {
    string_attribute(item, "kind")
}

fn is_relation(item: &Item) -> bool {
    matches!(
        kind_of(item),
        Some(
            model::KIND_MEMBERSHIP | model::KIND_PROJECT_PERMISSION | model::KIND_DRIVE_PERMISSION
        )
    )
}

impl Resources {
    /// Adds the groups, projects and drives among `items`; anything else is left out.
    pub fn add_items(&mut self, items: Vec<Item>) -> Result<(), ApiError> {
        for item in items {
            match kind_of(&item) {
                Some(model::KIND_GROUP) => {
                    let group: GroupItem = from_item(item)?;
                    self.groups.insert(group.id.clone(), group);
                }
                Some(model::KIND_PROJECT) => {
                    let project: ResourceItem = from_item(item)?;
                    self.projects.insert(project.id.clone(), project);
                }
                Some(model::KIND_DRIVE) => {
                    let drive: ResourceItem = from_item(item)?;
                    self.drives.insert(drive.id.clone(), drive);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A whole item collection, sorted by kind: how an account that the migration has not
/// indexed yet is listed (the users as rows; relations still in their stored form, only
/// those of the users on the page are ever decoded).
#[derive(Debug, Default)]
pub struct AccountItems {
    pub users: Vec<User>,
    pub resources: Resources,
    pub relations: Vec<Item>,
}

impl AccountItems {
    /// Sorts the items of one `ACCOUNT#<id>` collection; the account item, billing lines,
    /// index shards and anything unknown are left out.
    pub fn from_items(items: Vec<Item>) -> Result<Self, ApiError> {
        let mut sorted = Self::default();
        let mut resources = Vec::new();
        for item in items {
            if kind_of(&item) == Some(model::KIND_USER) {
                sorted.users.push(User::from(&from_item::<UserItem>(item)?));
            } else if is_relation(&item) {
                sorted.relations.push(item);
            } else {
                resources.push(item);
            }
        }
        sorted.resources.add_items(resources)?;
        Ok(sorted)
    }
}

/// The user a membership or permission item belongs to, read without decoding it.
fn relation_user(item: &Item) -> Option<UserId> {
    string_attribute(item, "userId")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(UserId)
}

/// The page's users with their groups, project and drive permissions, from `relations`
/// (any superset of the page users' relations, in key order). Each list keeps the order
/// of the relations' keys (by the group's, project's or drive's id); one whose group,
/// project or drive no longer exists is left out.
pub fn details_page(
    page: Collection<&User>,
    relations: Vec<Item>,
    resources: &Resources,
) -> Result<Collection<UserWithDetails>, ApiError> {
    let Resources {
        groups,
        projects,
        drives,
    } = resources;
    let mut rows: Vec<UserWithDetails> = page
        .data
        .iter()
        .map(|user| UserWithDetails::new(user))
        .collect();
    let row_of: HashMap<UserId, usize> = page
        .data
        .iter()
        .enumerate()
        .map(|(index, user)| (user.id, index))
        .collect();

    for item in relations {
        let Some(&row) = relation_user(&item).and_then(|id| row_of.get(&id)) else {
            continue;
        };
        let user = page.data[row];
        match kind_of(&item) {
            Some(model::KIND_MEMBERSHIP) => {
                let membership: MembershipItem = from_item(item)?;
                match groups.get(&membership.group_id) {
                    Some(group) => rows[row].groups.push(GroupMembership {
                        user: user.clone(),
                        user_group: UserGroup::from(group),
                        user_user_group: UserUserGroup::from(&membership),
                    }),
                    None => dangling("group", &membership.sk),
                }
            }
            Some(model::KIND_PROJECT_PERMISSION) => {
                let permission: PermissionItem = from_item(item)?;
                match permission
                    .project_id
                    .as_ref()
                    .and_then(|id| projects.get(id))
                {
                    Some(project) => rows[row].projects_data.push(ProjectAccess {
                        user: user.clone(),
                        project: Project::from(project),
                        permission: ProjectPermission {
                            id: permission.id,
                            user_id: permission.user_id,
                            project_id: project.id.clone(),
                            permission: permission.permission,
                        },
                    }),
                    None => dangling("project", &permission.sk),
                }
            }
            Some(model::KIND_DRIVE_PERMISSION) => {
                let permission: PermissionItem = from_item(item)?;
                match permission.drive_id.as_ref().and_then(|id| drives.get(id)) {
                    Some(drive) => rows[row].drives_data.push(DriveAccess {
                        user: user.clone(),
                        shared_cloud_drive: SharedCloudDrive::from(drive),
                        permission: DrivePermission {
                            id: permission.id,
                            user_id: permission.user_id,
                            drive_id: drive.id.clone(),
                            permission: permission.permission,
                        },
                    }),
                    None => dangling("drive", &permission.sk),
                }
            }
            _ => {}
        }
    }
    Ok(Collection {
        data: rows,
        total: page.total,
    })
}

/// The page of a whole, unindexed item collection with details.
pub fn page_with_details(
    items: AccountItems,
    params: &ListParams,
) -> Result<Collection<UserWithDetails>, ApiError> {
    let AccountItems {
        users,
        resources,
        relations,
    } = items;
    details_page(page_of_users(&users, params), relations, &resources)
}

/// Groups, projects and drives are written elsewhere; a relation may outlive its target.
fn dangling(what: &str, relation_sk: &str) {
    tracing::warn!(
        relation = relation_sk,
        "relation to a missing {what} left out"
    );
}
