//! The AWS services: each module alone speaks its SDK.

pub mod aws;
pub mod db;
pub mod eventbridge;
pub mod idp;
pub mod mail;
