//! The user-management API, in four layers; a layer imports only from the layers below it:
//!
//! - `edge`: what Lambda and HTTP see: the routes and one handler per endpoint, reading
//!   requests, authentication and authorisation, the one mapping of errors to responses,
//!   serving on the Lambda runtime, logs, and the scheduled check's entry.
//! - `features`: what the product does: invitations and signup, self-service, listing,
//!   the audit trail, change events, account bootstrap.
//! - `adapters`: the AWS services, each behind its own module that alone speaks its SDK:
//!   DynamoDB (`db`, with the items of the single table), Cognito (`idp`), SES (`mail`),
//!   EventBridge (`eventbridge`), and the SDK configuration (`aws`).
//! - `domain`: the types every layer shares, with no I/O, AWS or HTTP: ids, emails, user
//!   types and the other newtypes parsed at the edge, the error type, the API's records,
//!   configuration, time and token hashing.

pub mod adapters;
pub mod domain;
pub mod edge;
pub mod features;

pub use domain::config::Config;
pub use domain::error::{ApiError, ErrorCode};
