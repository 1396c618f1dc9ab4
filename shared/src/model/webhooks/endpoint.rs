//! The webhook endpoint record and the rules its fields obey.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::crypto::{Sealed, SecretBox, random_bytes};
use crate::model::error::{Error, Result};
use crate::model::ids::{WebhookId, WorkspaceId};
use crate::model::webhooks::Probe;
use crate::model::webhooks::catalog::EventType;

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
    /// Why it was last switched back on: `manual` (by its owner) or `recovered` (a probe
    /// found it answering again).
    #[serde(default)]
    pub enabled_reason: Option<String>,
    /// When it was last switched back on: failures that ended before do not disable it again.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub enabled_at: Option<OffsetDateTime>,
    /// Whether Posthorn probes it once it disabled it, and re-enables and recovers it when it
    /// answers again.
    #[serde(default = "probing_by_default")]
    pub auto_recover: bool,
    /// The next probe, while Posthorn disabled it and probes it.
    #[serde(default)]
    pub probe: Option<Probe>,
    pub secret: Sealed,
    /// The last 4 characters of the secret, so owners can tell secrets apart.
    pub secret_hint: String,
    pub retiring_secret: Option<RetiringSecret>,
    /// Bumped by every write; writes are conditional on it, so no change overwrites another.
    /// Endpoints stored before versions existed read as version 0.
    #[serde(default)]
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What a new endpoint is made of; everything else starts at its default.
pub struct NewEndpoint<'a> {
    pub workspace_id: WorkspaceId,
    pub name: Option<String>,
    pub url: String,
    pub events: EventFilter,
    pub secret: &'a WebhookSecret,
}

impl WebhookEndpoint {
    /// An active endpoint whose secret is sealed with `secrets`.
    pub fn new(new: NewEndpoint<'_>, secrets: &SecretBox, now: OffsetDateTime) -> Self {
        Self {
            id: WebhookId::new(),
            workspace_id: new.workspace_id,
            name: new.name,
            url: new.url,
            events: new.events,
            active: true,
            disabled_reason: None,
            enabled_reason: None,
            enabled_at: None,
            auto_recover: true,
            probe: None,
            secret: secrets.seal(new.secret.as_str()),
            secret_hint: new.secret.hint(),
            retiring_secret: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

fn probing_by_default() -> bool {
    true
}

const MAX_NAME_CHARS: usize = 100;
const SECRET_PREFIX: &str = "whsec_";
const GENERATED_SECRET_BYTES: usize = 32;

impl EventFilter {
    /// Parses the `events` of a request: `["*"]`, or a non-empty list of catalog names.
    pub fn from_names(names: &[String]) -> Result<Self> {
        if names.is_empty() {
            return Err(Error::bad_request("events must list at least one event, or [\"*\"] for all"));
        }
        if names.iter().any(|name| name == "*") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err(Error::bad_request("events: \"*\" already means every event and cannot be combined with others"))
            };
        }
        let mut events = Vec::with_capacity(names.len());
        for name in names {
            let event = EventType::parse(name).ok_or_else(|| {
                Error::bad_request(format!("events: unknown event `{name}`; GET /v1/webhooks/events lists them"))
            })?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok(Self::Only(events))
    }
}

/// Validates an endpoint's optional display name.
pub fn validate_name(name: &str) -> Result<()> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::bad_request(format!("name must be at most {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

/// A signing secret in its plaintext form: `whsec_` + base64 of 24–64 random bytes, and the
/// decoded bytes that key Standard Webhooks signatures.
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    pub fn generate() -> Self {
        let key = random_bytes::<GENERATED_SECRET_BYTES>().to_vec();
        Self { text: format!("{SECRET_PREFIX}{}", STANDARD.encode(&key)), key }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::bad_request("secret must be `whsec_` followed by the base64 of 24 to 64 bytes");
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or_else(invalid)?;
        let key = STANDARD.decode(encoded).map_err(|_| invalid())?;
        if !(24..=64).contains(&key.len()) {
            return Err(invalid());
        }
        Ok(Self { text: text.to_string(), key })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The base64-decoded part after `whsec_`.
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The last 4 characters, shown later so owners can tell secrets apart.
    pub fn hint(&self) -> String {
        let start = self.text.len().saturating_sub(4);
        self.text[start..].to_string()
    }
}
