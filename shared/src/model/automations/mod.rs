//! Automations as records and rules (SPEC §7): feed sources and their entries, automations,
//! their runs, and the cron schedule in an IANA time zone.

mod schedule;

pub use schedule::Schedule;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::model::ids::{AutomationId, ChannelId, PostId, RunId, SourceId, WorkspaceId};

/// An RSS, Atom or JSON feed. The fetch-state fields are kept by process-queue's feed fetcher
/// and shown read-only in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub id: SourceId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub name: Option<String>,
    /// How often the feed is fetched while it answers.
    #[serde(default = "default_fetch_interval_minutes")]
    pub fetch_interval_minutes: u32,
    /// Validators of the last fetch, for a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_fetched_at: Option<OffsetDateTime>,
    /// Why the last fetch failed (unreachable, not a feed…), cleared by a good one.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// When the feed should next be fetched; `None` means never (the source is paused).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_fetch_at: Option<OffsetDateTime>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The fetch interval of a source created without one.
pub const DEFAULT_FETCH_INTERVAL_MINUTES: u32 = 15;

fn default_fetch_interval_minutes() -> u32 {
    DEFAULT_FETCH_INTERVAL_MINUTES
}

impl Source {
    pub fn fetch_interval(&self) -> time::Duration {
        time::Duration::minutes(i64::from(self.fetch_interval_minutes))
    }
}

/// One item of a feed, stored once per source and dedup key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub workspace_id: WorkspaceId,
    pub source_id: SourceId,
    /// The item's guid, or its link when it has none: see [`FeedEntry::dedup_key`].
    pub key: String,
    pub title: Option<String>,
    pub link: Option<String>,
    /// The summary or content, as plain text.
    pub summary: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen_at: OffsetDateTime,
    /// The run that turned this entry into posts; `None` while unused.
    pub used_by_run: Option<RunId>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

impl FeedEntry {
    /// What identifies an item across fetches: its guid, else its link; `None` if it has
    /// neither (such an item cannot be deduplicated and is skipped).
    pub fn dedup_key(guid: Option<&str>, link: Option<&str>) -> Option<String> {
        [guid, link].into_iter().flatten().map(str::trim).find(|key| !key.is_empty()).map(str::to_string)
    }

    /// What "newest" means: the published time, or when Posthorn first saw it.
    pub fn sort_time(&self) -> OffsetDateTime {
        self.published_at.unwrap_or(self.first_seen_at)
    }
}

/// What happens to the posts a run generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum PublishMode {
    /// Saved as drafts to review.
    Draft,
    /// Scheduled `offset_minutes` after the run.
    Scheduled { offset_minutes: u32 },
    /// Published at once.
    Immediate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Automation {
    pub id: AutomationId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// What the posts should say: the brief the model writes from.
    pub instructions: String,
    pub tone: Option<String>,
    pub channel_ids: Vec<ChannelId>,
    pub source_ids: Vec<SourceId>,
    /// `None`: the automation runs only when generate-content is called.
    pub schedule: Option<Schedule>,
    pub publish: PublishMode,
    /// The next scheduled run; `None` without a schedule.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    /// The last schedule slot claimed (see [`claim_slot`](super::claim_slot)).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_slot: Option<OffsetDateTime>,
    pub last_run_id: Option<RunId>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// A call to generate-content.
    Manual,
    /// The automation's schedule.
    Schedule,
}

/// A feed entry a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntryRef {
    pub source_id: SourceId,
    pub key: String,
    pub title: Option<String>,
    pub link: Option<String>,
}

/// One content-generation run of an automation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub automation_id: AutomationId,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    /// Why the run failed.
    pub reason: Option<String>,
    pub entries: Vec<EntryRef>,
    pub post_ids: Vec<PostId>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}
