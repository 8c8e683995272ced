//! The user-management API: domain, adapters (DynamoDB, Cognito, SES) and the handlers
//! every Lambda function and the local gateway run.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod check_list_index;
pub mod aws;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod http;
pub mod idp;
pub mod invitations;
pub mod lambda;
pub mod list_index;
pub mod listing;
pub mod mail;
pub mod model;
pub mod self_service;
pub mod telemetry;
pub mod token;
pub mod views;

pub use config::Config;
/// The data-model migration is a storage tool and lives with the adapter.
pub use db::migration;
pub use error::{ApiError, ErrorCode};
