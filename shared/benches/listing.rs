//! The handler's own CPU for an account of 10,000 users: filter, sort and page them, with
//! and without details, from the DynamoDB items a Query returns to the JSON answer.
//! `cargo bench -p shared --bench listing`; criterion prints the time of each.

// A benchmark, not a request path: a panic is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use shared::adapters::db::list_leaves;
use shared::adapters::db::model::{
    self, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use shared::adapters::db::{from_item, to_item, Item};
use shared::domain::views::{Collection, User};
use shared::domain::{AccountId, Email, UserId, UserStatus, UserType};
use shared::features::listing::details::{page_with_details, AccountItems};
use shared::features::listing::{page_of_users, ListParams};

const USERS: u64 = 10_000;
const GROUPS: u64 = 50;
const PROJECTS: u64 = 200;
const DRIVES: u64 = 40;

/// A small deterministic generator, so every run measures the same account.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const FIRST: [&str; 8] = [
    "Ada", "bob", "Carla", "dave", "Eve", "Frank", "grace", "Hal",
];
const LAST: [&str; 8] = [
    "Lovelace", "smith", "Jones", "Young", "Baker", "lee", "Hopper", "Ng",
];
const TYPES: [UserType; 5] = [
    UserType::ACCOUNT_ADMIN,
    UserType::ACCOUNT_USER,
    UserType::DESKTOP_ADMIN,
    UserType::DESKTOP_CREATIVE_USER,
    UserType::DESKTOP_STANDARD_USER,
];
const STATUSES: [UserStatus; 3] = [
    UserStatus::ACTIVE,
    UserStatus::INACTIVE,
    UserStatus::PENDING,
];

fn date(random: &mut Lcg) -> String {
    format!(
        "2030-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + random.next() % 12,
        1 + random.next() % 28,
        random.next() % 24,
        random.next() % 60,
        random.next() % 60,
        random.next() % 1000
    )
}

/// The item collection of an account: users, groups, projects and drives, and for every
/// user one membership, one project permission and one drive permission.
fn account_items() -> Vec<Item> {
    let mut random = Lcg(42);
    let account_id = AccountId(uuid::Uuid::from_u128(7));
    let pk = model::account_pk(account_id);
    let mut items = Vec::new();
    for g in 0..GROUPS {
        items.push(
            to_item(&GroupItem {
                pk: pk.clone(),
                sk: model::group_sk(&format!("g-{g}")),
                kind: model::KIND_GROUP.into(),
                id: format!("g-{g}"),
                name: format!("Group {g}"),
                create_date: date(&mut random),
            })
            .unwrap(),
        );
    }
    for (kind, sk, prefix, count) in [
        (
            model::KIND_PROJECT,
            model::project_sk as fn(&str) -> String,
            "p",
            PROJECTS,
        ),
        (model::KIND_DRIVE, model::drive_sk, "d", DRIVES),
    ] {
        for r in 0..count {
            let id = format!("{prefix}-{r}");
            items.push(
                to_item(&ResourceItem {
                    pk: pk.clone(),
                    sk: sk(&id),
                    kind: kind.into(),
                    id: id.clone(),
                    name: format!("Resource {id}"),
                    create_date: date(&mut random),
                })
                .unwrap(),
            );
        }
    }
    for u in 0..USERS {
        let id = UserId(uuid::Uuid::from_u64_pair(random.next(), random.next()));
        let email = Email::parse(
            &format!("user{u}.{}@example.com", random.next() % 997),
            "email",
        )
        .unwrap();
        // Drawn in the order the fields were always drawn, so the account stays the same.
        let firstname = FIRST[(random.next() % 8) as usize];
        let lastname = LAST[(random.next() % 8) as usize];
        let user_type = TYPES[(random.next() % 5) as usize];
        let status = STATUSES[(random.next() % 3) as usize];
        let deleted = random.next().is_multiple_of(10);
        let created = date(&mut random);
        let updated = date(&mut random);
        let user = UserItem {
            firstname: firstname.into(),
            lastname: lastname.into(),
            user_type,
            status,
            owner: u == 0,
            deleted,
            update_date: updated,
            sub: Some(uuid::Uuid::from_u128(u128::from(u)).to_string()),
            ..UserItem::pending(account_id, id, email.clone(), email, &created)
        };
        items.push(to_item(&user).unwrap());
        let group = format!("g-{}", random.next() % GROUPS);
        items.push(
            to_item(&MembershipItem {
                pk: pk.clone(),
                sk: model::membership_sk(id, &group),
                kind: model::KIND_MEMBERSHIP.into(),
                id: format!("m-{u}"),
                user_id: id,
                group_id: group,
                create_date: date(&mut random),
            })
            .unwrap(),
        );
        let project = format!("p-{}", random.next() % PROJECTS);
        let drive = format!("d-{}", random.next() % DRIVES);
        for (kind, sk, project_id, drive_id) in [
            (
                model::KIND_PROJECT_PERMISSION,
                model::project_permission_sk(id, &project),
                Some(project.clone()),
                None,
            ),
            (
                model::KIND_DRIVE_PERMISSION,
                model::drive_permission_sk(id, &drive),
                None,
                Some(drive.clone()),
            ),
        ] {
            items.push(
                to_item(&PermissionItem {
                    pk: pk.clone(),
                    sk,
                    kind: kind.into(),
                    id: format!("perm-{u}-{kind}"),
                    user_id: id,
                    project_id,
                    drive_id,
                    permission: "write".into(),
                })
                .unwrap(),
            );
        }
    }
    items
}

fn params(pairs: &[(&str, &str)]) -> ListParams {
    let query: shared::domain::query::Query = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListParams::from_query(&query).unwrap()
}

/// What the list handler does after its Query of the index: decode the leaves' rows,
/// page them, answer JSON.
fn list_answer(account: AccountId, shards: Vec<Item>, params: &ListParams) -> String {
    let mut rows = Vec::new();
    for shard in shards {
        rows.extend(list_leaves::rows_of_item(account, shard).unwrap());
    }
    let page = page_of_users(&rows, params);
    serde_json::to_string(&Collection {
        data: page.data.into_iter().cloned().collect::<Vec<User>>(),
        total: page.total,
    })
    .unwrap()
}

/// What the details handler does for an account not indexed yet, after its Query of the
/// whole item collection.
fn details_answer(items: Vec<Item>, params: &ListParams) -> String {
    let page = page_with_details(AccountItems::from_items(items).unwrap(), params).unwrap();
    serde_json::to_string(&page).unwrap()
}

fn listing(c: &mut Criterion) {
    let items = account_items();
    let user_items: Vec<Item> = items
        .iter()
        .filter(|item| {
            matches!(item.get("kind"), Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) if k == model::KIND_USER)
        })
        .cloned()
        .collect();
    let user_items: Vec<UserItem> = user_items
        .iter()
        .cloned()
        .map(|item| from_item(item).unwrap())
        .collect();
    assert_eq!(user_items.len() as u64, USERS);
    let account = user_items[0].account_id;
    let users: Vec<User> = user_items.iter().map(User::from).collect();
    let shards = list_leaves::leaf_items(account, &user_items).unwrap();

    let cases = [
        ("defaults (CreateDate desc, page 1 of 50)", params(&[])),
        (
            "LastName asc, deleted included, page 100 of 50",
            params(&[
                ("sortfield", "LastName"),
                ("descending", "false"),
                ("deleted", "true"),
                ("page", "100"),
            ]),
        ),
        (
            "Username filter + status 5 + type 96, page 1 of 1000",
            params(&[
                ("username", "user1"),
                ("userStatus", "5"),
                ("userType", "96"),
                ("pagesize", "1000"),
            ]),
        ),
        (
            "FirstName desc, deleted included, last page of 1000 (a full sort)",
            params(&[
                ("sortfield", "firstname"),
                ("deleted", "true"),
                ("pagesize", "1000"),
                ("page", "10"),
            ]),
        ),
    ];
    let mut group = c.benchmark_group("10,000 users: filter, sort, page");
    for (name, params) in &cases {
        // Every case lists a real page, so each measures filtering, ordering and paging.
        assert!(!page_of_users(&users, params).data.is_empty(), "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(page_of_users(&users, params)))
        });
    }
    group.finish();

    let defaults = params(&[]);
    let mut group = c.benchmark_group("10,000 users: Query items to JSON answer");
    group.bench_function("get_all_users", |b| {
        // The handler owns the Query's items, so the copy is made outside the timing.
        b.iter_batched(
            || shards.clone(),
            |shards| black_box(list_answer(account, shards, &defaults)),
            BatchSize::LargeInput,
        )
    });
    group.bench_function(
        "get_all_users_with_details, unindexed (40,290 items)",
        |b| {
            b.iter_batched(
                || items.clone(),
                |items| black_box(details_answer(items, &defaults)),
                BatchSize::LargeInput,
            )
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = listing
}
criterion_main!(benches);
