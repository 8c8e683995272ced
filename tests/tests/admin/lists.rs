//! get_all_users and get_all_users_with_details: filters, sorting, paging, the details'
//! relations, the parameters they refuse, and what a listing reads.

use integration_tests::paths::*;
use integration_tests::{account_id, field_names, ids_of, unique_email, TestApp, USER_FIELDS};
use serde_json::{json, Value};
use shared::adapters::db::model::{
    self, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use shared::adapters::db::to_item;
use shared::domain::{UserId, UserStatus};

use crate::support::{listed, put_relations, put_user, sorted, Listing};

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
