//! Workspaces (tenants) and their API keys. A key is shown once when created; the store keeps
//! only its SHA-256. Each key holds scopes (SPEC §9): what it may do.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::model::crypto::{KeyHash, generate_api_key};
use crate::model::error::{Error, Result};
use crate::model::ids::{ApiKeyId, WorkspaceId};

/// The longest workspace or key name.
pub const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What an API key may do; every operation needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "posts:read")]
    PostsRead,
    #[serde(rename = "posts:write")]
    PostsWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    #[serde(rename = "connections:read")]
    ConnectionsRead,
    #[serde(rename = "connections:write")]
    ConnectionsWrite,
    #[serde(rename = "ai")]
    Ai,
    #[serde(rename = "automations:read")]
    AutomationsRead,
    #[serde(rename = "automations:write")]
    AutomationsWrite,
    #[serde(rename = "inbox:read")]
    InboxRead,
    #[serde(rename = "inbox:write")]
    InboxWrite,
    #[serde(rename = "keys:write")]
    KeysWrite,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Self::PostsRead,
        Self::PostsWrite,
        Self::WebhooksRead,
        Self::WebhooksWrite,
        Self::ConnectionsRead,
        Self::ConnectionsWrite,
        Self::Ai,
        Self::AutomationsRead,
        Self::AutomationsWrite,
        Self::InboxRead,
        Self::InboxWrite,
        Self::KeysWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PostsRead => "posts:read",
            Self::PostsWrite => "posts:write",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
            Self::ConnectionsRead => "connections:read",
            Self::ConnectionsWrite => "connections:write",
            Self::Ai => "ai",
            Self::AutomationsRead => "automations:read",
            Self::AutomationsWrite => "automations:write",
            Self::InboxRead => "inbox:read",
            Self::InboxWrite => "inbox:write",
            Self::KeysWrite => "keys:write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    pub fn every() -> BTreeSet<Scope> {
        Self::ALL.into_iter().collect()
    }

    /// Scopes written `posts:read,posts:write` (or space-separated); `all` is every scope.
    pub fn parse_list(text: &str) -> Result<BTreeSet<Scope>> {
        if text.trim() == "all" {
            return Ok(Self::every());
        }
        let scopes = text
            .split([',', ' '])
            .filter(|part| !part.is_empty())
            .map(|part| Self::parse(part).ok_or_else(|| Error::bad_request(format!("scopes: unknown scope `{part}`"))))
            .collect::<Result<BTreeSet<_>>>()?;
        check_scopes(&scopes)?;
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes that is cheap to copy (a request's caller carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    pub fn to_set(self) -> BTreeSet<Scope> {
        Scope::ALL.into_iter().filter(|scope| self.contains(*scope)).collect()
    }

    fn bit(scope: Scope) -> u16 {
        1 << (scope as u16)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        Self(scopes.into_iter().fold(0, |bits, scope| bits | Self::bit(scope)))
    }
}

/// A key holds at least one scope.
pub fn check_scopes(scopes: &BTreeSet<Scope>) -> Result<()> {
    match scopes.is_empty() {
        true => Err(Error::bad_request("scopes: a key needs at least one scope")),
        false => Ok(()),
    }
}

/// A workspace or key name: 1 to [`MAX_NAME_CHARS`] characters, not blank.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > MAX_NAME_CHARS {
        return Err(Error::bad_request(format!("{field}: must be 1 to {MAX_NAME_CHARS} characters, not blank")));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub hash: KeyHash,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default)]
    pub name: Option<String>,
    /// What the key may do. Absent only from keys stored before keys had scopes: those hold
    /// every scope, and are saved with them (and listed from then on) on their next use.
    #[serde(default)]
    pub scopes: Option<BTreeSet<Scope>>,
}

impl ApiKey {
    /// Whether the key was stored before keys had scopes.
    pub fn predates_scopes(&self) -> bool {
        self.scopes.is_none()
    }

    /// The scopes the key holds.
    pub fn granted(&self) -> BTreeSet<Scope> {
        self.scopes.clone().unwrap_or_else(Scope::every)
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|scopes| scopes.contains(&scope))
    }
}

/// A freshly made key: the record to store and the plaintext to show once.
pub struct NewApiKey {
    pub record: ApiKey,
    pub plaintext: String,
}

impl NewApiKey {
    pub fn generate(
        workspace_id: WorkspaceId,
        name: Option<String>,
        scopes: BTreeSet<Scope>,
        now: OffsetDateTime,
    ) -> Self {
        let plaintext = generate_api_key();
        let record = ApiKey {
            id: ApiKeyId::new(),
            workspace_id,
            hash: KeyHash::of(&plaintext),
            created_at: now,
            name,
            scopes: Some(scopes),
        };
        Self { record, plaintext }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_stored_before_scopes_holds_every_scope() {
        let stored = serde_json::json!({
            "id": ApiKeyId::new(), "workspace_id": WorkspaceId::new(),
            "hash": KeyHash::of("phk_old").to_hex(), "created_at": "2026-01-01T00:00:00Z",
        });
        let key: ApiKey = serde_json::from_value(stored).unwrap();
        assert!(key.predates_scopes());
        assert_eq!(key.granted(), Scope::every());
        assert!(Scope::ALL.iter().all(|scope| key.allows(*scope)));
    }

    #[test]
    fn scopes_parse_by_name() {
        let parsed = Scope::parse_list("posts:read, posts:write").unwrap();
        assert_eq!(parsed, [Scope::PostsRead, Scope::PostsWrite].into());
        assert_eq!(Scope::parse_list("all").unwrap().len(), 12);
        assert!(Scope::parse_list("posts:admin").is_err());
        assert!(Scope::parse_list(" ").is_err());
        for scope in Scope::ALL {
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
    }
}
