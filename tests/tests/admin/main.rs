//! Administration end to end (HTTP → gateway → handlers → moto): get_all_users,
//! get_all_users_with_details, edit_user and delete_user (and insert_user's bound per
//! address), with seats, lockout, Cognito failures and two accounts side by side; the
//! data-model migrations and the list index's check and repair. One test binary, a module
//! per endpoint or concern. (The audit log's tests are in the `api` binary.)

mod across_endpoints;
mod delete;
mod edit;
mod invite;
mod lists;
mod migration;
mod support;
