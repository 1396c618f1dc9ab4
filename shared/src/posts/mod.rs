//! Posts (SPEC §5): the record, its validation against each target platform's limits, the API,
//! the pipeline that publishes due posts to every target exactly once, and the sync of their
//! engagement metrics.

mod api;
pub mod metrics;
mod model;
pub mod publish;
pub mod validate;

pub use api::{PostView, create, routes};
pub use model::{
    METRICS_HISTORY_LEN, MetricsSample, Post, PostStatus, Target, TargetError, TargetMetrics, TargetStatus,
};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{PostId, WorkspaceId};

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
