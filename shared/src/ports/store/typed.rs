//! [`Store`]: every record Posthorn keeps, typed, each operation a few lines over the generic
//! core ([`RecordStore`]) with the record's [`Records`](super::Records) handle.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::automations::{Automation, FeedEntry, Run, Source};
use crate::model::channels::{Channel, ChannelImport};
use crate::model::connections::{Connection, DataDeletion, InstanceApp, OAuthState};
use crate::model::crypto::KeyHash;
use crate::model::error::{Error, Result};
use crate::model::ids::{
    ApiKeyId, AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, InteractionId, PostId, RecoveryId, RunId,
    SourceId, WebhookId, WorkspaceId,
};
use crate::model::inbox::{InboxState, Interaction, InteractionKind};
use crate::model::platforms::Platform;
use crate::model::posts::{IdempotencyRecord, Post, PostStatus};
use crate::model::usage::KeyUsage;
use crate::model::webhooks::{
    Delivery, DeliveryStatus, Event, HourlyOutcomes, OutcomeChange, Recovery, WebhookEndpoint, hour_of,
};
use crate::model::workspaces::{ApiKey, Workspace};

use super::core::{
    Addition, Condition, FieldIs, Index, IndexQuery, Kind, Order, Outcome, RecordStore, SortRange, Write,
};
use super::kinds::{self, api_key_key, data_deletion_key, workspace_key};
use super::records::{Record, key_of, records};
use super::{
    DeliveryFilter, InteractionFilter, MAX_DELIVERIES_PER_EVENT, Page, PageRequest, parse_cursor, sortable_time,
};

/// Checks what `create_event` is given: at most [`MAX_DELIVERIES_PER_EVENT`] deliveries, each of
/// this event and its workspace.
fn check_new_event(event: &Event, deliveries: &[Delivery]) -> Result<()> {
    if deliveries.len() > MAX_DELIVERIES_PER_EVENT {
        return Err(Error::Internal(format!(
            "event {} has {} deliveries; one event is written with at most {MAX_DELIVERIES_PER_EVENT}",
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

fn field_is(field: &'static str, value: Option<&str>) -> Option<FieldIs> {
    value.map(|value| FieldIs { field, value: value.to_string() })
}

/// Every record Posthorn keeps, typed: each method is a few lines over the generic core, which
/// is all an adapter implements (`impl Store for X { fn core(&self) -> &dyn RecordStore { self } }`).
/// Index queries (lists of deliveries and unused entries, due and overdue records) may lag a
/// write slightly; a claim made from them is a conditional write, so a stale item fails harmlessly.
#[async_trait]
pub trait Store: RecordStore {
    /// This store as its generic core.
    fn core(&self) -> &dyn RecordStore;

    /// Fails with `Conflict` if the id exists.
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()> {
        records(self.core()).create(workspace).await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        records(self.core()).get_key(&workspace_key(id)).await
    }

    /// Whether any workspace exists (the dev server bootstraps one on first start).
    async fn has_workspaces(&self) -> Result<bool> {
        let query = IndexQuery { limit: 1, ..IndexQuery::all_of(Index::First, kinds::WORKSPACES.into()) };
        Ok(!self.query_index(query).await?.is_empty())
    }

    /// Workspaces, newest first.
    async fn list_workspaces(&self, page: PageRequest) -> Result<Page<Workspace>> {
        let below = parse_cursor::<WorkspaceId>(page.cursor.as_deref())?.map(|id| id.to_string());
        let query = IndexQuery {
            range: below.map_or(SortRange::All, SortRange::Below),
            order: Order::Descending,
            limit: page.limit.saturating_add(1),
            ..IndexQuery::all_of(Index::First, kinds::WORKSPACES.into())
        };
        let items = records::<Workspace>(self.core()).in_index(query).await?;
        Ok(Page::from_overfetch(items, page.limit, |w| w.id.to_string()))
    }

    /// Fails with `Conflict` if a key with the same hash exists.
    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        records(self.core()).create(key).await
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>> {
        records(self.core()).get_key(&api_key_key(hash.to_hex())).await
    }

    /// The key with this id, in any workspace.
    async fn get_api_key(&self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let query = IndexQuery { limit: 1, ..IndexQuery::all_of(Index::Second, kinds::api_key_id(id)) };
        Ok(records::<ApiKey>(self.core()).in_index(query).await?.into_iter().next())
    }

    /// A workspace's keys, newest first.
    async fn list_api_keys(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<ApiKey>> {
        let below = parse_cursor::<ApiKeyId>(page.cursor.as_deref())?.map(|id| id.to_string());
        let query = IndexQuery {
            range: below.map_or(SortRange::All, SortRange::Below),
            order: Order::Descending,
            limit: page.limit.saturating_add(1),
            ..IndexQuery::all_of(Index::First, kinds::workspace_keys(workspace))
        };
        let items = records::<ApiKey>(self.core()).in_index(query).await?;
        Ok(Page::from_overfetch(items, page.limit, |k| k.id.to_string()))
    }

    /// Counts one more request in `usage`'s minute, atomically across processes; the count with it.
    async fn count_key_usage(&self, usage: &KeyUsage) -> Result<i64> {
        let document = usage.document()?;
        let key = document.key.clone();
        self.core().add(document, vec![Addition { field: "count", amount: 1 }]).await?;
        let counted: Option<KeyUsage> = records(self.core()).get_key(&key).await?;
        Ok(counted.map_or(1, |usage| usage.count))
    }

    /// Replaces the stored key; `NotFound` if it was revoked.
    async fn replace_api_key(&self, key: &ApiKey) -> Result<()> {
        records(self.core()).replace(key).await
    }

    /// Deletes the key: the next request with it is refused. `NotFound` if it is gone already.
    async fn delete_api_key(&self, key: &ApiKey) -> Result<()> {
        match self.core().write(Write::Delete(key.key(), Condition::Present)).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(Error::NotFound(Kind::ApiKey.name())),
        }
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        records(self.core()).create(endpoint).await
    }

    async fn get_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<WebhookEndpoint>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Newest first.
    async fn list_webhooks(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        records(self.core()).page(workspace, page, Vec::new()).await
    }

    /// Replaces the stored endpoint if its `version` is `expected_version`: `Conflict` if another
    /// write came first, `NotFound` if it is not in that workspace.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(endpoint, expected_version).await
    }

    /// `NotFound` if it is not in that workspace.
    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()> {
        records::<WebhookEndpoint>(self.core()).delete(workspace, &id).await
    }

    /// Outbox step one: writes an event and its deliveries, all or nothing (at most 99
    /// deliveries). `Conflict` if the event id exists.
    async fn create_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<()> {
        check_new_event(event, deliveries)?;
        let mut writes = vec![Write::Put(event.document()?, Condition::Absent)];
        for delivery in deliveries {
            writes.push(Write::Put(delivery.document()?, Condition::Absent));
        }
        match self.transact(writes).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => {
                Err(Error::Conflict(format!("event {} or one of its deliveries already exists", event.id)))
            }
        }
    }

    async fn get_event(&self, workspace: WorkspaceId, id: EventId) -> Result<Option<Event>> {
        records(self.core()).get(workspace, &id).await
    }

    async fn get_delivery(&self, workspace: WorkspaceId, id: DeliveryId) -> Result<Option<Delivery>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Replaces a delivery only if the stored one's `version` is `expected_version`; `Conflict`
    /// otherwise (another worker wrote first), `NotFound` if missing. `was` is the stored
    /// delivery's status: once the replacement is written, a change of status moves the delivery
    /// between its endpoint's outcome counts with an addition of its own (see [`HourlyOutcomes`]
    /// for why not in one transaction); a refused replacement counts nothing, and an addition
    /// that fails is logged and lost, like one a crash interrupts: the delivery is written. A
    /// delivery whose hour of counts has expired is no longer counted.
    async fn update_delivery(&self, delivery: &Delivery, expected_version: u64, was: DeliveryStatus) -> Result<()> {
        let change = OutcomeChange::between(was, delivery.status);
        let counts = HourlyOutcomes::empty_for(delivery);
        let counted = !change.is_none() && counts.expires_at > delivery.updated_at;
        let document = counts.document()?;
        records(self.core()).replace_if_version(delivery, expected_version).await?;
        if counted {
            let additions = vec![
                Addition { field: "delivered", amount: change.delivered },
                Addition { field: "failed", amount: change.failed },
            ];
            if let Err(error) = self.core().add(document, additions).await {
                tracing::warn!(delivery_id = %delivery.id, error = %error, "a delivery's outcome was not counted");
            }
        }
        Ok(())
    }

    /// An endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let below = parse_cursor::<DeliveryId>(page.cursor.as_deref())?.map(|id| id.to_string());
        let filter = [
            field_is("status", filter.status.map(DeliveryStatus::as_str)),
            field_is("event_type", filter.event_type.map(|t| t.as_str())),
        ];
        let query = IndexQuery {
            range: below.map_or(SortRange::All, SortRange::Below),
            order: Order::Descending,
            filter: filter.into_iter().flatten().collect(),
            limit: page.limit.saturating_add(1),
            ..IndexQuery::all_of(Index::First, kinds::endpoint_deliveries(workspace, webhook))
        };
        let items = records::<Delivery>(self.core()).in_index(query).await?;
        Ok(Page::from_overfetch(items, page.limit, |d| d.id.to_string()))
    }

    /// Up to `limit` of an endpoint's failed deliveries from id `from` on, oldest first: the
    /// deliveries a recovery sends again, paged by the id of the last one taken up.
    async fn failed_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        from: DeliveryId,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let query = IndexQuery {
            range: SortRange::AtLeast(from.to_string()),
            limit,
            ..IndexQuery::all_of(Index::Second, kinds::endpoint_failures(workspace, webhook))
        };
        records(self.core()).in_index(query).await
    }

    /// Endpoints, of any workspace, whose next probe is due at `now`, longest due first.
    async fn probes_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<WebhookEndpoint>> {
        records(self.core()).due(Index::Second, kinds::PROBE_DUE, now, limit).await
    }

    async fn get_recovery(&self, workspace: WorkspaceId, id: RecoveryId) -> Result<Option<Recovery>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_recovery(&self, recovery: &Recovery, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(recovery, expected_version).await
    }

    /// The endpoint's newest recovery, if it had one.
    async fn latest_recovery(&self, workspace: WorkspaceId, webhook: WebhookId) -> Result<Option<Recovery>> {
        let query = IndexQuery {
            order: Order::Descending,
            limit: 1,
            ..IndexQuery::all_of(Index::First, kinds::endpoint_recoveries(workspace, webhook))
        };
        Ok(records(self.core()).in_index(query).await?.into_iter().next())
    }

    /// Running recoveries of any workspace, oldest first: what the recovery job advances.
    async fn running_recoveries(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Recovery>> {
        records(self.core()).due(Index::Second, kinds::RUNNING_RECOVERY, now, limit).await
    }

    /// An endpoint's outcome counts of the hours from the one `since` falls in, oldest first:
    /// at most one record per hour.
    async fn endpoint_outcomes(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        since: OffsetDateTime,
    ) -> Result<Vec<HourlyOutcomes>> {
        let query = IndexQuery {
            range: SortRange::AtLeast(sortable_time(hour_of(since))?),
            ..IndexQuery::all_of(Index::First, kinds::endpoint_outcomes(workspace, webhook))
        };
        records(self.core()).in_index(query).await
    }

    /// Pending deliveries, of any workspace, whose next attempt was due before `before`,
    /// oldest due first: what the outbox sweep re-enqueues.
    async fn overdue_deliveries(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Delivery>> {
        records(self.core()).before(Index::Second, kinds::PENDING_DELIVERY, sortable_time(before)?, limit).await
    }

    /// Events, of any workspace, whose fan-out was still being written at `before`, oldest
    /// first: what the outbox sweep completes.
    async fn unfinished_fanouts(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Event>> {
        records(self.core()).before(Index::Second, kinds::FANOUT_PENDING, sortable_time(before)?, limit).await
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_connection(&self, connection: &Connection) -> Result<()> {
        records(self.core()).create(connection).await
    }

    async fn get_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<Option<Connection>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Conditional on the stored `version`, like [`update_delivery`](Self::update_delivery).
    async fn update_connection(&self, connection: &Connection, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(connection, expected_version).await
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_channel(&self, channel: &Channel) -> Result<()> {
        records(self.core()).create(channel).await
    }

    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<Option<Channel>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Newest first.
    async fn list_channels(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Channel>> {
        records(self.core()).page(workspace, page, Vec::new()).await
    }

    /// Newest first.
    async fn list_connections(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Connection>> {
        records(self.core()).page(workspace, page, Vec::new()).await
    }

    /// `NotFound` if it is not in that workspace.
    async fn delete_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<()> {
        records::<Connection>(self.core()).delete(workspace, &id).await
    }

    /// Every channel of one connection, oldest first.
    async fn connection_channels(&self, workspace: WorkspaceId, connection: ConnectionId) -> Result<Vec<Channel>> {
        let filter = vec![FieldIs { field: "connection_id", value: connection.to_string() }];
        records(self.core()).all(workspace, filter).await
    }

    /// Where an unfinished import of the connection's channels stands, if one does.
    async fn get_channel_import(
        &self,
        workspace: WorkspaceId,
        connection: ConnectionId,
    ) -> Result<Option<ChannelImport>> {
        records(self.core()).get(workspace, &connection).await
    }

    async fn save_channel_import(&self, import: &ChannelImport) -> Result<()> {
        records(self.core()).put(import).await
    }

    /// Forgets the connection's unfinished import, if there is one.
    async fn end_channel_import(&self, workspace: WorkspaceId, connection: ConnectionId) -> Result<()> {
        let key = key_of::<ChannelImport>(workspace, &connection);
        self.core().write(Write::Delete(key, Condition::Always)).await.map(drop)
    }

    /// Replaces the stored channel; `NotFound` if it is not in that workspace.
    async fn update_channel(&self, channel: &Channel) -> Result<()> {
        records(self.core()).replace(channel).await
    }

    /// `NotFound` if it is not in that workspace.
    async fn delete_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<()> {
        records::<Channel>(self.core()).delete(workspace, &id).await
    }

    /// Fails with `Conflict` if the state value exists.
    async fn create_oauth_state(&self, state: &OAuthState) -> Result<()> {
        records(self.core()).create(state).await
    }

    /// Removes the workspace's state with this value and returns it, atomically, so of two
    /// concurrent takes only one gets it. Expired states are returned too: the caller refuses
    /// them, saying why.
    async fn take_oauth_state(&self, workspace: WorkspaceId, state: &str) -> Result<Option<OAuthState>> {
        records(self.core()).take(key_of::<OAuthState>(workspace, &state)).await
    }

    /// Writes an instance app, replacing one under the same key.
    async fn put_instance_app(&self, app: &InstanceApp) -> Result<()> {
        records(self.core()).put(app).await
    }

    /// The instance app under [`InstanceApp::key`].
    async fn get_instance_app(&self, workspace: WorkspaceId, key: &str) -> Result<Option<InstanceApp>> {
        records(self.core()).get(workspace, &key.to_string()).await
    }

    /// Creates a post. With an idempotency record, atomically: if an unexpired record with the
    /// same workspace and key exists, nothing is written and that record is returned instead.
    /// Expiry is compared with this machine's clock.
    async fn create_post(
        &self,
        post: &Post,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Option<IdempotencyRecord>> {
        let Some(record) = idempotency else {
            return records(self.core()).create(post).await.map(|()| None);
        };
        let unexpired = Condition::AbsentOrExpiredBy(OffsetDateTime::now_utc());
        let writes = vec![Write::Put(record.document()?, unexpired), Write::Put(post.document()?, Condition::Absent)];
        match self.transact(writes).await? {
            Outcome::Written => Ok(None),
            Outcome::Refused { item: 0 } => match records(self.core()).get_key(&record.key()).await? {
                Some(existing) => Ok(Some(existing)),
                None => Err(Error::Conflict(format!(
                    "idempotency key {:?} was in use a moment ago and is gone now; try again",
                    record.key
                ))),
            },
            Outcome::Refused { .. } => Err(Error::Conflict("post already exists".into())),
        }
    }

    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> Result<Option<Post>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Newest first, optionally only posts with `status`.
    async fn list_posts(
        &self,
        workspace: WorkspaceId,
        status: Option<PostStatus>,
        page: PageRequest,
    ) -> Result<Page<Post>> {
        let filter = field_is("status", status.map(PostStatus::as_str)).into_iter().collect();
        records(self.core()).page(workspace, page, filter).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_post(&self, post: &Post, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(post, expected_version).await
    }

    /// `NotFound` if it is not in that workspace.
    async fn delete_post(&self, workspace: WorkspaceId, id: PostId) -> Result<()> {
        records::<Post>(self.core()).delete(workspace, &id).await
    }

    /// Posts of any workspace whose `due_at <= now`, oldest due first.
    async fn due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        records(self.core()).due(Index::Second, kinds::DUE_POST, now, limit).await
    }

    /// Posts of any workspace whose `metrics_due_at <= now`, oldest due first: what
    /// sync-post-metrics reads figures for.
    async fn metrics_due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        records(self.core()).due(Index::First, kinds::METRICS_DUE, now, limit).await
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_source(&self, source: &Source) -> Result<()> {
        records(self.core()).create(source).await
    }

    async fn get_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<Option<Source>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Newest first.
    async fn list_sources(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Source>> {
        records(self.core()).page(workspace, page, Vec::new()).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    /// The feed fetcher records each fetch (validators, error, next fetch) through it.
    async fn update_source(&self, source: &Source, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(source, expected_version).await
    }

    /// `NotFound` if it is not in that workspace. Its entries stay but are no longer read.
    async fn delete_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<()> {
        records::<Source>(self.core()).delete(workspace, &id).await
    }

    /// Sources of any workspace whose `next_fetch_at <= now`, oldest due first: what the feed
    /// fetcher takes up.
    async fn sources_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Source>> {
        records(self.core()).due(Index::Second, kinds::DUE_SOURCE, now, limit).await
    }

    /// Stores the entries whose (workspace, source, key) is not stored yet and leaves the others
    /// untouched (a used entry stays used); returns how many were new. Idempotent.
    async fn upsert_feed_entries(&self, entries: &[FeedEntry]) -> Result<usize> {
        let mut new = 0;
        for entry in entries {
            if self.write(Write::Put(entry.document()?, Condition::Absent)).await? == Outcome::Written {
                new += 1;
            }
        }
        Ok(new)
    }

    /// Up to `limit` unused entries of a source, newest ([`FeedEntry::sort_time`]) first.
    async fn unused_feed_entries(
        &self,
        workspace: WorkspaceId,
        source: SourceId,
        limit: usize,
    ) -> Result<Vec<FeedEntry>> {
        let query = IndexQuery {
            order: Order::Descending,
            limit,
            ..IndexQuery::all_of(Index::First, kinds::unused_entries(workspace, source))
        };
        records(self.core()).in_index(query).await
    }

    /// Writes `entry`, which has `used_by_run` set, only if the stored one is still unused;
    /// `false` if another run used it first. `NotFound` if it is not stored.
    async fn claim_feed_entry(&self, entry: &FeedEntry) -> Result<bool> {
        match self.write(Write::Put(entry.document()?, Condition::InFirstIndex)).await? {
            Outcome::Written => Ok(true),
            Outcome::Refused { .. } if self.get(&entry.key()).await?.is_some() => Ok(false),
            Outcome::Refused { .. } => Err(Error::NotFound(Kind::FeedEntry.name())),
        }
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_automation(&self, automation: &Automation) -> Result<()> {
        records(self.core()).create(automation).await
    }

    async fn get_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<Option<Automation>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Newest first.
    async fn list_automations(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Automation>> {
        records(self.core()).page(workspace, page, Vec::new()).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    /// Claiming a schedule slot is such a write, so one process-queue run alone gets each slot.
    async fn update_automation(&self, automation: &Automation, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(automation, expected_version).await
    }

    /// `NotFound` if it is not in that workspace.
    async fn delete_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<()> {
        records::<Automation>(self.core()).delete(workspace, &id).await
    }

    /// Automations of any workspace whose `next_run_at <= now`, oldest due first.
    async fn automations_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Automation>> {
        records(self.core()).due(Index::Second, kinds::DUE_AUTOMATION, now, limit).await
    }

    /// Fails with `Conflict` if the id exists.
    async fn create_run(&self, run: &Run) -> Result<()> {
        records(self.core()).create(run).await
    }

    async fn get_run(&self, workspace: WorkspaceId, id: RunId) -> Result<Option<Run>> {
        records(self.core()).get(workspace, &id).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_run(&self, run: &Run, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(run, expected_version).await
    }

    /// `None` once it expired, even where the adapter has not deleted it yet.
    async fn get_interaction(&self, workspace: WorkspaceId, id: InteractionId) -> Result<Option<Interaction>> {
        let interaction: Option<Interaction> = records(self.core()).get(workspace, &id).await?;
        Ok(interaction.filter(|interaction| interaction.expires_at > OffsetDateTime::now_utc()))
    }

    /// The workspace's interactions matching `filter`, newest first. The cursor is the id of
    /// the last interaction of the previous page.
    async fn list_interactions(
        &self,
        workspace: WorkspaceId,
        filter: InteractionFilter,
        page: PageRequest,
    ) -> Result<Page<Interaction>> {
        let range = match parse_cursor::<InteractionId>(page.cursor.as_deref())? {
            Some(last) => match self.get_interaction(workspace, last).await? {
                Some(last) => SortRange::Below(last.first_index()?.map(|entry| entry.sort).unwrap_or_default()),
                None => return Err(Error::bad_request("invalid cursor: that interaction no longer exists")),
            },
            None => match filter.since {
                Some(since) => SortRange::AtLeast(sortable_time(since)?),
                None => SortRange::All,
            },
        };
        let fields = [
            field_is("type", filter.kind.map(InteractionKind::as_str)),
            field_is("account_id", filter.account.map(|id| id.to_string()).as_deref()),
            field_is("channel_id", filter.channel.map(|id| id.to_string()).as_deref()),
            field_is("post_id", filter.post.map(|id| id.to_string()).as_deref()),
        ];
        let query = IndexQuery {
            range,
            order: Order::Descending,
            filter: fields.into_iter().flatten().collect(),
            limit: page.limit.saturating_add(1),
            ..IndexQuery::all_of(Index::First, kinds::workspace_inbox(workspace))
        };
        let mut items = records::<Interaction>(self.core()).in_index(query).await?;
        // Newest first: those older than `since`, and expired ones the adapter has not deleted
        // yet, are all at the end of a page.
        let now = OffsetDateTime::now_utc();
        items.retain(|interaction| {
            interaction.expires_at > now && filter.since.is_none_or(|since| interaction.received_at >= since)
        });
        Ok(Page::from_overfetch(items, page.limit, |interaction| interaction.id.to_string()))
    }

    async fn get_inbox_state(&self, workspace: WorkspaceId, channel: ChannelId) -> Result<Option<InboxState>> {
        records(self.core()).get(workspace, &channel).await
    }

    /// Fails with `Conflict` if the state changed since version `expected_version`.
    async fn update_inbox_state(&self, state: &InboxState, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(state, expected_version).await
    }

    /// Channels, of any workspace, whose inbox is due for a poll at `now`, longest due first.
    async fn inbox_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<InboxState>> {
        records(self.core()).due(Index::Second, kinds::INBOX_DUE, now, limit).await
    }

    /// The channels, in any workspace, that are `platform`'s account or page `platform_channel_id`.
    async fn channels_on_platform(&self, platform: Platform, platform_channel_id: &str) -> Result<Vec<Channel>> {
        let partition = kinds::platform_channel(platform, platform_channel_id);
        records(self.core()).in_index(IndexQuery::all_of(Index::First, partition)).await
    }

    /// `Conflict` if one with its code exists.
    async fn create_data_deletion(&self, deletion: &DataDeletion) -> Result<()> {
        records(self.core()).create(deletion).await
    }

    async fn get_data_deletion(&self, code: &str) -> Result<Option<DataDeletion>> {
        records(self.core()).get_key(&data_deletion_key(code)).await
    }

    /// Conditional on the stored `version`: `Conflict` on a mismatch, `NotFound` if missing.
    async fn update_data_deletion(&self, deletion: &DataDeletion, expected_version: u64) -> Result<()> {
        records(self.core()).replace_if_version(deletion, expected_version).await
    }

    /// Data deletions not completed yet, oldest first.
    async fn pending_data_deletions(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<DataDeletion>> {
        records(self.core()).due(Index::Second, kinds::DATA_DELETIONS_PENDING, now, limit).await
    }

    /// Every workspace's connection of one platform account.
    async fn connections_of_account(&self, platform: Platform, platform_user_id: &str) -> Result<Vec<Connection>> {
        let partition = kinds::platform_account(platform, platform_user_id);
        records(self.core()).in_index(IndexQuery::all_of(Index::First, partition)).await
    }
}
