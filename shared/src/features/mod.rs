//! What the product does, over the adapters: no HTTP, no Lambda runtime.

pub mod accounts;
pub mod audit;
pub mod events;
pub mod invitations;
pub mod listing;
pub mod self_service;
