//! What Lambda and HTTP see: routes, request reading, auth, responses, serving.

pub mod auth;
pub mod check_list_index;
pub mod endpoints;
pub mod http;
pub mod lambda;
pub mod publish_change_events;
pub mod telemetry;
