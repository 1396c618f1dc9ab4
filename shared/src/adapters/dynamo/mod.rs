//! The production Store adapter: one DynamoDB table holding every record (single-table design,
//! laid out in [`table`]), implementing the Store's generic core.

mod items;
mod queries;
mod table;
mod transactions;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::model::error::{Error, Result};
use crate::ports::store::{Addition, Document, IndexQuery, ListQuery, Outcome, RecordKey, RecordStore, Store, Write};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn sdk_error<E: std::error::Error>(&self, operation: &str, error: E) -> Error {
        Error::internal(&format!("dynamodb {operation} on table {}", self.table), DisplayErrorContext(error))
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Value>> {
        self.get_item(key).await
    }

    async fn write(&self, write: Write) -> Result<Outcome> {
        self.write_item(write).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<Outcome> {
        self.transact_items(writes).await
    }

    async fn add(&self, document: Document, additions: Vec<Addition>) -> Result<()> {
        self.add_item(&document, &additions).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<Value>> {
        self.list_items(query).await
    }

    /// Reads a GSI, which is eventually consistent.
    async fn query_index(&self, query: IndexQuery) -> Result<Vec<Value>> {
        self.query_index_items(query).await
    }
}

impl Store for DynamoStore {
    fn core(&self) -> &dyn RecordStore {
        self
    }
}
