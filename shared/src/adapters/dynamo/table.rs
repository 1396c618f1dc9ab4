//! The table: its key design and its creation (`ensure_table`).
//!
//! | record             | PK                  | SK                  | GSI1PK / GSI1SK                         | GSI2PK / GSI2SK |
//! |--------------------|---------------------|---------------------|-----------------------------------------|-----------------|
//! | workspace          | `WS#<id>`           | `WORKSPACE`         | `WORKSPACES` / id                       | |
//! | API key            | `APIKEY#<hash hex>` | `APIKEY`            | `WS#<workspace>#KEYS` / id              | `KEY#<id>` / id |
//! | webhook            | `WS#<workspace>`    | `WEBHOOK#<id>`      |                                         | `PROBE_DUE` / next probe, while probed |
//! | event              | `WS#<workspace>`    | `EVENT#<id>`        |                                         | |
//! | delivery           | `WS#<workspace>`    | `DELIVERY#<id>`     | `WS#<workspace>#WEBHOOK#<webhook>` / id | `PENDING_DELIVERY` / due, while pending with an attempt due; `WS#<ws>#WEBHOOK#<webhook>#FAILED` / id, while failed |
//! | recovery           | `WS#<workspace>`    | `RECOVERY#<id>`     | `WS#<ws>#WEBHOOK#<webhook>#RECOVERIES` / id | `RUNNING_RECOVERY` / started, while running |
//! | connection         | `WS#<workspace>`    | `CONNECTION#<id>`   |                                         | |
//! | channel            | `WS#<workspace>`    | `CHANNEL#<id>`      | `CHANNEL#<platform>#<platform id>` / id  | |
//! | interaction        | `WS#<workspace>`    | `INTERACTION#<id>`  | `WS#<workspace>#INBOX` / received       | |
//! | inbox state        | `WS#<workspace>`    | `INBOX#<channel>`   |                                         | `INBOX_DUE` / next poll, while set |
//! | channel import     | `WS#<workspace>`    | `IMPORT#<connection>` |                                       | |
//! | post               | `WS#<workspace>`    | `POST#<id>`         | `METRICS_DUE` / metrics due, while set  | `DUE_POST` / due, while set |
//! | idempotency record | `WS#<workspace>`    | `IDEMPOTENCY#<key>` |                                         | |
//! | source             | `WS#<workspace>`    | `SOURCE#<id>`       |                                         | `DUE_SOURCE` / next fetch, while set |
//! | feed entry         | `WS#<workspace>`    | `ENTRY#<source>#<sha256 of key>` | `WS#<ws>#SOURCE#<source>#UNUSED` / `<sort time>#<sha256 of key>`, while unused | |
//! | automation         | `WS#<workspace>`    | `AUTOMATION#<id>`   |                                         | `DUE_AUTOMATION` / next run, while set |
//! | run                | `WS#<workspace>`    | `RUN#<id>`          |                                         | |
//! | hourly outcomes    | `WS#<workspace>`    | `OUTCOMES#<webhook>#<hour, epoch s>` | `WS#<ws>#WEBHOOK#<webhook>#OUTCOMES` / hour | |
//! | key usage          | `WS#<workspace>`    | `USAGE#<key>#<posts or ai>#<minute, epoch s>` |                   | |
//! | OAuth state        | `WS#<workspace>`    | `OAUTHSTATE#<state>`|                                         | |
//! | instance app       | `WS#<workspace>`    | `APP#<key>`         |                                         | |
//!
//! PK and SK come from a record's [`RecordKey`] (`WS#<workspace>` and `<prefix><id>`; a record
//! without a workspace is its own partition `<prefix>#<id>` under the sort key `<prefix>`). The
//! GSI keys are the record's two index entries (`ports/store/kinds.rs`); "due" sort keys are
//! `<time as sortable_time>#<id>`. Both indexes are overloaded and sparse: an item is in one
//! only while its record has an entry there, so GSI2 holds exactly what the outbox sweep,
//! process-queue (recoveries, probes) and the feed fetcher may take up, and each endpoint's failed
//! deliveries (what a recovery pages through), GSI1 exactly what sync-post-metrics reads,
//! the unused feed entries and each endpoint's hourly outcome counts, and a claim of an entry is a write conditional on its GSI1 keys.
//!
//! Each item is the record's own fields (via serde_dynamo) plus these key attributes.
//! `expires_at` is the table's TTL attribute. Only idempotency records, OAuth states,
//! interactions and hourly outcomes store it as a number (epoch seconds), so only they expire; a
//! connection's `expires_at` is text,
//! which TTL ignores. DynamoDB deletes expired items late (and moto never), so the write
//! condition checks the exact expiry of an expiring record, kept beside it as `valid_until`.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::model::error::{Error, Result};
use crate::model::ids::WorkspaceId;
use crate::ports::store::{Index, Kind, RecordKey};

use super::{DynamoStore, Item};

pub(super) const TTL_ATTRIBUTE: &str = "expires_at";
/// The exact expiry of an expiring record, as `sortable_time` text.
pub(super) const VALID_UNTIL: &str = "valid_until";
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(500);
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The sort key of a kind's records starts with this.
fn sort_key_prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Workspace => "WORKSPACE",
        Kind::ApiKey => "APIKEY",
        Kind::Webhook => "WEBHOOK#",
        Kind::Event => "EVENT#",
        Kind::Delivery => "DELIVERY#",
        Kind::Connection => "CONNECTION#",
        Kind::Channel => "CHANNEL#",
        Kind::ChannelImport => "IMPORT#",
        Kind::OAuthState => "OAUTHSTATE#",
        Kind::InstanceApp => "APP#",
        Kind::Post => "POST#",
        Kind::IdempotencyRecord => "IDEMPOTENCY#",
        Kind::Source => "SOURCE#",
        Kind::FeedEntry => "ENTRY#",
        Kind::Automation => "AUTOMATION#",
        Kind::Run => "RUN#",
        Kind::Interaction => "INTERACTION#",
        Kind::InboxState => "INBOX#",
        Kind::HourlyOutcomes => "OUTCOMES#",
        Kind::DataDeletion => "DATADELETION",
        Kind::DmStatusMark => "DMSTATUS#",
        Kind::Recovery => "RECOVERY#",
        Kind::KeyUsage => "USAGE#",
    }
}

/// The primary key of one item.
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn of(key: &RecordKey) -> Self {
        let prefix = sort_key_prefix(key.kind);
        match key.workspace {
            Some(workspace) => Self { pk: workspace_pk(workspace), sk: format!("{prefix}{}", key.id) },
            None => Self { pk: format!("{prefix}#{}", key.id), sk: prefix.to_string() },
        }
    }

    pub fn into_item(self) -> Item {
        Item::from([("PK".to_string(), AttributeValue::S(self.pk)), ("SK".to_string(), AttributeValue::S(self.sk))])
    }
}

pub(super) fn workspace_pk(id: WorkspaceId) -> String {
    format!("WS#{id}")
}

/// The partition of a workspace's records of `kind` and their common sort-key prefix.
pub(super) fn kind_in_workspace(kind: Kind, workspace: WorkspaceId) -> (String, &'static str) {
    (workspace_pk(workspace), sort_key_prefix(kind))
}

/// The name of a secondary index, which is also the prefix of its key attributes.
pub(super) fn index_name(index: Index) -> &'static str {
    match index {
        Index::First => "GSI1",
        Index::Second => "GSI2",
    }
}

impl DynamoStore {
    /// Creates the table if it is missing, waits until it is ACTIVE and enables its TTL.
    /// Safe to call any number of times, also concurrently.
    pub async fn ensure_table(&self) -> Result<()> {
        if self.table_status().await?.is_none() {
            self.create_table().await?;
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
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
            .global_secondary_indexes(index(index_name(Index::First))?)
            .global_secondary_indexes(index(index_name(Index::Second))?)
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
