//! Records as rows of the `records` table and back: a document's key and index entries become
//! columns, its body the JSON text in `record`.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::error::{Error, Result};
use crate::ports::store::{Document, IndexEntry, RecordKey, sortable_time};

/// A failed statement: unavailable (503, worth retrying) while another process holds the
/// database's lock beyond the busy timeout, internal otherwise.
pub(super) fn sql_error(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |error| match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            tracing::warn!(context, %error, "the SQLite database is locked by another connection");
            Error::Unavailable("the store is busy: its database is locked by another process; try again shortly".into())
        }
        _ => Error::internal(context, error),
    }
}

pub(super) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::internal("sqlite: decoding a stored record", e))
}

/// The primary key columns of `key`: kind, workspace (empty for none) and id.
pub(super) fn key_columns(key: &RecordKey) -> [String; 3] {
    let workspace = key.workspace.map(|w| w.to_string()).unwrap_or_default();
    [key.kind.name().to_string(), workspace, key.id.clone()]
}

/// What conditions are checked against: the columns of a stored row.
pub(super) struct StoredRow {
    pub version: Option<u64>,
    pub valid_until: Option<String>,
    pub in_first_index: bool,
}

pub(super) fn stored_row(conn: &Connection, key: &RecordKey) -> Result<Option<StoredRow>> {
    conn.prepare_cached(
        "SELECT version, valid_until, first_pk IS NOT NULL FROM records
         WHERE kind = ?1 AND workspace_id = ?2 AND id = ?3",
    )
    .and_then(|mut statement| {
        statement
            .query_row(key_columns(key), |row| {
                Ok(StoredRow { version: row.get(0)?, valid_until: row.get(1)?, in_first_index: row.get(2)? })
            })
            .optional()
    })
    .map_err(sql_error("sqlite: reading a stored row"))
}

/// The decoded `record` column of the row under `key`.
pub(super) fn record_body(conn: &Connection, key: &RecordKey) -> Result<Option<Value>> {
    conn.prepare_cached("SELECT record FROM records WHERE kind = ?1 AND workspace_id = ?2 AND id = ?3")
        .and_then(|mut statement| statement.query_row(key_columns(key), |row| row.get::<_, String>(0)).optional())
        .map_err(sql_error("sqlite: reading a record"))?
        .map(|text| from_json(&text))
        .transpose()
}

fn index_columns(entry: Option<&IndexEntry>) -> (Option<&str>, Option<&str>) {
    entry.map_or((None, None), |entry| (Some(entry.partition.as_str()), Some(entry.sort.as_str())))
}

/// Writes `document`'s row, replacing any under its key.
pub(super) fn put_row(conn: &Connection, document: &Document) -> Result<()> {
    let [kind, workspace, id] = key_columns(&document.key);
    let valid_until = document.expires_at.map(sortable_time).transpose()?;
    let (first_pk, first_sk) = index_columns(document.first_index.as_ref());
    let (second_pk, second_sk) = index_columns(document.second_index.as_ref());
    let record = serde_json::to_string(&document.body).map_err(|e| Error::internal("sqlite: encoding a record", e))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO records
             (kind, workspace_id, id, version, valid_until, first_pk, first_sk, second_pk, second_sk, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            kind,
            workspace,
            id,
            document.version,
            valid_until,
            first_pk,
            first_sk,
            second_pk,
            second_sk,
            record
        ])
    })
    .map_err(sql_error("sqlite: writing a record"))?;
    Ok(())
}

pub(super) fn delete_row(conn: &Connection, key: &RecordKey) -> Result<()> {
    conn.prepare_cached("DELETE FROM records WHERE kind = ?1 AND workspace_id = ?2 AND id = ?3")
        .and_then(|mut statement| statement.execute(key_columns(key)))
        .map_err(sql_error("sqlite: deleting a record"))?;
    Ok(())
}
