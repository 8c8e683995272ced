//! Listing an account's users, with no I/O: the query parameters of Get All Users (With
//! Details), the filter, the sort (ties broken by id, so paging is stable) and the page
//! over the account's rows (from the list index, or from the user items of an account the
//! migration has not indexed yet), and the details rows joined from the page's relations.

pub mod details;
pub mod reads;

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::query::Query;
use crate::domain::views::{Collection, User};
use crate::domain::{UserStatus, UserType, MAX_FIELD_CHARS};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// What a list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreateDate,
    UpdateDate,
    Username,
    Email,
    FirstName,
    LastName,
    UserType,
    Status,
}

impl SortField {
    /// Every field with its name on the wire.
    pub const ALL: [(SortField, &'static str); 8] = [
        (SortField::CreateDate, "CreateDate"),
        (SortField::UpdateDate, "UpdateDate"),
        (SortField::Username, "Username"),
        (SortField::Email, "Email"),
        (SortField::FirstName, "FirstName"),
        (SortField::LastName, "LastName"),
        (SortField::UserType, "UserType"),
        (SortField::Status, "Status"),
    ];

    /// A sort field's name, matched without regard to case.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let raw = raw.trim();
        Self::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(raw))
            .map(|(field, _)| *field)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(_, name)| *name).collect();
                invalid(format!("sortfield must be one of {}.", names.join(", ")))
            })
    }

    /// Orders two users by this field alone.
    fn compare(self, a: &User, b: &User) -> Ordering {
        match self {
            // RFC 3339 UTC with milliseconds: text order is time order.
            SortField::CreateDate => a.create_date.cmp(&b.create_date),
            SortField::UpdateDate => a.update_date.cmp(&b.update_date),
            SortField::Username => a.username.as_str().cmp(b.username.as_str()),
            SortField::Email => a.email.as_str().cmp(b.email.as_str()),
            SortField::FirstName => caseless(&a.firstname, &b.firstname),
            SortField::LastName => caseless(&a.lastname, &b.lastname),
            SortField::UserType => a.user_type.cmp(&b.user_type),
            SortField::Status => a.status.cmp(&b.status),
        }
    }
}

/// Names sort as people read them: "ada" beside "Ada", before "Bob".
fn caseless(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        // The common case, without Unicode case tables.
        return a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()));
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// The query parameters of Get All Users and Get All Users With Details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// 1-based.
    pub page: u64,
    pub page_size: u64,
    pub sort_field: SortField,
    pub descending: bool,
    /// Whether soft-deleted users are listed too.
    pub include_deleted: bool,
    /// UserStatus flags to include.
    pub statuses: u8,
    /// UserType flags to include.
    pub types: u8,
    /// Lower-cased substring the username must contain.
    pub username: Option<String>,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            sort_field: SortField::CreateDate,
            descending: true,
            include_deleted: false,
            statuses: UserStatus::ALL,
            types: UserType::ALL,
            username: None,
        }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::app(ErrorCode::Default, message)
}

/// A whole number in `min..=max`; `rule` says what is allowed, for the error.
/// The query parameters among `names` (matched without regard to case, as the ASP.NET
/// binding of the public API does), trimmed. An empty value is refused with a 499
/// DEFAULT naming the parameter, except for `may_be_empty`, which is then left out; the
/// same name given twice with different values is refused; unknown names are left alone.
pub(crate) fn known_parameters<'q>(
    query: &'q Query,
    names: &[&'static str],
    may_be_empty: Option<&str>,
) -> Result<HashMap<&'static str, &'q str>, ApiError> {
    let mut given = query.known(names)?;
    for (known, value) in given.iter_mut() {
        *value = value.trim();
        if value.is_empty() && may_be_empty != Some(*known) {
            return Err(invalid(format!(
                "{known} must not be empty: leave it out for its default."
            )));
        }
    }
    given.retain(|_, value| !value.is_empty());
    Ok(given)
}

/// `page` (from 1) and `pagesize` (1 to 1000) among the given parameters.
pub(crate) fn page_and_size(
    given: &HashMap<&'static str, &str>,
    default_size: u64,
) -> Result<(u64, u64), ApiError> {
    let page = match given.get("page") {
        Some(raw) => whole_number("page", raw, 1, u64::MAX, "a whole number of at least 1")?,
        None => 1,
    };
    let size = match given.get("pagesize") {
        Some(raw) => whole_number(
            "pagesize",
            raw,
            1,
            MAX_PAGE_SIZE,
            &format!("a whole number from 1 to {MAX_PAGE_SIZE}"),
        )?,
        None => default_size,
    };
    Ok((page, size))
}

fn whole_number(name: &str, raw: &str, min: u64, max: u64, rule: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or_else(|| invalid(format!("{name} must be {rule}.")))
}

fn boolean(name: &str, raw: &str) -> Result<bool, ApiError> {
    if raw.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if raw.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(format!("{name} must be true or false.")))
    }
}

impl ListParams {
    /// The parameter names, as the specification spells them.
    const NAMES: [&'static str; 8] = [
        "page",
        "pagesize",
        "sortfield",
        "descending",
        "deleted",
        "userStatus",
        "userType",
        "username",
    ];

    /// Parses the query string's parameters. Names match without regard to case (as the
    /// ASP.NET binding of the public API does); an empty `username` means no filter, an
    /// empty value of any other parameter is refused like any other value that is not
    /// allowed: a 499 DEFAULT naming the parameter. Unknown parameters are left alone.
    pub fn from_query(query: &Query) -> Result<Self, ApiError> {
        let given = known_parameters(query, &Self::NAMES, Some("username"))?;
        let mut params = Self::default();
        (params.page, params.page_size) = page_and_size(&given, params.page_size)?;
        if let Some(raw) = given.get("sortfield") {
            params.sort_field = SortField::parse(raw)?;
        }
        if let Some(raw) = given.get("descending") {
            params.descending = boolean("descending", raw)?;
        }
        if let Some(raw) = given.get("deleted") {
            params.include_deleted = boolean("deleted", raw)?;
        }
        if let Some(raw) = given.get("userStatus") {
            params.statuses = whole_number(
                "userStatus",
                raw,
                1,
                u64::from(UserStatus::ALL),
                "a sum of UserStatus flags from 1 to 7 (Active 1, Inactive 2, Pending 4)",
            )? as u8;
        }
        if let Some(raw) = given.get("userType") {
            params.types = whole_number(
                "userType",
                raw,
                1,
                u64::from(UserType::ALL),
                "a sum of UserType flags from 1 to 127 (ProviderAdmin 1, ResellerAdmin 2, AccountAdmin 4, AccountUser 8, DesktopAdmin 16, DesktopCreativeUser 32, DesktopStandardUser 64)",
            )? as u8;
        }
        if let Some(raw) = given.get("username") {
            if raw.chars().count() > MAX_FIELD_CHARS {
                return Err(invalid(format!(
                    "username must be at most {MAX_FIELD_CHARS} characters."
                )));
            }
            params.username = Some(raw.to_lowercase());
        }
        Ok(params)
    }

    /// Whether `user` passes the filters.
    pub fn matches(&self, user: &User) -> bool {
        (self.include_deleted || !user.deleted)
            && user.status.0 & self.statuses != 0
            && user.user_type.0 & self.types != 0
            && self
                .username
                .as_deref()
                .is_none_or(|part| user.username.as_str().contains(part))
    }

    /// The full order of the list: the field, then the id; descending is its reverse.
    pub fn compare(&self, a: &User, b: &User) -> Ordering {
        let ascending = self.sort_field.compare(a, b).then_with(|| a.id.cmp(&b.id));
        if self.descending {
            ascending.reverse()
        } else {
            ascending
        }
    }

    /// Where the page starts and ends among `total` matches.
    fn bounds(&self, total: usize) -> (usize, usize) {
        let total = total as u64;
        let start = (self.page - 1).saturating_mul(self.page_size).min(total);
        let end = start.saturating_add(self.page_size).min(total);
        (start as usize, end as usize)
    }
}

/// The page of matching users and the number of matches. References are ordered, not
/// the (large) items themselves.
pub fn page_of_users<'a>(users: &'a [User], params: &ListParams) -> Collection<&'a User> {
    let mut matches: Vec<&User> = users.iter().filter(|u| params.matches(u)).collect();
    let total = matches.len();
    let (start, end) = params.bounds(total);
    if start >= end {
        return Collection {
            data: Vec::new(),
            total,
        };
    }
    // Only the rows up to the page's end need their order: put them first, then sort
    // just those.
    if end < total {
        matches.select_nth_unstable_by(end, |a, b| params.compare(a, b));
        matches.truncate(end);
    }
    matches.sort_unstable_by(|a, b| params.compare(a, b));
    matches.drain(..start);
    Collection {
        data: matches,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::details::*;
    use super::*;
    use crate::adapters::db::model::{
        self, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
    };
    use crate::adapters::db::to_item;
    use crate::adapters::db::Item;
    use crate::domain::UserId;
    use crate::domain::{AccountId, Email};

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListParams, ApiError> {
        ListParams::from_query(&query(pairs))
    }

    #[track_caller]
    fn refused(pairs: &[(&str, &str)], needle: &str) {
        let err = parse(pairs).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::Default), "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    }

    fn user(n: u32, first: &str, user_type: UserType, status: UserStatus) -> UserItem {
        let account_id = AccountId(uuid::Uuid::nil());
        let id = UserId(uuid::Uuid::from_u128(u128::from(n)));
        let email = Email::parse(&format!("user{n:03}@example.com"), "email").unwrap();
        UserItem {
            pk: model::account_pk(account_id),
            sk: model::user_sk(id),
            kind: model::KIND_USER.into(),
            id,
            account_id,
            username: email.clone(),
            email,
            firstname: first.into(),
            lastname: format!("Last{}", 100 - n),
            user_type,
            status,
            owner: false,
            mfa: false,
            deleted: false,
            create_date: format!("2030-01-01T00:00:{:02}.000Z", n % 60),
            update_date: format!("2030-02-01T00:00:{:02}.000Z", 59 - n % 60),
            delete_date: None,
            sub: None,
            token_hash: None,
            signup_lease: None,
            signup_lease_until: None,
        }
    }

    fn rows(users: &[UserItem]) -> Vec<User> {
        users.iter().map(User::from).collect()
    }

    fn ids(users: &[&User]) -> Vec<u128> {
        users.iter().map(|u| u.id.0.as_u128()).collect()
    }

    #[test]
    fn no_parameters_give_the_documented_defaults() {
        let params = parse(&[]).unwrap();
        assert_eq!(params, ListParams::default());
        assert_eq!(params.page, 1);
        assert_eq!(params.page_size, 50);
        assert_eq!(params.sort_field, SortField::CreateDate);
        assert!(params.descending);
        assert!(!params.include_deleted);
        assert_eq!(params.statuses, 7);
        assert_eq!(params.types, 127);
        assert_eq!(params.username, None);
    }

    #[test]
    fn every_parameter_is_read_names_and_values_without_regard_to_case() {
        let params = parse(&[
            ("page", "3"),
            ("PageSize", "1000"),
            ("sortField", "lastNAME"),
            ("descending", "FALSE"),
            ("Deleted", "True"),
            ("userstatus", "5"),
            ("USERTYPE", "96"),
            ("username", " Ada@Example "),
            ("unrelated", "ignored"),
        ])
        .unwrap();
        assert_eq!(
            params,
            ListParams {
                page: 3,
                page_size: 1000,
                sort_field: SortField::LastName,
                descending: false,
                include_deleted: true,
                statuses: 5,
                types: 96,
                username: Some("ada@example".into()),
            }
        );
    }

    #[test]
    fn every_sort_field_is_accepted_in_any_case() {
        for (field, name) in SortField::ALL {
            assert_eq!(SortField::parse(name).unwrap(), field);
            assert_eq!(SortField::parse(&name.to_lowercase()).unwrap(), field);
            assert_eq!(SortField::parse(&name.to_uppercase()).unwrap(), field);
        }
    }

    #[test]
    fn an_empty_username_means_no_filter() {
        assert_eq!(parse(&[("username", " ")]).unwrap(), ListParams::default());
    }

    #[test]
    fn an_empty_value_of_any_other_parameter_is_refused() {
        refused(&[("page", "")], "page must not be empty");
        refused(&[("sortfield", " ")], "sortfield must not be empty");
        refused(&[("deleted", "")], "deleted must not be empty");
    }

    #[test]
    fn bad_values_are_refused_naming_the_parameter_and_what_is_allowed() {
        refused(
            &[("page", "0")],
            "page must be a whole number of at least 1",
        );
        refused(&[("page", "-1")], "page must be");
        refused(&[("page", "two")], "page must be");
        refused(&[("page", "1.5")], "page must be");
        refused(
            &[("pagesize", "0")],
            "pagesize must be a whole number from 1 to 1000",
        );
        refused(&[("pagesize", "1001")], "pagesize must be");
        refused(
            &[("pagesize", "99999999999999999999999")],
            "pagesize must be",
        );
        refused(&[("sortfield", "Password")], "sortfield must be one of CreateDate, UpdateDate, Username, Email, FirstName, LastName, UserType, Status");
        refused(&[("descending", "yes")], "descending must be true or false");
        refused(&[("descending", "1")], "descending must be true or false");
        refused(&[("deleted", "0")], "deleted must be true or false");
        refused(
            &[("userStatus", "0")],
            "userStatus must be a sum of UserStatus flags from 1 to 7",
        );
        refused(&[("userStatus", "8")], "userStatus must be");
        refused(
            &[("userType", "0")],
            "userType must be a sum of UserType flags from 1 to 127",
        );
        refused(&[("userType", "128")], "userType must be");
        refused(&[("userType", "all")], "userType must be");
        refused(
            &[("username", &"a".repeat(51))],
            "username must be at most 50 characters",
        );
    }

    #[test]
    fn one_parameter_given_twice_with_different_values_is_refused() {
        refused(
            &[("page", "1"), ("PAGE", "2")],
            "page is given more than once",
        );
        assert_eq!(parse(&[("page", "2"), ("Page", "2")]).unwrap().page, 2);
    }

    #[test]
    fn names_compare_without_regard_to_case_in_any_script() {
        assert_eq!(caseless("ada", "ADA"), Ordering::Equal);
        assert_eq!(caseless("Ada", "bob"), Ordering::Less);
        assert_eq!(caseless("Émile", "émile"), Ordering::Equal);
        assert_eq!(caseless("Zoë", "zoe"), Ordering::Greater);
        assert_eq!(caseless("ada", "Émile"), Ordering::Less);
    }

    #[test]
    fn filters_combine_status_type_deleted_and_username() {
        let mut users = vec![
            user(1, "A", UserType::ACCOUNT_ADMIN, UserStatus::ACTIVE),
            user(2, "B", UserType::ACCOUNT_USER, UserStatus::INACTIVE),
            user(3, "C", UserType::DESKTOP_CREATIVE_USER, UserStatus::PENDING),
            user(4, "D", UserType::DESKTOP_STANDARD_USER, UserStatus::ACTIVE),
        ];
        users[3].deleted = true;
        let listed = |pairs: &[(&str, &str)]| {
            let mut found = ids(&page_of_users(&rows(&users), &parse(pairs).unwrap()).data);
            found.sort();
            found
        };
        assert_eq!(listed(&[]), [1, 2, 3]);
        assert_eq!(listed(&[("deleted", "true")]), [1, 2, 3, 4]);
        assert_eq!(listed(&[("userStatus", "1")]), [1]);
        assert_eq!(listed(&[("userStatus", "1"), ("deleted", "true")]), [1, 4]);
        assert_eq!(listed(&[("userStatus", "6")]), [2, 3]);
        assert_eq!(listed(&[("userType", "4")]), [1]);
        assert_eq!(listed(&[("userType", "40")]), [2, 3]);
        assert_eq!(listed(&[("userType", "3")]), Vec::<u128>::new());
        assert_eq!(listed(&[("username", "USER00")]), [1, 2, 3]);
        assert_eq!(listed(&[("username", "er002@")]), [2]);
        assert_eq!(
            listed(&[("username", "er002@"), ("userStatus", "1")]),
            Vec::<u128>::new()
        );
    }

    #[test]
    fn sorting_is_by_the_field_then_the_id_and_descending_is_the_exact_reverse() {
        // Two users share every field but the id; names differ only in case.
        let mut users = vec![
            user(5, "bob", UserType::ACCOUNT_USER, UserStatus::ACTIVE),
            user(2, "Ada", UserType::ACCOUNT_ADMIN, UserStatus::PENDING),
            user(9, "ada", UserType::ACCOUNT_USER, UserStatus::ACTIVE),
            user(7, "Carl", UserType::DESKTOP_ADMIN, UserStatus::INACTIVE),
        ];
        users[3].create_date = users[1].create_date.clone();
        let order = |field: &str, descending: &str| {
            let params = parse(&[("sortfield", field), ("descending", descending)]).unwrap();
            ids(&page_of_users(&rows(&users), &params).data)
        };
        let expected: [(&str, Vec<u128>); 8] = [
            ("CreateDate", vec![2, 7, 5, 9]),
            ("UpdateDate", vec![9, 7, 5, 2]),
            ("Username", vec![2, 5, 7, 9]),
            ("Email", vec![2, 5, 7, 9]),
            ("FirstName", vec![2, 9, 5, 7]),
            ("LastName", vec![9, 7, 5, 2]),
            ("UserType", vec![2, 5, 9, 7]),
            ("Status", vec![5, 9, 7, 2]),
        ];
        for (field, ascending) in expected {
            assert_eq!(order(field, "false"), ascending, "{field} ascending");
            let mut descending = ascending.clone();
            descending.reverse();
            assert_eq!(order(field, "true"), descending, "{field} descending");
        }
    }

    #[test]
    fn pages_cover_every_match_once_and_past_the_end_is_empty() {
        let users: Vec<User> = (0..23)
            .map(|n| User::from(&user(n, "Same", UserType::ACCOUNT_USER, UserStatus::ACTIVE)))
            .collect();
        let mut seen = Vec::new();
        for page in 1..=5 {
            let params = parse(&[
                ("page", &page.to_string()),
                ("pagesize", "5"),
                ("sortfield", "FirstName"),
            ])
            .unwrap();
            let listed = page_of_users(&users, &params);
            assert_eq!(listed.total, 23);
            assert_eq!(listed.data.len(), if page == 5 { 3 } else { 5 });
            seen.extend(ids(&listed.data));
        }
        // FirstName ties everywhere, so the id decides, descending by default.
        assert_eq!(seen, (0..23).rev().collect::<Vec<u128>>());
        for page in ["6", "18446744073709551615"] {
            let past = page_of_users(
                &users,
                &parse(&[("page", page), ("pagesize", "1000")]).unwrap(),
            );
            assert!(past.data.is_empty());
            assert_eq!(past.total, 23);
        }
    }

    fn relation_items(owner: &UserItem) -> Vec<Item> {
        let pk = owner.pk.clone();
        let group = |id: &str, name: &str| GroupItem {
            pk: pk.clone(),
            sk: model::group_sk(id),
            kind: model::KIND_GROUP.into(),
            id: id.into(),
            name: name.into(),
            create_date: "2030-01-01T00:00:00.000Z".into(),
        };
        let resource = |kind: &str, sk: String, id: &str| ResourceItem {
            pk: pk.clone(),
            sk,
            kind: kind.into(),
            id: id.into(),
            name: format!("{id} name"),
            create_date: "2030-01-02T00:00:00.000Z".into(),
        };
        let membership = |group: &str| MembershipItem {
            pk: pk.clone(),
            sk: model::membership_sk(owner.id, group),
            kind: model::KIND_MEMBERSHIP.into(),
            id: format!("m-{group}"),
            user_id: owner.id,
            group_id: group.into(),
            create_date: "2030-01-03T00:00:00.000Z".into(),
        };
        let permission =
            |kind: &str, sk: String, project: Option<&str>, drive: Option<&str>| PermissionItem {
                pk: pk.clone(),
                sk,
                kind: kind.into(),
                id: format!("perm-{}", project.or(drive).unwrap()),
                user_id: owner.id,
                project_id: project.map(str::to_owned),
                drive_id: drive.map(str::to_owned),
                permission: "write".into(),
            };
        vec![
            to_item(&group("g-1", "Editors")).unwrap(),
            to_item(&membership("g-1")).unwrap(),
            // Its group is gone: left out.
            to_item(&membership("g-gone")).unwrap(),
            to_item(&resource(
                model::KIND_PROJECT,
                model::project_sk("p-1"),
                "p-1",
            ))
            .unwrap(),
            to_item(&permission(
                model::KIND_PROJECT_PERMISSION,
                model::project_permission_sk(owner.id, "p-1"),
                Some("p-1"),
                None,
            ))
            .unwrap(),
            to_item(&resource(model::KIND_DRIVE, model::drive_sk("d-1"), "d-1")).unwrap(),
            to_item(&permission(
                model::KIND_DRIVE_PERMISSION,
                model::drive_permission_sk(owner.id, "d-1"),
                None,
                Some("d-1"),
            ))
            .unwrap(),
        ]
    }

    #[test]
    fn details_join_each_relation_to_its_user_and_target() {
        let ada = user(1, "Ada", UserType::ACCOUNT_ADMIN, UserStatus::ACTIVE);
        let bob = user(2, "Bob", UserType::ACCOUNT_USER, UserStatus::ACTIVE);
        let mut items = vec![to_item(&ada).unwrap(), to_item(&bob).unwrap()];
        items.extend(relation_items(&ada));
        let collection = AccountItems::from_items(items).unwrap();
        let page =
            page_with_details(collection, &parse(&[("descending", "false")]).unwrap()).unwrap();
        assert_eq!(page.total, 2);
        let (first, second) = (&page.data[0], &page.data[1]);
        assert_eq!(first.id, ada.id);
        assert_eq!(first.groups.len(), 1);
        assert_eq!(first.groups[0].user, User::from(&ada));
        assert_eq!(first.groups[0].user_group.name, "Editors");
        assert_eq!(first.groups[0].user_user_group.group_id, "g-1");
        assert_eq!(first.projects_data.len(), 1);
        assert_eq!(first.projects_data[0].project.id, "p-1");
        assert_eq!(first.projects_data[0].permission.project_id, "p-1");
        assert_eq!(first.drives_data.len(), 1);
        assert_eq!(first.drives_data[0].shared_cloud_drive.name, "d-1 name");
        assert_eq!(first.drives_data[0].permission.permission, "write");
        assert!(second.groups.is_empty() && second.projects_data.is_empty());

        let json = serde_json::to_value(first).unwrap();
        assert!(json["drivesData"][0].get("sharedClouDrive").is_some());
        assert!(json["groups"][0].get("userUserGroup").is_some());
    }

    #[test]
    fn details_of_users_off_the_page_are_not_decoded() {
        let ada = user(1, "Ada", UserType::ACCOUNT_ADMIN, UserStatus::ACTIVE);
        let bob = user(2, "Bob", UserType::ACCOUNT_USER, UserStatus::ACTIVE);
        let mut items = vec![to_item(&ada).unwrap(), to_item(&bob).unwrap()];
        let mut relations = relation_items(&ada);
        // Undecodable, but it belongs to Ada, who is not on the page.
        relations[1].remove("createDate");
        items.extend(relations);
        let params = parse(&[("descending", "true"), ("pagesize", "1")]).unwrap();
        let page = page_with_details(AccountItems::from_items(items).unwrap(), &params).unwrap();
        assert_eq!(page.data[0].id, bob.id);
        assert_eq!(page.total, 2);
    }

    mod equivalence {
        //! The indexed path (rows encoded into shards, decoded, then the partial sort)
        //! answers exactly what a straightforward filter, full sort and slice of the user
        //! items answers, for random accounts and parameters.
        use super::*;
        use crate::adapters::db::list_rows;
        use proptest::prelude::*;

        const NAMES: [&str; 6] = ["ada", "Ada", "Émile", "bob", "Zoë", ""];

        fn account() -> impl Strategy<Value = Vec<UserItem>> {
            proptest::collection::vec(
                (
                    any::<u128>(),
                    0..NAMES.len(),
                    0..NAMES.len(),
                    0..7u32,
                    0..3u32,
                    any::<bool>(),
                    0..4u32,
                    0..4u32,
                    0..30u32,
                ),
                0..120,
            )
            .prop_map(|people| {
                people
                    .into_iter()
                    .enumerate()
                    .map(
                        |(n, (id, first, last, kind, status, deleted, created, updated, mail))| {
                            let mut item = user(
                                0,
                                NAMES[first],
                                UserType(1 << kind),
                                UserStatus(1 << status),
                            );
                            item.id = UserId(uuid::Uuid::from_u128(id ^ n as u128));
                            item.lastname = NAMES[last].into();
                            item.deleted = deleted;
                            item.delete_date = deleted.then(|| "2031-01-01T00:00:00.000Z".into());
                            // Few distinct dates and emails, so ties are common.
                            item.create_date = format!("2030-01-0{}T00:00:00.000Z", created + 1);
                            item.update_date = format!("2030-02-0{}T00:00:00.000Z", updated + 1);
                            item.email =
                                Email::parse(&format!("p{mail}@example.com"), "e").unwrap();
                            item.username = item.email.clone();
                            item
                        },
                    )
                    .collect()
            })
        }

        fn params() -> impl Strategy<Value = ListParams> {
            (
                1..6u64,
                1..40u64,
                0..SortField::ALL.len(),
                any::<bool>(),
                any::<bool>(),
                1..8u8,
                1..128u8,
                proptest::option::of(prop_oneof!["p1", "p2", "@example", "x", "P1"]),
            )
                .prop_map(
                    |(
                        page,
                        page_size,
                        field,
                        descending,
                        include_deleted,
                        statuses,
                        types,
                        username,
                    )| {
                        ListParams {
                            page,
                            page_size,
                            sort_field: SortField::ALL[field].0,
                            descending,
                            include_deleted,
                            statuses,
                            types,
                            username: username.map(|u| u.to_lowercase()),
                        }
                    },
                )
        }

        /// The reference: every field spelled out, a full stable sort, then a slice.
        fn reference(users: &[UserItem], params: &ListParams) -> (Vec<UserId>, usize) {
            let mut kept: Vec<&UserItem> = users
                .iter()
                .filter(|u| params.include_deleted || !u.deleted)
                .filter(|u| u.status.0 & params.statuses != 0)
                .filter(|u| u.user_type.0 & params.types != 0)
                .filter(|u| {
                    params
                        .username
                        .as_ref()
                        .is_none_or(|part| u.username.as_str().contains(part.as_str()))
                })
                .collect();
            let lower = |s: &str| s.to_lowercase();
            kept.sort_by(|a, b| {
                let by_field = match params.sort_field {
                    SortField::CreateDate => a.create_date.cmp(&b.create_date),
                    SortField::UpdateDate => a.update_date.cmp(&b.update_date),
                    SortField::Username => a.username.as_str().cmp(b.username.as_str()),
                    SortField::Email => a.email.as_str().cmp(b.email.as_str()),
                    SortField::FirstName => lower(&a.firstname).cmp(&lower(&b.firstname)),
                    SortField::LastName => lower(&a.lastname).cmp(&lower(&b.lastname)),
                    SortField::UserType => a.user_type.cmp(&b.user_type),
                    SortField::Status => a.status.cmp(&b.status),
                };
                let order = by_field.then(a.id.cmp(&b.id));
                if params.descending {
                    order.reverse()
                } else {
                    order
                }
            });
            let total = kept.len();
            let start = ((params.page - 1) * params.page_size) as usize;
            let page = kept
                .into_iter()
                .skip(start)
                .take(params.page_size as usize)
                .map(|u| u.id)
                .collect();
            (page, total)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn the_indexed_page_is_the_reference_page(users in account(), params in params()) {
                let account = AccountId(uuid::Uuid::nil());
                let mut rows = Vec::new();
                let mut sorted: Vec<crate::domain::views::User> = users.iter().map(crate::domain::views::User::from).collect();
                sorted.sort_by_key(|row| row.id);
                for chunk in sorted.chunks(7) {
                    let blob = list_rows::encode_rows(chunk);
                    rows.extend(list_rows::decode_rows(account, &blob).unwrap());
                }
                let page = page_of_users(&rows, &params);
                let (expected, total) = reference(&users, &params);
                prop_assert_eq!(page.total, total);
                prop_assert_eq!(page.data.iter().map(|u| u.id).collect::<Vec<_>>(), expected);
                for row in &page.data {
                    let item = users.iter().find(|u| u.id == row.id).unwrap();
                    prop_assert_eq!(*row, &User::from(item));
                }
            }
        }
    }
}
