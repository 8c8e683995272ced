//! Administration end to end (HTTP → gateway → handlers → moto): get_all_users,
//! get_all_users_with_details, edit_user, delete_user and audit_log, with seats, lockout,
//! Cognito failures and two accounts side by side.

use std::collections::BTreeMap;

use integration_tests::{
    failing_identity_provider, field_names, unique_email, Answer, FailSwitch, TestAccount, TestApp,
    PASSWORD, USER_FIELDS,
};
use serde_json::{json, Value};
use shared::adapters::db::model::{
    self, BillingItem, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use shared::adapters::db::{from_item, to_item, Item};
use shared::domain::{AccountId, Email, UserId, UserStatus, UserType};

use integration_tests::paths::*;

/// The eight sort fields, spelled in assorted cases (they match without regard to case).
const SORT_FIELDS: [&str; 8] = [
    "createdate",
    "UPDATEDATE",
    "Username",
    "email",
    "firstName",
    "LASTNAME",
    "usertype",
    "Status",
];

// ---------------------------------------------------------------- helpers

fn account_id(account: &TestAccount) -> AccountId {
    AccountId::parse(&account.account_id, "accountId").unwrap()
}

fn user_id(raw: &str) -> UserId {
    UserId::parse(raw, "id").unwrap()
}

/// A page of a list endpoint, asserted 200.
async fn listed(app: &TestApp, token: &str, path: &str, query: &str) -> Value {
    let answer = app.get(&format!("{path}?{query}"), Some(token)).await;
    answer.assert_ok();
    answer.json()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|row| row["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn id_strings<'a>(users: impl IntoIterator<Item = &'a UserItem>) -> Vec<String> {
    users.into_iter().map(|u| u.id.to_string()).collect()
}

/// Every user item of the account, as stored.
async fn stored_users(app: &TestApp, account: &TestAccount) -> Vec<UserItem> {
    app.stack
        .services
        .db
        .query_partition(
            model::account_pk(account_id(account)),
            Some(model::USER_SK_PREFIX),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|item| from_item(item).unwrap())
        .collect()
}

async fn stored_user(app: &TestApp, account: &TestAccount, id: &str) -> UserItem {
    app.stack
        .services
        .db
        .get_user(account_id(account), user_id(id))
        .await
        .unwrap()
        .expect("the user item")
}

async fn billing_line(app: &TestApp, account: &TestAccount, id: &str) -> BillingItem {
    app.stack
        .services
        .db
        .get(
            model::account_pk(account_id(account)),
            &model::billing_sk(user_id(id)),
        )
        .await
        .unwrap()
        .expect("the billing line")
}

async fn package(app: &TestApp, account: &TestAccount) -> Value {
    let answer = app.get(PACKAGE, Some(&account.owner_token)).await;
    answer.assert_ok();
    answer.json()
}

/// Invites `email` as `user_type` (a pending user) and returns its id.
async fn invite(app: &TestApp, account: &TestAccount, email: &str, user_type: u8) -> String {
    let answer = app
        .post(
            INSERT,
            Some(&account.owner_token),
            json!({"username": email, "email": email, "firstname": "Ivy", "lastname": "Invited", "userType": user_type}),
        )
        .await;
    answer.assert_ok();
    answer.json()["id"].as_str().unwrap().to_owned()
}

async fn edit(app: &TestApp, token: &str, id: &str, user_type: u8) -> Answer {
    app.put(EDIT, Some(token), json!({"id": id, "userType": user_type}))
        .await
}

async fn delete(app: &TestApp, token: &str, id: &str) -> Answer {
    app.delete(&format!("{DELETE}?id={id}"), Some(token)).await
}

fn small_package() -> Value {
    json!({"adminUsers": 3, "creativeUsers": 1, "standardUsers": 2, "storage": 10, "connections": 1,
           "projects": 1, "teams": 1, "drives": 1, "syncs": 1, "logs": false, "sso": false})
}

/// A user put straight into the account's collection (no invitation, no seat, no
/// Cognito user): for listings only.
#[allow(clippy::too_many_arguments)]
fn put_user(
    account: AccountId,
    key: &str,
    first: &str,
    last: &str,
    user_type: u8,
    status: u8,
    deleted: bool,
    created: u32,
    updated: u32,
) -> UserItem {
    let id = UserId::new();
    let email = Email::parse(&format!("{key}@fixture.example.com"), "email").unwrap();
    UserItem {
        firstname: first.into(),
        lastname: last.into(),
        user_type: UserType(user_type),
        status: UserStatus(status),
        deleted,
        update_date: format!("2030-02-01T00:00:{updated:02}.000Z"),
        delete_date: deleted.then(|| "2030-03-01T00:00:00.000Z".to_owned()),
        ..UserItem::pending(
            account,
            id,
            email.clone(),
            email,
            &format!("2030-01-01T00:00:{created:02}.000Z"),
        )
    }
}

/// An account whose owner is joined by people of every status and assignable type, with
/// names equal but for case, shared dates and types, and one deleted person.
struct Listing {
    app: TestApp,
    account: TestAccount,
    /// Every user of the account as stored, the owner included.
    users: Vec<UserItem>,
}

impl Listing {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let account = app.create_account(TestApp::roomy_package()).await;
        let aid = account_id(&account);
        let people = [
            put_user(aid, "alpha", "Ada", "Zeta", 4, 1, false, 1, 5),
            put_user(aid, "bravo", "ada", "young", 8, 2, false, 1, 4),
            put_user(aid, "charlie", "Bob", "Xu", 16, 4, false, 2, 4),
            put_user(aid, "delta", "ADA", "xu", 32, 1, false, 3, 3),
            put_user(aid, "echo", "carl", "Able", 64, 2, false, 3, 2),
            put_user(aid, "foxtrot", "Dora", "able", 8, 4, true, 4, 1),
            put_user(aid, "golf", "Eve", "Moss", 64, 1, false, 5, 1),
        ];
        app.put_users(&people).await;
        let users = stored_users(&app, &account).await;
        assert_eq!(users.len(), 8);
        Self {
            app,
            account,
            users,
        }
    }

    fn token(&self) -> &str {
        &self.account.owner_token
    }

    fn by_key(&self, key: &str) -> &UserItem {
        self.users
            .iter()
            .find(|u| u.username.as_str().starts_with(&format!("{key}@")))
            .unwrap()
    }

    fn ids_where(&self, keep: impl Fn(&UserItem) -> bool) -> Vec<String> {
        sorted(id_strings(self.users.iter().filter(|u| keep(u))))
    }
}

/// The order the API promises, worked out here independently: the field (names without
/// regard to case), then the id.
fn expected_order(users: &[UserItem], field: &str, descending: bool) -> Vec<String> {
    let mut keyed: Vec<((String, u8), String)> = users
        .iter()
        .map(|u| {
            let key = match field.to_lowercase().as_str() {
                "createdate" => (u.create_date.clone(), 0),
                "updatedate" => (u.update_date.clone(), 0),
                "username" => (u.username.to_string(), 0),
                "email" => (u.email.to_string(), 0),
                "firstname" => (u.firstname.to_lowercase(), 0),
                "lastname" => (u.lastname.to_lowercase(), 0),
                "usertype" => (String::new(), u.user_type.0),
                "status" => (String::new(), u.status.0),
                other => panic!("no sort field {other}"),
            };
            (key, u.id.to_string())
        })
        .collect();
    keyed.sort();
    if descending {
        keyed.reverse();
    }
    keyed.into_iter().map(|(_, id)| id).collect()
}

// ---------------------------------------------------------------- get_all_users

#[tokio::test]
async fn get_all_users_lists_live_users_newest_first_by_default() {
    let listing = Listing::new().await;
    let page = listed(&listing.app, listing.token(), LIST, "").await;
    let live: Vec<UserItem> = listing
        .users
        .iter()
        .filter(|u| !u.deleted)
        .cloned()
        .collect();
    assert_eq!(page["total"], 7);
    assert_eq!(ids_of(&page), expected_order(&live, "CreateDate", true));
    let alpha = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["username"] == "alpha@fixture.example.com")
        .unwrap();
    assert_eq!(field_names(alpha), USER_FIELDS);
    assert_eq!(alpha["deleted"], false);
    assert_eq!(alpha["userType"], 4);
}

#[tokio::test]
async fn every_status_and_type_flag_and_the_username_filter_narrow_the_list() {
    let listing = Listing::new().await;
    let list = |query: String| {
        let listing = &listing;
        async move {
            let page = listed(&listing.app, listing.token(), LIST, &query).await;
            let ids = ids_of(&page);
            assert_eq!(page["total"], ids.len(), "{query}");
            sorted(ids)
        }
    };

    for flags in 1..=7u8 {
        assert_eq!(
            list(format!("userStatus={flags}")).await,
            listing.ids_where(|u| !u.deleted && u.status.0 & flags != 0),
            "userStatus={flags}"
        );
    }
    for flags in [1u8, 2, 3, 4, 8, 16, 32, 64, 12, 96, 80, 127] {
        assert_eq!(
            list(format!("userType={flags}")).await,
            listing.ids_where(|u| !u.deleted && u.user_type.0 & flags != 0),
            "userType={flags}"
        );
    }
    assert_eq!(
        list("userStatus=2&userType=64".into()).await,
        vec![listing.by_key("echo").id.to_string()]
    );

    assert_eq!(
        list("username=ALPHA".into()).await,
        vec![listing.by_key("alpha").id.to_string()]
    );
    assert_eq!(
        list("username=Fixture.Example".into()).await,
        listing.ids_where(|u| !u.deleted && !u.owner)
    );
    assert_eq!(
        list("username=fixture&userStatus=2".into()).await,
        listing.ids_where(|u| !u.deleted && u.status == UserStatus::INACTIVE)
    );
    assert!(list("username=nobody-like-this".into()).await.is_empty());
    assert!(list("username=foxtrot".into()).await.is_empty());
    assert_eq!(
        list("username=foxtrot&deleted=true".into()).await,
        vec![listing.by_key("foxtrot").id.to_string()]
    );
}

#[tokio::test]
async fn deleted_true_includes_and_marks_the_deleted_users() {
    let listing = Listing::new().await;
    for (query, with_deleted) in [
        ("", false),
        ("deleted=false", false),
        ("deleted=TRUE", true),
        ("deleted=true&userStatus=4", true),
    ] {
        let page = listed(&listing.app, listing.token(), LIST, query).await;
        let foxtrot = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["username"] == "foxtrot@fixture.example.com");
        assert_eq!(foxtrot.is_some(), with_deleted, "{query}");
        if let Some(row) = foxtrot {
            assert_eq!(row["deleted"], true);
            assert_eq!(row["deleteDate"], "2030-03-01T00:00:00.000Z");
            assert_eq!(row["status"], 4, "a deleted user keeps its status");
        }
    }
    assert_eq!(
        listed(&listing.app, listing.token(), LIST, "deleted=true").await["total"],
        8
    );
}

#[tokio::test]
async fn every_sort_field_sorts_both_ways_with_ties_broken_by_id() {
    let listing = Listing::new().await;
    for field in SORT_FIELDS {
        for descending in [false, true] {
            let page = listed(
                &listing.app,
                listing.token(),
                LIST,
                &format!("sortfield={field}&descending={descending}&deleted=true&pagesize=1000"),
            )
            .await;
            assert_eq!(
                ids_of(&page),
                expected_order(&listing.users, field, descending),
                "{field} descending={descending}"
            );
        }
    }
    // Without `descending` the order is descending.
    let page = listed(
        &listing.app,
        listing.token(),
        LIST,
        "sortfield=FirstName&deleted=true",
    )
    .await;
    assert_eq!(
        ids_of(&page),
        expected_order(&listing.users, "FirstName", true)
    );
}

#[tokio::test]
async fn walking_the_pages_returns_every_match_once_with_the_same_total() {
    let listing = Listing::new().await;
    for field in SORT_FIELDS {
        for descending in [false, true] {
            let mut walked = Vec::new();
            for page in 1..=3 {
                let answer = listed(
                    &listing.app,
                    listing.token(),
                    LIST,
                    &format!("sortfield={field}&descending={descending}&deleted=true&pagesize=3&page={page}"),
                )
                .await;
                assert_eq!(answer["total"], 8, "{field} page {page}");
                assert_eq!(ids_of(&answer).len(), if page == 3 { 2 } else { 3 });
                walked.extend(ids_of(&answer));
            }
            assert_eq!(
                walked,
                expected_order(&listing.users, field, descending),
                "{field} descending={descending}"
            );
        }
    }
    let past = listed(
        &listing.app,
        listing.token(),
        LIST,
        "pagesize=3&page=4&deleted=true",
    )
    .await;
    assert_eq!(past, json!({"data": [], "total": 8}));
    let far = listed(&listing.app, listing.token(), DETAILS, "page=99999").await;
    assert_eq!(far, json!({"data": [], "total": 7}));
}

#[tokio::test]
async fn each_bad_list_parameter_answers_default_naming_it_and_what_is_allowed() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let long_username = "a".repeat(51);
    let cases: [(&str, &str); 16] = [
        ("page=0", "page must be a whole number of at least 1"),
        ("page=-1", "page must be a whole number of at least 1"),
        ("page=two", "page must be a whole number of at least 1"),
        ("page=1.5", "page must be a whole number of at least 1"),
        ("pagesize=0", "pagesize must be a whole number from 1 to 1000"),
        ("pagesize=1001", "pagesize must be a whole number from 1 to 1000"),
        ("pagesize=ten", "pagesize must be a whole number from 1 to 1000"),
        ("sortfield=Password", "sortfield must be one of CreateDate, UpdateDate, Username, Email, FirstName, LastName, UserType, Status"),
        ("descending=yes", "descending must be true or false"),
        ("descending=1", "descending must be true or false"),
        ("deleted=no", "deleted must be true or false"),
        ("userStatus=0", "userStatus must be a sum of UserStatus flags from 1 to 7"),
        ("userStatus=8", "userStatus must be a sum of UserStatus flags from 1 to 7"),
        ("userType=0", "userType must be a sum of UserType flags from 1 to 127"),
        ("userType=128", "userType must be a sum of UserType flags from 1 to 127"),
        ("userType=All", "userType must be a sum of UserType flags from 1 to 127"),
    ];
    for path in [LIST, DETAILS] {
        for (query, expected) in cases {
            let answer = app
                .get(&format!("{path}?{query}"), Some(&account.owner_token))
                .await;
            let message = answer.assert_problem(499, "DEFAULT");
            assert!(
                message.contains(expected),
                "{path}?{query}: {message} lacks {expected}"
            );
        }
        let answer = app
            .get(
                &format!("{path}?username={long_username}"),
                Some(&account.owner_token),
            )
            .await;
        let message = answer.assert_problem(499, "DEFAULT");
        assert!(
            message.contains("username must be at most 50 characters"),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------- details

/// Groups, a project and a drive, and memberships and permissions for some users, put
/// straight into the collection as the rest of the product would write them.
struct Relations {
    editors: String,
    colorists: String,
    project: String,
    drive: String,
}

async fn put_relations(
    app: &TestApp,
    account: AccountId,
    alpha: UserId,
    owner: UserId,
    bravo: UserId,
) -> Relations {
    let pk = model::account_pk(account);
    let ids = Relations {
        editors: uuid::Uuid::new_v4().to_string(),
        colorists: uuid::Uuid::new_v4().to_string(),
        project: uuid::Uuid::new_v4().to_string(),
        drive: uuid::Uuid::new_v4().to_string(),
    };
    let group = |id: &str, name: &str| {
        to_item(&GroupItem {
            pk: pk.clone(),
            sk: model::group_sk(id),
            kind: model::KIND_GROUP.into(),
            id: id.into(),
            name: name.into(),
            create_date: "2030-04-01T00:00:00.000Z".into(),
        })
        .unwrap()
    };
    let membership = |user: UserId, group: &str, id: &str| {
        to_item(&MembershipItem {
            pk: pk.clone(),
            sk: model::membership_sk(user, group),
            kind: model::KIND_MEMBERSHIP.into(),
            id: id.into(),
            user_id: user,
            group_id: group.into(),
            create_date: "2030-04-02T00:00:00.000Z".into(),
        })
        .unwrap()
    };
    let resource = |kind: &str, sk: String, id: &str, name: &str| {
        to_item(&ResourceItem {
            pk: pk.clone(),
            sk,
            kind: kind.into(),
            id: id.into(),
            name: name.into(),
            create_date: "2030-04-03T00:00:00.000Z".into(),
        })
        .unwrap()
    };
    let items: Vec<Item> = vec![
        group(&ids.editors, "Editors"),
        group(&ids.colorists, "Colorists"),
        membership(alpha, &ids.editors, "m-alpha-editors"),
        membership(alpha, &ids.colorists, "m-alpha-colorists"),
        membership(owner, &ids.editors, "m-owner-editors"),
        // Its group does not exist (any more): left out.
        membership(bravo, "gone-group", "m-bravo-gone"),
        resource(
            model::KIND_PROJECT,
            model::project_sk(&ids.project),
            &ids.project,
            "Feature Film",
        ),
        resource(
            model::KIND_DRIVE,
            model::drive_sk(&ids.drive),
            &ids.drive,
            "Media Drive",
        ),
        to_item(&PermissionItem {
            pk: pk.clone(),
            sk: model::project_permission_sk(alpha, &ids.project),
            kind: model::KIND_PROJECT_PERMISSION.into(),
            id: "pp-alpha".into(),
            user_id: alpha,
            project_id: Some(ids.project.clone()),
            drive_id: None,
            permission: "write".into(),
        })
        .unwrap(),
        to_item(&PermissionItem {
            pk: pk.clone(),
            sk: model::drive_permission_sk(alpha, &ids.drive),
            kind: model::KIND_DRIVE_PERMISSION.into(),
            id: "dp-alpha".into(),
            user_id: alpha,
            project_id: None,
            drive_id: Some(ids.drive.clone()),
            permission: "read".into(),
        })
        .unwrap(),
    ];
    app.put_items(items).await;
    ids
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn details_carry_each_users_groups_projects_and_drives_in_the_specified_shape() {
    let listing = Listing::new().await;
    let aid = account_id(&listing.account);
    let alpha = listing.by_key("alpha").clone();
    let owner = listing.users.iter().find(|u| u.owner).unwrap().clone();
    let bravo = listing.by_key("bravo").clone();
    let ids = put_relations(&listing.app, aid, alpha.id, owner.id, bravo.id).await;

    let page = listed(
        &listing.app,
        listing.token(),
        DETAILS,
        "sortfield=Username&descending=false",
    )
    .await;
    assert_eq!(page["total"], 7);
    let live: Vec<UserItem> = listing
        .users
        .iter()
        .filter(|u| !u.deleted)
        .cloned()
        .collect();
    assert_eq!(ids_of(&page), expected_order(&live, "Username", false));
    let row = |id: UserId| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["id"] == id.to_string())
            .unwrap()
            .clone()
    };

    let alpha_row = row(alpha.id);
    assert_eq!(
        keys(&alpha_row),
        [
            "deleted",
            "drivesData",
            "email",
            "firstname",
            "groups",
            "id",
            "lastname",
            "projectsData",
            "status",
            "userType",
            "username"
        ]
    );
    assert_eq!(alpha_row["email"], "alpha@fixture.example.com");
    assert_eq!(alpha_row["username"], "alpha@fixture.example.com");
    assert_eq!(alpha_row["firstname"], "Ada");
    assert_eq!(alpha_row["lastname"], "Zeta");
    assert_eq!(alpha_row["userType"], 4);
    assert_eq!(alpha_row["status"], 1);
    assert_eq!(alpha_row["deleted"], false);

    // The User view inside every relation is the same as Get All Users answers.
    let list_page = listed(&listing.app, listing.token(), LIST, "username=alpha").await;
    let alpha_user = list_page["data"][0].clone();

    let groups = alpha_row["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let mut group_names = Vec::new();
    for membership in groups {
        assert_eq!(keys(membership), ["user", "userGroup", "userUserGroup"]);
        assert_eq!(membership["user"], alpha_user);
        assert_eq!(keys(&membership["userGroup"]), ["createDate", "id", "name"]);
        assert_eq!(
            keys(&membership["userUserGroup"]),
            ["createDate", "groupId", "id", "userId"]
        );
        assert_eq!(membership["userUserGroup"]["userId"], alpha.id.to_string());
        assert_eq!(
            membership["userUserGroup"]["groupId"],
            membership["userGroup"]["id"]
        );
        assert_eq!(
            membership["userGroup"]["createDate"],
            "2030-04-01T00:00:00.000Z"
        );
        group_names.push(membership["userGroup"]["name"].as_str().unwrap().to_owned());
    }
    group_names.sort();
    assert_eq!(group_names, ["Colorists", "Editors"]);
    let group_ids: Vec<&str> = groups
        .iter()
        .map(|m| m["userGroup"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sorted(group_ids.iter().map(|id| id.to_string()).collect()),
        sorted(vec![ids.editors.clone(), ids.colorists.clone()])
    );

    let projects = alpha_row["projectsData"].as_array().unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(keys(&projects[0]), ["permission", "project", "user"]);
    assert_eq!(projects[0]["user"], alpha_user);
    assert_eq!(
        projects[0]["project"],
        json!({"id": ids.project, "name": "Feature Film", "createDate": "2030-04-03T00:00:00.000Z"})
    );
    assert_eq!(
        projects[0]["permission"],
        json!({"id": "pp-alpha", "userId": alpha.id.to_string(), "projectId": ids.project, "permission": "write"})
    );

    let drives = alpha_row["drivesData"].as_array().unwrap();
    assert_eq!(drives.len(), 1);
    assert_eq!(keys(&drives[0]), ["permission", "sharedClouDrive", "user"]);
    assert_eq!(drives[0]["user"], alpha_user);
    assert_eq!(
        drives[0]["sharedClouDrive"],
        json!({"id": ids.drive, "name": "Media Drive", "createDate": "2030-04-03T00:00:00.000Z"})
    );
    assert_eq!(
        drives[0]["permission"],
        json!({"id": "dp-alpha", "userId": alpha.id.to_string(), "driveId": ids.drive, "permission": "read"})
    );

    let owner_row = row(owner.id);
    assert_eq!(owner_row["groups"].as_array().unwrap().len(), 1);
    assert_eq!(
        owner_row["groups"][0]["userGroup"]["id"],
        ids.editors.as_str()
    );
    assert_eq!(
        owner_row["groups"][0]["userUserGroup"]["id"],
        "m-owner-editors"
    );
    assert_eq!(owner_row["projectsData"], json!([]));
    assert_eq!(owner_row["drivesData"], json!([]));
    // A membership of a group that does not exist is left out.
    assert_eq!(row(bravo.id)["groups"], json!([]));

    // Filters and the deleted flag work as for the plain list.
    let deleted = listed(
        &listing.app,
        listing.token(),
        DETAILS,
        "deleted=true&userStatus=4&userType=8",
    )
    .await;
    assert_eq!(deleted["total"], 1);
    assert_eq!(deleted["data"][0]["deleted"], true);
    assert_eq!(
        deleted["data"][0]["username"],
        "foxtrot@fixture.example.com"
    );
}

#[tokio::test]
async fn listing_reads_the_index_once_and_relations_only_for_the_users_on_the_page() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let pk = model::account_pk(aid);
    let group = uuid::Uuid::new_v4().to_string();
    let project = uuid::Uuid::new_v4().to_string();
    let drive = uuid::Uuid::new_v4().to_string();
    let mut items = vec![
        to_item(&GroupItem {
            pk: pk.clone(),
            sk: model::group_sk(&group),
            kind: model::KIND_GROUP.into(),
            id: group.clone(),
            name: "Everyone".into(),
            create_date: "2030-04-01T00:00:00.000Z".into(),
        })
        .unwrap(),
        to_item(&ResourceItem {
            pk: pk.clone(),
            sk: model::project_sk(&project),
            kind: model::KIND_PROJECT.into(),
            id: project.clone(),
            name: "Feature".into(),
            create_date: "2030-04-01T00:00:00.000Z".into(),
        })
        .unwrap(),
        to_item(&ResourceItem {
            pk: pk.clone(),
            sk: model::drive_sk(&drive),
            kind: model::KIND_DRIVE.into(),
            id: drive.clone(),
            name: "Media".into(),
            create_date: "2030-04-01T00:00:00.000Z".into(),
        })
        .unwrap(),
    ];
    let mut crowd = Vec::new();
    for n in 0..250u32 {
        let user = put_user(
            aid,
            &format!("crowd{n:03}"),
            "Crowd",
            "Member",
            64,
            1,
            false,
            n % 60,
            n % 60,
        );
        items.push(
            to_item(&MembershipItem {
                pk: pk.clone(),
                sk: model::membership_sk(user.id, &group),
                kind: model::KIND_MEMBERSHIP.into(),
                id: format!("m-{n}"),
                user_id: user.id,
                group_id: group.clone(),
                create_date: "2030-04-02T00:00:00.000Z".into(),
            })
            .unwrap(),
        );
        for (kind, sk, project_id, drive_id) in [
            (
                model::KIND_PROJECT_PERMISSION,
                model::project_permission_sk(user.id, &project),
                Some(project.clone()),
                None,
            ),
            (
                model::KIND_DRIVE_PERMISSION,
                model::drive_permission_sk(user.id, &drive),
                None,
                Some(drive.clone()),
            ),
        ] {
            items.push(
                to_item(&PermissionItem {
                    pk: pk.clone(),
                    sk,
                    kind: kind.into(),
                    id: format!("{kind}-{n}"),
                    user_id: user.id,
                    project_id,
                    drive_id,
                    permission: "write".into(),
                })
                .unwrap(),
            );
        }
        crowd.push(user);
    }
    app.put_items(items).await;
    app.put_users(&crowd).await;
    // The first request of a container reads the caller's identity; the rest do not.
    listed(&app, &account.owner_token, LIST, "").await;

    for path in [DETAILS, LIST] {
        let mut counts = Vec::new();
        for size in [10, 200] {
            app.stack.calls.reset();
            let page = listed(
                &app,
                &account.owner_token,
                path,
                &format!("pagesize={size}&userType=64"),
            )
            .await;
            counts.push(app.stack.calls.by_operation());
            assert_eq!(page["total"], 250);
            let rows = page["data"].as_array().unwrap();
            assert_eq!(rows.len(), size);
            if path == DETAILS {
                for row in rows {
                    assert_eq!(row["groups"].as_array().unwrap().len(), 1);
                    assert_eq!(row["projectsData"].as_array().unwrap().len(), 1);
                    assert_eq!(row["drivesData"].as_array().unwrap().len(), 1);
                }
            }
        }
        // The caller's record and account (the identity is known by then), the list
        // index; With Details adds the groups, projects and drives, and one Query per
        // user on the page for that user's relations. Nothing else grows with the page.
        for (size, calls) in [10, 200].into_iter().zip(&counts) {
            assert_eq!(calls.get("BatchGetItem"), Some(&1), "{path}: {calls:?}");
            assert_eq!(calls.get("GetItem"), None, "{path}: {calls:?}");
            let queries = if path == DETAILS { 1 + 3 + size } else { 1 };
            assert_eq!(calls.get("Query"), Some(&queries), "{path}: {calls:?}");
            assert_eq!(calls.len(), 2, "{path}: {calls:?}");
        }
    }
}

// ---------------------------------------------------------------- edit_user

#[tokio::test]
async fn edit_user_moves_the_seat_between_kinds_with_the_billing_line() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("retyped");
    let id = invite(&app, &account, &email, 64).await;
    let before = package(&app, &account).await;
    assert_eq!(
        (
            before["adminUsers"].as_i64(),
            before["creativeUsers"].as_i64(),
            before["standardUsers"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );

    // standard → creative: the seat moves.
    let answer = edit(&app, &account.owner_token, &id, 32).await;
    answer.assert_ok();
    let user = answer.json();
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["userType"], 32);
    assert_eq!(user["status"], 4);
    assert_eq!(user["username"], email.as_str());
    assert_ne!(user["updateDate"], user["createDate"]);
    let after = package(&app, &account).await;
    assert_eq!(
        (
            after["adminUsers"].as_i64(),
            after["creativeUsers"].as_i64(),
            after["standardUsers"].as_i64()
        ),
        (Some(2), Some(0), Some(2))
    );
    let line = billing_line(&app, &account, &id).await;
    assert_eq!(line.seat, shared::domain::Seat::Creative);
    assert_eq!(line.user_type, UserType::DESKTOP_CREATIVE_USER);
    assert_eq!(line.status, "active");
    assert_eq!(
        stored_user(&app, &account, &id).await.user_type,
        UserType(32)
    );

    // creative → admin (DesktopAdmin), then → AccountAdmin: same kind, no seat moves.
    edit(&app, &account.owner_token, &id, 16).await.assert_ok();
    let admin = package(&app, &account).await;
    assert_eq!(
        (
            admin["adminUsers"].as_i64(),
            admin["creativeUsers"].as_i64(),
            admin["standardUsers"].as_i64()
        ),
        (Some(1), Some(1), Some(2))
    );
    edit(&app, &account.owner_token, &id, 4).await.assert_ok();
    assert_eq!(package(&app, &account).await, admin);
    assert_eq!(
        billing_line(&app, &account, &id).await.user_type,
        UserType::ACCOUNT_ADMIN
    );

    // The type it already has: 200, nothing changes.
    let unchanged = edit(&app, &account.owner_token, &id, 4).await;
    unchanged.assert_ok();
    assert_eq!(unchanged.json()["userType"], 4);
    assert_eq!(package(&app, &account).await, admin);

    // The list shows the new type.
    let page = listed(&app, &account.owner_token, LIST, "userType=4").await;
    assert!(ids_of(&page).contains(&id));
}

#[tokio::test]
async fn edit_user_without_a_seat_of_the_new_kind_answers_cost_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let standard = invite(&app, &account, &unique_email("standard"), 64).await;
    invite(&app, &account, &unique_email("creative"), 32).await; // the only creative seat
    let before = package(&app, &account).await;
    let line_before = billing_line(&app, &account, &standard).await;
    let user_before = stored_user(&app, &account, &standard).await;

    let message = edit(&app, &account.owner_token, &standard, 32)
        .await
        .assert_problem(499, "COST");
    assert!(message.contains("creative"), "{message}");
    assert_eq!(package(&app, &account).await, before);
    assert_eq!(billing_line(&app, &account, &standard).await, line_before);
    assert_eq!(stored_user(&app, &account, &standard).await, user_before);
}

#[tokio::test]
async fn edit_user_refuses_the_owner_unknown_deleted_and_malformed_requests() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = &account.owner_token;

    let message = edit(&app, token, &account.owner_id, 8)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("owner"), "{message}");
    edit(&app, token, &account.owner_id, 4)
        .await
        .assert_problem(499, "ACCESS");
    let (_, admin_token) = app
        .add_active_user(&account, &unique_email("admin"), 16)
        .await;
    edit(&app, &admin_token, &account.owner_id, 16)
        .await
        .assert_problem(499, "ACCESS");

    let unknown = UserId::new().to_string();
    edit(&app, token, &unknown, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    let gone = invite(&app, &account, &unique_email("gone"), 8).await;
    delete(&app, token, &gone).await.assert_ok();
    edit(&app, token, &gone, 64)
        .await
        .assert_problem(499, "NOT_FOUND");

    let target = invite(&app, &account, &unique_email("target"), 8).await;
    let message = edit(&app, token, "not-a-uuid", 8)
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id must be a UUID"), "{message}");
    for bad_type in [0, 1, 2, 3, 12, 127, 128] {
        let message = edit(&app, token, &target, bad_type)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(
            message.contains("userType must be exactly one of"),
            "{message}"
        );
    }
    for body in [
        json!({"id": target}),
        json!({"userType": 8}),
        json!({"id": 42, "userType": 8}),
        json!({"id": target, "userType": "8"}),
    ] {
        app.put(EDIT, Some(token), body)
            .await
            .assert_problem(499, "DEFAULT");
    }
    app.request_raw(reqwest::Method::PUT, EDIT, Some(token), "{not json")
        .await
        .assert_problem(499, "DEFAULT");
    assert_eq!(
        stored_user(&app, &account, &target).await.user_type,
        UserType(8)
    );
}

// ---------------------------------------------------------------- delete_user

#[tokio::test]
async fn delete_user_frees_the_seat_hides_the_user_and_lists_them_with_deleted_true() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("leaver");
    let (id, _) = app.add_active_user(&account, &email, 32).await;
    assert_eq!(package(&app, &account).await["creativeUsers"], 0);

    let answer = delete(&app, &account.owner_token, &id).await;
    answer.assert_ok();
    assert!(answer.text.is_empty(), "an empty body: {}", answer.text);

    let after = package(&app, &account).await;
    assert_eq!(after["creativeUsers"], 1);
    assert!(!ids_of(&listed(&app, &account.owner_token, LIST, "").await).contains(&id));
    assert!(!ids_of(&listed(&app, &account.owner_token, DETAILS, "").await).contains(&id));
    let with_deleted = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    let row = with_deleted["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["id"] == id.as_str())
        .expect("listed with deleted=true")
        .clone();
    assert_eq!(row["deleted"], true);
    assert_eq!(row["status"], 1, "the status is kept");
    let delete_date = row["deleteDate"].as_str().expect("a deleteDate").to_owned();

    let line = billing_line(&app, &account, &id).await;
    assert_eq!(line.status, "unsubscribed");
    assert_eq!(line.end_date.as_deref(), Some(delete_date.as_str()));
    let claim: Option<Value> = app
        .stack
        .services
        .db
        .get::<Value>(
            model::username_pk(&Email::parse(&email, "email").unwrap()),
            model::USERNAME_SK,
        )
        .await
        .unwrap();
    assert!(claim.is_none(), "the username is released");

    // Deleting again: 200, nothing changes (no second seat freed).
    let stored = stored_user(&app, &account, &id).await;
    delete(&app, &account.owner_token, &id).await.assert_ok();
    assert_eq!(stored_user(&app, &account, &id).await, stored);
    assert_eq!(package(&app, &account).await, after);
    assert_eq!(billing_line(&app, &account, &id).await, line);
}

#[tokio::test]
async fn delete_user_refuses_the_owner_and_the_caller_themselves() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (admin_id, admin_token) = app
        .add_active_user(&account, &unique_email("admin"), 4)
        .await;

    let message = delete(&app, &admin_token, &account.owner_id)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("owner"), "{message}");
    let message = delete(&app, &admin_token, &admin_id)
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("yourself"), "{message}");
    delete(&app, &account.owner_token, &account.owner_id)
        .await
        .assert_problem(499, "ACCESS");
    app.get(USERINFO, Some(&admin_token)).await.assert_ok();
    app.get(USERINFO, Some(&account.owner_token))
        .await
        .assert_ok();

    delete(&app, &account.owner_token, &UserId::new().to_string())
        .await
        .assert_problem(499, "NOT_FOUND");
    let message = delete(&app, &account.owner_token, "12345")
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id must be a UUID"), "{message}");
    let message = app
        .delete(DELETE, Some(&account.owner_token))
        .await
        .assert_problem(499, "DEFAULT");
    assert!(message.contains("id is required"), "{message}");
}

#[tokio::test]
async fn a_deleted_user_is_locked_out_at_once_and_the_address_can_be_invited_again() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("locked.out");
    let (old_id, old_token) = app.add_active_user(&account, &email, 16).await;
    app.get(USERINFO, Some(&old_token)).await.assert_ok();
    app.get(LIST, Some(&old_token)).await.assert_ok();

    delete(&app, &account.owner_token, &old_id)
        .await
        .assert_ok();

    // The access token has not expired, yet nothing answers it any more.
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
    assert_eq!(app.get(LIST, Some(&old_token)).await.status, 401);
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 401);

    // The same address is a new person now.
    let new_id = invite(&app, &account, &email, 32).await;
    assert_ne!(new_id, old_id);
    app.sign_up(&email, "Newly", "Invited").await.assert_ok();
    let new_token = app.login(&email, PASSWORD).await;
    let info = app.get(USERINFO, Some(&new_token)).await;
    info.assert_ok();
    assert_eq!(info.json()["userId"], new_id.as_str());
    assert_eq!(info.json()["firstname"], "Newly");
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
}

#[tokio::test]
async fn deleting_a_pending_user_kills_their_invitation() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("pending");
    let id = invite(&app, &account, &email, 64).await;
    let token = app.latest_signup_token(&email).await;
    app.get(&format!("{SIGNUP_INFO}?token={token}"), None)
        .await
        .assert_ok();
    assert_eq!(package(&app, &account).await["standardUsers"], 1);

    delete(&app, &account.owner_token, &id).await.assert_ok();

    app.get(&format!("{SIGNUP_INFO}?token={token}"), None)
        .await
        .assert_problem(499, "TOKEN");
    app.post(
        SIGNUP,
        None,
        json!({"firstname": "Late", "lastname": "Comer", "password": PASSWORD, "token": token}),
    )
    .await
    .assert_problem(499, "TOKEN");
    assert_eq!(package(&app, &account).await["standardUsers"], 2);
    let token_item: Option<Value> = app
        .stack
        .services
        .db
        .get(
            model::token_pk(&shared::domain::token::hash(&token)),
            model::TOKEN_SK,
        )
        .await
        .unwrap();
    assert!(token_item.is_none(), "the token item is gone");
    assert_eq!(stored_user(&app, &account, &id).await.token_hash, None);
    // The resend path finds no pending user either.
    assert_eq!(
        app.post(
            "/api/v1/user/resend_user_email",
            None,
            json!({"username": email})
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn a_cognito_failure_during_delete_leaves_the_delete_done_and_a_retry_finishes_it() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(
        |_| {},
        |services| failing_identity_provider(services, &["delete_user"], &switch),
    )
    .await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("half.deleted");
    let (id, token) = app.add_active_user(&account, &email, 32).await;

    switch.on();
    let message = delete(&app, &account.owner_token, &id)
        .await
        .assert_problem(499, "COGNITO");
    assert!(message.contains("again"), "{message}");
    // The database side is complete: deleted, seat free, token refused.
    assert!(stored_user(&app, &account, &id).await.deleted);
    assert_eq!(package(&app, &account).await["creativeUsers"], 1);
    assert_eq!(app.get(USERINFO, Some(&token)).await.status, 401);
    // Only the Cognito user is left.
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 200);

    switch.off();
    delete(&app, &account.owner_token, &id).await.assert_ok();
    assert_eq!(app.login_answer(&email, PASSWORD).await.status, 401);
    assert_eq!(package(&app, &account).await["creativeUsers"], 1);
    // Retrying once more finds nothing left to do.
    delete(&app, &account.owner_token, &id).await.assert_ok();

    invite(&app, &account, &email, 32).await;
    app.sign_up(&email, "Second", "Life").await.assert_ok();
    app.login(&email, PASSWORD).await;
}

// ---------------------------------------------------------------- access and accounts

#[tokio::test]
async fn no_endpoint_here_reaches_into_another_account() {
    let app = TestApp::spawn().await;
    let ours = app.create_account(TestApp::roomy_package()).await;
    let theirs = app.create_account(TestApp::roomy_package()).await;
    let our_user = invite(&app, &ours, &unique_email("ours"), 32).await;
    let their_user = invite(&app, &theirs, &unique_email("theirs"), 32).await;
    let their_before = stored_user(&app, &theirs, &their_user).await;

    for path in [LIST, DETAILS] {
        let page = listed(&app, &ours.owner_token, path, "deleted=true&pagesize=1000").await;
        assert_eq!(
            sorted(ids_of(&page)),
            sorted(vec![ours.owner_id.clone(), our_user.clone()]),
            "{path}"
        );
        assert_eq!(page["total"], 2);
        let page = listed(&app, &theirs.owner_token, path, "deleted=true").await;
        assert_eq!(
            sorted(ids_of(&page)),
            sorted(vec![theirs.owner_id.clone(), their_user.clone()]),
            "{path}"
        );
    }

    // Another account's id answers exactly as an unknown one.
    let unknown = UserId::new().to_string();
    let not_found = edit(&app, &ours.owner_token, &unknown, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    let foreign = edit(&app, &ours.owner_token, &their_user, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign, not_found);
    let foreign_owner = edit(&app, &ours.owner_token, &theirs.owner_id, 8)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign_owner, not_found);
    let not_found = delete(&app, &ours.owner_token, &unknown)
        .await
        .assert_problem(499, "NOT_FOUND");
    let foreign = delete(&app, &ours.owner_token, &their_user)
        .await
        .assert_problem(499, "NOT_FOUND");
    assert_eq!(foreign, not_found);
    delete(&app, &ours.owner_token, &theirs.owner_id)
        .await
        .assert_problem(499, "NOT_FOUND");

    assert_eq!(stored_user(&app, &theirs, &their_user).await, their_before);
    assert_eq!(package(&app, &theirs).await["creativeUsers"], 19);
    let their_list = listed(&app, &theirs.owner_token, LIST, "").await;
    assert!(ids_of(&their_list).contains(&their_user));
}

#[tokio::test]
async fn only_admins_may_use_any_of_the_four() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let target = invite(&app, &account, &unique_email("target"), 64).await;
    let (_, user_token) = app
        .add_active_user(&account, &unique_email("plain"), 8)
        .await;

    for path in [LIST, DETAILS] {
        let message = app
            .get(path, Some(&user_token))
            .await
            .assert_problem(499, "ACCESS");
        assert!(message.contains("administrators"), "{message}");
    }
    edit(&app, &user_token, &target, 32)
        .await
        .assert_problem(499, "ACCESS");
    delete(&app, &user_token, &target)
        .await
        .assert_problem(499, "ACCESS");
    let stored = stored_user(&app, &account, &target).await;
    assert_eq!((stored.user_type, stored.deleted), (UserType(64), false));

    // A DesktopAdmin is an admin.
    let (_, desktop_admin) = app
        .add_active_user(&account, &unique_email("desk"), 16)
        .await;
    listed(&app, &desktop_admin, LIST, "").await;
    listed(&app, &desktop_admin, DETAILS, "").await;
    edit(&app, &desktop_admin, &target, 32).await.assert_ok();
    delete(&app, &desktop_admin, &target).await.assert_ok();

    // Without a token the gateway answers 401 before any handler.
    assert_eq!(app.get(LIST, None).await.status, 401);
    assert_eq!(app.get(DETAILS, None).await.status, 401);
    assert_eq!(
        app.put(EDIT, None, json!({"id": target, "userType": 8}))
            .await
            .status,
        401
    );
    assert_eq!(
        app.delete(&format!("{DELETE}?id={target}"), None)
            .await
            .status,
        401
    );
}

// ---------------------------------------------------------------- migration

/// What the lists answer an account's owner for a few queries, both lists: compared
/// before and after a migration.
async fn migration_answers(app: &TestApp, token: &str) -> Vec<Value> {
    let queries = [
        "",
        "deleted=true&sortfield=lastname&descending=false&pagesize=3&page=2",
        "username=a&userStatus=5",
    ];
    let mut answers = Vec::new();
    for path in [LIST, DETAILS] {
        for query in queries {
            answers.push(listed(app, token, path, query).await);
        }
    }
    answers
}

/// The keys the previous version gave relations (`MEMBER#`, `PPERM#`, `DPERM#` + user id).
fn legacy_sk(sk: &str) -> String {
    let rest = sk.strip_prefix("REL#").expect("a relation under its user");
    let (user, relation) = rest.split_once('#').unwrap();
    let (kind, target) = relation.split_once('#').unwrap();
    format!("{kind}#{user}#{target}")
}

/// Rewrites an account as the previous version left it: relations under their old keys,
/// no list index, the account not marked indexed.
async fn age_to_the_previous_layout(app: &TestApp, account: AccountId) {
    let db = &app.stack.services.db;
    let dynamodb = app.dynamodb_client();
    let items = db
        .query_partition(model::account_pk(account), None)
        .await
        .unwrap();
    let mut legacy = Vec::new();
    for item in items {
        let sk = match item.get("sk") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => sk.clone(),
            _ => panic!("an item without sk"),
        };
        if !(sk.starts_with("REL#") || sk.starts_with(model::ROWS_SK_PREFIX)) {
            continue;
        }
        dynamodb
            .delete_item()
            .table_name(db.table())
            .set_key(Some(shared::adapters::db::key(
                model::account_pk(account),
                &sk,
            )))
            .send()
            .await
            .unwrap();
        if sk.starts_with("REL#") {
            let mut old = item.clone();
            old.insert("sk".into(), shared::adapters::db::s(legacy_sk(&sk)));
            legacy.push(old);
        }
    }
    app.put_items(legacy).await;
    dynamodb
        .update_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(
            model::account_pk(account),
            model::ACCOUNT_SK,
        )))
        .update_expression("REMOVE listLeaves")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_migration_brings_an_account_of_the_previous_layout_to_the_index_with_the_same_answers()
{
    let listing = Listing::new().await;
    let aid = account_id(&listing.account);
    let alpha = listing.by_key("alpha").clone();
    let owner = listing.users.iter().find(|u| u.owner).unwrap().clone();
    let bravo = listing.by_key("bravo").clone();
    put_relations(&listing.app, aid, alpha.id, owner.id, bravo.id).await;
    let app = &listing.app;
    let token = listing.token();
    let indexed = migration_answers(app, token).await;

    age_to_the_previous_layout(app, aid).await;
    let db = &app.stack.services.db;
    let old_keys = |items: &[Item]| {
        items
            .iter()
            .filter(|item| {
                matches!(item.get("sk"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk))
                    if sk.starts_with("MEMBER#") || sk.starts_with("PPERM#") || sk.starts_with("DPERM#"))
            })
            .count()
    };
    let collection = db
        .query_partition(model::account_pk(aid), None)
        .await
        .unwrap();
    assert_eq!(old_keys(&collection), 6, "the previous layout");
    // The previous layout still lists the same, from the user items.
    let unindexed = migration_answers(app, token).await;
    assert_eq!(unindexed, indexed);

    let first = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(first.relations_moved, 6);
    assert!(first.leaves_written >= 1);
    assert_eq!(first.accounts_marked, 1);
    // Again: nothing left to do.
    let second = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(
        (
            second.relations_moved,
            second.leaves_written,
            second.accounts_marked
        ),
        (0, 0, 0)
    );
    assert!(shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap()
        .is_empty());
    let collection = db
        .query_partition(model::account_pk(aid), None)
        .await
        .unwrap();
    assert_eq!(old_keys(&collection), 0);

    let migrated = migration_answers(app, token).await;
    assert_eq!(migrated, indexed);
}

#[tokio::test]
async fn every_write_of_a_user_keeps_the_list_index_equal_to_the_user_items() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let kept = invite(&app, &account, &unique_email("kept"), 64).await;
    let retyped = invite(&app, &account, &unique_email("retyped"), 64).await;
    let deleted = invite(&app, &account, &unique_email("deleted"), 8).await;
    let (_, active) = app
        .add_active_user(&account, &unique_email("active"), 8)
        .await;
    edit(&app, &account.owner_token, &retyped, 32)
        .await
        .assert_ok();
    app.delete(
        &format!("{DELETE}?id={deleted}"),
        Some(&account.owner_token),
    )
    .await
    .assert_ok();
    app.put(
        UPDATE_USER,
        Some(&active),
        json!({"firstName": "Renamed", "lastName": "Person", "accountName": "Test Studio"}),
    )
    .await
    .assert_ok();
    let db = &app.stack.services.db;
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let page = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    assert_eq!(page["total"], 5, "{page}");
    assert!(ids_of(&page).contains(&kept));
}

// ---------------------------------------------------------------- repeated parameters

#[tokio::test]
async fn a_query_parameter_given_twice_with_different_values_answers_default_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let token = Some(account.owner_token.as_str());
    let someone = invite(&app, &account, &unique_email("kept"), 64).await;
    let other = uuid::Uuid::new_v4();
    for path in [
        format!("{LIST}?pagesize=1&pagesize=2"),
        format!("{DETAILS}?page=1&Page=2"),
        format!("{DELETE}?id={other}&id={someone}"),
    ] {
        let answer = if path.starts_with(DELETE) {
            app.delete(&path, token).await
        } else {
            app.get(&path, token).await
        };
        let message = answer.assert_problem(499, "DEFAULT");
        assert!(message.contains("more than once"), "{path}: {message}");
    }
    let answer = app
        .get(&format!("{SIGNUP_INFO}?token=bogus&token=other"), None)
        .await;
    assert!(answer
        .assert_problem(499, "DEFAULT")
        .contains("more than once"));
    // The user named second was not deleted.
    let page = listed(&app, &account.owner_token, LIST, "").await;
    assert!(ids_of(&page).contains(&someone));
    // The same value twice is one parameter.
    let page = listed(&app, &account.owner_token, LIST, "pagesize=1&PageSize=1").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------- concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_retypes_of_one_user_never_answer_500_and_leave_the_seats_exact() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = app.create_account(TestApp::roomy_package()).await;
    let id = invite(&app, &account, &unique_email("busy"), 64).await;
    let types = [32u8, 64, 8, 16, 4];
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..30 {
        let (app, token, id) = (app.clone(), account.owner_token.clone(), id.clone());
        tasks.spawn(async move { edit(&app, &token, &id, types[n % types.len()]).await });
    }
    let mut retyped = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.expect("request task");
        match answer.status.as_u16() {
            200 => retyped += 1,
            429 => assert_eq!(
                answer
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            ),
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert!(retyped >= 1);

    // Every seat counter equals the live users of its kind (the owner is an admin).
    let page = listed(&app, &account.owner_token, LIST, "pagesize=1000").await;
    let users = page["data"].as_array().unwrap();
    let of_kind = |kinds: &[u64]| {
        users
            .iter()
            .filter(|u| kinds.contains(&u["userType"].as_u64().unwrap()))
            .count() as i64
    };
    let left = package(&app, &account).await;
    assert_eq!(left["adminUsers"].as_i64(), Some(20 - of_kind(&[4, 16])));
    assert_eq!(left["creativeUsers"].as_i64(), Some(20 - of_kind(&[32])));
    assert_eq!(left["standardUsers"].as_i64(), Some(20 - of_kind(&[8, 64])));
    assert!(shared::adapters::db::migration::check_account(
        &app.stack.services.db,
        account_id(&account)
    )
    .await
    .unwrap()
    .is_empty());
}

#[tokio::test]
async fn a_delete_whose_cognito_step_failed_is_finished_by_the_next_signup_of_the_address() {
    let switch = FailSwitch::default();
    let app = TestApp::spawn_with(
        |_| {},
        |services| failing_identity_provider(services, &["delete_user"], &switch),
    )
    .await;
    let account = app.create_account(small_package()).await;
    let email = unique_email("left.behind");
    let (old_id, old_token) = app.add_active_user(&account, &email, 32).await;

    switch.on();
    delete(&app, &account.owner_token, &old_id)
        .await
        .assert_problem(499, "COGNITO");
    switch.off();
    // Nobody repeats the DELETE: the address is invited again and signs up.
    let new_id = invite(&app, &account, &email, 32).await;
    app.sign_up(&email, "Second", "Life").await.assert_ok();
    let new_token = app.login(&email, PASSWORD).await;
    let me = app.get(USERINFO, Some(&new_token)).await;
    me.assert_ok();
    assert_eq!(me.json()["userId"], new_id.as_str());
    // The old identity is gone: its token is refused, and signing in reaches the new one.
    assert_eq!(app.get(USERINFO, Some(&old_token)).await.status, 401);
    assert_ne!(new_id, old_id);
}

#[tokio::test]
async fn inviting_and_deleting_one_address_in_a_loop_is_bounded_per_hour() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let email = unique_email("looped");
    let body = json!({"username": email, "email": email, "firstname": "Lo", "lastname": "Op", "userType": 64});
    // The default bound: five invitation emails per address and hour.
    for _ in 0..5 {
        let answer = app
            .post(INSERT, Some(&account.owner_token), body.clone())
            .await;
        answer.assert_ok();
        let id = answer.json()["id"].as_str().unwrap().to_owned();
        delete(&app, &account.owner_token, &id).await.assert_ok();
    }
    let refused = app
        .post(INSERT, Some(&account.owner_token), body.clone())
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    let wait: u64 = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    // Nothing was created by the refused invitation, and other addresses still work.
    let page = listed(&app, &account.owner_token, LIST, "deleted=true").await;
    assert_eq!(page["total"], 6, "the owner and five deleted: {page}");
    invite(&app, &account, &unique_email("other"), 64).await;
    assert_eq!(app.outbox_for(&email).await.len(), 5);
}

// ---------------------------------------------------------------- audit_log

use chrono::{DateTime, Duration, Utc};
use shared::features::audit::{Action, AuditRecord, Entry, Origin};

/// The account's audit log for `query`, as `token` asks for it.
async fn audit_log(app: &TestApp, token: &str, query: &str) -> Answer {
    app.get(&format!("{AUDIT_LOG}?{query}"), Some(token)).await
}

/// A page of the audit log, asserted 200.
async fn logged(app: &TestApp, token: &str, query: &str) -> Value {
    let answer = audit_log(app, token, query).await;
    answer.assert_ok();
    answer.json()
}

fn iso(at: DateTime<Utc>) -> String {
    shared::domain::clock::iso(at)
}

/// The record of `action` by `actor` about `target` at `at`, with one changed field.
fn log_record(
    account: AccountId,
    action: Action,
    actor: Option<UserId>,
    target: Option<UserId>,
    at: DateTime<Utc>,
) -> AuditRecord {
    AuditRecord::new(
        account,
        Entry::new(action, actor, target).field("firstname", "Ann", "Anna"),
        &Origin::default(),
        at,
    )
}

/// Puts `records` into the table as their transactions would leave them (records, user
/// copies and day counters), whatever the write endpoints record themselves.
async fn seed_log(app: &TestApp, records: &[AuditRecord]) {
    let retention = app.stack.services.db.audit_retention();
    app.put_items(shared::adapters::db::audit_records::items_of(records, retention).unwrap())
        .await;
}

fn record_ids<'a>(records: impl IntoIterator<Item = &'a AuditRecord>) -> Vec<String> {
    records.into_iter().map(|r| r.id.clone()).collect()
}

/// An account with seven records over three days, twenty days ago: all of them before
/// any record the test's own requests make, so `window` lists exactly these.
struct AuditLog {
    app: TestApp,
    account: TestAccount,
    /// Oldest first.
    records: Vec<AuditRecord>,
    alice: UserId,
    bob: UserId,
    /// `to=` the end of the third day.
    window: String,
}

impl AuditLog {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let account = app.create_account(TestApp::roomy_package()).await;
        let aid = account_id(&account);
        let owner = Some(user_id(&account.owner_id));
        let (alice, bob) = (UserId::new(), UserId::new());
        let day = (shared::domain::clock::now() - Duration::days(20))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        let hours = |h: i64| day + Duration::hours(h);
        let mut records = vec![
            log_record(aid, Action::UserInvited, owner, Some(alice), hours(1)),
            log_record(aid, Action::UserUpdated, owner, Some(alice), hours(5)),
            log_record(aid, Action::TypeChanged, owner, Some(bob), hours(24 + 2)),
            log_record(aid, Action::UserUpdated, owner, Some(bob), hours(24 + 3)),
            log_record(
                aid,
                Action::AccountRenamed,
                owner,
                None,
                hours(48) - Duration::milliseconds(1),
            ),
            log_record(
                aid,
                Action::UserUpdated,
                Some(alice),
                Some(alice),
                hours(48),
            ),
        ];
        records.push(AuditRecord::new(
            aid,
            Entry::new(Action::UserDeleted, owner, Some(bob)).field("deleted", false, true),
            &Origin {
                source_ip: Some("203.0.113.10".into()),
                user_agent: Some("audit-test/1.0".into()),
                request_id: Some("request-7".into()),
            },
            hours(48 + 12),
        ));
        seed_log(&app, &records).await;
        Self {
            app,
            account,
            records,
            alice,
            bob,
            window: format!("to={}", iso(hours(72))),
        }
    }

    async fn page(&self, query: &str) -> Value {
        logged(
            &self.app,
            &self.account.owner_token,
            &format!("{}&{query}", self.window),
        )
        .await
    }

    /// The ids of the records `keep` selects, newest first.
    fn newest_first(&self, keep: impl Fn(usize, &AuditRecord) -> bool) -> Vec<String> {
        record_ids(
            self.records
                .iter()
                .enumerate()
                .filter(|(i, r)| keep(*i, r))
                .map(|(_, r)| r)
                .rev(),
        )
    }
}

#[tokio::test]
async fn the_audit_log_lists_the_accounts_records_newest_first_with_every_field() {
    let log = AuditLog::new().await;
    let page = log.page("pagesize=100").await;
    assert_eq!(page["total"], 7, "{page}");
    assert_eq!(ids_of(&page), log.newest_first(|_, _| true));

    let newest = &page["data"][0];
    assert_eq!(
        field_names(newest),
        [
            "accountId",
            "action",
            "actorId",
            "changes",
            "id",
            "requestId",
            "sourceIp",
            "targetId",
            "time",
            "userAgent"
        ]
    );
    let deleted = &log.records[6];
    assert_eq!(newest["accountId"], log.account.account_id.as_str());
    assert_eq!(newest["action"], "user.deleted");
    assert_eq!(newest["time"], deleted.time.as_str());
    assert_eq!(newest["actorId"], log.account.owner_id.as_str());
    assert_eq!(newest["targetId"], log.bob.to_string());
    assert_eq!(
        newest["changes"],
        json!({"deleted": {"before": false, "after": true}})
    );
    assert_eq!(newest["sourceIp"], "203.0.113.10");
    assert_eq!(newest["userAgent"], "audit-test/1.0");
    assert_eq!(newest["requestId"], "request-7");
    // A record about no user (an account rename) and one without an origin.
    let renamed = &page["data"][2];
    assert_eq!(renamed["action"], "account.renamed");
    assert_eq!(renamed["targetId"], Value::Null);
    assert_eq!(renamed["sourceIp"], Value::Null);
    assert_eq!(renamed["userAgent"], Value::Null);
    assert_eq!(renamed["requestId"], Value::Null);
}

#[tokio::test]
async fn the_audit_log_pages_agree_with_each_other_and_with_the_total() {
    let log = AuditLog::new().await;
    let all = log.newest_first(|_, _| true);
    for size in [1usize, 2, 3, 7] {
        let mut seen = Vec::new();
        for page_number in 1..=(all.len() / size + 1) {
            let page = log
                .page(&format!("page={page_number}&pagesize={size}"))
                .await;
            assert_eq!(page["total"], 7, "pagesize {size}, page {page_number}");
            let ids = ids_of(&page);
            assert!(ids.len() <= size);
            seen.extend(ids);
        }
        assert_eq!(seen, all, "pagesize {size}");
    }
    // Past the end: no data, the same total.
    let beyond = log.page("page=9&pagesize=3").await;
    assert_eq!(ids_of(&beyond), Vec::<String>::new());
    assert_eq!(beyond["total"], 7);
    // Without a page size, one default page holds them all.
    assert_eq!(ids_of(&log.page("page=1").await), all);
}

#[tokio::test]
async fn the_audit_log_filters_by_the_target_user_and_by_action() {
    let log = AuditLog::new().await;
    let alice = log.page(&format!("userId={}", log.alice)).await;
    assert_eq!(alice["total"], 3);
    assert_eq!(
        ids_of(&alice),
        log.newest_first(|_, r| r.target_id == Some(log.alice))
    );
    // Bob acted in none of them, but is the target of three.
    let bob = log.page(&format!("userId={}", log.bob)).await;
    assert_eq!(
        ids_of(&bob),
        log.newest_first(|_, r| r.target_id == Some(log.bob))
    );
    let nobody = log.page(&format!("userId={}", UserId::new())).await;
    assert_eq!(nobody["total"], 0);
    assert_eq!(ids_of(&nobody), Vec::<String>::new());

    let updated = log.page("action=user.updated").await;
    assert_eq!(updated["total"], 3);
    let all_updates = log.newest_first(|_, r| r.action == Action::UserUpdated);
    assert_eq!(ids_of(&updated), all_updates);
    let second = log.page("action=user.updated&pagesize=2&page=2").await;
    assert_eq!(second["total"], 3);
    assert_eq!(ids_of(&second), all_updates[2..]);
    let none = log.page("action=user.mfa_changed").await;
    assert_eq!(none["total"], 0);

    let both = log
        .page(&format!("userId={}&action=user.updated", log.alice))
        .await;
    assert_eq!(both["total"], 2);
    assert_eq!(
        ids_of(&both),
        log.newest_first(|_, r| r.target_id == Some(log.alice) && r.action == Action::UserUpdated)
    );
    let paged = log
        .page(&format!(
            "userId={}&action=user.updated&pagesize=1&page=2",
            log.alice
        ))
        .await;
    assert_eq!(paged["total"], 2);
    assert_eq!(ids_of(&paged), [log.records[1].id.clone()]);
}

#[tokio::test]
async fn the_audit_log_from_and_to_are_inclusive_times() {
    let log = AuditLog::new().await;
    let token = &log.account.owner_token;
    let time = |i: usize| log.records[i].time.clone();
    // Both ends on a record, in the middle of a day: both are listed.
    let middle = logged(&log.app, token, &format!("from={}&to={}", time(1), time(5))).await;
    assert_eq!(middle["total"], 5);
    assert_eq!(
        ids_of(&middle),
        log.newest_first(|i, _| (1..=5).contains(&i))
    );
    // One instant.
    let one = logged(&log.app, token, &format!("from={}&to={}", time(4), time(4))).await;
    assert_eq!(ids_of(&one), [log.records[4].id.clone()]);
    assert_eq!(one["total"], 1);
    // A millisecond later, and any offset: the same instants.
    let after = DateTime::parse_from_rfc3339(&time(4)).unwrap() + Duration::milliseconds(1);
    let later = logged(
        &log.app,
        token,
        &format!(
            "from={}&to={}",
            urlencode(&after.to_rfc3339()),
            urlencode(
                &DateTime::parse_from_rfc3339(&time(5))
                    .unwrap()
                    .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
                    .to_rfc3339()
            )
        ),
    )
    .await;
    assert_eq!(ids_of(&later), [log.records[5].id.clone()]);
    // With a filter and paging inside the range.
    let filtered = logged(
        &log.app,
        token,
        &format!(
            "from={}&to={}&action=user.updated&pagesize=1&page=2",
            time(1),
            time(5)
        ),
    )
    .await;
    assert_eq!(filtered["total"], 3);
    assert_eq!(ids_of(&filtered), [log.records[3].id.clone()]);
    let alice = logged(
        &log.app,
        token,
        &format!("from={}&to={}&userId={}", time(2), time(5), log.alice),
    )
    .await;
    assert_eq!(ids_of(&alice), [log.records[5].id.clone()]);
    // Only `from`: everything since, the seeded records included.
    let since = logged(&log.app, token, &format!("from={}", time(6))).await;
    assert!(ids_of(&since).contains(&log.records[6].id), "{since}");
    assert!(!ids_of(&since).contains(&log.records[5].id), "{since}");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn the_audit_log_never_lists_records_older_than_the_retention() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let target = UserId::new();
    let now = shared::domain::clock::now();
    let retention = app.stack.services.db.audit_retention();
    assert_eq!(retention, Duration::days(400));
    let expired = log_record(
        aid,
        Action::UserUpdated,
        None,
        Some(target),
        now - retention - Duration::days(1),
    );
    let kept = log_record(
        aid,
        Action::UserUpdated,
        None,
        Some(target),
        now - retention + Duration::days(1),
    );
    seed_log(&app, &[expired.clone(), kept.clone()]).await;
    let token = &account.owner_token;
    let before_today = format!("to={}", iso(now - Duration::days(1)));
    for query in [
        before_today.clone(),
        format!("{before_today}&from={}", iso(now - Duration::days(1000))),
        format!("{before_today}&userId={target}"),
        format!("{before_today}&action=user.updated"),
    ] {
        let page = logged(&app, token, &query).await;
        assert_eq!(ids_of(&page), vec![kept.id.clone()], "{query}");
        assert_eq!(page["total"], 1, "{query}");
    }
    let only_old = logged(
        &app,
        token,
        &format!(
            "from={}&to={}",
            iso(now - Duration::days(1000)),
            iso(now - retention)
        ),
    )
    .await;
    assert_eq!(only_old["total"], 0, "{only_old}");
}

#[tokio::test]
async fn audit_log_of_a_non_admin_answers_access_and_the_refusal_is_recorded() {
    let log = AuditLog::new().await;
    let app = &log.app;
    let (user, token) = app
        .add_active_user(&log.account, &unique_email("reader"), 8)
        .await;
    let message = audit_log(app, &token, "")
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("administrators"), "{message}");
    // Refused before its parameters are looked at.
    audit_log(app, &token, "pagesize=0&action=nope")
        .await
        .assert_problem(499, "ACCESS");
    let refusals = logged(
        app,
        &log.account.owner_token,
        "action=admin.access_denied&pagesize=100",
    )
    .await;
    let by_reader: Vec<&Value> = refusals["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["actorId"] == user.as_str())
        .collect();
    assert_eq!(by_reader.len(), 2, "{refusals}");
    assert!(by_reader.iter().all(|r| r["targetId"].is_null()));
}

#[tokio::test]
async fn audit_log_of_an_account_whose_package_has_no_logs_answers_access() {
    let app = TestApp::spawn().await;
    let account = app.create_account(small_package()).await;
    assert_eq!(package(&app, &account).await["logs"], false);
    let aid = account_id(&account);
    let owner = Some(user_id(&account.owner_id));
    let at = shared::domain::clock::now() - Duration::days(2);
    seed_log(
        &app,
        &[log_record(aid, Action::UserUpdated, owner, owner, at)],
    )
    .await;
    let message = audit_log(&app, &account.owner_token, "")
        .await
        .assert_problem(499, "ACCESS");
    assert!(message.contains("logs"), "{message}");
    audit_log(&app, &account.owner_token, "pagesize=0")
        .await
        .assert_problem(499, "ACCESS");
}

#[tokio::test]
async fn another_accounts_admin_sees_none_of_the_accounts_audit_records() {
    let log = AuditLog::new().await;
    let app = &log.app;
    let other = app.create_account(TestApp::roomy_package()).await;
    let theirs = log_record(
        account_id(&other),
        Action::UserUpdated,
        None,
        Some(log.alice),
        DateTime::parse_from_rfc3339(&log.records[1].time)
            .unwrap()
            .with_timezone(&Utc),
    );
    seed_log(app, std::slice::from_ref(&theirs)).await;
    for query in [
        log.window.clone(),
        format!("{}&userId={}", log.window, log.alice),
        format!("{}&action=user.updated", log.window),
    ] {
        let page = logged(app, &other.owner_token, &query).await;
        assert_eq!(ids_of(&page), vec![theirs.id.clone()], "{query}");
        assert_eq!(page["total"], 1, "{query}");
    }
    // And the first account's admin does not see the other's record.
    let own = log.page(&format!("userId={}", log.alice)).await;
    assert_eq!(own["total"], 3);
    assert!(!ids_of(&own).contains(&theirs.id));
}

#[tokio::test]
async fn bad_audit_log_parameters_answer_default_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    for (query, name) in [
        ("pagesize=0", "pagesize"),
        ("pagesize=1001", "pagesize"),
        ("page=0", "page"),
        ("action=nope", "action"),
        ("from=yesterday", "from"),
        ("to=2026-12-01", "to"),
        ("userId=x", "userId"),
        ("userId=", "userId"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
    ] {
        let message = audit_log(&app, &account.owner_token, query)
            .await
            .assert_problem(499, "DEFAULT");
        assert!(message.contains(name), "{query}: {message}");
    }
    // Unknown parameters are left alone, as the lists do.
    audit_log(&app, &account.owner_token, "sortfield=time")
        .await
        .assert_ok();
}

#[tokio::test]
async fn audit_log_bounds_far_in_the_future_or_past_answer_what_exists() {
    let log = AuditLog::new().await;
    let token = &log.account.owner_token;
    for query in [
        "from=2200-01-01T00:00:00Z".to_owned(),
        "from=9999-12-31T23:59:59Z".to_owned(),
        format!("from=2200-01-01T00:00:00Z&userId={}", log.alice),
        "from=2200-01-01T00:00:00Z&action=user.updated".to_owned(),
        "to=1969-12-31T23:59:59Z".to_owned(),
        "from=0001-01-01T00:00:00Z&to=1970-01-01T00:00:00Z".to_owned(),
    ] {
        let page = logged(&log.app, token, &query).await;
        assert_eq!(page["total"], 0, "{query}: {page}");
    }
    let alice = log.newest_first(|_, r| r.target_id == Some(log.alice));
    for to in [
        "2300-01-01T00:00:00Z",
        "3000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let from = iso(shared::domain::clock::now() - Duration::days(30));
        for filter in [format!("userId={}", log.alice), String::new()] {
            let query = format!("from={from}&to={to}&{filter}");
            let page = logged(&log.app, token, &query).await;
            let ids = ids_of(&page);
            assert!(alice.iter().all(|id| ids.contains(id)), "{query}: {page}");
        }
    }
}

/// Rewrites an account as the layout before leaves left it: its list index in 128 shards
/// (`LIST#<00..7f>`, a user's by the first byte of their id, marked `listIndex`), and one
/// audit counter per day (`AUDITDAY#<day>`) instead of the slots and callers' counters.
async fn age_to_the_sharded_layout(app: &TestApp, account: AccountId) {
    let db = &app.stack.services.db;
    let dynamodb = app.dynamodb_client();
    let pk = model::account_pk(account);
    let items = db.query_partition(pk.clone(), None).await.unwrap();
    let mut shards: BTreeMap<u8, Vec<shared::domain::views::User>> = BTreeMap::new();
    let mut days: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for item in items {
        let sk = item["sk"].as_s().unwrap().clone();
        if sk.starts_with(model::USER_SK_PREFIX) {
            let user: UserItem = shared::adapters::db::from_item(item).unwrap();
            shards
                .entry(user.id.0.as_bytes()[0] % 128)
                .or_default()
                .push(shared::domain::views::User::from(&user));
            continue;
        }
        let counter = sk.starts_with("AUDITDAY#");
        if !(sk.starts_with(model::ROWS_SK_PREFIX) || counter) {
            continue;
        }
        if counter {
            let day = days.entry(sk[..19].to_owned()).or_default();
            for (name, value) in &item {
                if let aws_sdk_dynamodb::types::AttributeValue::N(count) = value {
                    if name == "total" || name.starts_with("n_") {
                        *day.entry(name.clone()).or_default() += count.parse::<i64>().unwrap();
                    }
                }
            }
        }
        dynamodb
            .delete_item()
            .table_name(db.table())
            .set_key(Some(shared::adapters::db::key(&pk, &sk)))
            .send()
            .await
            .unwrap();
    }
    let mut old = Vec::new();
    for (number, mut rows) in shards {
        rows.sort_by_key(|row| row.id);
        let mut shard = shared::adapters::db::key(&pk, format!("LIST#{number:02x}"));
        shard.insert("kind".into(), shared::adapters::db::s("listShard"));
        shard.insert("version".into(), shared::adapters::db::n(3));
        shard.insert("count".into(), shared::adapters::db::n(rows.len()));
        shard.insert(
            "rows".into(),
            aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                shared::adapters::db::list_rows::encode_rows(&rows),
            )),
        );
        old.push(shard);
    }
    for (sk, counts) in days {
        let mut counter = shared::adapters::db::key(&pk, sk);
        counter.insert("kind".into(), shared::adapters::db::s("auditDay"));
        for (name, count) in counts {
            counter.insert(name, shared::adapters::db::n(count));
        }
        old.push(counter);
    }
    app.put_items(old).await;
    dynamodb
        .update_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(&pk, model::ACCOUNT_SK)))
        .update_expression("REMOVE listLeaves SET listIndex = :true")
        .expression_attribute_values(":true", shared::adapters::db::b(true))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_migration_moves_an_account_of_the_sharded_layout_to_leaves_with_the_same_answers_and_log(
) {
    let listing = Listing::new().await;
    let aid = account_id(&listing.account);
    let app = &listing.app;
    let token = listing.token();
    let before = migration_answers(app, token).await;
    let log_before = app.get(AUDIT_LOG, Some(token)).await.json();

    age_to_the_sharded_layout(app, aid).await;
    let db = &app.stack.services.db;
    let count_prefix = |prefix: &'static str| async move {
        db.query_partition(model::account_pk(aid), Some(prefix))
            .await
            .unwrap()
            .len()
    };
    assert!(count_prefix(model::LIST_SK_PREFIX).await >= 1);
    assert_eq!(count_prefix(model::ROWS_SK_PREFIX).await, 0);
    // Before the migration the lists read the users, the log the old counters: the same.
    let unmigrated = migration_answers(app, token).await;
    assert_eq!(unmigrated, before);
    assert_eq!(app.get(AUDIT_LOG, Some(token)).await.json(), log_before);

    let first = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert!(first.leaves_written >= 1);
    assert_eq!(first.accounts_marked, 1);
    assert!(first.old_shards_removed >= 1);
    let second = shared::adapters::db::migration::migrate_account(db, aid)
        .await
        .unwrap();
    assert_eq!(
        (
            second.relations_moved,
            second.leaves_written,
            second.accounts_marked,
            second.old_shards_removed
        ),
        (0, 0, 0, 0),
        "a second run has nothing left to do"
    );
    assert!(shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(count_prefix(model::LIST_SK_PREFIX).await, 0);
    let migrated = migration_answers(app, token).await;
    assert_eq!(migrated, before);
    // New records count in slots beside the old day counter; the log sums both.
    app.put(
        UPDATE_USER,
        Some(token),
        json!({"accountName": "Migrated Studio", "firstName": "Mia", "lastName": "Grant"}),
    )
    .await
    .assert_ok();
    let log_after = app.get(AUDIT_LOG, Some(token)).await.json();
    assert_eq!(
        log_after["total"].as_u64().unwrap(),
        log_before["total"].as_u64().unwrap() + 2,
        "user.updated and account.renamed"
    );
}

// ---------------------------------------------------------------- the index's leaves

/// `count` fixture users of the account (user items with their rows, no Cognito user),
/// written 16 at a time through the product's own indexed write.
async fn put_users_concurrently(app: &TestApp, account: AccountId, count: usize) -> Vec<UserItem> {
    use futures_util::StreamExt;
    use shared::adapters::db::indexed::transact_indexed;
    use shared::adapters::db::list_leaves::RowChange;
    let users: Vec<UserItem> = (0..count)
        .map(|n| {
            put_user(
                account,
                &format!(
                    "leaf{n}.{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                ),
                &format!("First{n}"),
                &format!("Last{n}"),
                8,
                1,
                false,
                (n % 60) as u32,
                (n % 60) as u32,
            )
        })
        .collect();
    let db = &app.stack.services.db;
    futures_util::stream::iter(&users)
        .for_each_concurrent(16, |user| async move {
            let put =
                shared::adapters::db::tx::put(db.table(), to_item(user).unwrap(), None, vec![])
                    .unwrap();
            let row = RowChange::Put(shared::domain::views::User::from(user));
            transact_indexed(db, vec![put], user.account_id, &row, &[])
                .await
                .expect("a user written with its index row");
        })
        .await;
    users
}

async fn leaf_items(app: &TestApp, account: AccountId) -> Vec<Item> {
    app.stack
        .services
        .db
        .query_partition(model::account_pk(account), Some(model::ROWS_SK_PREFIX))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_index_that_splits_under_concurrent_writes_lists_every_user_and_no_leaf_passes_its_bound(
) {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    put_users_concurrently(&app, aid, 400).await;

    let leaves = leaf_items(&app, aid).await;
    let markers = leaves
        .iter()
        .filter(|item| shared::adapters::db::list_leaves::is_marker(item))
        .count();
    assert!(
        markers >= 1,
        "400 users split the root: {} items",
        leaves.len()
    );
    for leaf in &leaves {
        let size = shared::adapters::db::item_size(leaf);
        assert!(size <= 3 * 1024, "a leaf of {size} bytes");
    }
    let db = &app.stack.services.db;
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let listed = listed(&app, &account.owner_token, LIST, "pagesize=1000").await;
    assert_eq!(listed["total"], 401, "400 users and the owner");
}

/// An account of 200 users whose index drifted three ways.
struct DriftedIndex {
    account: TestAccount,
    /// A user written without its row, as a careless writer would.
    missing: UserItem,
    /// A row whose user item was deleted behind the index's back.
    stray: UserId,
    /// A leaf whose rows do not decode (one that holds neither of the others).
    corrupt_sk: String,
}

const CORRUPT_ROWS: [u8; 3] = [2, 0xde, 0xad];

async fn drifted_index(app: &TestApp) -> DriftedIndex {
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let users = put_users_concurrently(app, aid, 200).await;
    let db = &app.stack.services.db;

    let missing = put_user(aid, "unindexed", "Una", "Indexed", 8, 1, false, 1, 1);
    app.put_items(vec![to_item(&missing).unwrap()]).await;
    let stray = users[0].id;
    app.dynamodb_client()
        .delete_item()
        .table_name(db.table())
        .set_key(Some(shared::adapters::db::key(
            model::account_pk(aid),
            model::user_sk(stray),
        )))
        .send()
        .await
        .unwrap();
    let holds = |item: &Item, user: UserId| {
        let path = &item["sk"].as_s().unwrap()[model::ROWS_SK_PREFIX.len()..];
        shared::adapters::db::list_leaves::path_of(user, path.len()) == path
    };
    let victim = leaf_items(app, aid)
        .await
        .into_iter()
        .find(|item| {
            !shared::adapters::db::list_leaves::is_marker(item)
                && !holds(item, missing.id)
                && !holds(item, stray)
        })
        .unwrap();
    let corrupt_sk = victim["sk"].as_s().unwrap().clone();
    let mut corrupt = victim.clone();
    corrupt.insert(
        "rows".into(),
        aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            CORRUPT_ROWS.to_vec(),
        )),
    );
    app.put_items(vec![corrupt]).await;
    DriftedIndex {
        account,
        missing,
        stray,
        corrupt_sk,
    }
}

impl DriftedIndex {
    /// The lists again equal the users, and the corrupt leaf was rewritten.
    async fn assert_repaired(&self, app: &TestApp) {
        let aid = account_id(&self.account);
        assert_eq!(
            shared::adapters::db::migration::check_account(&app.stack.services.db, aid)
                .await
                .unwrap(),
            Vec::<String>::new()
        );
        let rewritten = leaf_items(app, aid)
            .await
            .into_iter()
            .find(|item| item["sk"].as_s().unwrap() == &self.corrupt_sk)
            .unwrap();
        assert_ne!(
            rewritten["rows"],
            aws_sdk_dynamodb::types::AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                CORRUPT_ROWS.to_vec()
            ))
        );
        let listed = listed(app, &self.account.owner_token, LIST, "pagesize=1000").await;
        let ids: std::collections::BTreeSet<String> = ids_of(&listed).into_iter().collect();
        assert_eq!(
            listed["total"], 201,
            "199 fixture users, the unindexed one, the owner"
        );
        assert!(ids.contains(&self.missing.id.to_string()));
        assert!(!ids.contains(&self.stray.to_string()));
    }
}

#[tokio::test]
async fn drift_in_the_index_is_found_by_the_check_and_undone_by_the_repair() {
    let app = TestApp::spawn().await;
    let drifted = drifted_index(&app).await;
    let aid = account_id(&drifted.account);
    let db = &app.stack.services.db;

    let problems = shared::adapters::db::migration::check_account(db, aid)
        .await
        .unwrap();
    let found = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        found(&format!("user {}: not in the index", drifted.missing.id)),
        "{problems:#?}"
    );
    assert!(
        found(&format!("index row {}: no such user", drifted.stray)),
        "{problems:#?}"
    );
    assert!(found("unreadable"), "{problems:#?}");
    assert_eq!(
        app.get(LIST, Some(&drifted.account.owner_token))
            .await
            .status,
        500,
        "a leaf that does not decode is an error, never a wrong list"
    );

    let written = shared::adapters::db::migration::repair_account(db, aid)
        .await
        .unwrap();
    assert!(written >= 2, "{written} leaf writes");
    assert_eq!(
        shared::adapters::db::migration::repair_account(db, aid)
            .await
            .unwrap(),
        0
    );
    drifted.assert_repaired(&app).await;
}

#[tokio::test]
async fn drift_in_the_index_is_found_and_repaired_by_the_scheduled_check_in_bounded_runs() {
    let app = TestApp::spawn().await;
    let drifted = drifted_index(&app).await;
    let db = &app.stack.services.db;
    let config = shared::edge::check_list_index::CheckConfig {
        table_name: db.table().to_owned(),
        steps_per_run: 25,
        metrics_namespace: "test".into(),
    };
    // Runs of 25 steps, as the schedule invokes them, until one walk over every account
    // ends: the account's index has at least 64 leaves, so that takes several runs, each
    // resuming where the last one saved its position.
    let mut total = shared::adapters::db::index_check::RunReport::default();
    let mut runs = 0;
    while total.cycles_finished == 0 {
        runs += 1;
        assert!(runs <= 40, "no cycle ended in {runs} runs: {total}");
        let report = shared::edge::check_list_index::handle(db, &config, None)
            .await
            .unwrap();
        assert!(report.steps <= 25, "{report}");
        total.steps += report.steps;
        total.leaves_checked += report.leaves_checked;
        total.rows_repaired += report.rows_repaired;
        total.unreadable_leaves += report.unreadable_leaves;
        total.repairs_raced += report.repairs_raced;
        total.cycles_finished += report.cycles_finished;
    }
    assert!(runs >= 3, "{runs} runs: {total}");
    assert_eq!(total.unreadable_leaves, 1, "{total}");
    assert_eq!(total.repairs_raced, 0, "{total}");
    // The missing row and the stray one, and the corrupt leaf's users rewritten.
    assert!(total.rows_repaired >= 3, "{total}");
    drifted.assert_repaired(&app).await;

    // The next walk finds nothing to repair.
    let mut again = shared::adapters::db::index_check::RunReport::default();
    while again.cycles_finished == 0 {
        let report = shared::edge::check_list_index::handle(db, &config, None)
            .await
            .unwrap();
        again.rows_repaired += report.rows_repaired;
        again.unreadable_leaves += report.unreadable_leaves;
        again.cycles_finished += report.cycles_finished;
        again.leaves_checked += report.leaves_checked;
    }
    assert_eq!(again.rows_repaired + again.unreadable_leaves, 0, "{again}");
    assert!(again.leaves_checked >= 64, "{again}");
}

#[tokio::test]
async fn the_scheduled_check_beside_live_writes_rewrites_nothing_and_the_index_stays_right() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let aid = account_id(&account);
    let db = &app.stack.services.db;
    let config = shared::edge::check_list_index::CheckConfig {
        table_name: db.table().to_owned(),
        steps_per_run: 10,
        metrics_namespace: "test".into(),
    };
    let writes_done = std::sync::atomic::AtomicBool::new(false);
    // Users written through the indexed write path while runs of the check go on: a
    // write that lands between a step's reads makes its rewrite fail, never undo it.
    let writes = async {
        put_users_concurrently(&app, aid, 150).await;
        writes_done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let checks = async {
        let mut total = shared::adapters::db::index_check::RunReport::default();
        let mut cycles_after_writes = 0;
        while cycles_after_writes < 2 {
            let done = writes_done.load(std::sync::atomic::Ordering::SeqCst);
            let report = shared::edge::check_list_index::handle(db, &config, None)
                .await
                .unwrap();
            total.rows_repaired += report.rows_repaired;
            total.unreadable_leaves += report.unreadable_leaves;
            total.repairs_raced += report.repairs_raced;
            total.leaves_checked += report.leaves_checked;
            if done {
                cycles_after_writes += report.cycles_finished;
            }
        }
        total
    };
    let ((), total) = tokio::join!(writes, checks);
    assert_eq!(total.rows_repaired + total.unreadable_leaves, 0, "{total}");
    // At least one whole walk of the account's 64 or more leaves after the writes.
    assert!(total.leaves_checked >= 64, "{total}");
    assert_eq!(
        shared::adapters::db::migration::check_account(db, aid)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_non_admin_refused_once_is_checked_before_the_index_is_read_again() {
    let app = TestApp::spawn().await;
    let account = app.create_account(TestApp::roomy_package()).await;
    let (_, member_token) = app
        .add_active_user(&account, &unique_email("looper"), 8)
        .await;
    let list_calls = || async {
        app.stack.calls.reset();
        app.get(LIST, Some(&member_token))
            .await
            .assert_problem(499, "ACCESS");
        app.stack.calls.by_operation()
    };
    // The first refusal reads the index beside the caller (one round), as any list call.
    let first = list_calls().await;
    assert_eq!(first.get("Query"), Some(&1), "{first:?}");
    // From then on this container checks that caller first: no index read.
    for _ in 0..3 {
        let again = list_calls().await;
        assert_eq!(again.get("Query"), None, "{again:?}");
        assert_eq!(again.get("BatchGetItem"), Some(&1), "{again:?}");
    }
    // An admin's lists are one round as before, and the owner still lists everyone.
    let listed = listed(&app, &account.owner_token, LIST, "").await;
    assert_eq!(listed["total"], 2);
}
