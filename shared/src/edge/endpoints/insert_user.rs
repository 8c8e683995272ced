//! POST /api/v1/user/insert_user: invite a user into the caller's account (admins only).

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::Db;
use crate::adapters::mail::Mailer;
use crate::domain::config::Config;
use crate::domain::error::ApiError;
use crate::domain::views::User;
use crate::domain::{Email, PersonName, UserType};
use crate::edge::auth::caller_with_account;
use crate::edge::http::{json_body, Reply};
use crate::features::audit::Requester;
use crate::features::invitations::{invite, Inviter, NewUser, SeatSource};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InsertUserBody {
    username: String,
    email: String,
    #[serde(default)]
    firstname: String,
    #[serde(default)]
    lastname: String,
    user_type: i64,
}

pub async fn handle(
    db: &Db,
    mailer: &dyn Mailer,
    config: &Config,
    req: Request,
) -> Result<Reply, ApiError> {
    let (caller, account) = caller_with_account(db, &req).await?;
    crate::edge::auth::require_admin(db, &req, &caller, None).await?;
    let body: InsertUserBody = json_body(&req)?;
    let new = NewUser {
        username: Email::parse(&body.username, "username")?,
        email: Email::parse(&body.email, "email")?,
        firstname: PersonName::parse_optional(&body.firstname, "firstname")?.into_inner(),
        lastname: PersonName::parse_optional(&body.lastname, "lastname")?.into_inner(),
        user_type: UserType::parse_assignable(body.user_type)?,
        owner: false,
    };
    let inviter_name = format!("{} {}", caller.user.firstname, caller.user.lastname)
        .trim()
        .to_owned();
    let inviter = Inviter {
        name: if inviter_name.is_empty() {
            caller.user.email.to_string()
        } else {
            inviter_name
        },
    };
    let invited = invite(
        db,
        mailer,
        config,
        SeatSource::Account {
            id: account.id,
            name: account.name,
        },
        &inviter,
        new,
        &Requester::new(Some(caller.user.id), crate::edge::http::origin(&req)),
    )
    .await?;
    Reply::json(&User::from(&invited.user))
}
