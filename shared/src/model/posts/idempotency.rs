//! What `POST /v1/posts` with an `Idempotency-Key` remembers.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{PostId, WorkspaceId};

/// What `POST /v1/posts` with an `Idempotency-Key` remembers for 24 hours: which post the key
/// created, and a fingerprint of the request body, so a replay with another body is a 409.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub fingerprint: String,
    pub post_id: PostId,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
