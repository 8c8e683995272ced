//! Demo data for `make run`: an account with a generous package, its active owner, users
//! of every status and type, groups with memberships, projects and drives with
//! permissions. Users go through the real invitation and signup code.
//!
//! `DEMO_USERS=<n>` adds n more users of every type and status (`seed_with_users`), through
//! the same invite, signup and deactivation as the named ones: each is in the list index
//! and the audit trail as a user of a real account would be.

use serde::Serialize;

use shared::adapters::db::indexed;
use shared::adapters::db::model::{
    self, GroupItem, MembershipItem, PermissionItem, ResourceItem, UserItem,
};
use shared::adapters::db::users;
use shared::domain::clock;
use shared::domain::error::ApiError;
use shared::domain::{Email, UserStatus, UserType};
use shared::edge::endpoints::Services;
use shared::features::accounts::{create_account, Package};
use shared::features::invitations::{
    invite, signup, Invited, Inviter, NewUser, SeatSource, SignupForm,
};

use crate::provision::BoxError;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const DEFAULT_OWNER_PASSWORD: &str = "Demo-Owner-1";
/// Every seeded active user other than the owner signs in with this password.
pub const DEMO_USER_PASSWORD: &str = "Demo-User-1";
pub const DEMO_ACCOUNT_NAME: &str = "Demo Studio";

/// What was seeded, for the banner and tests.
pub struct Seeded {
    pub account_id: shared::domain::AccountId,
    pub owner: UserItem,
    pub users: Vec<UserItem>,
}

async fn put<T: Serialize>(services: &Services, item: &T) -> Result<(), BoxError> {
    Ok(services.db.put(item).await?)
}

async fn activate(
    services: &Services,
    invited: Invited,
    first: &str,
    last: &str,
    password: &str,
) -> Result<UserItem, BoxError> {
    Ok(signup(
        &services.db,
        services.idp.as_ref(),
        SignupForm {
            token: &invited.token.token,
            firstname: first.into(),
            lastname: last.into(),
            password,
        },
        &shared::features::audit::Origin::default(),
    )
    .await?)
}

/// Deactivation is done by other parts of the product; like every writer of a user, it
/// writes the user through `db::users`, whose write says how the user's list row
/// changes, and changes that row in the same transaction.
async fn deactivate(services: &Services, user: UserItem) -> Result<UserItem, BoxError> {
    let db = &services.db;
    let inactive = users::deactivate(db.table(), &user, &user.update_date)?;
    indexed::transact_indexed(
        db,
        vec![inactive.write],
        user.account_id,
        &inactive.row,
        &[],
    )
    .await
    .map_err(ApiError::from)?;
    Ok(UserItem {
        status: UserStatus::INACTIVE,
        ..user
    })
}

pub async fn seed(services: &Services, owner_password: &str) -> Result<Seeded, BoxError> {
    seed_with_users(services, owner_password, 0).await
}

/// The demo seed with `demo_users` more users (see `crowd_member`), and seats for them.
pub async fn seed_with_users(
    services: &Services,
    owner_password: &str,
    demo_users: u32,
) -> Result<Seeded, BoxError> {
    let package = Package {
        admin_users: 100 + i64::from(demo_users / 5),
        creative_users: 150 + i64::from(demo_users / 4),
        standard_users: 200 + i64::from(demo_users),
        storage: 10_240,
        connections: 50,
        projects: 500,
        teams: 50,
        drives: 100,
        syncs: 100,
        logs: true,
        sso: true,
    };
    let config = &services.config;
    let created = create_account(
        &services.db,
        services.mailer.as_ref(),
        config,
        DEMO_ACCOUNT_NAME,
        OWNER_EMAIL,
        &package,
    )
    .await?;
    let account_id = created.account_id;
    let owner = activate(services, created.owner, "Olivia", "Owner", owner_password).await?;
    let source = SeatSource::Account {
        id: account_id,
        name: DEMO_ACCOUNT_NAME.into(),
    };
    let inviter = Inviter {
        name: "Olivia Owner".into(),
    };

    // (email, first, last, type, final status)
    let people = [
        (
            "alice.admin@example.com",
            "Alice",
            "Admin",
            UserType::ACCOUNT_ADMIN,
            UserStatus::ACTIVE,
        ),
        (
            "dave.desktop@example.com",
            "Dave",
            "Desktop",
            UserType::DESKTOP_ADMIN,
            UserStatus::ACTIVE,
        ),
        (
            "carla.creative@example.com",
            "Carla",
            "Creative",
            UserType::DESKTOP_CREATIVE_USER,
            UserStatus::ACTIVE,
        ),
        (
            "sam.standard@example.com",
            "Sam",
            "Standard",
            UserType::DESKTOP_STANDARD_USER,
            UserStatus::ACTIVE,
        ),
        (
            "ursula.user@example.com",
            "Ursula",
            "User",
            UserType::ACCOUNT_USER,
            UserStatus::ACTIVE,
        ),
        (
            "ivan.inactive@example.com",
            "Ivan",
            "Inactive",
            UserType::ACCOUNT_USER,
            UserStatus::INACTIVE,
        ),
        (
            "paula.pending@example.com",
            "Paula",
            "Pending",
            UserType::DESKTOP_CREATIVE_USER,
            UserStatus::PENDING,
        ),
        (
            "peter.pending@example.com",
            "Peter",
            "Pending",
            UserType::ACCOUNT_ADMIN,
            UserStatus::PENDING,
        ),
    ];
    let mut users = Vec::new();
    for (email, first, last, user_type, status) in people {
        let person = Person {
            email: Email::parse(email, "email")?,
            first: first.into(),
            last: last.into(),
            user_type,
            status,
        };
        users.push(add_person(services, &source, &inviter, person).await?);
    }
    users.extend(seed_crowd(services, &source, &inviter, demo_users).await?);

    seed_relations(services, account_id, &owner, &users).await?;
    Ok(Seeded {
        account_id,
        owner,
        users,
    })
}

/// One user of the demo account as the seed makes them.
struct Person {
    email: Email,
    first: String,
    last: String,
    user_type: UserType,
    status: UserStatus,
}

/// Invites the person, signs them up unless they stay pending, and deactivates them if
/// they are to be inactive: the product's own writes, each with its list row and audit.
async fn add_person(
    services: &Services,
    source: &SeatSource,
    inviter: &Inviter,
    person: Person,
) -> Result<UserItem, BoxError> {
    let invited = invite(
        &services.db,
        services.mailer.as_ref(),
        &services.config,
        source.clone(),
        inviter,
        NewUser {
            username: person.email.clone(),
            email: person.email,
            firstname: person.first.clone(),
            lastname: person.last.clone(),
            user_type: person.user_type,
            owner: false,
        },
        &shared::features::audit::Requester::tool(),
    )
    .await?;
    let user = if person.status == UserStatus::PENDING {
        invited.user
    } else {
        activate(
            services,
            invited,
            &person.first,
            &person.last,
            DEMO_USER_PASSWORD,
        )
        .await?
    };
    if person.status == UserStatus::INACTIVE {
        deactivate(services, user).await
    } else {
        Ok(user)
    }
}

const FIRST_NAMES: [&str; 16] = [
    "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indy", "Jordan",
    "Kai", "Logan", "Morgan", "Noel", "Parker", "Quinn",
];
const LAST_NAMES: [&str; 16] = [
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Patel",
];

/// The demo account's n-th extra user: mostly active standard users, as in an account of
/// that size, with admins, creatives, account users, pending invitations and inactive
/// users among them (types by n mod 20, statuses by n mod 13 and mod 29).
fn crowd_member(n: u32) -> Result<Person, BoxError> {
    let first = FIRST_NAMES[n as usize % FIRST_NAMES.len()];
    let last = LAST_NAMES[(n as usize / FIRST_NAMES.len()) % LAST_NAMES.len()];
    let user_type = match n % 20 {
        0 => UserType::ACCOUNT_ADMIN,
        1 => UserType::DESKTOP_ADMIN,
        2..=5 => UserType::DESKTOP_CREATIVE_USER,
        6 | 7 => UserType::ACCOUNT_USER,
        _ => UserType::DESKTOP_STANDARD_USER,
    };
    let status = if n % 13 == 12 {
        UserStatus::PENDING
    } else if n % 29 == 28 {
        UserStatus::INACTIVE
    } else {
        UserStatus::ACTIVE
    };
    Ok(Person {
        email: Email::parse(
            &format!(
                "{}.{}.{n}@demo.example.com",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            "email",
        )?,
        first: first.into(),
        last: last.into(),
        user_type,
        status,
    })
}

/// Requests in flight while the crowd is seeded: the emulator serves one at a time, so
/// more only overlap this process's own work (encoding shards, hashing) with it.
const CROWD_CONCURRENCY: usize = 4;

/// `count` extra users (`crowd_member`), a few at a time, with progress on stderr.
async fn seed_crowd(
    services: &Services,
    source: &SeatSource,
    inviter: &Inviter,
    count: u32,
) -> Result<Vec<UserItem>, BoxError> {
    use futures_util::{StreamExt, TryStreamExt};
    let started = std::time::Instant::now();
    let step = (count / 10).max(1000);
    futures_util::stream::iter(0..count)
        .map(|n| async move {
            let user = add_person(services, source, inviter, crowd_member(n)?).await?;
            if (n + 1) % step == 0 {
                eprintln!(
                    "seeded {} of {count} demo users ({:.0} s)",
                    n + 1,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok::<_, BoxError>(user)
        })
        .buffered(CROWD_CONCURRENCY)
        .try_collect()
        .await
}

/// Groups, projects and drives, and who belongs to or may use what.
async fn seed_relations(
    services: &Services,
    account_id: shared::domain::AccountId,
    owner: &UserItem,
    users: &[UserItem],
) -> Result<(), BoxError> {
    let pk = model::account_pk(account_id);
    let now = clock::now_iso();
    // Ids are UUIDs, as the parts of the product that own these objects make them.
    let new_id = || uuid::Uuid::new_v4().to_string();
    let groups = [
        (new_id(), "Editors"),
        (new_id(), "Colorists"),
        (new_id(), "Administrators"),
    ];
    let projects = [(new_id(), "Feature Film"), (new_id(), "Spring Commercial")];
    let drives = [(new_id(), "Media Drive"), (new_id(), "Archive")];
    for (id, name) in &groups {
        put(
            services,
            &GroupItem {
                pk: pk.clone(),
                sk: model::group_sk(id),
                kind: model::KIND_GROUP.into(),
                id: id.to_string(),
                name: name.to_string(),
                create_date: now.clone(),
            },
        )
        .await?;
    }
    for (id, name) in &projects {
        put(
            services,
            &ResourceItem {
                pk: pk.clone(),
                sk: model::project_sk(id),
                kind: model::KIND_PROJECT.into(),
                id: id.to_string(),
                name: name.to_string(),
                create_date: now.clone(),
            },
        )
        .await?;
    }
    for (id, name) in &drives {
        put(
            services,
            &ResourceItem {
                pk: pk.clone(),
                sk: model::drive_sk(id),
                kind: model::KIND_DRIVE.into(),
                id: id.to_string(),
                name: name.to_string(),
                create_date: now.clone(),
            },
        )
        .await?;
    }
    use futures_util::{StreamExt, TryStreamExt};
    let everyone: Vec<&UserItem> = std::iter::once(owner).chain(users.iter()).collect();
    let (pk, now) = (&pk, &now);
    let (groups, projects, drives) = (&groups, &projects, &drives);
    futures_util::stream::iter(everyone.iter().enumerate())
        .map(|(index, user)| async move {
            let group = &groups[index % groups.len()].0;
            put(
                services,
                &MembershipItem {
                    pk: pk.clone(),
                    sk: model::membership_sk(user.id, group),
                    kind: model::KIND_MEMBERSHIP.into(),
                    id: new_id(),
                    user_id: user.id,
                    group_id: group.to_string(),
                    create_date: now.clone(),
                },
            )
            .await?;
            let project = &projects[index % projects.len()].0;
            put(
                services,
                &PermissionItem {
                    pk: pk.clone(),
                    sk: model::project_permission_sk(user.id, project),
                    kind: model::KIND_PROJECT_PERMISSION.into(),
                    id: new_id(),
                    user_id: user.id,
                    project_id: Some(project.to_string()),
                    drive_id: None,
                    permission: if index == 0 {
                        "admin".into()
                    } else {
                        "write".into()
                    },
                },
            )
            .await?;
            let drive = &drives[index % drives.len()].0;
            put(
                services,
                &PermissionItem {
                    pk: pk.clone(),
                    sk: model::drive_permission_sk(user.id, drive),
                    kind: model::KIND_DRIVE_PERMISSION.into(),
                    id: new_id(),
                    user_id: user.id,
                    project_id: None,
                    drive_id: Some(drive.to_string()),
                    permission: "read".into(),
                },
            )
            .await
        })
        .buffer_unordered(CROWD_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok(())
}
