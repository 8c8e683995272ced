//! The local stack: AWS emulated by moto, resources from template.yaml, a gateway that
//! authorizes like the HTTP API and runs the Lambda handlers in-process, demo data, and
//! the development endpoints. Never deployed.

pub mod change_events;
pub mod cors;
pub mod dev;
pub mod fixtures;
pub mod function_env;
pub mod gateway;
pub mod invoke_files;
pub mod jwt;
pub mod moto;
pub mod provision;
pub mod runtime_api;
pub mod seed;
pub mod signup_page;
pub mod stack;
