//! The Store port: every record Posthorn keeps, behind one trait with a SQLite adapter (dev
//! server, default tests) and a DynamoDB adapter (production). Both pass one contract suite
//! (`tests/tests/store_contract.rs`). Every read and write names its workspace, so no query can
//! return another workspace's rows.

use std::str::FromStr;

use async_trait::async_trait;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::model::automations::{Automation, FeedEntry, Run, Source};
use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::connections::{InstanceApp, OAuthState};
use crate::model::crypto::KeyHash;
use crate::model::error::{Error, Result};
use crate::model::ids::{
    AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, PostId, RunId, SourceId, WebhookId, WorkspaceId,
};
use crate::model::posts::{IdempotencyRecord, Post, PostStatus};
use crate::model::webhooks::{Delivery, DeliveryStatus, Event, EventType, WebhookEndpoint};
use crate::model::workspaces::{ApiKey, Workspace};

/// A transaction holds the event and its deliveries, so an event reaches at most this many
/// endpoints (DynamoDB's transactions take 100 items).
pub const MAX_ENDPOINTS_PER_EVENT: usize = 99;

/// Which page of a list to read: newest first, `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The id of the last item of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list. `next_cursor` is `None` exactly when no item follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts a newest-first batch of up to `limit + 1` items, read to learn whether any item
    /// follows, down to one page whose cursor is the id of its last item.
    pub(crate) fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = items.last().filter(|_| more).map(id_of);
        Self { items, next_cursor }
    }
}

/// The cursor of a page request as the id it must be; anything else is a bad request.
pub(crate) fn parse_cursor<I: FromStr>(cursor: Option<&str>) -> Result<Option<I>> {
    cursor.map(|text| text.parse().map_err(|_| Error::bad_request("invalid cursor"))).transpose()
}

/// Checks what `create_event` is given, alike in every adapter: at most
/// [`MAX_ENDPOINTS_PER_EVENT`] deliveries (one DynamoDB transaction), each of this event and its
/// workspace.
pub(crate) fn check_new_event(event: &Event, deliveries: &[Delivery]) -> Result<()> {
    if deliveries.len() > MAX_ENDPOINTS_PER_EVENT {
        return Err(Error::Internal(format!(
            "event {} has {} deliveries; one event is written with at most {MAX_ENDPOINTS_PER_EVENT}",
            event.id,
            deliveries.len()
        )));
    }
    match deliveries.iter().find(|d| d.event_id != event.id || d.workspace_id != event.workspace_id) {
        Some(stray) => Err(Error::Internal(format!(
            "delivery {} (event {}, workspace {}) is not a delivery of event {} in workspace {}",
            stray.id, stray.event_id, stray.workspace_id, event.id, event.workspace_id
        ))),
        None => Ok(()),
    }
}

/// `at` as UTC text of fixed width (RFC 3339 with nine fraction digits), so that comparing the
/// text compares the times: what the adapters index and range-query timestamps by.
pub(crate) fn sortable_time(at: OffsetDateTime) -> Result<String> {
    const FORMAT: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    at.checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| Error::Internal(format!("{at} cannot be expressed in UTC")))?
        .format(FORMAT)
        .map_err(|e| Error::internal("formatting a sortable time", e))
}

/// Which of an endpoint's deliveries to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
}

/// How an endpoint's deliveries created in a window ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub delivered: u64,
    pub failed: u64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Fails with `Conflict` if the id exists.
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()>;
    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>>;
    /// Whether any workspace exists (the dev server bootstraps one on first start).
    async fn has_workspaces(&self) -> Result<bool>;

    /// Fails with `Conflict` if a key with the same hash exists.
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>>;

    /// Fails with `Conflict` if the id exists.
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    async fn get_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<WebhookEndpoint>>;
    /// Newest first.
    async fn list_webhooks(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<WebhookEndpoint>>;
    /// Replaces the stored endpoint; `NotFound` if it is not in that workspace.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()>;

    /// Outbox step one: writes an event and its deliveries, all or nothing (at most 99
    /// deliveries). `Conflict` if the event id exists.
    async fn create_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<()>;
    async fn get_event(&self, workspace: WorkspaceId, id: EventId) -> Result<Option<Event>>;
    async fn get_delivery(&self, workspace: WorkspaceId, id: DeliveryId) -> Result<Option<Delivery>>;
    /// Replaces a delivery only if the stored one's `version` is `expected_version`; `Conflict`
    /// otherwise (another worker wrote first), `NotFound` if missing.
    async fn update_delivery(&self, delivery: &Delivery, expected_version: u64) -> Result<()>;
    /// An endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>>;
    /// How an endpoint's deliveries created at or after `since` ended (pending ones not counted).
    async fn count_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        since: OffsetDateTime,
    ) -> Result<DeliveryCounts>;
    /// Pending deliveries, of any workspace, whose next attempt was due before `before`,
    /// oldest due first: what the outbox sweep re-enqueues.
    async fn overdue_deliveries(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Delivery>>;

    /// Fails with `Conflict` if the id exists.
    async fn create_connection(&self, connection: &Connection) -> Result<()>;
    async fn get_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<Option<Connection>>;
    /// Conditional on the stored `version`, like [`update_delivery`](Self::update_delivery).
    async fn update_connection(&self, connection: &Connection, expected_version: u64) -> Result<()>;

    /// Fails with `Conflict` if the id exists.
    async fn create_channel(&self, channel: &Channel) -> Result<()>;
    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<Option<Channel>>;
    /// Newest first.
    async fn list_channels(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Channel>>;
    /// Newest first.
    async fn list_connections(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Connection>>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<()>;
    /// Every channel of one connection, oldest first.
    async fn connection_channels(&self, workspace: WorkspaceId, connection: ConnectionId) -> Result<Vec<Channel>>;
    /// Replaces the stored channel; `NotFound` if it is not in that workspace.
    async fn update_channel(&self, channel: &Channel) -> Result<()>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<()>;
    /// Fails with `Conflict` if the state value exists.
    async fn create_oauth_state(&self, state: &OAuthState) -> Result<()>;
    /// Removes the workspace's state with this value and returns it, atomically, so of two
    /// concurrent takes only one gets it. Expired states are returned too: the caller refuses
    /// them, saying why.
    async fn take_oauth_state(&self, workspace: WorkspaceId, state: &str) -> Result<Option<OAuthState>>;
    /// Writes an instance app, replacing one under the same key.
    async fn put_instance_app(&self, app: &InstanceApp) -> Result<()>;
    /// The instance app under [`InstanceApp::key`].
    async fn get_instance_app(&self, workspace: WorkspaceId, key: &str) -> Result<Option<InstanceApp>>;

    /// Creates a post. With an idempotency record, atomically: if an unexpired record with the
    /// same workspace and key exists, nothing is written and that record is returned instead.
    async fn create_post(
        &self,
        post: &Post,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Option<IdempotencyRecord>>;
    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> Result<Option<Post>>;
    /// Newest first, optionally only posts with `status`.
    async fn list_posts(
        &self,
        workspace: WorkspaceId,
        status: Option<PostStatus>,
        page: PageRequest,
    ) -> Result<Page<Post>>;
    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_post(&self, post: &Post, expected_version: u64) -> Result<()>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_post(&self, workspace: WorkspaceId, id: PostId) -> Result<()>;
    /// Posts of any workspace whose `due_at <= now`, oldest due first.
    async fn due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>>;
    /// Posts of any workspace whose `metrics_due_at <= now`, oldest due first: what
    /// sync-post-metrics reads figures for.
    async fn metrics_due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>>;

    /// Fails with `Conflict` if the id exists.
    async fn create_source(&self, source: &Source) -> Result<()>;
    async fn get_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<Option<Source>>;
    /// Newest first.
    async fn list_sources(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Source>>;
    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    /// The feed fetcher records each fetch (validators, error, next fetch) through it.
    async fn update_source(&self, source: &Source, expected_version: u64) -> Result<()>;
    /// `NotFound` if it is not in that workspace. Its entries stay but are no longer read.
    async fn delete_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<()>;
    /// Sources of any workspace whose `next_fetch_at <= now`, oldest due first: what the feed
    /// fetcher takes up.
    async fn sources_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Source>>;

    /// Stores the entries whose (workspace, source, key) is not stored yet and leaves the others
    /// untouched (a used entry stays used); returns how many were new. Idempotent.
    async fn upsert_feed_entries(&self, entries: &[FeedEntry]) -> Result<usize>;
    /// Up to `limit` unused entries of a source, newest ([`FeedEntry::sort_time`]) first.
    async fn unused_feed_entries(
        &self,
        workspace: WorkspaceId,
        source: SourceId,
        limit: usize,
    ) -> Result<Vec<FeedEntry>>;
    /// Writes `entry`, which has `used_by_run` set, only if the stored one is still unused;
    /// `false` if another run used it first. `NotFound` if it is not stored.
    async fn claim_feed_entry(&self, entry: &FeedEntry) -> Result<bool>;

    /// Fails with `Conflict` if the id exists.
    async fn create_automation(&self, automation: &Automation) -> Result<()>;
    async fn get_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<Option<Automation>>;
    /// Newest first.
    async fn list_automations(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Automation>>;
    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    /// Claiming a schedule slot is such a write, so one process-queue run alone gets each slot.
    async fn update_automation(&self, automation: &Automation, expected_version: u64) -> Result<()>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<()>;
    /// Automations of any workspace whose `next_run_at <= now`, oldest due first.
    async fn automations_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Automation>>;

    /// Fails with `Conflict` if the id exists.
    async fn create_run(&self, run: &Run) -> Result<()>;
    async fn get_run(&self, workspace: WorkspaceId, id: RunId) -> Result<Option<Run>>;
    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_run(&self, run: &Run, expected_version: u64) -> Result<()>;
}
