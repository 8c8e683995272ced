//! End-to-end tests of the platform: HTTP through the local gateway, the Lambda handlers,
//! and moto. (Each area of the API has its own test binary beside this one.)

mod audit_trail;
mod platform;
