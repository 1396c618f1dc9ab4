//! Reads: one item by key (consistent), a workspace's records of one kind by sort key
//! (consistent), and a partition of a GSI by its sort key (eventually consistent), each
//! following DynamoDB's pages until enough items are read.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::model::error::Result;
use crate::ports::store::{FieldIs, IndexQuery, ListQuery, Order, RecordKey, SortRange};

use super::table::{Key, index_name, kind_in_workspace};
use super::{DynamoStore, Item, items};

/// How many items a filtered query evaluates per request at least, since the filter may drop
/// most of them.
const FILTERED_QUERY_BATCH: usize = 100;

impl DynamoStore {
    pub(super) async fn get_item(&self, key: &RecordKey) -> Result<Option<Value>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Key::of(key).into_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_error("GetItem", e))?
            .item
            .map(items::body)
            .transpose()
    }

    pub(super) async fn list_items(&self, query: ListQuery) -> Result<Vec<Value>> {
        let (pk, prefix) = kind_in_workspace(query.kind, query.workspace);
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_string()))
            .scan_index_forward(query.order == Order::Ascending)
            .consistent_read(true);
        let start = query
            .after
            .map(|id| Key::of(&RecordKey { kind: query.kind, workspace: Some(query.workspace), id }).into_item());
        self.read(filtered(request, &query.filter), start, query.limit, &query.filter).await
    }

    pub(super) async fn query_index_items(&self, query: IndexQuery) -> Result<Vec<Value>> {
        let name = index_name(query.index);
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(name)
            .expression_attribute_values(":pk", AttributeValue::S(query.partition))
            .scan_index_forward(query.order == Order::Ascending);
        let request = match query.range {
            SortRange::All => request.key_condition_expression(format!("{name}PK = :pk")),
            SortRange::AtLeast(from) => request
                .key_condition_expression(format!("{name}PK = :pk AND {name}SK >= :sort"))
                .expression_attribute_values(":sort", AttributeValue::S(from)),
            SortRange::Below(bound) => request
                .key_condition_expression(format!("{name}PK = :pk AND {name}SK < :sort"))
                .expression_attribute_values(":sort", AttributeValue::S(bound)),
        };
        self.read(filtered(request, &query.filter), None, query.limit, &query.filter).await
    }

    /// The bodies of the first `want` items `request` returns from `start` on.
    async fn read(
        &self,
        request: QueryFluentBuilder,
        start: Option<Item>,
        want: usize,
        filter: &[FieldIs],
    ) -> Result<Vec<Value>> {
        let min_batch = if filter.is_empty() { 0 } else { FILTERED_QUERY_BATCH };
        self.query_up_to(request, start, want, min_batch).await?.into_iter().map(items::body).collect()
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
}

/// `request` keeping only the items whose fields match `filter`.
fn filtered(request: QueryFluentBuilder, filter: &[FieldIs]) -> QueryFluentBuilder {
    if filter.is_empty() {
        return request;
    }
    let clauses: Vec<String> = (0..filter.len()).map(|i| format!("#f{i} = :f{i}")).collect();
    filter.iter().enumerate().fold(request.filter_expression(clauses.join(" AND ")), |request, (i, field)| {
        request
            .expression_attribute_names(format!("#f{i}"), field.field)
            .expression_attribute_values(format!(":f{i}"), AttributeValue::S(field.value.clone()))
    })
}
