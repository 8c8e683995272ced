//! DELETE /api/v1/user/delete_user?id=: soft-delete a user of the caller's account
//! (admins only; never the owner, never oneself).
//!
//! One transaction marks the user deleted, unsubscribes the billing line, frees the seat,
//! releases the username (so the address can be invited again, as a new user) and kills
//! a pending user's signup token. Then the person is locked out of the identity provider:
//! signed out everywhere and their Cognito user deleted. Their unexpired access tokens
//! already get 401, since every handler reads the record. If the Cognito step fails the
//! delete stands, and the same request sent again finds the user deleted, answers 200
//! and finishes the Cognito step (a Cognito user already gone counts as done).

use lambda_http::Request;

use crate::adapters::db::indexed;
use crate::adapters::db::list_leaves::RowChange;
use crate::adapters::db::model::UserItem;
use crate::adapters::db::{
    billing, contention_pause, failed_roles, seats, tokens, tx, usernames, users, Db, TxError,
};
use crate::adapters::idp::errors::{cognito_error, CognitoCall};
use crate::adapters::idp::{IdentityProvider, IdpError};
use crate::domain::clock;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::query::Query;
use crate::domain::UserId;
use crate::edge::auth::caller;
use crate::edge::auth::{reconfirm_admin, user_not_found};
use crate::edge::http::{query, Reply};
use crate::features::audit::{self, Action, AuditRecord, Entry};

/// How often the user may change under us before the request gives up.
const ATTEMPTS: u32 = 6;

/// What each operation of the transaction does, to read which one's condition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Target,
    Billing,
    Seat,
    Username,
    Token,
    Caller,
}

/// Five sequential DynamoDB calls (identity, caller, target, list shard,
/// TransactWriteItems), then
/// Cognito AdminUserGlobalSignOut and AdminDeleteUser for a user who had signed up.
pub async fn handle(db: &Db, idp: &dyn IdentityProvider, req: Request) -> Result<Reply, ApiError> {
    let mut caller = caller(db, &req).await?;
    crate::edge::auth::require_admin(db, &req, &caller, None).await?;
    let id = target_id(&query(&req))?;
    let origin = crate::edge::http::origin(&req);
    let (account, me) = (caller.user.account_id, caller.user.id);
    let refuse = |target: UserId| {
        let entry = Entry::new(Action::AccessDenied, Some(me), Some(target));
        audit::record_refusal(db, account, entry, &origin)
    };
    if id == caller.user.id {
        refuse(id).await;
        return Err(ApiError::app(
            ErrorCode::Access,
            "You cannot delete yourself.",
        ));
    }

    let mut attempt = 0;
    let deleted = loop {
        attempt += 1;
        let target = db
            .get_user(caller.user.account_id, id)
            .await?
            .ok_or_else(user_not_found)?;
        if target.owner {
            refuse(target.id).await;
            return Err(ApiError::app(
                ErrorCode::Access,
                "The account owner cannot be deleted.",
            ));
        }
        if target.deleted {
            // Already deleted: nothing changes; finish the Cognito step if it failed.
            break target;
        }
        let now = clock::now_iso();
        let (writes, deletion) = deletion_writes(db.table(), &caller.user, &target, &now)?;
        let (roles, operations): (Vec<Write>, Vec<tx::Write>) = writes.into_iter().unzip();
        let record = AuditRecord::new(
            caller.user.account_id,
            Entry::new(Action::UserDeleted, Some(caller.user.id), Some(target.id))
                .field("deleted", false, true),
            &origin,
            clock::now(),
        );
        let failed = match indexed::transact_indexed(
            db,
            operations,
            caller.user.account_id,
            &deletion,
            &[record],
        )
        .await
        {
            Ok(()) => {
                tracing::info!(user_id = %target.id, account_id = %target.account_id, "user deleted");
                break target;
            }
            Err(TxError::ConditionFailed(positions)) => failed_roles(&roles, &positions),
            Err(TxError::Other(err)) => return Err(err),
        };
        let raced = failed.contains(&Write::Target) || failed.contains(&Write::Caller);
        if raced && attempt == ATTEMPTS {
            return Err(ApiError::contended(format!(
                "deletion kept losing to concurrent writes: {failed:?}"
            )));
        }
        if failed.contains(&Write::Target) {
            // Deleted, retyped, signed up or re-sent since it was read: read it again.
            tokio::time::sleep(contention_pause(attempt)).await;
            continue;
        }
        if failed.contains(&Write::Caller) {
            caller = reconfirm_admin(db, &caller).await?;
            continue;
        }
        return Err(ApiError::internal(format!(
            "deletion transaction failed on {failed:?} (attempt {attempt})"
        )));
    };

    lock_out(idp, &deleted).await?;
    Ok(Reply::Empty)
}

/// The `id` query parameter (its name matched without regard to case, as for the list
/// parameters): required, a UUID.
fn target_id(query: &Query) -> Result<UserId, ApiError> {
    let raw = query
        .known(&["id"])?
        .get("id")
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            ApiError::app(
                ErrorCode::Default,
                "id is required: the UUID of the user to delete.",
            )
        })?;
    Ok(UserId::parse(raw, "id")?)
}

/// The deletion's transaction, and the change it makes to the user's list row. The user
/// must still be live, of the type read (the seat freed is that type's) and hold the
/// token read (the token removed is the live one).
fn deletion_writes(
    table: &str,
    caller: &UserItem,
    target: &UserItem,
    now: &str,
) -> Result<(Vec<(Write, tx::Write)>, RowChange), ApiError> {
    let deleted = users::mark_deleted(table, target, now)?;
    let mut writes = vec![
        (Write::Target, deleted.write),
        (Write::Billing, billing::close(table, target, now)?),
        (
            Write::Seat,
            seats::change(
                table,
                target.account_id,
                None,
                Some(target.user_type.seat()),
                now,
            )?,
        ),
        (Write::Username, usernames::release_if_held(table, target)?),
        (Write::Caller, users::still_admin(table, caller)?),
    ];
    if let Some(hash) = &target.token_hash {
        writes.push((Write::Token, tokens::remove(table, hash)?));
    }
    Ok((writes, deleted.row))
}

/// Signs the person out everywhere and deletes their Cognito user, so no session or
/// password of theirs works again and the address is free for a new person. Only a user
/// who signed up has one; one already gone counts as done.
async fn lock_out(idp: &dyn IdentityProvider, user: &UserItem) -> Result<(), ApiError> {
    let Some(sub) = user.sub.as_deref() else {
        return Ok(());
    };
    let done = |result: Result<(), IdpError>| match result {
        Err(IdpError::UserNotFound) => Ok(()),
        other => other,
    };
    let result = match done(idp.sign_out_everywhere(sub).await) {
        Ok(()) => done(idp.delete_user(sub).await),
        Err(err) => Err(err),
    };
    result.map_err(|err| {
        tracing::warn!(user_id = %user.id, error = %err, "user deleted, but the identity provider step failed; the same request finishes it");
        cognito_error(CognitoCall::LockOut, err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_id_is_required_and_must_be_a_uuid() {
        for query in [q(&[]), q(&[("id", " ")])] {
            let err = target_id(&query).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default));
            assert!(err.to_string().contains("id is required"), "{err}");
        }
        let err = target_id(&q(&[("id", "42")])).unwrap_err();
        assert!(err.to_string().contains("id must be a UUID"), "{err}");
        let id = UserId::new();
        assert_eq!(target_id(&q(&[("Id", &id.to_string())])).unwrap(), id);
    }
}
