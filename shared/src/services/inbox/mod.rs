//! The inbox (SPEC §8): comments, mentions and DMs from every connected account, stored once
//! each as an interaction and announced through the outbox as `inbox` events. Interactions
//! arrive by polling (`poll`, the scheduled sync-inbox), by the sandbox (`simulate`) and — next —
//! by the platforms' push; all of them go through `arrive`, so the same platform item is stored
//! and fires its event once however often and however it is seen. `reply` answers one through
//! its platform and records the answer.

mod arrive;
pub mod backfill;
pub mod poll;
pub mod push;
pub mod reply;
pub mod simulate;

pub use arrive::{RecentPosts, arrive, interaction_of};
pub use poll::{InboxReport, sync_inbox};

/// How the inbox keeps what arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxSettings {
    /// How long an interaction is kept (the store's TTL).
    pub retention: time::Duration,
    /// The dev server's period for sync-inbox (EventBridge runs it every minute).
    pub interval: std::time::Duration,
}

impl Default for InboxSettings {
    fn default() -> Self {
        Self { retention: crate::model::inbox::DEFAULT_RETENTION, interval: std::time::Duration::from_secs(5) }
    }
}
