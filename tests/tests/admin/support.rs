//! What the administration tests share: requests to the endpoints, the stored items of an
//! account, and fixture accounts to list.

use integration_tests::paths::*;
use integration_tests::{account_id, user_id, Answer, TestAccount, TestApp};
use serde_json::{json, Value};
use shared::adapters::db::model::{
    self, BillingItem, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use shared::adapters::db::{from_item, to_item, Item};
use shared::domain::{AccountId, Email, UserId, UserStatus, UserType};

/// A page of a list endpoint, asserted 200.
pub async fn listed(app: &TestApp, token: &str, path: &str, query: &str) -> Value {
    let answer = app.get(&format!("{path}?{query}"), Some(token)).await;
    answer.assert_ok();
    answer.json()
}

pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

pub fn id_strings<'a>(users: impl IntoIterator<Item = &'a UserItem>) -> Vec<String> {
    users.into_iter().map(|u| u.id.to_string()).collect()
}

/// Every user item of the account, as stored.
pub async fn stored_users(app: &TestApp, account: &TestAccount) -> Vec<UserItem> {
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

pub async fn stored_user(app: &TestApp, account: &TestAccount, id: &str) -> UserItem {
    app.stack
        .services
        .db
        .get_user(account_id(account), user_id(id))
        .await
        .unwrap()
        .expect("the user item")
}

pub async fn billing_line(app: &TestApp, account: &TestAccount, id: &str) -> BillingItem {
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

/// Invites `email` as `user_type` (a pending user) and returns its id.
pub async fn invite(app: &TestApp, account: &TestAccount, email: &str, user_type: u8) -> String {
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

pub async fn edit(app: &TestApp, token: &str, id: &str, user_type: u8) -> Answer {
    app.put(EDIT, Some(token), json!({"id": id, "userType": user_type}))
        .await
}

pub async fn delete(app: &TestApp, token: &str, id: &str) -> Answer {
    app.delete(&format!("{DELETE}?id={id}"), Some(token)).await
}

/// A user put straight into the account's collection (no invitation, no seat, no
/// Cognito user): for listings only.
#[allow(clippy::too_many_arguments)]
pub fn put_user(
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
pub struct Listing {
    pub app: TestApp,
    pub account: TestAccount,
    /// Every user of the account as stored, the owner included.
    pub users: Vec<UserItem>,
}

impl Listing {
    pub async fn new() -> Self {
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

    pub fn token(&self) -> &str {
        &self.account.owner_token
    }

    pub fn by_key(&self, key: &str) -> &UserItem {
        self.users
            .iter()
            .find(|u| u.username.as_str().starts_with(&format!("{key}@")))
            .unwrap()
    }

    pub fn ids_where(&self, keep: impl Fn(&UserItem) -> bool) -> Vec<String> {
        sorted(id_strings(self.users.iter().filter(|u| keep(u))))
    }
}

/// Groups, a project and a drive, and memberships and permissions for some users, put
/// straight into the collection as the rest of the product would write them.
pub struct Relations {
    pub editors: String,
    pub colorists: String,
    pub project: String,
    pub drive: String,
}

pub async fn put_relations(
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
