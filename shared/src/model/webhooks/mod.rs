//! Webhooks as records and rules: the endpoints customers register, the event catalog, events
//! and their deliveries, the retry schedule, and the signatures every delivery carries.

pub mod catalog;
mod delivery;
mod endpoint;
mod limits;
mod outcomes;
mod recovery;
mod retry;
pub mod signing;

pub use catalog::EventType;
pub use delivery::{Attempt, Delivery, DeliveryStatus, Event};
pub use endpoint::{EventFilter, NewEndpoint, RetiringSecret, WebhookEndpoint, WebhookSecret, validate_name};
pub use limits::WebhookLimits;
pub use outcomes::{DeliveryCounts, HourlyOutcomes, OUTCOMES_KEPT, OutcomeChange, STATS_WINDOW, hour_of};
pub use recovery::{
    InFlight, MAX_IN_FLIGHT, NewRecovery, Probe, Recovery, RecoverySettings, RecoveryState, RecoveryTrigger, SEND_AHEAD,
};
pub use retry::RetrySchedule;
