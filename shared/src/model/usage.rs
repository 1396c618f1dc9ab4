//! Per-key request limits (SPEC §9): how many requests of a limited kind (creating posts, AI
//! calls) one API key may make per minute, and the per-minute counts checked against them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{ApiKeyId, WorkspaceId};

/// A kind of request limited per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limited {
    /// Creating posts.
    Posts,
    /// text-assist, media-assist and generate-content.
    Ai,
}

impl Limited {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Posts => "posts",
            Self::Ai => "ai",
        }
    }

    /// What the 429 calls the requests.
    pub const fn described(self) -> &'static str {
        match self {
            Self::Posts => "posts created",
            Self::Ai => "AI calls",
        }
    }
}

/// Requests per minute per key; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub posts_per_minute: u32,
    pub ai_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { posts_per_minute: 60, ai_per_minute: 20 }
    }
}

impl RateLimits {
    pub fn per_minute(&self, limited: Limited) -> u32 {
        match limited {
            Limited::Posts => self.posts_per_minute,
            Limited::Ai => self.ai_per_minute,
        }
    }
}

/// How many requests of one kind one key made in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    pub workspace_id: WorkspaceId,
    pub key_id: ApiKeyId,
    pub limited: Limited,
    /// The start of the minute.
    #[serde(with = "time::serde::rfc3339")]
    pub minute: OffsetDateTime,
    pub count: i64,
    /// Soon after the minute: nothing reads an old count.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl KeyUsage {
    /// The count of the minute `now` falls in, before anything is added.
    pub fn empty(workspace_id: WorkspaceId, key_id: ApiKeyId, limited: Limited, now: OffsetDateTime) -> Self {
        let minute = minute_of(now);
        Self { workspace_id, key_id, limited, minute, count: 0, expires_at: minute + time::Duration::minutes(5) }
    }
}

/// The start of the minute `at` falls in.
pub fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_second(0).and_then(|t| t.replace_nanosecond(0)).unwrap_or(at)
}

/// Whole seconds until the next minute starts (at least 1): the `Retry-After` of a 429.
pub fn seconds_to_next_minute(now: OffsetDateTime) -> u64 {
    let next = minute_of(now) + time::Duration::minutes(1);
    u64::try_from((next - now).whole_seconds()).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_retry_waits_for_the_next_minute() {
        assert_eq!(seconds_to_next_minute(datetime!(2026-12-01 10:00:15.5 UTC)), 44);
        assert_eq!(seconds_to_next_minute(datetime!(2026-12-01 10:00:59.9 UTC)), 1);
        assert_eq!(minute_of(datetime!(2026-12-01 10:07:42.1 UTC)), datetime!(2026-12-01 10:07 UTC));
    }
}
