//! The production Store adapter: one DynamoDB table holding every record (single-table design),
//! and the table's own creation (`ensure_table`).
//!
//! | record    | PK                  | SK              | GSI1PK / GSI1SK     |
//! |-----------|---------------------|-----------------|---------------------|
//! | workspace | `WS#<id>`           | `WORKSPACE`     | `WORKSPACES` / id   |
//! | API key   | `APIKEY#<hash hex>` | `APIKEY`        |                     |
//! | webhook   | `WS#<workspace>`    | `WEBHOOK#<id>`  |                     |
//!
//! Each item is the record's own fields (via serde_dynamo) plus these key attributes. `GSI1` and
//! `GSI2` are overloaded, sparse indexes; `expires_at` is the table's TTL attribute.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::crypto::KeyHash;
use crate::error::{Error, Result};
use crate::ids::{WebhookId, WorkspaceId};
use crate::store::{Page, PageRequest, Store, parse_cursor};
use crate::webhooks::WebhookEndpoint;
use crate::workspaces::{ApiKey, Workspace};

type Item = HashMap<String, AttributeValue>;

const TTL_ATTRIBUTE: &str = "expires_at";
const WORKSPACE_SK: &str = "WORKSPACE";
const WORKSPACES_GSI1PK: &str = "WORKSPACES";
const API_KEY_SK: &str = "APIKEY";
const WEBHOOK_SK_PREFIX: &str = "WEBHOOK#";
/// Write conditions: no item has the key yet / an item has it.
const NEW: &str = "attribute_not_exists(PK)";
const EXISTING: &str = "attribute_exists(PK)";
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
        Self {
            pk: workspace_pk(id),
            sk: WORKSPACE_SK.to_string(),
        }
    }

    fn api_key(hash: &KeyHash) -> Self {
        Self {
            pk: format!("APIKEY#{}", hash.to_hex()),
            sk: API_KEY_SK.to_string(),
        }
    }

    fn webhook(workspace: WorkspaceId, id: WebhookId) -> Self {
        Self {
            pk: workspace_pk(workspace),
            sk: format!("{WEBHOOK_SK_PREFIX}{id}"),
        }
    }

    fn into_item(self) -> Item {
        HashMap::from([
            ("PK".to_string(), AttributeValue::S(self.pk)),
            ("SK".to_string(), AttributeValue::S(self.sk)),
        ])
    }
}

fn workspace_pk(id: WorkspaceId) -> String {
    format!("WS#{id}")
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
    #[serde(flatten)]
    record: &'a T,
}

impl<'a, T: Serialize> Stored<'a, T> {
    fn new(key: Key, record: &'a T) -> Self {
        Self {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: None,
            gsi1sk: None,
            record,
        }
    }

    fn with_gsi1(self, pk: &str, sk: String) -> Self {
        Self {
            gsi1pk: Some(pk.to_string()),
            gsi1sk: Some(sk),
            ..self
        }
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
        Self {
            client,
            table: table.into(),
        }
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
        Error::internal(
            &format!("dynamodb {operation} on table {}", self.table),
            DisplayErrorContext(error),
        )
    }

    /// The table's status, or `None` if it does not exist.
    async fn table_status(&self) -> Result<Option<TableStatus>> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(output) => Ok(output.table.and_then(|table| table.table_status)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
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
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
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
        if matches!(
            current,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
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
    fn conditional<T, E>(
        &self,
        result: Result<T, SdkError<E>>,
        operation: &str,
        on_failed: Error,
    ) -> Result<()>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(on_failed),
            Err(e) => Err(self.sdk_error(operation, e)),
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

    /// Up to `want` items of partition `pk` whose sort key starts with `prefix`, newest (highest
    /// sort key) first, after `start`. Follows DynamoDB's own pages until it has `want` items
    /// or the partition ends.
    async fn query_newest_first(
        &self,
        pk: String,
        prefix: &str,
        start: Option<Key>,
        want: usize,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = start.map(Key::into_item);
        loop {
            let remaining = i32::try_from(want - items.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(remaining)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.sdk_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if items.len() >= want || start.is_none() {
                return Ok(items);
            }
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
        .set_key_schema(Some(key_schema(
            &format!("{name}PK"),
            &format!("{name}SK"),
        )?))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| Error::internal("dynamodb: building a secondary index", e))
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()> {
        let item = Stored::new(Key::workspace(workspace.id), workspace)
            .with_gsi1(WORKSPACES_GSI1PK, workspace.id.to_string())
            .into_item()?;
        self.put(
            item,
            NEW,
            Error::Conflict("workspace already exists".into()),
        )
        .await
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
        self.put(item, NEW, Error::Conflict("API key already exists".into()))
            .await
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>> {
        self.get(Key::api_key(hash)).await
    }

    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let key = Key::webhook(endpoint.workspace_id, endpoint.id);
        let item = Stored::new(key, endpoint).into_item()?;
        self.put(item, NEW, Error::Conflict("webhook already exists".into()))
            .await
    }

    async fn get_webhook(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
    ) -> Result<Option<WebhookEndpoint>> {
        self.get(Key::webhook(workspace, id)).await
    }

    async fn list_webhooks(
        &self,
        workspace: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        let start = parse_cursor(page.cursor.as_deref())?.map(|id| Key::webhook(workspace, id));
        let items = self
            .query_newest_first(
                workspace_pk(workspace),
                WEBHOOK_SK_PREFIX,
                start,
                page.limit.saturating_add(1),
            )
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<WebhookEndpoint>>>()?;
        Ok(Page::from_overfetch(items, page.limit, |e| {
            e.id.to_string()
        }))
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let key = Key::webhook(endpoint.workspace_id, endpoint.id);
        let item = Stored::new(key, endpoint).into_item()?;
        self.put(item, EXISTING, Error::NotFound("webhook")).await
    }

    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()> {
        self.delete(Key::webhook(workspace, id), "webhook").await
    }
}
