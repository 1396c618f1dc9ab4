//! The embedded Store adapter: one SQLite database (a WAL-mode file on the dev server, or in
//! memory in tests) implementing the Store's generic core. Every record is a row of one table;
//! queries take microseconds, so they run in place under the connection's lock.

mod queries;
mod rows;
mod schema;
mod writes;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::Connection;
use serde_json::Value;

use crate::model::error::{Error, Result};
use crate::ports::store::{
    Addition, Document, IndexQuery, ListQuery, Outcome, RecordKey, RecordStore, Store, Write, check_transaction,
};

use self::rows::sql_error;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path`, creating its parent directories; a
    /// database of the earlier schema is moved into the current one.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::internal("sqlite: creating the database directory", e))?;
        }
        let conn = Connection::open(path).map_err(sql_error("sqlite: opening the database"))?;
        schema::configure_file(&conn)?;
        Self::with_schema(conn)
    }

    /// A private database that lives as long as this store (and its clones).
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(sql_error("sqlite: opening in memory"))?;
        Self::with_schema(conn)
    }

    fn with_schema(conn: Connection) -> Result<Self> {
        schema::create(&conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    fn run<T>(&self, op: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        // A panic while holding the lock cannot leave SQLite half-written (an open transaction
        // rolls back), so a poisoned lock is still safe to use.
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        op(&conn)
    }
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Value>> {
        self.run(|conn| rows::record_body(conn, key))
    }

    async fn write(&self, write: Write) -> Result<Outcome> {
        self.run(|conn| writes::apply_all(conn, std::slice::from_ref(&write)))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<Outcome> {
        check_transaction(&writes)?;
        self.run(|conn| writes::apply_all(conn, &writes))
    }

    async fn add(&self, document: Document, additions: Vec<Addition>) -> Result<()> {
        self.run(|conn| writes::add(conn, &document, &additions))
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<Value>> {
        self.run(|conn| queries::list(conn, &query))
    }

    async fn query_index(&self, query: IndexQuery) -> Result<Vec<Value>> {
        self.run(|conn| queries::query_index(conn, &query))
    }
}

impl Store for SqliteStore {
    fn core(&self) -> &dyn RecordStore {
        self
    }
}
