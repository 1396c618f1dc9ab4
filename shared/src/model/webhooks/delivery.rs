//! Events and their deliveries: the outbox records. An event's body is fixed when it is
//! emitted; each delivery carries one event to one endpoint and records every attempt.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
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
    pub attempts: Vec<Attempt>,
    /// How many attempts preceded the current retry schedule: 0, or the count at the last
    /// manual retry, which starts the schedule afresh.
    pub schedule_start: usize,
    /// When the next attempt is due while pending; the outbox sweep re-enqueues deliveries
    /// whose next attempt is long overdue.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}
