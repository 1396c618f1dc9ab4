//! The webhook endpoint record and the rules its fields obey.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::Sealed;
use crate::ids::{WebhookId, WorkspaceId};
use crate::webhooks::catalog::EventType;

/// Which events an endpoint receives: every event (`["*"]`), or a chosen set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "events")]
pub enum EventFilter {
    All,
    Only(Vec<EventType>),
}

impl EventFilter {
    pub fn accepts(&self, event: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(events) => events.contains(&event),
        }
    }

    /// The filter as the API shows it: `["*"]` or the event names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_string()],
            Self::Only(events) => events.iter().map(|e| e.as_str().to_string()).collect(),
        }
    }
}

/// A signing secret being replaced: it keeps signing beside the new one until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringSecret {
    pub secret: Sealed,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub name: Option<String>,
    pub url: String,
    pub events: EventFilter,
    pub active: bool,
    /// Why the endpoint was switched off by Posthorn (not by its owner), if it was.
    pub disabled_reason: Option<String>,
    pub secret: Sealed,
    /// The last 4 characters of the secret, so owners can tell secrets apart.
    pub secret_hint: String,
    pub retiring_secret: Option<RetiringSecret>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}
