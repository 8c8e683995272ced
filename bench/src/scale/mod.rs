//! `make bench-scale`: the two list functions on accounts of 1,000, 10,000 and 100,000
//! users, and the audit log of an account with 10,000 and 100,000 records, their release
//! binaries under the Runtime API stub against an in-process fake DynamoDB: Query pages
//! and other calls, bytes and read units, sequential calls, CPU per invocation, peak
//! memory, and the latency that CPU time means at 128 and 1024 MB.

pub mod account;
pub mod audit_log;
pub mod dynamo_json;
pub mod expressions;
pub mod fake_dynamo;
mod names;
pub mod runner;
pub mod scenario;
