//! POST /api/v1/user/signup: finalize a signup with the invitation token.

use lambda_http::Request;
use serde::Deserialize;

use crate::adapters::db::Db;
use crate::adapters::idp::IdentityProvider;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::views::User;
use crate::domain::PersonName;
use crate::edge::http::{json_body, Reply};
use crate::features::invitations::{signup, SignupForm};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignupBody {
    firstname: String,
    lastname: String,
    password: String,
    token: String,
}

pub async fn handle(db: &Db, idp: &dyn IdentityProvider, req: Request) -> Result<Reply, ApiError> {
    let body: SignupBody = json_body(&req)?;
    let firstname = PersonName::parse(&body.firstname, "firstname")?.into_inner();
    let lastname = PersonName::parse(&body.lastname, "lastname")?.into_inner();
    if body.password.is_empty() {
        return Err(ApiError::app(
            ErrorCode::Security,
            "password must not be empty.",
        ));
    }
    let user = signup(
        db,
        idp,
        SignupForm {
            token: &body.token,
            firstname,
            lastname,
            password: &body.password,
        },
        &crate::edge::http::origin(&req),
    )
    .await?;
    Reply::json(&User::from(&user))
}
