//! Webhooks: endpoints customers register, the event catalog, the outbox of events, and their
//! signed, retried delivery to those endpoints.

mod api;
pub mod catalog;
mod delivery;
mod endpoint;
pub mod outbox;
mod retry;
pub mod send;
pub mod signing;
pub mod worker;

pub use api::routes;
pub use catalog::EventType;
pub use delivery::{Attempt, Delivery, DeliveryStatus, Event};
pub use endpoint::{EventFilter, NewEndpoint, RetiringSecret, WebhookEndpoint, WebhookSecret};
pub use retry::RetrySchedule;
