//! The production Store adapter: one DynamoDB table holding every record (single-table design),
//! and the table's own creation (`ensure_table`).
//!
//! | record             | PK                  | SK                  | GSI1PK / GSI1SK                         |
//! |--------------------|---------------------|---------------------|-----------------------------------------|
//! | workspace          | `WS#<id>`           | `WORKSPACE`         | `WORKSPACES` / id                       |
//! | API key            | `APIKEY#<hash hex>` | `APIKEY`            |                                         |
//! | webhook            | `WS#<workspace>`    | `WEBHOOK#<id>`      |                                         |
//! | event              | `WS#<workspace>`    | `EVENT#<id>`        |                                         |
//! | delivery           | `WS#<workspace>`    | `DELIVERY#<id>`     | `WS#<workspace>#WEBHOOK#<webhook>` / id |
//! | connection         | `WS#<workspace>`    | `CONNECTION#<id>`   |                                         |
//! | channel            | `WS#<workspace>`    | `CHANNEL#<id>`      |                                         |
//! | post               | `WS#<workspace>`    | `POST#<id>`         | `METRICS_DUE` / due time and id         |
//! | idempotency record | `WS#<workspace>`    | `IDEMPOTENCY#<key>` |                                         |
//! | source             | `WS#<workspace>`    | `SOURCE#<id>`       |                                         |
//! | feed entry         | `WS#<workspace>`    | `ENTRY#<source>#<sha256 of key>` | `WS#<ws>#SOURCE#<source>#UNUSED` / `<sort time>#<sha256 of key>`, while unused |
//! | automation         | `WS#<workspace>`    | `AUTOMATION#<id>`   |                                         |
//! | run                | `WS#<workspace>`    | `RUN#<id>`          |                                         |
//! | OAuth state        | `WS#<workspace>`    | `OAUTHSTATE#<state>`|                                         |
//! | instance app       | `WS#<workspace>`    | `APP#<key>`         |                                         |
//!
//! Each item is the record's own fields (via serde_dynamo) plus these key attributes. `GSI1` and
//! `GSI2` are overloaded, sparse indexes. A delivery has GSI2 keys, `PENDING_DELIVERY` /
//! `<next_attempt_at as sortable_time>#<id>`, only while it is pending with an attempt due, so
//! GSI2 holds exactly what the outbox sweep may re-enqueue; a post has GSI2 keys `DUE_POST` /
//! `<due_at as sortable_time>#<id>` only while it has a `due_at`, so GSI2 holds exactly what
//! process-queue may take up. Sources and automations do the same with `DUE_SOURCE` /
//! `<next_fetch_at>#<id>` and `DUE_AUTOMATION` / `<next_run_at>#<id>`. A feed entry has GSI1
//! keys only while unused, so GSI1 lists a source's unused entries newest first, and a claim is
//! a write conditional on those keys still being there. Likewise a post has GSI1 keys `METRICS_DUE` /
//! `<metrics_due_at as sortable_time>#<id>` only while it has a `metrics_due_at` (a published
//! post younger than the metrics age limit), so GSI1 holds exactly what sync-post-metrics reads.
//!
//! `expires_at` is the table's TTL attribute. Only idempotency records and OAuth states store
//! it as a number (epoch seconds), so only they expire; a connection's `expires_at` is text, which TTL ignores.
//! DynamoDB deletes expired items late (and moto never), so the write condition checks the exact
//! expiry, kept beside it as `valid_until`.

use std::collections::HashMap;
use std::fmt::Display;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use ulid::Ulid;

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
use crate::model::webhooks::{Delivery, DeliveryStatus, Event, WebhookEndpoint};
use crate::model::workspaces::{ApiKey, Workspace};
use crate::ports::store::{
    DeliveryCounts, DeliveryFilter, Page, PageRequest, Store, check_new_event, parse_cursor, sortable_time,
};

type Item = HashMap<String, AttributeValue>;

const TTL_ATTRIBUTE: &str = "expires_at";
const WORKSPACE_SK: &str = "WORKSPACE";
const WORKSPACES_GSI1PK: &str = "WORKSPACES";
const API_KEY_SK: &str = "APIKEY";
const WEBHOOK_SK_PREFIX: &str = "WEBHOOK#";
const EVENT_SK_PREFIX: &str = "EVENT#";
const DELIVERY_SK_PREFIX: &str = "DELIVERY#";
const PENDING_DELIVERY_GSI2PK: &str = "PENDING_DELIVERY";
const CONNECTION_SK_PREFIX: &str = "CONNECTION#";
const CHANNEL_SK_PREFIX: &str = "CHANNEL#";
const OAUTH_STATE_SK_PREFIX: &str = "OAUTHSTATE#";
const INSTANCE_APP_SK_PREFIX: &str = "APP#";
const POST_SK_PREFIX: &str = "POST#";
const IDEMPOTENCY_SK_PREFIX: &str = "IDEMPOTENCY#";
const DUE_POST_GSI2PK: &str = "DUE_POST";
const METRICS_DUE_GSI1PK: &str = "METRICS_DUE";
/// Written over an idempotency record only if there is none, or it expired by `:now`.
const NEW_OR_EXPIRED: &str = "attribute_not_exists(PK) OR valid_until <= :now";
/// How often a transaction that collided with a concurrent one on the same items is tried.
const TRANSACTION_ATTEMPTS: u32 = 5;
const TRANSACTION_RETRY_DELAY: Duration = Duration::from_millis(20);
/// Write conditions: no item has the key yet / an item has it / it has the expected version.
const NEW: &str = "attribute_not_exists(PK)";
const EXISTING: &str = "attribute_exists(PK)";
const SAME_VERSION: &str = "attribute_exists(PK) AND #version = :expected";
/// How many items a filtered query evaluates per request at least, since the filter may drop
/// most of them.
const FILTERED_QUERY_BATCH: usize = 100;
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(500);
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The primary key of one item.
struct Key {
    pk: String,
    sk: String,
}

impl Key {
    fn workspace(id: WorkspaceId) -> Self {
        Self { pk: workspace_pk(id), sk: WORKSPACE_SK.to_string() }
    }

    fn api_key(hash: &KeyHash) -> Self {
        Self { pk: format!("APIKEY#{}", hash.to_hex()), sk: API_KEY_SK.to_string() }
    }

    fn webhook(workspace: WorkspaceId, id: WebhookId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{WEBHOOK_SK_PREFIX}{id}") }
    }

    fn event(workspace: WorkspaceId, id: EventId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{EVENT_SK_PREFIX}{id}") }
    }

    fn delivery(workspace: WorkspaceId, id: DeliveryId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{DELIVERY_SK_PREFIX}{id}") }
    }

    fn connection(workspace: WorkspaceId, id: ConnectionId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{CONNECTION_SK_PREFIX}{id}") }
    }

    fn channel(workspace: WorkspaceId, id: ChannelId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{CHANNEL_SK_PREFIX}{id}") }
    }

    fn oauth_state(workspace: WorkspaceId, state: &str) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{OAUTH_STATE_SK_PREFIX}{state}") }
    }

    fn instance_app(workspace: WorkspaceId, key: &str) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{INSTANCE_APP_SK_PREFIX}{key}") }
    }

    fn post(workspace: WorkspaceId, id: PostId) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{POST_SK_PREFIX}{id}") }
    }

    fn idempotency(workspace: WorkspaceId, key: &str) -> Self {
        Self { pk: workspace_pk(workspace), sk: format!("{IDEMPOTENCY_SK_PREFIX}{key}") }
    }

    fn into_item(self) -> Item {
        HashMap::from([("PK".to_string(), AttributeValue::S(self.pk)), ("SK".to_string(), AttributeValue::S(self.sk))])
    }
}

fn workspace_pk(id: WorkspaceId) -> String {
    format!("WS#{id}")
}

/// The GSI1 partition of one endpoint's deliveries.
fn endpoint_deliveries_pk(workspace: WorkspaceId, webhook: WebhookId) -> String {
    format!("WS#{workspace}#WEBHOOK#{webhook}")
}

/// A delivery's item: listed by endpoint through GSI1 (sorted by id, so by creation) and, while
/// pending with an attempt due, found by the outbox sweep through GSI2.
fn delivery_item(delivery: &Delivery) -> Result<Item> {
    let stored = Stored::new(Key::delivery(delivery.workspace_id, delivery.id), delivery)
        .with_gsi1(endpoint_deliveries_pk(delivery.workspace_id, delivery.webhook_id), delivery.id.to_string());
    match due_sort_key(delivery)? {
        Some(due) => stored.with_gsi2(PENDING_DELIVERY_GSI2PK, due),
        None => stored,
    }
    .into_item()
}

/// GSI2's sort key of a pending delivery with an attempt due: the due time, then the id.
fn due_sort_key(delivery: &Delivery) -> Result<Option<String>> {
    match (delivery.status, delivery.next_attempt_at) {
        (DeliveryStatus::Pending, Some(due)) => Ok(Some(format!("{}#{}", sortable_time(due)?, delivery.id))),
        _ => Ok(None),
    }
}

/// A post's item: while it has a `due_at`, found by process-queue through GSI2; while it has a
/// `metrics_due_at`, found by sync-post-metrics through GSI1.
fn post_item(post: &Post) -> Result<Item> {
    let mut stored = Stored::new(Key::post(post.workspace_id, post.id), post);
    if let Some(due) = post.due_at {
        stored = stored.with_gsi2(DUE_POST_GSI2PK, due_sort_key_of(due, post.id)?);
    }
    if let Some(due) = post.metrics_due_at {
        stored = stored.with_gsi1(METRICS_DUE_GSI1PK, due_sort_key_of(due, post.id)?);
    }
    stored.into_item()
}

/// The sort key of a post in a due index: the due time, then the id.
fn due_sort_key_of(due: OffsetDateTime, id: PostId) -> Result<String> {
    Ok(format!("{}#{id}", sortable_time(due)?))
}

/// The upper bound of due-index sort keys of posts due at or before `now`: `$` follows the `#`
/// after the time, so every key of a post due exactly at `now` sorts below it.
fn due_posts_bound(now: OffsetDateTime) -> Result<String> {
    Ok(format!("{}$", sortable_time(now)?))
}

/// An idempotency record as stored: `expires_at` is the epoch second (rounded up) after which
/// the table's TTL may delete it, `valid_until` the exact expiry as [`sortable_time`] text, which
/// write conditions compare.
#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    workspace_id: WorkspaceId,
    key: String,
    fingerprint: String,
    post_id: PostId,
    expires_at: i64,
    valid_until: String,
}

impl IdempotencyItem {
    fn of(record: &IdempotencyRecord) -> Result<Self> {
        let at = record.expires_at;
        let expires_at = at.unix_timestamp() + i64::from(at.nanosecond() > 0);
        Ok(Self {
            workspace_id: record.workspace_id,
            key: record.key.clone(),
            fingerprint: record.fingerprint.clone(),
            post_id: record.post_id,
            expires_at,
            valid_until: sortable_time(at)?,
        })
    }

    fn into_record(self) -> Result<IdempotencyRecord> {
        let expires_at = OffsetDateTime::parse(&self.valid_until, &Rfc3339)
            .map_err(|e| Error::internal("dynamodb: decoding an idempotency record's expiry", e))?;
        Ok(IdempotencyRecord {
            workspace_id: self.workspace_id,
            key: self.key,
            fingerprint: self.fingerprint,
            post_id: self.post_id,
            expires_at,
        })
    }
}

/// How a `create_post` transaction ended when DynamoDB cancelled it.
enum PostRefused {
    /// An unexpired idempotency record with the key exists.
    KeyTaken,
    /// A post with the id exists.
    PostExists,
    /// It collided with a concurrent transaction on the same items; trying again may succeed.
    Collided,
}

impl PostRefused {
    /// Why the transaction of `[idempotency record, post]` (or `[post]`) was cancelled, if it
    /// was cancelled for a reason `create_post` handles.
    fn of<R>(error: &SdkError<TransactWriteItemsError, R>, with_record: bool) -> Option<Self> {
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() else {
            return None;
        };
        let reasons = cancelled.cancellation_reasons();
        let failed =
            |index: usize| reasons.get(index).and_then(CancellationReason::code) == Some("ConditionalCheckFailed");
        if with_record && failed(0) {
            Some(Self::KeyTaken)
        } else if failed(usize::from(with_record)) {
            Some(Self::PostExists)
        } else if reasons.iter().any(|reason| reason.code() == Some("TransactionConflict")) {
            Some(Self::Collided)
        } else {
            None
        }
    }
}

/// The lowest id of a delivery created at or after `since`: a delivery id is a ULID minted when
/// the delivery is created, and a ULID starts with its creation time in milliseconds.
fn first_delivery_id_since(since: OffsetDateTime) -> String {
    let millis = u64::try_from(since.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{}_{}", DeliveryId::PREFIX, Ulid::from_parts(millis, 0))
}

/// Only the status of a delivery item, for counting.
#[derive(Deserialize)]
struct StatusOnly {
    status: DeliveryStatus,
}

impl DeliveryCounts {
    /// Counts one delivery's outcome; a pending one has none yet.
    fn tally(&mut self, status: DeliveryStatus) {
        match status {
            DeliveryStatus::Delivered => self.delivered += 1,
            DeliveryStatus::Failed => self.failed += 1,
            DeliveryStatus::Pending => {}
        }
    }
}

/// Whether a transaction was cancelled because an item's condition (here: not existing yet) failed.
fn any_condition_failed<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(
        error.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
            if cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
    )
}

/// What is written for a record: its key attributes, its sparse index keys, and its fields.
#[derive(Serialize)]
struct Stored<'a, T> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(flatten)]
    record: &'a T,
}

impl<'a, T: Serialize> Stored<'a, T> {
    fn new(key: Key, record: &'a T) -> Self {
        Self { pk: key.pk, sk: key.sk, gsi1pk: None, gsi1sk: None, gsi2pk: None, gsi2sk: None, record }
    }

    fn with_gsi1(self, pk: impl Into<String>, sk: String) -> Self {
        Self { gsi1pk: Some(pk.into()), gsi1sk: Some(sk), ..self }
    }

    fn with_gsi2(self, pk: impl Into<String>, sk: String) -> Self {
        Self { gsi2pk: Some(pk.into()), gsi2sk: Some(sk), ..self }
    }

    fn into_item(self) -> Result<Item> {
        to_item(self).map_err(|e| Error::internal("dynamodb: encoding a record", e))
    }
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T> {
    from_item(item).map_err(|e| Error::internal("dynamodb: decoding a stored record", e))
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates the table if it is missing, waits until it is ACTIVE and enables its TTL.
    /// Safe to call any number of times, also concurrently.
    pub async fn ensure_table(&self) -> Result<()> {
        if self.table_status().await?.is_none() {
            self.create_table().await?;
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    fn sdk_error<E: std::error::Error>(&self, operation: &str, error: E) -> Error {
        Error::internal(&format!("dynamodb {operation} on table {}", self.table), DisplayErrorContext(error))
    }

    /// The table's status, or `None` if it does not exist.
    async fn table_status(&self) -> Result<Option<TableStatus>> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(output) => Ok(output.table.and_then(|table| table.table_status)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(self.sdk_error("DescribeTable", e)),
        }
    }

    async fn create_table(&self) -> Result<()> {
        let attributes = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"]
            .into_iter()
            .map(string_attribute)
            .collect::<Result<Vec<_>>>()?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema("PK", "SK")?))
            .global_secondary_indexes(index("GSI1")?)
            .global_secondary_indexes(index("GSI2")?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another process created it between our describe and create.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(self.sdk_error("CreateTable", e)),
        }
    }

    async fn wait_until_active(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let status = self.table_status().await?;
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Internal(format!(
                    "dynamodb table {} is not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?} (status {status:?})",
                    self.table
                )));
            }
            tokio::time::sleep(TABLE_POLL_INTERVAL).await;
        }
    }

    async fn enable_ttl(&self) -> Result<()> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.sdk_error("DescribeTimeToLive", e))?
            .time_to_live_description
            .and_then(|description| description.time_to_live_status);
        if matches!(current, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| Error::internal("dynamodb: building the TTL specification", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|e| self.sdk_error("UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Writes `item` if the item now under its key satisfies `condition`; `on_failed` if not.
    async fn put(&self, item: Item, condition: &str, on_failed: Error) -> Result<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .send()
            .await;
        self.conditional(result, "PutItem", on_failed)
    }

    /// Deletes an existing item; `NotFound(what)` if no item has this key.
    async fn delete(&self, key: Key, what: &'static str) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .condition_expression(EXISTING)
            .send()
            .await;
        self.conditional(result, "DeleteItem", Error::NotFound(what))
    }

    /// The outcome of a conditional write: a failed condition becomes `on_failed`.
    fn conditional<T, E>(&self, result: Result<T, SdkError<E>>, operation: &str, on_failed: Error) -> Result<()>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(on_failed),
            Err(e) => Err(self.sdk_error(operation, e)),
        }
    }

    /// Replaces the item under `key` (record `what` with `id`) with `item` if its stored `version`
    /// is `expected_version`: `Conflict` if it has another, `NotFound(what)` if it is missing.
    /// When the condition fails, a consistent read tells the two apart.
    async fn put_versioned(
        &self,
        item: Item,
        key: Key,
        (what, id): (&'static str, &(dyn Display + Sync)),
        expected_version: u64,
    ) -> Result<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(SAME_VERSION)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected_version.to_string()))
            .send()
            .await;
        let stale = Error::Conflict(format!("{what} {id} was changed since version {expected_version}"));
        match self.conditional(result, "PutItem", stale) {
            Err(Error::Conflict(_)) if !self.exists(key).await? => Err(Error::NotFound(what)),
            outcome => outcome,
        }
    }

    async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_error("GetItem", e))?
            .item
            .map(decode)
            .transpose()
    }

    /// Whether an item has this key (read consistently).
    async fn exists(&self, key: Key) -> Result<bool> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .projection_expression("PK")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_error("GetItem", e))?;
        Ok(output.item.is_some())
    }

    /// The items of partition `pk` whose sort key starts with `prefix`, newest (highest sort key)
    /// first, read consistently.
    fn newest_first(&self, pk: String, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
            .scan_index_forward(false)
            .consistent_read(true)
    }

    /// Up to `want` items of partition `pk` whose sort key starts with `prefix`, newest first,
    /// after `start`.
    async fn query_newest_first(&self, pk: String, prefix: &str, start: Option<Key>, want: usize) -> Result<Vec<Item>> {
        self.query_up_to(self.newest_first(pk, prefix), start.map(Key::into_item), want, 0).await
    }

    /// The first `want` items `query` returns from `start` on, following DynamoDB's own pages
    /// until it has them or the query ends. Each request evaluates the items still wanted, but at
    /// least `min_batch`: a filter may drop most of them.
    async fn query_up_to(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
        want: usize,
        min_batch: usize,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = start;
        while items.len() < want {
            let limit = i32::try_from((want - items.len()).max(min_batch)).unwrap_or(i32::MAX);
            let output = query
                .clone()
                .limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items.truncate(want);
        Ok(items)
    }

    /// Up to `limit` records of any workspace in partition `pk` of due index `index` (GSI1 or
    /// GSI2) due at or before `now`, oldest due first.
    async fn due_in<T: DeserializeOwned>(
        &self,
        index: &str,
        pk: &str,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<T>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{index}PK = :pk AND {index}SK < :bound"))
            .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
            .expression_attribute_values(":bound", AttributeValue::S(due_posts_bound(now)?))
            .scan_index_forward(true);
        self.query_up_to(query, None, limit, 0).await?.into_iter().map(decode).collect()
    }

    /// Delivered and failed counts of every item `query` returns (each needs only `status`).
    async fn count_by_status(&self, query: QueryFluentBuilder) -> Result<DeliveryCounts> {
        let mut counts = DeliveryCounts::default();
        let mut start = None;
        loop {
            let output =
                query.clone().set_exclusive_start_key(start).send().await.map_err(|e| self.sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                counts.tally(decode::<StatusOnly>(item)?.status);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(counts);
            }
        }
    }

    /// An endpoint's deliveries through GSI1, newest first, after `cursor`, matching `filter`.
    fn endpoint_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        filter: DeliveryFilter,
        cursor: Option<DeliveryId>,
    ) -> QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .expression_attribute_values(":pk", AttributeValue::S(endpoint_deliveries_pk(workspace, webhook)))
            .scan_index_forward(false);
        let query = match cursor {
            Some(cursor) => query
                .key_condition_expression("GSI1PK = :pk AND GSI1SK < :cursor")
                .expression_attribute_values(":cursor", AttributeValue::S(cursor.to_string())),
            None => query.key_condition_expression("GSI1PK = :pk"),
        };
        let conditions = [
            ("status", filter.status.map(DeliveryStatus::as_str)),
            ("event_type", filter.event_type.map(|t| t.as_str())),
        ];
        let mut clauses = Vec::new();
        let mut query = query;
        for (attribute, value) in conditions {
            if let Some(value) = value {
                clauses.push(format!("#{attribute} = :{attribute}"));
                query = query
                    .expression_attribute_names(format!("#{attribute}"), attribute)
                    .expression_attribute_values(format!(":{attribute}"), AttributeValue::S(value.into()));
            }
        }
        if clauses.is_empty() { query } else { query.filter_expression(clauses.join(" AND ")) }
    }

    /// One write of a transaction: `item`, if no item has its key yet.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem> {
        self.transact_put(Put::builder().set_item(Some(item)).condition_expression(NEW))
    }

    /// One write of a transaction: an idempotency record, unless an unexpired one has its key.
    fn put_new_or_expired(&self, record: &IdempotencyRecord, now: OffsetDateTime) -> Result<TransactWriteItem> {
        let stored = IdempotencyItem::of(record)?;
        let item = Stored::new(Key::idempotency(record.workspace_id, &record.key), &stored);
        self.transact_put(
            Put::builder()
                .set_item(Some(item.into_item()?))
                .condition_expression(NEW_OR_EXPIRED)
                .expression_attribute_values(":now", AttributeValue::S(sortable_time(now)?)),
        )
    }

    /// `put` on this table, as one write of a transaction.
    fn transact_put(&self, put: PutBuilder) -> Result<TransactWriteItem> {
        let put = put
            .table_name(&self.table)
            .build()
            .map_err(|e| Error::internal("dynamodb: building a transaction write", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes a post and, if given, its idempotency record in one transaction, trying again
    /// while it collides with a concurrent transaction on the same items.
    async fn transact_post(&self, post: &Post, idempotency: Option<&IdempotencyRecord>) -> Result<Option<PostRefused>> {
        let mut attempt = 1;
        loop {
            let mut writes = Vec::new();
            if let Some(record) = idempotency {
                writes.push(self.put_new_or_expired(record, OffsetDateTime::now_utc())?);
            }
            writes.push(self.put_new(post_item(post)?)?);
            let result = self.client.transact_write_items().set_transact_items(Some(writes)).send().await;
            let error = match result {
                Ok(_) => return Ok(None),
                Err(error) => error,
            };
            match PostRefused::of(&error, idempotency.is_some()) {
                Some(PostRefused::Collided) if attempt < TRANSACTION_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(TRANSACTION_RETRY_DELAY * attempt).await;
                }
                Some(refused) => return Ok(Some(refused)),
                None => return Err(self.sdk_error("TransactWriteItems", error)),
            }
        }
    }

    /// The unexpired idempotency record that refused a `create_post`, read consistently.
    async fn taken_key(&self, record: &IdempotencyRecord) -> Result<IdempotencyRecord> {
        let key = Key::idempotency(record.workspace_id, &record.key);
        match self.get::<IdempotencyItem>(key).await? {
            Some(existing) => existing.into_record(),
            None => Err(Error::Conflict(format!(
                "idempotency key {:?} was in use a moment ago and is gone now; try again",
                record.key
            ))),
        }
    }
}

fn string_attribute(name: &str) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| Error::internal("dynamodb: building an attribute definition", e))
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>> {
    [(partition, KeyType::Hash), (sort, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| Error::internal("dynamodb: building a key schema", e))
        })
        .collect()
}

/// A global secondary index `name` keyed by `<name>PK` / `<name>SK`, projecting every attribute.
fn index(name: &str) -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(key_schema(&format!("{name}PK"), &format!("{name}SK"))?))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(|e| Error::internal("dynamodb: building a secondary index", e))
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()> {
        let item = Stored::new(Key::workspace(workspace.id), workspace)
            .with_gsi1(WORKSPACES_GSI1PK, workspace.id.to_string())
            .into_item()?;
        self.put(item, NEW, Error::Conflict("workspace already exists".into())).await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        self.get(Key::workspace(id)).await
    }

    /// Reads `GSI1`, which is eventually consistent: a workspace created a moment ago may not
    /// show yet.
    async fn has_workspaces(&self) -> Result<bool> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(WORKSPACES_GSI1PK.into()))
            .limit(1)
            .send()
            .await
            .map_err(|e| self.sdk_error("Query GSI1", e))?;
        Ok(output.count > 0)
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let item = Stored::new(Key::api_key(&key.hash), key).into_item()?;
        self.put(item, NEW, Error::Conflict("API key already exists".into())).await
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>> {
        self.get(Key::api_key(hash)).await
    }

    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let key = Key::webhook(endpoint.workspace_id, endpoint.id);
        let item = Stored::new(key, endpoint).into_item()?;
        self.put(item, NEW, Error::Conflict("webhook already exists".into())).await
    }

    async fn get_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<WebhookEndpoint>> {
        self.get(Key::webhook(workspace, id)).await
    }

    async fn list_webhooks(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let start = parse_cursor(page.cursor.as_deref())?.map(|id| Key::webhook(workspace, id));
        let items = self
            .query_newest_first(workspace_pk(workspace), WEBHOOK_SK_PREFIX, start, page.limit.saturating_add(1))
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<WebhookEndpoint>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |e| e.id.to_string()))
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let key = Key::webhook(endpoint.workspace_id, endpoint.id);
        let item = Stored::new(key, endpoint).into_item()?;
        self.put(item, EXISTING, Error::NotFound("webhook")).await
    }

    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()> {
        self.delete(Key::webhook(workspace, id), "webhook").await
    }

    /// One transaction (at most 100 items) with the event and every delivery, each written only if
    /// its key is new.
    async fn create_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<()> {
        check_new_event(event, deliveries)?;
        let event_item = Stored::new(Key::event(event.workspace_id, event.id), event).into_item()?;
        let mut writes = vec![self.put_new(event_item)?];
        for delivery in deliveries {
            writes.push(self.put_new(delivery_item(delivery)?)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(writes)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if any_condition_failed(&e) => {
                Err(Error::Conflict(format!("event {} or one of its deliveries already exists", event.id)))
            }
            Err(e) => Err(self.sdk_error("TransactWriteItems", e)),
        }
    }

    async fn get_event(&self, workspace: WorkspaceId, id: EventId) -> Result<Option<Event>> {
        self.get(Key::event(workspace, id)).await
    }

    async fn get_delivery(&self, workspace: WorkspaceId, id: DeliveryId) -> Result<Option<Delivery>> {
        self.get(Key::delivery(workspace, id)).await
    }

    async fn update_delivery(&self, delivery: &Delivery, expected_version: u64) -> Result<()> {
        let key = Key::delivery(delivery.workspace_id, delivery.id);
        self.put_versioned(delivery_item(delivery)?, key, ("delivery", &delivery.id), expected_version).await
    }

    /// Reads GSI1, which is eventually consistent: a delivery written a moment ago may show its
    /// previous state.
    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let query = self.endpoint_deliveries(workspace, webhook, filter, cursor);
        let min_batch = if filter == DeliveryFilter::default() { 0 } else { FILTERED_QUERY_BATCH };
        let items = self
            .query_up_to(query, None, page.limit.saturating_add(1), min_batch)
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<Delivery>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |d| d.id.to_string()))
    }

    /// Reads the GSI1 range of ids minted at or after `since`, projecting only `status`: a
    /// delivery id is a ULID, which begins with the system time it was minted at, so this counts
    /// by that time rather than by the `created_at` field (the same but for an injected clock).
    async fn count_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        since: OffsetDateTime,
    ) -> Result<DeliveryCounts> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk AND GSI1SK >= :first")
            .expression_attribute_values(":pk", AttributeValue::S(endpoint_deliveries_pk(workspace, webhook)))
            .expression_attribute_values(":first", AttributeValue::S(first_delivery_id_since(since)))
            .projection_expression("#status")
            .expression_attribute_names("#status", "status");
        self.count_by_status(query).await
    }

    /// Reads GSI2 (eventually consistent): a delivery updated a moment ago may still be listed,
    /// and the sweep's conditional update then fails harmlessly.
    async fn overdue_deliveries(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Delivery>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :pk AND GSI2SK < :before")
            .expression_attribute_values(":pk", AttributeValue::S(PENDING_DELIVERY_GSI2PK.into()))
            .expression_attribute_values(":before", AttributeValue::S(sortable_time(before)?))
            .scan_index_forward(true);
        self.query_up_to(query, None, limit, 0).await?.into_iter().map(decode).collect()
    }

    async fn create_connection(&self, connection: &Connection) -> Result<()> {
        let item = Stored::new(Key::connection(connection.workspace_id, connection.id), connection).into_item()?;
        self.put(item, NEW, Error::Conflict("connection already exists".into())).await
    }

    async fn get_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<Option<Connection>> {
        self.get(Key::connection(workspace, id)).await
    }

    async fn update_connection(&self, connection: &Connection, expected_version: u64) -> Result<()> {
        let key = || Key::connection(connection.workspace_id, connection.id);
        let item = Stored::new(key(), connection).into_item()?;
        self.put_versioned(item, key(), ("connection", &connection.id), expected_version).await
    }

    async fn create_channel(&self, channel: &Channel) -> Result<()> {
        let item = Stored::new(Key::channel(channel.workspace_id, channel.id), channel).into_item()?;
        self.put(item, NEW, Error::Conflict("channel already exists".into())).await
    }

    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<Option<Channel>> {
        self.get(Key::channel(workspace, id)).await
    }

    async fn list_channels(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Channel>> {
        let start = parse_cursor(page.cursor.as_deref())?.map(|id| Key::channel(workspace, id));
        let items = self
            .query_newest_first(workspace_pk(workspace), CHANNEL_SK_PREFIX, start, page.limit.saturating_add(1))
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<Channel>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |c| c.id.to_string()))
    }

    async fn list_connections(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Connection>> {
        let start = parse_cursor(page.cursor.as_deref())?.map(|id| Key::connection(workspace, id));
        let items = self
            .query_newest_first(workspace_pk(workspace), CONNECTION_SK_PREFIX, start, page.limit.saturating_add(1))
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<Connection>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |c| c.id.to_string()))
    }

    async fn delete_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<()> {
        self.delete(Key::connection(workspace, id), "connection").await
    }

    /// Queries the workspace's channels, oldest first, with the connection as a filter.
    async fn connection_channels(&self, workspace: WorkspaceId, connection: ConnectionId) -> Result<Vec<Channel>> {
        let query = self
            .newest_first(workspace_pk(workspace), CHANNEL_SK_PREFIX)
            .scan_index_forward(true)
            .filter_expression("connection_id = :connection")
            .expression_attribute_values(":connection", AttributeValue::S(connection.to_string()));
        self.query_up_to(query, None, usize::MAX, FILTERED_QUERY_BATCH).await?.into_iter().map(decode).collect()
    }

    async fn update_channel(&self, channel: &Channel) -> Result<()> {
        let item = Stored::new(Key::channel(channel.workspace_id, channel.id), channel).into_item()?;
        self.put(item, EXISTING, Error::NotFound("channel")).await
    }

    async fn delete_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<()> {
        self.delete(Key::channel(workspace, id), "channel").await
    }

    async fn create_oauth_state(&self, state: &OAuthState) -> Result<()> {
        let item = Stored::new(Key::oauth_state(state.workspace_id, &state.state), state).into_item()?;
        self.put(item, NEW, Error::Conflict("OAuth state already exists".into())).await
    }

    /// A conditional delete returning the deleted item: of two concurrent takes, one deletes it.
    async fn take_oauth_state(&self, workspace: WorkspaceId, state: &str) -> Result<Option<OAuthState>> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Key::oauth_state(workspace, state).into_item()))
            .condition_expression(EXISTING)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.map(decode).transpose(),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(self.sdk_error("DeleteItem", e)),
        }
    }

    async fn put_instance_app(&self, app: &InstanceApp) -> Result<()> {
        let item = Stored::new(Key::instance_app(app.workspace_id, &app.own_key()), app).into_item()?;
        let result = self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await;
        result.map(drop).map_err(|e| self.sdk_error("PutItem", e))
    }

    async fn get_instance_app(&self, workspace: WorkspaceId, key: &str) -> Result<Option<InstanceApp>> {
        self.get(Key::instance_app(workspace, key)).await
    }

    /// One transaction: the idempotency record, written unless an unexpired one has its key
    /// (compared with this machine's clock), and the post, written if its id is new.
    async fn create_post(
        &self,
        post: &Post,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Option<IdempotencyRecord>> {
        match (self.transact_post(post, idempotency).await?, idempotency) {
            (None, _) => Ok(None),
            (Some(PostRefused::KeyTaken), Some(record)) => self.taken_key(record).await.map(Some),
            (Some(PostRefused::Collided), _) => Err(Error::Conflict(format!(
                "post {} collided with concurrent writes {TRANSACTION_ATTEMPTS} times",
                post.id
            ))),
            (Some(_), _) => Err(Error::Conflict("post already exists".into())),
        }
    }

    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> Result<Option<Post>> {
        self.get(Key::post(workspace, id)).await
    }

    /// Queries the workspace's posts, newest first, with `status` as a filter: each request
    /// evaluates at least [`FILTERED_QUERY_BATCH`] posts, and requests go on until the page is
    /// full or the posts end.
    async fn list_posts(
        &self,
        workspace: WorkspaceId,
        status: Option<PostStatus>,
        page: PageRequest,
    ) -> Result<Page<Post>> {
        let start = parse_cursor(page.cursor.as_deref())?.map(|id| Key::post(workspace, id).into_item());
        let query = self.newest_first(workspace_pk(workspace), POST_SK_PREFIX);
        let (query, min_batch) = match status {
            Some(status) => (
                query
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", AttributeValue::S(status.as_str().into())),
                FILTERED_QUERY_BATCH,
            ),
            None => (query, 0),
        };
        let items = self
            .query_up_to(query, start, page.limit.saturating_add(1), min_batch)
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<Post>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |p| p.id.to_string()))
    }

    async fn update_post(&self, post: &Post, expected_version: u64) -> Result<()> {
        let key = Key::post(post.workspace_id, post.id);
        self.put_versioned(post_item(post)?, key, ("post", &post.id), expected_version).await
    }

    async fn delete_post(&self, workspace: WorkspaceId, id: PostId) -> Result<()> {
        self.delete(Key::post(workspace, id), "post").await
    }

    /// Reads GSI2 (eventually consistent): a post updated a moment ago may still be listed, and
    /// process-queue's conditional claim then fails harmlessly.
    async fn due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        self.due_in("GSI2", DUE_POST_GSI2PK, now, limit).await
    }

    /// Reads GSI1 (eventually consistent): a post synced a moment ago may still be listed; its
    /// targets' `synced_at` then keeps it from being read twice, and writes are conditional.
    async fn metrics_due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        self.due_in("GSI1", METRICS_DUE_GSI1PK, now, limit).await
    }

    async fn create_source(&self, source: &Source) -> Result<()> {
        self.put(source_item(source)?, NEW, Error::Conflict("source already exists".into())).await
    }

    async fn get_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<Option<Source>> {
        self.get(keyed(workspace, SOURCE_SK_PREFIX, &id)).await
    }

    async fn list_sources(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Source>> {
        self.list_page::<SourceId, Source>(workspace, SOURCE_SK_PREFIX, page, |s| s.id.to_string()).await
    }

    async fn update_source(&self, source: &Source, expected_version: u64) -> Result<()> {
        let key = keyed(source.workspace_id, SOURCE_SK_PREFIX, &source.id);
        self.put_versioned(source_item(source)?, key, ("source", &source.id), expected_version).await
    }

    async fn delete_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<()> {
        self.delete(keyed(workspace, SOURCE_SK_PREFIX, &id), "source").await
    }

    /// Reads GSI2 (eventually consistent), like `due_posts`.
    async fn sources_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Source>> {
        self.due_in("GSI2", DUE_SOURCE_GSI2PK, now, limit).await
    }

    /// One conditional put per entry (only if its key is new), so a re-fetch changes nothing.
    async fn upsert_feed_entries(&self, entries: &[FeedEntry]) -> Result<usize> {
        let mut new = 0;
        for entry in entries {
            match self.put(entry_item(entry)?, NEW, Error::Conflict("feed entry already exists".into())).await {
                Ok(()) => new += 1,
                Err(Error::Conflict(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(new)
    }

    /// Reads GSI1 (eventually consistent): an entry claimed a moment ago may still be listed,
    /// and claiming it then returns `false`.
    async fn unused_feed_entries(
        &self,
        workspace: WorkspaceId,
        source: SourceId,
        limit: usize,
    ) -> Result<Vec<FeedEntry>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(unused_entries_pk(workspace, source)))
            .scan_index_forward(false);
        self.query_up_to(query, None, limit, 0).await?.into_iter().map(decode).collect()
    }

    async fn claim_feed_entry(&self, entry: &FeedEntry) -> Result<bool> {
        let taken = Error::Conflict("feed entry already used".into());
        match self.put(entry_item(entry)?, STILL_UNUSED, taken).await {
            Ok(()) => Ok(true),
            Err(Error::Conflict(_)) if self.exists(entry_key(entry)).await? => Ok(false),
            Err(Error::Conflict(_)) => Err(Error::NotFound("feed entry")),
            Err(error) => Err(error),
        }
    }

    async fn create_automation(&self, automation: &Automation) -> Result<()> {
        self.put(automation_item(automation)?, NEW, Error::Conflict("automation already exists".into())).await
    }

    async fn get_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<Option<Automation>> {
        self.get(keyed(workspace, AUTOMATION_SK_PREFIX, &id)).await
    }

    async fn list_automations(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Automation>> {
        self.list_page::<AutomationId, Automation>(workspace, AUTOMATION_SK_PREFIX, page, |a| a.id.to_string()).await
    }

    async fn update_automation(&self, automation: &Automation, expected_version: u64) -> Result<()> {
        let key = keyed(automation.workspace_id, AUTOMATION_SK_PREFIX, &automation.id);
        self.put_versioned(automation_item(automation)?, key, ("automation", &automation.id), expected_version).await
    }

    async fn delete_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<()> {
        self.delete(keyed(workspace, AUTOMATION_SK_PREFIX, &id), "automation").await
    }

    /// Reads GSI2 (eventually consistent): a slot claimed a moment ago may still be listed, and
    /// the conditional claim then fails harmlessly.
    async fn automations_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Automation>> {
        self.due_in("GSI2", DUE_AUTOMATION_GSI2PK, now, limit).await
    }

    async fn create_run(&self, run: &Run) -> Result<()> {
        let item = Stored::new(keyed(run.workspace_id, RUN_SK_PREFIX, &run.id), run).into_item()?;
        self.put(item, NEW, Error::Conflict("run already exists".into())).await
    }

    async fn get_run(&self, workspace: WorkspaceId, id: RunId) -> Result<Option<Run>> {
        self.get(keyed(workspace, RUN_SK_PREFIX, &id)).await
    }

    async fn update_run(&self, run: &Run, expected_version: u64) -> Result<()> {
        let key = || keyed(run.workspace_id, RUN_SK_PREFIX, &run.id);
        let item = Stored::new(key(), run).into_item()?;
        self.put_versioned(item, key(), ("run", &run.id), expected_version).await
    }
}

const SOURCE_SK_PREFIX: &str = "SOURCE#";
const ENTRY_SK_PREFIX: &str = "ENTRY#";
const AUTOMATION_SK_PREFIX: &str = "AUTOMATION#";
const RUN_SK_PREFIX: &str = "RUN#";
const DUE_SOURCE_GSI2PK: &str = "DUE_SOURCE";
const DUE_AUTOMATION_GSI2PK: &str = "DUE_AUTOMATION";
/// Only an unused feed entry has GSI1 keys.
const STILL_UNUSED: &str = "attribute_exists(GSI1PK)";

/// The key of a record kept in its workspace's partition under `<prefix><id>`.
fn keyed(workspace: WorkspaceId, prefix: &str, id: &dyn Display) -> Key {
    Key { pk: workspace_pk(workspace), sk: format!("{prefix}{id}") }
}

/// An item that, while `due` is set, is found through GSI2 under `gsi2pk`.
fn due_item<T: Serialize>(
    key: Key,
    record: &T,
    gsi2pk: &str,
    due: Option<OffsetDateTime>,
    id: &dyn Display,
) -> Result<Item> {
    let stored = Stored::new(key, record);
    match due {
        Some(due) => stored.with_gsi2(gsi2pk, format!("{}#{id}", sortable_time(due)?)),
        None => stored,
    }
    .into_item()
}

fn source_item(source: &Source) -> Result<Item> {
    let key = keyed(source.workspace_id, SOURCE_SK_PREFIX, &source.id);
    due_item(key, source, DUE_SOURCE_GSI2PK, source.next_fetch_at, &source.id)
}

fn automation_item(automation: &Automation) -> Result<Item> {
    let key = keyed(automation.workspace_id, AUTOMATION_SK_PREFIX, &automation.id);
    due_item(key, automation, DUE_AUTOMATION_GSI2PK, automation.next_run_at, &automation.id)
}

/// A feed entry's key: its dedup key is hashed, since a link may be longer than a sort key
/// should be.
fn entry_key(entry: &FeedEntry) -> Key {
    let sk = format!("{ENTRY_SK_PREFIX}{}#{}", entry.source_id, entry_hash(entry));
    Key { pk: workspace_pk(entry.workspace_id), sk }
}

fn entry_hash(entry: &FeedEntry) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(entry.key.as_bytes()))
}

/// The GSI1 partition of a source's unused entries.
fn unused_entries_pk(workspace: WorkspaceId, source: SourceId) -> String {
    format!("WS#{workspace}#SOURCE#{source}#UNUSED")
}

/// A feed entry's item: while unused, listed newest first through GSI1.
fn entry_item(entry: &FeedEntry) -> Result<Item> {
    let stored = Stored::new(entry_key(entry), entry);
    match entry.used_by_run {
        None => stored.with_gsi1(
            unused_entries_pk(entry.workspace_id, entry.source_id),
            format!("{}#{}", sortable_time(entry.sort_time())?, entry_hash(entry)),
        ),
        Some(_) => stored,
    }
    .into_item()
}

impl DynamoStore {
    /// A page of the records under `prefix` in a workspace's partition, newest first.
    async fn list_page<I, T>(
        &self,
        workspace: WorkspaceId,
        prefix: &str,
        page: PageRequest,
        id_of: impl Fn(&T) -> String,
    ) -> Result<Page<T>>
    where
        I: std::str::FromStr + Display,
        T: DeserializeOwned,
    {
        let start = parse_cursor::<I>(page.cursor.as_deref())?.map(|id| keyed(workspace, prefix, &id));
        let items = self
            .query_newest_first(workspace_pk(workspace), prefix, start, page.limit.saturating_add(1))
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<T>>>()?;
        Ok(Page::from_overfetch(items, page.limit, id_of))
    }
}
