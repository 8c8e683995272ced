//! The audit trail in the table (see `crate::audit`): record items, their copies under
//! the target user, the day counters, and the reads of the log.
