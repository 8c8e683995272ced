//! The writes of a user item (`USER#<userId>` in the account), each with the condition
//! that keeps it from overwriting a concurrent change: every one of them names the state
//! it was decided on.

use super::list_leaves::{RowChange, RowUpdate};
use super::{b, key, n, s, to_item, tx, ApiError, AttributeValue};
use crate::adapters::db::model::UserItem;
use crate::domain::views::User;
use crate::domain::{UserStatus, UserType};

/// A write of a user item and the change it makes to the user's list row, described in
/// one place: the row sets exactly the fields the item's update sets, to the same
/// values, so the list index cannot drift from the users by a write of this module.
#[derive(Debug, Clone)]
pub struct UserWrite {
    pub write: tx::Write,
    pub row: RowChange,
}

impl UserWrite {
    fn update(user: &UserItem, write: tx::Write, row: RowUpdate) -> Self {
        Self {
            write,
            row: RowChange::Update(user.id, row),
        }
    }
}

/// Stores a user just invited; there must be none with its id.
pub fn create(table: &str, user: &UserItem) -> Result<UserWrite, ApiError> {
    Ok(UserWrite {
        write: tx::put(
            table,
            to_item(user)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?,
        row: RowChange::Put(User::from(user)),
    })
}

/// Removes an invitation being undone, while it is still pending with `token_hash` and of
/// the type it was invited as.
pub fn remove_invited(
    table: &str,
    user: &UserItem,
    token_hash: &str,
) -> Result<UserWrite, ApiError> {
    Ok(UserWrite {
        write: tx::delete(
            table,
            key(&user.pk, &user.sk),
            // Only a pending user holds a token hash; the type says which seat to free.
            Some("tokenHash = :hash AND deleted = :false AND userType = :type"),
            vec![
                (":hash", s(token_hash)),
                (":false", b(false)),
                (":type", n(user.user_type.0)),
            ],
        )?,
        row: RowChange::Remove(user.id),
    })
}

/// What a signup writes on the user: active, named, pointed at its identity `sub`.
pub struct Activation<'a> {
    pub token_hash: &'a str,
    pub lease: &'a str,
    pub sub: &'a str,
    pub firstname: &'a str,
    pub lastname: &'a str,
    pub now_iso: &'a str,
}

/// Activates a pending user, only with this signup's lease and token.
pub fn activate(
    table: &str,
    user: &UserItem,
    signup: Activation<'_>,
) -> Result<UserWrite, ApiError> {
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET #status = :active, firstname = :first, lastname = :last, #sub = :sub, updateDate = :now REMOVE tokenHash, signupLease, signupLeaseUntil",
        Some("signupLease = :lease AND tokenHash = :hash AND #status = :pending AND deleted = :false"),
        vec![("#status", "status"), ("#sub", "sub")],
        vec![
            (":active", n(UserStatus::ACTIVE.0)),
            (":pending", n(UserStatus::PENDING.0)),
            (":first", s(signup.firstname)),
            (":last", s(signup.lastname)),
            (":sub", s(signup.sub)),
            (":now", s(signup.now_iso)),
            (":lease", s(signup.lease)),
            (":hash", s(signup.token_hash)),
            (":false", b(false)),
        ],
    )?;
    let row = RowUpdate {
        firstname: Some(signup.firstname.to_owned()),
        lastname: Some(signup.lastname.to_owned()),
        status: Some(UserStatus::ACTIVE),
        ..RowUpdate::touched(signup.now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// Moves a pending user from the token hash read to `new_hash`.
pub fn swap_token(
    table: &str,
    user: &UserItem,
    new_hash: &str,
    now_iso: &str,
) -> Result<UserWrite, ApiError> {
    let mut values = vec![
        (":new", s(new_hash)),
        (":now", s(now_iso)),
        (":pending", n(UserStatus::PENDING.0)),
        (":false", b(false)),
    ];
    let hash_condition = holds_token_read(user, ":old", &mut values);
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET tokenHash = :new, updateDate = :now",
        Some(&format!(
            "{hash_condition} AND #status = :pending AND deleted = :false"
        )),
        vec![("#status", "status")],
        values,
    )?;
    Ok(UserWrite::update(user, write, RowUpdate::touched(now_iso)))
}

/// Renames a live, active user who still has the names read (`user`'s), so the names it
/// replaces are the ones the caller recorded as "before". With `keep_privileges` (a
/// rename of the account goes with it) the user must also still be of the type and
/// ownership read, so a concurrent demotion cannot let the account's rename through.
pub fn rename(
    table: &str,
    user: &UserItem,
    firstname: &str,
    lastname: &str,
    now_iso: &str,
    keep_privileges: bool,
) -> Result<UserWrite, ApiError> {
    let mut condition = "deleted = :false AND #status = :active \
                         AND firstname = :oldFirst AND lastname = :oldLast"
        .to_owned();
    let mut values = vec![
        (":first", s(firstname)),
        (":last", s(lastname)),
        (":now", s(now_iso)),
        (":false", b(false)),
        (":active", n(UserStatus::ACTIVE.0)),
        (":oldFirst", s(&user.firstname)),
        (":oldLast", s(&user.lastname)),
    ];
    if keep_privileges {
        condition.push_str(" AND userType = :type AND #owner = :owner");
        values.push((":type", n(user.user_type.0)));
        values.push((":owner", b(user.owner)));
    }
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET firstname = :first, lastname = :last, updateDate = :now",
        Some(&condition),
        if keep_privileges {
            vec![("#status", "status"), ("#owner", "owner")]
        } else {
            vec![("#status", "status")]
        },
        values,
    )?;
    let row = RowUpdate {
        firstname: Some(firstname.to_owned()),
        lastname: Some(lastname.to_owned()),
        ..RowUpdate::touched(now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// Sets the `mfa` flag and gives back the MFA lease, while the user is live and active
/// and the lease is still `lease`.
pub fn set_mfa(
    table: &str,
    user: &UserItem,
    enabled: bool,
    lease: &str,
    now_iso: &str,
) -> Result<UserWrite, ApiError> {
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET mfa = :mfa, updateDate = :now REMOVE mfaLease, mfaLeaseUntil",
        Some(
            "attribute_exists(pk) AND deleted = :false AND #status = :active AND mfaLease = :lease",
        ),
        vec![("#status", "status")],
        vec![
            (":mfa", b(enabled)),
            (":now", s(now_iso)),
            (":false", b(false)),
            (":active", n(UserStatus::ACTIVE.0)),
            (":lease", s(lease)),
        ],
    )?;
    let row = RowUpdate {
        mfa: Some(enabled),
        ..RowUpdate::touched(now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// Gives a live user who is not the owner the type `user_type`, if still of the type read.
pub fn retype(
    table: &str,
    user: &UserItem,
    user_type: UserType,
    now_iso: &str,
) -> Result<UserWrite, ApiError> {
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET userType = :new, updateDate = :now",
        Some("deleted = :false AND userType = :old AND #owner = :false"),
        vec![("#owner", "owner")],
        vec![
            (":new", n(user_type.0)),
            (":old", n(user.user_type.0)),
            (":now", s(now_iso)),
            (":false", b(false)),
        ],
    )?;
    let row = RowUpdate {
        user_type: Some(user_type),
        ..RowUpdate::touched(now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// Marks a live user who is not the owner deleted, if still of the type and holding the
/// token read (the seat freed is that type's, the token removed the live one).
pub fn mark_deleted(table: &str, user: &UserItem, now_iso: &str) -> Result<UserWrite, ApiError> {
    let mut values = vec![
        (":true", b(true)),
        (":false", b(false)),
        (":now", s(now_iso)),
        (":type", n(user.user_type.0)),
    ];
    let token_condition = holds_token_read(user, ":hash", &mut values);
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET deleted = :true, deleteDate = :now, updateDate = :now REMOVE tokenHash, signupLease, signupLeaseUntil",
        Some(&format!(
            "deleted = :false AND userType = :type AND #owner = :false AND {token_condition}"
        )),
        vec![("#owner", "owner")],
        values,
    )?;
    let row = RowUpdate {
        deleted: Some(true),
        delete_date: Some(Some(now_iso.to_owned())),
        ..RowUpdate::touched(now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// Makes a user inactive (done by other parts of the product; the local seed does it).
pub fn deactivate(table: &str, user: &UserItem, now_iso: &str) -> Result<UserWrite, ApiError> {
    let write = tx::update(
        table,
        key(&user.pk, &user.sk),
        "SET #status = :inactive, updateDate = :now",
        None,
        vec![("#status", "status")],
        vec![
            (":inactive", n(UserStatus::INACTIVE.0)),
            (":now", s(now_iso)),
        ],
    )?;
    let row = RowUpdate {
        status: Some(UserStatus::INACTIVE),
        ..RowUpdate::touched(now_iso)
    };
    Ok(UserWrite::update(user, write, row))
}

/// A condition that `caller` is still the live, active admin they were when read, so a
/// concurrent demotion or deletion cannot let an admin action through.
pub fn still_admin(table: &str, caller: &UserItem) -> Result<tx::Write, ApiError> {
    tx::check(
        table,
        key(&caller.pk, &caller.sk),
        "deleted = :false AND #status = :active AND userType = :type AND #owner = :owner",
        vec![("#status", "status"), ("#owner", "owner")],
        vec![
            (":false", b(false)),
            (":active", n(UserStatus::ACTIVE.0)),
            (":type", n(caller.user_type.0)),
            (":owner", b(caller.owner)),
        ],
    )
}

/// The condition that `user` still holds the token hash read (or still has none), the
/// hash bound to `placeholder` in `values`: a write decided on a token cannot land after
/// a resend replaced it.
fn holds_token_read(
    user: &UserItem,
    placeholder: &'static str,
    values: &mut Vec<(&str, AttributeValue)>,
) -> String {
    match &user.token_hash {
        Some(hash) => {
            values.push((placeholder, s(hash)));
            format!("tokenHash = {placeholder}")
        }
        None => "attribute_not_exists(tokenHash)".to_owned(),
    }
}
