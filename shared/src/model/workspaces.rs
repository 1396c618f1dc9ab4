//! Workspaces (tenants) and their API keys. A key is shown once when created; the store keeps
//! only its SHA-256.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::crypto::{KeyHash, generate_api_key};
use crate::model::ids::{ApiKeyId, WorkspaceId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub hash: KeyHash,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A freshly made key: the record to store and the plaintext to show once.
pub struct NewApiKey {
    pub record: ApiKey,
    pub plaintext: String,
}

impl NewApiKey {
    pub fn generate(workspace_id: WorkspaceId, now: OffsetDateTime) -> Self {
        let plaintext = generate_api_key();
        let record = ApiKey { id: ApiKeyId::new(), workspace_id, hash: KeyHash::of(&plaintext), created_at: now };
        Self { record, plaintext }
    }
}
