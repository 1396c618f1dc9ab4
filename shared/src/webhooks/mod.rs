//! Webhooks: endpoints customers register, the event catalog, and (next) the outbox, signing
//! and delivery of events to those endpoints.

pub mod catalog;
mod endpoint;

pub use catalog::EventType;
pub use endpoint::{EventFilter, RetiringSecret, WebhookEndpoint};
