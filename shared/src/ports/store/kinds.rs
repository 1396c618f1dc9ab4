//! How each record kind is keyed and indexed: its [`Record`] impl. The index entries are the
//! sparse indexes' keys as the adapters store them (in DynamoDB, GSI1 and GSI2).

use sha2::Digest;

use crate::model::automations::{Automation, FeedEntry, Run, Source};
use crate::model::channels::{Channel, ChannelImport};
use crate::model::connections::{Connection, DataDeletion, InstanceApp, OAuthState};
use crate::model::error::Result;
use crate::model::ids::{
    AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, InteractionId, PostId, RecoveryId, RunId, SourceId,
    WebhookId, WorkspaceId,
};
use crate::model::inbox::{DmStatusMark, InboxState, Interaction};
use crate::model::posts::{IdempotencyRecord, Post};
use crate::model::usage::KeyUsage;
use crate::model::webhooks::{
    Delivery, DeliveryStatus, Event, HourlyOutcomes, Recovery, RecoveryState, WebhookEndpoint,
};
use crate::model::workspaces::{ApiKey, Workspace};

use super::core::{IndexEntry, Kind, RecordKey};
use super::records::{Record, due_entry, key_of};
use super::sortable_time;

/// First index: every workspace, so that one can tell whether any exists.
pub const WORKSPACES: &str = "WORKSPACES";
/// Second index: pending deliveries with an attempt due, by due time.
pub const PENDING_DELIVERY: &str = "PENDING_DELIVERY";
/// Second index: events whose fan-out is still being written, by creation time.
pub const FANOUT_PENDING: &str = "FANOUT_PENDING";
/// Second index: posts with a `due_at`, by due time.
pub const DUE_POST: &str = "DUE_POST";
/// First index: posts with a `metrics_due_at`, by that time.
pub const METRICS_DUE: &str = "METRICS_DUE";
/// Second index: sources with a `next_fetch_at`, by that time.
pub const DUE_SOURCE: &str = "DUE_SOURCE";
/// Second index: automations with a `next_run_at`, by that time.
pub const DUE_AUTOMATION: &str = "DUE_AUTOMATION";

/// Second index: data deletions not yet completed, by when they were asked for.
pub const DATA_DELETIONS_PENDING: &str = "DATA_DELETIONS_PENDING";
/// Second index: recoveries still running, by when they started.
pub const RUNNING_RECOVERY: &str = "RUNNING_RECOVERY";
/// Second index: endpoints Posthorn disabled and probes, by when the next probe is due.
pub const PROBE_DUE: &str = "PROBE_DUE";

/// Second index: channels whose inbox is polled, by when they are next due.
pub const INBOX_DUE: &str = "INBOX_DUE";

/// First-index partition of a workspace's interactions, sorted by when they were written.
pub fn workspace_inbox(workspace: WorkspaceId) -> String {
    format!("WS#{workspace}#INBOX")
}

/// First-index partition of the channels that are one platform account or page, in any
/// workspace: where a platform's push for it goes.
pub fn platform_channel(platform: crate::model::platforms::Platform, platform_channel_id: &str) -> String {
    format!("CHANNEL#{}#{platform_channel_id}", platform.as_str())
}

/// First-index partition of the connections of one platform account, in any workspace: whom a
/// platform's deauthorize or data-deletion callback is about.
pub fn platform_account(platform: crate::model::platforms::Platform, platform_user_id: &str) -> String {
    format!("ACCOUNT#{}#{platform_user_id}", platform.as_str())
}

/// First-index partition of one endpoint's deliveries, sorted by id (so by creation).
pub fn endpoint_deliveries(workspace: WorkspaceId, webhook: WebhookId) -> String {
    format!("WS#{workspace}#WEBHOOK#{webhook}")
}

/// Second-index partition of one endpoint's failed deliveries, sorted by id (so by creation):
/// what a recovery pages through, from the first id of its window.
pub fn endpoint_failures(workspace: WorkspaceId, webhook: WebhookId) -> String {
    format!("WS#{workspace}#WEBHOOK#{webhook}#FAILED")
}

/// First-index partition of one endpoint's recoveries, sorted by id.
pub fn endpoint_recoveries(workspace: WorkspaceId, webhook: WebhookId) -> String {
    format!("WS#{workspace}#WEBHOOK#{webhook}#RECOVERIES")
}

/// First-index partition of one endpoint's hourly outcome counts, sorted by hour.
pub fn endpoint_outcomes(workspace: WorkspaceId, webhook: WebhookId) -> String {
    format!("WS#{workspace}#WEBHOOK#{webhook}#OUTCOMES")
}

/// First-index partition of a source's unused feed entries, sorted by time.
pub fn unused_entries(workspace: WorkspaceId, source: SourceId) -> String {
    format!("WS#{workspace}#SOURCE#{source}#UNUSED")
}

/// The key of a workspace record: the workspace is its own, and it has no id within it.
pub fn workspace_key(id: WorkspaceId) -> RecordKey {
    RecordKey { kind: Kind::Workspace, workspace: Some(id), id: String::new() }
}

/// The key of a data deletion: found by its code alone, from the status page.
pub fn data_deletion_key(code: &str) -> RecordKey {
    RecordKey { kind: Kind::DataDeletion, workspace: None, id: code.to_string() }
}

/// First-index partition of a workspace's API keys, sorted by id.
pub fn workspace_keys(workspace: WorkspaceId) -> String {
    format!("WS#{workspace}#KEYS")
}

/// Second-index partition holding the one API key with this id, in any workspace.
pub fn api_key_id(id: crate::model::ids::ApiKeyId) -> String {
    format!("KEY#{id}")
}

/// The key of an API key, found by its hash before its workspace is known.
pub fn api_key_key(hash_hex: String) -> RecordKey {
    RecordKey { kind: Kind::ApiKey, workspace: None, id: hash_hex }
}

impl Record for Workspace {
    const KIND: Kind = Kind::Workspace;
    type Id = WorkspaceId;

    fn key(&self) -> RecordKey {
        workspace_key(self.id)
    }

    fn first_index(&self) -> Result<Option<IndexEntry>> {
        Ok(Some(IndexEntry { partition: WORKSPACES.into(), sort: self.id.to_string() }))
    }
}

impl Record for ApiKey {
    const KIND: Kind = Kind::ApiKey;
    type Id = String;

    fn key(&self) -> RecordKey {
        api_key_key(self.hash.to_hex())
    }

    /// Every key of its workspace, by id: what the key lists show. (Keys stored before keys
    /// had scopes have no index entries until their next use saves them again.)
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        Ok(Some(IndexEntry { partition: workspace_keys(self.workspace_id), sort: self.id.to_string() }))
    }

    /// The key by its id, in any workspace: what revoking finds it by.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        Ok(Some(IndexEntry { partition: api_key_id(self.id), sort: self.id.to_string() }))
    }
}

impl Record for WebhookEndpoint {
    const KIND: Kind = Kind::Webhook;
    type Id = WebhookId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// While Posthorn probes it: what the probe job takes up when due.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        self.probe.map(|probe| due_entry(PROBE_DUE, probe.next_at, &self.id)).transpose()
    }
}

impl Record for Recovery {
    const KIND: Kind = Kind::Recovery;
    type Id = RecoveryId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// Every recovery of its endpoint: whether one is running is a read of the newest.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        let partition = endpoint_recoveries(self.workspace_id, self.webhook_id);
        Ok(Some(IndexEntry { partition, sort: self.id.to_string() }))
    }

    /// Only while running: what the recovery job advances.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        match self.state {
            RecoveryState::Running => due_entry(RUNNING_RECOVERY, self.created_at, &self.id).map(Some),
            RecoveryState::Completed | RecoveryState::Stopped => Ok(None),
        }
    }
}

impl Record for Event {
    const KIND: Kind = Kind::Event;
    type Id = EventId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    /// Only while its deliveries are still being written: what the outbox sweep completes.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        match self.fanout.is_empty() {
            true => Ok(None),
            false => due_entry(FANOUT_PENDING, self.created_at, &self.id).map(Some),
        }
    }
}

impl Record for Delivery {
    const KIND: Kind = Kind::Delivery;
    type Id = DeliveryId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    fn first_index(&self) -> Result<Option<IndexEntry>> {
        let partition = endpoint_deliveries(self.workspace_id, self.webhook_id);
        Ok(Some(IndexEntry { partition, sort: self.id.to_string() }))
    }

    /// While pending with an attempt due: exactly what the outbox sweep may re-enqueue. While
    /// failed: its endpoint's failures, what a recovery sends again.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        match (self.status, self.next_attempt_at) {
            (DeliveryStatus::Pending, Some(due)) => due_entry(PENDING_DELIVERY, due, &self.id).map(Some),
            (DeliveryStatus::Failed, _) => {
                let partition = endpoint_failures(self.workspace_id, self.webhook_id);
                Ok(Some(IndexEntry { partition, sort: self.id.to_string() }))
            }
            _ => Ok(None),
        }
    }
}

impl Record for HourlyOutcomes {
    const KIND: Kind = Kind::HourlyOutcomes;
    type Id = String;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &format!("{}#{}", self.webhook_id, self.hour.unix_timestamp()))
    }

    fn expires_at(&self) -> Option<time::OffsetDateTime> {
        Some(self.expires_at)
    }

    /// A read of an endpoint's stats is one query of this partition from the window's first hour.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        let partition = endpoint_outcomes(self.workspace_id, self.webhook_id);
        Ok(Some(IndexEntry { partition, sort: sortable_time(self.hour)? }))
    }
}

impl Record for KeyUsage {
    const KIND: Kind = Kind::KeyUsage;
    type Id = String;

    fn key(&self) -> RecordKey {
        let id = format!("{}#{}#{}", self.key_id, self.limited.as_str(), self.minute.unix_timestamp());
        key_of::<Self>(self.workspace_id, &id)
    }

    fn expires_at(&self) -> Option<time::OffsetDateTime> {
        Some(self.expires_at)
    }
}

impl Record for Connection {
    const KIND: Kind = Kind::Connection;
    type Id = ConnectionId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// By its platform account, across workspaces, once the profile is known.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        Ok((!self.platform_user_id.is_empty()).then(|| IndexEntry {
            partition: platform_account(self.platform, &self.platform_user_id),
            sort: self.id.to_string(),
        }))
    }
}

impl Record for Channel {
    const KIND: Kind = Kind::Channel;
    type Id = ChannelId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    /// By its platform's id, across workspaces: what a platform's push is addressed to.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        let partition = platform_channel(self.platform, &self.platform_channel_id);
        Ok(Some(IndexEntry { partition, sort: self.id.to_string() }))
    }
}

impl Record for ChannelImport {
    const KIND: Kind = Kind::ChannelImport;
    type Id = ConnectionId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.connection_id)
    }
}

impl Record for OAuthState {
    const KIND: Kind = Kind::OAuthState;
    type Id = String;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.state)
    }
}

impl Record for InstanceApp {
    const KIND: Kind = Kind::InstanceApp;
    type Id = String;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.own_key())
    }
}

impl Record for Post {
    const KIND: Kind = Kind::Post;
    type Id = PostId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// While it has a `metrics_due_at`: what sync-post-metrics reads.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        self.metrics_due_at.map(|due| due_entry(METRICS_DUE, due, &self.id)).transpose()
    }

    /// While it has a `due_at`: what process-queue may take up.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        self.due_at.map(|due| due_entry(DUE_POST, due, &self.id)).transpose()
    }
}

impl Record for IdempotencyRecord {
    const KIND: Kind = Kind::IdempotencyRecord;
    type Id = String;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.key)
    }

    fn expires_at(&self) -> Option<time::OffsetDateTime> {
        Some(self.expires_at)
    }
}

impl Record for Source {
    const KIND: Kind = Kind::Source;
    type Id = SourceId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    fn second_index(&self) -> Result<Option<IndexEntry>> {
        self.next_fetch_at.map(|due| due_entry(DUE_SOURCE, due, &self.id)).transpose()
    }
}

impl Record for FeedEntry {
    const KIND: Kind = Kind::FeedEntry;
    type Id = String;

    /// The dedup key is hashed, since a link may be longer than a key should be.
    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &format!("{}#{}", self.source_id, entry_hash(self)))
    }

    /// Only while unused, newest first: a claim is a write conditional on this entry.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        if self.used_by_run.is_some() {
            return Ok(None);
        }
        let partition = unused_entries(self.workspace_id, self.source_id);
        due_entry(partition, self.sort_time(), &entry_hash(self)).map(Some)
    }
}

fn entry_hash(entry: &FeedEntry) -> String {
    hex::encode(sha2::Sha256::digest(entry.key.as_bytes()))
}

impl Record for Automation {
    const KIND: Kind = Kind::Automation;
    type Id = AutomationId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    fn second_index(&self) -> Result<Option<IndexEntry>> {
        self.next_run_at.map(|due| due_entry(DUE_AUTOMATION, due, &self.id)).transpose()
    }
}

impl Record for Run {
    const KIND: Kind = Kind::Run;
    type Id = RunId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }
}

impl Record for Interaction {
    const KIND: Kind = Kind::Interaction;
    type Id = InteractionId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id)
    }

    fn expires_at(&self) -> Option<time::OffsetDateTime> {
        Some(self.expires_at)
    }

    /// Every interaction, newest first: what the inbox API lists.
    fn first_index(&self) -> Result<Option<IndexEntry>> {
        due_entry(workspace_inbox(self.workspace_id), self.received_at, &self.id).map(Some)
    }
}

impl Record for InboxState {
    const KIND: Kind = Kind::InboxState;
    type Id = ChannelId;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.channel_id)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// While it is polled: what sync-inbox takes up.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        self.next_poll_at.map(|due| due_entry(INBOX_DUE, due, &self.channel_id)).transpose()
    }
}

impl Record for DataDeletion {
    const KIND: Kind = Kind::DataDeletion;
    type Id = String;

    fn key(&self) -> RecordKey {
        data_deletion_key(&self.code)
    }

    fn version(&self) -> Option<u64> {
        Some(self.version)
    }

    /// Until completed: what resuming deletions reads.
    fn second_index(&self) -> Result<Option<IndexEntry>> {
        match self.completed_at {
            None => due_entry(DATA_DELETIONS_PENDING, self.requested_at, &self.code).map(Some),
            Some(_) => Ok(None),
        }
    }
}

impl Record for DmStatusMark {
    const KIND: Kind = Kind::DmStatusMark;
    type Id = String;

    fn key(&self) -> RecordKey {
        key_of::<Self>(self.workspace_id, &self.id())
    }

    fn expires_at(&self) -> Option<time::OffsetDateTime> {
        Some(self.expires_at)
    }
}
