//! A synthetic account of n users with everything the product keeps beside them, built
//! from the product's own item types so the items are exactly what it writes.
//! Deterministic: the same seed gives the same account.

use std::collections::HashMap;

use super::names::{DOMAINS, FIRST_NAMES, LAST_NAMES, TEAMS};
use chrono::{DateTime, Utc};
use shared::adapters::db::model::{
    self, AccountItem, BillingItem, GroupItem, IdentityItem, Limits, MembershipItem,
    PermissionItem, ResourceItem, Usage, UserItem,
};
use shared::adapters::db::{to_item, Item};
use shared::domain::clock::iso;
use shared::domain::{
    auth_provider, subscription_type, AccountId, Email, Seat, UserId, UserStatus, UserType,
};
use shared::ApiError;

/// The account as the bench needs it to check answers.
pub struct Account {
    pub id: AccountId,
    /// The Cognito `sub` of the owner, who makes every request.
    pub owner_sub: String,
    /// Every user, deleted ones included.
    pub users: Vec<UserItem>,
    pub relations: HashMap<UserId, Relations>,
}

/// How many of each relation a user has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relations {
    pub groups: usize,
    pub projects: usize,
    pub drives: usize,
}

/// SplitMix64: reproducible data from a seed, with no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub(crate) fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.below(choices.len() as u64) as usize]
    }

    /// Between `fewest` and `most` different indexes below `bound` (a few, of at least 5).
    fn distinct(&mut self, fewest: u64, most: u64, bound: usize) -> Vec<usize> {
        let count = fewest + self.below(most - fewest + 1);
        let mut chosen = Vec::new();
        while (chosen.len() as u64) < count {
            let index = self.below(bound as u64) as usize;
            if !chosen.contains(&index) {
                chosen.push(index);
            }
        }
        chosen
    }

    pub(crate) fn uuid(&mut self) -> uuid::Uuid {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// The accounts' data spans the three years before this instant.
const END_MS: i64 = 1_795_824_000_000; // 2026-11-28T00:00:00Z
const THREE_YEARS_MS: u64 = 3 * 365 * 24 * 3600 * 1000;

fn date(ms: i64) -> String {
    iso(DateTime::<Utc>::from_timestamp_millis(ms).expect("a date in range"))
}

/// Builds an account of `size` users (the owner first) and hands every item to `put`:
/// the account, the owner's identity, about size/20 groups, size/10 projects and size/50
/// drives (5 of each at least), and per user the user, a billing line, 1–3 group
/// memberships, 0–2 project permissions and 0–1 drive permission; then, if `indexed`,
/// the list index (without it, the account is one the migration has not reached yet).
/// About 85 % of users are active, 8 % pending, 7 % inactive, and 5 % are deleted.
pub fn build(
    size: usize,
    seed: u64,
    indexed: bool,
    put: &mut dyn FnMut(Item),
) -> Result<Account, ApiError> {
    let mut rng = Rng(seed);
    let mut add = |item: Result<Item, ApiError>| -> Result<(), ApiError> {
        put(item?);
        Ok(())
    };
    let account_id = AccountId(rng.uuid());
    let pk = model::account_pk(account_id);

    let mut resources = |kind: &str, sk: fn(&str) -> String, count: usize, word: &str| {
        (0..count)
            .map(|index| {
                let id = rng.uuid().to_string();
                ResourceItem {
                    pk: pk.clone(),
                    sk: sk(&id),
                    kind: kind.to_owned(),
                    name: format!("{} {word} {}", TEAMS[index % TEAMS.len()], index + 1),
                    id,
                    create_date: date(END_MS - rng.below(THREE_YEARS_MS) as i64),
                }
            })
            .collect::<Vec<_>>()
    };
    let projects = resources(
        model::KIND_PROJECT,
        model::project_sk,
        (size / 10).max(5),
        "Project",
    );
    let drives = resources(
        model::KIND_DRIVE,
        model::drive_sk,
        (size / 50).max(5),
        "Drive",
    );
    let groups: Vec<GroupItem> = (0..(size / 20).max(5))
        .map(|index| {
            let id = rng.uuid().to_string();
            GroupItem {
                pk: pk.clone(),
                sk: model::group_sk(&id),
                kind: model::KIND_GROUP.to_owned(),
                name: format!("{} {}", TEAMS[index % TEAMS.len()], index + 1),
                id,
                create_date: date(END_MS - rng.below(THREE_YEARS_MS) as i64),
            }
        })
        .collect();
    for resource in projects.iter().chain(&drives) {
        add(to_item(resource))?;
    }
    for group in &groups {
        add(to_item(group))?;
    }

    let mut users = Vec::with_capacity(size);
    let mut relations = HashMap::with_capacity(size);
    let mut usage = Usage::default();
    for index in 0..size {
        let user = user(&mut rng, account_id, index);
        if user.is_live() {
            match user.user_type.seat() {
                Seat::Admin => usage.used_admin_users += 1,
                Seat::Creative => usage.used_creative_users += 1,
                Seat::Standard => usage.used_standard_users += 1,
            }
        }
        add(to_item(&BillingItem {
            pk: pk.clone(),
            sk: model::billing_sk(user.id),
            kind: model::KIND_BILLING.to_owned(),
            user_id: user.id,
            seat: user.user_type.seat(),
            user_type: user.user_type,
            start_date: user.create_date.clone(),
            end_date: user.delete_date.clone(),
            status: if user.deleted {
                "unsubscribed"
            } else {
                "active"
            }
            .to_owned(),
        }))?;
        let mut counts = Relations::default();
        for group in rng.distinct(1, 3, groups.len()) {
            let group = &groups[group];
            add(to_item(&MembershipItem {
                pk: pk.clone(),
                sk: model::membership_sk(user.id, &group.id),
                kind: model::KIND_MEMBERSHIP.to_owned(),
                id: rng.uuid().to_string(),
                user_id: user.id,
                group_id: group.id.clone(),
                create_date: user.create_date.clone(),
            }))?;
            counts.groups += 1;
        }
        let permission = |rng: &mut Rng| rng.pick(&["read", "write", "admin"]).to_owned();
        for project in rng.distinct(0, 2, projects.len()) {
            let project = &projects[project];
            add(to_item(&PermissionItem {
                pk: pk.clone(),
                sk: model::project_permission_sk(user.id, &project.id),
                kind: model::KIND_PROJECT_PERMISSION.to_owned(),
                id: rng.uuid().to_string(),
                user_id: user.id,
                project_id: Some(project.id.clone()),
                drive_id: None,
                permission: permission(&mut rng),
            }))?;
            counts.projects += 1;
        }
        for drive in rng.distinct(0, 1, drives.len()) {
            let drive = &drives[drive];
            add(to_item(&PermissionItem {
                pk: pk.clone(),
                sk: model::drive_permission_sk(user.id, &drive.id),
                kind: model::KIND_DRIVE_PERMISSION.to_owned(),
                id: rng.uuid().to_string(),
                user_id: user.id,
                project_id: None,
                drive_id: Some(drive.id.clone()),
                permission: permission(&mut rng),
            }))?;
            counts.drives += 1;
        }
        relations.insert(user.id, counts);
        add(to_item(&user))?;
        users.push(user);
    }

    let owner = &users[0];
    let owner_sub = owner.sub.clone().expect("the owner has signed up");
    add(to_item(&IdentityItem {
        pk: model::identity_pk(&owner_sub),
        sk: model::IDENTITY_SK.to_owned(),
        kind: model::KIND_IDENTITY.to_owned(),
        account_id,
        user_id: owner.id,
    }))?;
    let seats = size as i64 + 10;
    add(to_item(&AccountItem {
        pk: pk.clone(),
        sk: model::ACCOUNT_SK.to_owned(),
        kind: model::KIND_ACCOUNT.to_owned(),
        id: account_id,
        name: format!("Scale {size}"),
        owner_id: owner.id,
        subscription_type: subscription_type::YEARLY,
        migration: false,
        auth_provider: auth_provider::AWS_COGNITO,
        create_date: owner.create_date.clone(),
        update_date: date(END_MS),
        list_leaves: indexed,
        limits: Limits {
            limit_admin_users: seats,
            limit_creative_users: seats,
            limit_standard_users: seats,
            limit_storage: 10_000,
            limit_connections: 100,
            limit_projects: 10_000,
            limit_teams: 1_000,
            limit_drives: 1_000,
            limit_syncs: 100,
            logs: true,
            sso: false,
        },
        usage,
    }))?;
    if indexed {
        for shard in shared::adapters::db::list_leaves::leaf_items(account_id, &users)? {
            add(Ok(shard))?;
        }
    }
    Ok(Account {
        id: account_id,
        owner_sub,
        users,
        relations,
    })
}

/// One user; the first is the owner, an active AccountAdmin. The username is
/// `first.last<index + 1>@domain`, so it is unique and its digits make filters of
/// predictable selectivity.
pub fn user(rng: &mut Rng, account_id: AccountId, index: usize) -> UserItem {
    let owner = index == 0;
    let id = UserId(rng.uuid());
    let (first, last) = (rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
    let address = format!(
        "{}.{}{}@{}",
        first.to_lowercase(),
        last.to_lowercase(),
        index + 1,
        rng.pick(&DOMAINS)
    );
    let email = Email::parse(&address, "email").expect("a generated address is valid");
    let status = match rng.below(100) {
        _ if owner => UserStatus::ACTIVE,
        0..85 => UserStatus::ACTIVE,
        85..93 => UserStatus::PENDING,
        _ => UserStatus::INACTIVE,
    };
    let user_type = match rng.below(100) {
        _ if owner => UserType::ACCOUNT_ADMIN,
        0..3 => UserType::ACCOUNT_ADMIN,
        3..33 => UserType::ACCOUNT_USER,
        33..37 => UserType::DESKTOP_ADMIN,
        37..60 => UserType::DESKTOP_CREATIVE_USER,
        _ => UserType::DESKTOP_STANDARD_USER,
    };
    let deleted = !owner && rng.below(100) < 5;
    let created = END_MS - rng.below(THREE_YEARS_MS) as i64;
    let updated = created + rng.below((END_MS - created) as u64 + 1) as i64;
    let signed_up = status != UserStatus::PENDING;
    let token_hash = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        rng.next(),
        rng.next(),
        rng.next(),
        rng.next()
    );
    UserItem {
        firstname: first.to_owned(),
        lastname: last.to_owned(),
        user_type,
        status,
        owner,
        mfa: signed_up && rng.below(100) < 20,
        deleted,
        update_date: date(updated),
        // A deletion is the user's last change.
        delete_date: deleted.then(|| date(updated)),
        sub: signed_up.then(|| rng.uuid().to_string()),
        token_hash: (!signed_up && !deleted).then_some(token_hash),
        ..UserItem::pending(account_id, id, email.clone(), email, &date(created))
    }
}
