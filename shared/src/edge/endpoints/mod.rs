//! One module per endpoint. Each Lambda binary calls its module's `handle` with only the
//! adapters it needs; the local gateway reaches the very same functions through `dispatch`.

use lambda_http::{Body, Request, Response};
use std::sync::Arc;

use crate::adapters::db::Db;
use crate::adapters::idp::IdentityProvider;
use crate::adapters::mail::Mailer;
use crate::domain::config::Config;
use crate::edge::http::respond;

pub mod audit_log;
pub mod delete_user;
pub mod edit_user;
pub mod generate_mfa_token;
pub mod get_all_users;
pub mod get_all_users_with_details;
pub mod get_signup_info;
pub mod get_user_info;
pub mod insert_user;
pub mod lists;
pub mod package_inquiry;
pub mod resend_user_email;
pub mod reset_password;
pub mod set_mfa;
pub mod update_user;
pub mod user_signup;

/// The 14 endpoints of the specification and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    GetSignupInfo,
    UserSignup,
    GetUserInfo,
    UpdateUser,
    ResetPassword,
    GenerateMfaToken,
    SetMfa,
    GetAllUsers,
    GetAllUsersWithDetails,
    InsertUser,
    EditUser,
    DeleteUser,
    ResendUserEmail,
    PackageInquiry,
    AuditLog,
}

/// A route of the HTTP API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// The function crate (and Lambda binary) that serves it.
    pub function: &'static str,
    /// Whether the JWT authorizer guards it.
    pub authenticated: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    function: &'static str,
    authenticated: bool,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        function,
        authenticated,
    }
}

/// Every route: those of the specification and the audit log. Counts in the docs are
/// checked against it (tests/tests/deployment.rs).
pub const ROUTES: &[Route] = &[
    route(
        "GET",
        "/api/v1/user/signupinfo",
        Endpoint::GetSignupInfo,
        "get-signup-info",
        false,
    ),
    route(
        "POST",
        "/api/v1/user/signup",
        Endpoint::UserSignup,
        "user-signup",
        false,
    ),
    route(
        "GET",
        "/api/v1/user/userinfo",
        Endpoint::GetUserInfo,
        "get-user-info",
        true,
    ),
    route(
        "PUT",
        "/api/v1/user/update_user",
        Endpoint::UpdateUser,
        "update-user",
        true,
    ),
    route(
        "POST",
        "/api/v1/user/reset_password",
        Endpoint::ResetPassword,
        "reset-password",
        true,
    ),
    route(
        "POST",
        "/api/v1/user/generate_mfa_token",
        Endpoint::GenerateMfaToken,
        "generate-mfa-token",
        true,
    ),
    route(
        "POST",
        "/api/v1/user/set_mfa",
        Endpoint::SetMfa,
        "set-mfa",
        true,
    ),
    route(
        "GET",
        "/api/v1/user/get_all_users",
        Endpoint::GetAllUsers,
        "get-all-users",
        true,
    ),
    route(
        "GET",
        "/api/v1/user/get_all_users_with_details",
        Endpoint::GetAllUsersWithDetails,
        "get-all-users-with-details",
        true,
    ),
    route(
        "POST",
        "/api/v1/user/insert_user",
        Endpoint::InsertUser,
        "insert-user",
        true,
    ),
    route(
        "PUT",
        "/api/v1/user/edit_user",
        Endpoint::EditUser,
        "edit-user",
        true,
    ),
    route(
        "DELETE",
        "/api/v1/user/delete_user",
        Endpoint::DeleteUser,
        "delete-user",
        true,
    ),
    route(
        "POST",
        "/api/v1/user/resend_user_email",
        Endpoint::ResendUserEmail,
        "resend-user-email",
        false,
    ),
    route(
        "GET",
        "/api/v1/user/package_inquiry",
        Endpoint::PackageInquiry,
        "package-inquiry",
        true,
    ),
    route(
        "GET",
        "/api/v1/user/audit_log",
        Endpoint::AuditLog,
        "audit-log",
        true,
    ),
];

/// The route for a method and path, if any.
pub fn find_route(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

/// Every adapter, for processes that serve all endpoints (the local gateway, tests).
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub idp: Arc<dyn IdentityProvider>,
    pub mailer: Arc<dyn Mailer>,
}

/// Runs an endpoint's handler, as its Lambda binary does.
pub async fn dispatch(services: &Services, endpoint: Endpoint, req: Request) -> Response<Body> {
    let Services {
        config,
        db,
        idp,
        mailer,
    } = services;
    let result = match endpoint {
        Endpoint::GetSignupInfo => get_signup_info::handle(db, req).await,
        Endpoint::UserSignup => user_signup::handle(db, idp.as_ref(), req).await,
        Endpoint::GetUserInfo => get_user_info::handle(db, req).await,
        Endpoint::InsertUser => insert_user::handle(db, mailer.as_ref(), config, req).await,
        Endpoint::PackageInquiry => package_inquiry::handle(db, req).await,
        Endpoint::ResendUserEmail => {
            resend_user_email::handle(db, mailer.as_ref(), config, req).await
        }
        Endpoint::UpdateUser => update_user::handle(db, idp.as_ref(), req).await,
        Endpoint::ResetPassword => {
            reset_password::handle(db, idp.as_ref(), mailer.as_ref(), req).await
        }
        Endpoint::GenerateMfaToken => {
            generate_mfa_token::handle(db, idp.as_ref(), config, req).await
        }
        Endpoint::SetMfa => set_mfa::handle(db, idp.as_ref(), mailer.as_ref(), req).await,
        Endpoint::GetAllUsers => get_all_users::handle(db, req).await,
        Endpoint::GetAllUsersWithDetails => get_all_users_with_details::handle(db, req).await,
        Endpoint::EditUser => edit_user::handle(db, req).await,
        Endpoint::DeleteUser => delete_user::handle(db, idp.as_ref(), req).await,
        Endpoint::AuditLog => audit_log::handle(db, req).await,
    };
    respond(result)
}
