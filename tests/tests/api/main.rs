//! End-to-end tests: HTTP through the local gateway, the Lambda handlers, and moto.
//! One binary, so one moto and one link step.

mod admin;
mod invitations;
mod platform;
mod self_service;
