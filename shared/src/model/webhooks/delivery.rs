//! Events and their deliveries: the outbox records. An event's body is fixed when it is
//! emitted; each delivery carries one event to one endpoint and records every attempt.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{DeliveryId, EventId, RecoveryId, WebhookId, WorkspaceId};
use crate::model::webhooks::catalog::EventType;

/// An emitted event. `body` is the exact JSON every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub workspace_id: WorkspaceId,
    pub event_type: EventType,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The endpoints the event goes to, kept while its deliveries are still being written (a
    /// fan-out larger than one transaction); empty once every delivery is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fanout: Vec<WebhookId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// An attempt got a 2xx.
    Delivered,
    /// Every scheduled attempt failed, or the endpoint went away.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|status| status.as_str() == text)
    }
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// Why the attempt failed, when it did (timeout, refused by the SSRF guard, non-2xx…).
    pub error: Option<String>,
    /// The first 1 KiB of the response body.
    pub response_body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// Bumped by every write; writes are conditional on it, so two workers holding copies of
    /// one delivery never both record an attempt.
    pub version: u64,
    /// The newest attempts, oldest first (at most the configured number kept).
    pub attempts: Vec<Attempt>,
    /// How many older attempts were dropped to keep the record small.
    #[serde(default)]
    pub attempts_dropped: usize,
    /// How many attempts preceded the current retry schedule: 0, or the count at the last
    /// manual retry, which starts the schedule afresh.
    pub schedule_start: usize,
    /// When the next attempt is due while pending; the outbox sweep re-enqueues deliveries
    /// whose next attempt is long overdue.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The recovery sending this failed delivery once more, if one is: that attempt is its only
    /// one (no retry schedule), and tells the recovery how it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Delivery {
    /// Records an attempt, keeping only the newest `kept` (at least one).
    pub fn record_attempt(&mut self, attempt: Attempt, kept: usize) {
        self.attempts.push(attempt);
        let excess = self.attempts.len().saturating_sub(kept.max(1));
        self.attempts.drain(..excess);
        self.attempts_dropped += excess;
    }

    /// Every attempt made, the dropped ones included.
    pub fn attempts_made(&self) -> usize {
        self.attempts.len() + self.attempts_dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status_code: u16) -> Attempt {
        let at = OffsetDateTime::UNIX_EPOCH;
        Attempt { at, status_code: Some(status_code), duration_ms: 1, error: None, response_body: None }
    }

    #[test]
    fn a_delivery_keeps_its_newest_attempts_and_counts_every_one() {
        let mut delivery = Delivery {
            id: DeliveryId::new(),
            workspace_id: WorkspaceId::new(),
            webhook_id: WebhookId::new(),
            event_id: EventId::new(),
            event_type: EventType::PostPublished,
            status: DeliveryStatus::Pending,
            version: 0,
            attempts: Vec::new(),
            attempts_dropped: 0,
            schedule_start: 0,
            next_attempt_at: None,
            recovery: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        for status in 500..525 {
            delivery.record_attempt(attempt(status), 20);
        }
        assert_eq!(delivery.attempts.len(), 20);
        assert_eq!(delivery.attempts[0].status_code, Some(505), "the oldest five were dropped");
        assert_eq!(delivery.attempts_made(), 25);
    }
}
