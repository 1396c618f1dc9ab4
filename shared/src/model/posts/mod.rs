//! Posts as records and rules (SPEC §5): what to publish, where, when, and what happened on each
//! target; the idempotency record of a create; and the checks of a post against each target
//! platform's limits.

mod idempotency;
pub mod validate;

pub use idempotency::IdempotencyRecord;

/// How many channels one post (or one automation) may target.
pub const MAX_TARGETS: usize = 20;
/// The longest text a post may have, whatever its targets accept.
pub const MAX_TEXT_CHARS: usize = 100_000;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{ChannelId, PostId, WorkspaceId};
use crate::model::platforms::{ErrorCode, MediaItem, Metrics, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    Draft,
    Scheduled,
    Publishing,
    Published,
    Partial,
    Failed,
    Cancelled,
}

impl PostStatus {
    pub const ALL: [PostStatus; 7] =
        [Self::Draft, Self::Scheduled, Self::Publishing, Self::Published, Self::Partial, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Publishing => "publishing",
            Self::Published => "published",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Pending,
    Published,
    Failed,
}

/// Why a target failed: a stable code and the platform's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetError {
    pub code: ErrorCode,
    pub message: String,
}

/// One channel a post goes to, and what happened there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub status: TargetStatus,
    pub platform_post_id: Option<String>,
    pub url: Option<String>,
    pub error: Option<TargetError>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    /// The step a multi-step publish reached (e.g. an Instagram container), to resume from.
    pub progress: Option<String>,
    /// Publish tries so far (a rate-limited target is tried again after the platform's delay).
    pub attempts: u32,
    /// Engagement figures, once sync-post-metrics has read them.
    pub metrics: Option<TargetMetrics>,
    /// When the post was deleted from the platform (`POST /v1/posts/{id}/unpublish`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub unpublished_at: Option<OffsetDateTime>,
    /// Why deleting it from the platform failed, the last time that was asked.
    #[serde(default)]
    pub unpublish_error: Option<TargetError>,
}

impl Target {
    pub fn pending(channel_id: ChannelId, platform: Platform) -> Self {
        Self {
            channel_id,
            platform,
            status: TargetStatus::Pending,
            platform_post_id: None,
            url: None,
            error: None,
            published_at: None,
            progress: None,
            attempts: 0,
            metrics: None,
            unpublished_at: None,
            unpublish_error: None,
        }
    }
}

/// How many readings of a target's figures are kept (each a change; see [`TargetMetrics`]).
pub const METRICS_HISTORY_LEN: usize = 48;

/// A target's engagement figures: the latest reading, when it was taken, and the readings that
/// changed them, oldest first. A sample is added only when the figures change, so each one
/// holds from its `at` until the next; at most [`METRICS_HISTORY_LEN`] are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetMetrics {
    pub latest: Metrics,
    #[serde(with = "time::serde::rfc3339")]
    pub synced_at: OffsetDateTime,
    pub history: Vec<MetricsSample>,
}

impl TargetMetrics {
    /// Records a reading taken `at`; returns whether the figures changed (a first reading does).
    pub fn record(metrics: &mut Option<Self>, reading: Metrics, at: OffsetDateTime) -> bool {
        let sample = MetricsSample { at, figures: reading };
        match metrics {
            Some(known) if known.latest == reading => {
                known.synced_at = at;
                false
            }
            Some(known) => {
                known.latest = reading;
                known.synced_at = at;
                known.history.push(sample);
                let excess = known.history.len().saturating_sub(METRICS_HISTORY_LEN);
                known.history.drain(..excess);
                true
            }
            None => {
                *metrics = Some(Self { latest: reading, synced_at: at, history: vec![sample] });
                true
            }
        }
    }
}

/// The figures of one reading and when it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricsSample {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub figures: Metrics,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: PostId,
    pub workspace_id: WorkspaceId,
    pub text: String,
    pub media: Vec<MediaItem>,
    pub status: PostStatus,
    /// When to publish; `None` with status `scheduled` never happens (immediate posts are
    /// scheduled for the moment they were created).
    #[serde(with = "time::serde::rfc3339::option")]
    pub scheduled_at: Option<OffsetDateTime>,
    pub targets: Vec<Target>,
    /// When process-queue should next take the post up: `scheduled_at` while scheduled, the end
    /// of the publishing lease (or a rate limit's delay) while publishing, `None` otherwise.
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    pub retried_count: u32,
    /// When sync-post-metrics should next read the figures of its published targets: set when a
    /// target is published, moved on by every sync, `None` once every target is too old to sync.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub metrics_due_at: Option<OffsetDateTime>,
    /// Bumped by every write; writes are conditional on it, which is how a due post is claimed
    /// by exactly one process-queue run.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}
