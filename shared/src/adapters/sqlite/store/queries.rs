//! Reads of many records: a workspace's records of one kind by id, and a partition of a
//! secondary index by sort key, each with optional field filters, in either order.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::model::error::Result;
use crate::ports::store::{FieldIs, Index, IndexQuery, ListQuery, Order, SortRange};

use super::rows::{from_json, sql_error};

/// A `SELECT record` being built: conditions joined by AND, with positional parameters.
struct Select {
    conditions: Vec<String>,
    params: Vec<SqlValue>,
}

impl Select {
    fn new() -> Self {
        Self { conditions: Vec::new(), params: Vec::new() }
    }

    /// Adds `condition`, in which each `?` stands for the next of `values` (SQLite numbers
    /// anonymous parameters in order).
    fn and<const N: usize>(mut self, condition: &str, values: [SqlValue; N]) -> Self {
        self.conditions.push(condition.to_string());
        self.params.extend(values);
        self
    }

    fn and_fields(self, filter: &[FieldIs]) -> Self {
        filter.iter().fold(self, |select, field| {
            select.and("json_extract(record, ?) = ?", [text(format!("$.{}", field.field)), text(&field.value)])
        })
    }

    fn run(self, conn: &Connection, order_by: &str, limit: usize) -> Result<Vec<Value>> {
        let sql =
            format!("SELECT record FROM records WHERE {} ORDER BY {order_by} LIMIT ?", self.conditions.join(" AND "));
        let mut params = self.params;
        params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let mut statement = conn.prepare_cached(&sql).map_err(sql_error("sqlite: preparing a query"))?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(params), |row| row.get::<_, String>(0))
            .map_err(sql_error("sqlite: querying records"))?;
        rows.map(|text| from_json(&text.map_err(sql_error("sqlite: querying records"))?)).collect()
    }
}

fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(value.into())
}

fn direction(order: Order) -> &'static str {
    match order {
        Order::Descending => "DESC",
        Order::Ascending => "ASC",
    }
}

pub(super) fn list(conn: &Connection, query: &ListQuery) -> Result<Vec<Value>> {
    let mut select = Select::new()
        .and("kind = ?", [text(query.kind.name())])
        .and("workspace_id = ?", [text(query.workspace.to_string())]);
    if let Some(after) = &query.after {
        let comparison = if query.order == Order::Descending { "id < ?" } else { "id > ?" };
        select = select.and(comparison, [text(after)]);
    }
    select.and_fields(&query.filter).run(conn, &format!("id {}", direction(query.order)), query.limit)
}

pub(super) fn query_index(conn: &Connection, query: &IndexQuery) -> Result<Vec<Value>> {
    let (pk, sk) = match query.index {
        Index::First => ("first_pk", "first_sk"),
        Index::Second => ("second_pk", "second_sk"),
    };
    let mut select = Select::new().and(&format!("{pk} = ?"), [text(&query.partition)]);
    match &query.range {
        SortRange::All => {}
        SortRange::AtLeast(from) => select = select.and(&format!("{sk} >= ?"), [text(from)]),
        SortRange::Below(bound) => select = select.and(&format!("{sk} < ?"), [text(bound)]),
    }
    let order = direction(query.order);
    select.and_fields(&query.filter).run(conn, &format!("{sk} {order}, id {order}"), query.limit)
}
