//! The embedded Store adapter: one SQLite database (a WAL-mode file on the dev server, or in
//! memory in tests). Each table keeps the record as JSON beside the columns its queries use;
//! every query runs on a blocking thread so the async runtime never waits on disk.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::KeyHash;
use crate::error::{Error, Result};
use crate::ids::{WebhookId, WorkspaceId};
use crate::store::{Page, PageRequest, Store, parse_cursor};
use crate::webhooks::WebhookEndpoint;
use crate::workspaces::{ApiKey, Workspace};

/// How long a write waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workspaces (
    id     TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash     TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_workspace ON webhooks (workspace_id, id);
";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path`, creating its parent directories.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::internal("sqlite: creating the database directory", e))?;
        }
        let conn = Connection::open(path).map_err(sql_error("sqlite: opening the database"))?;
        configure_file(&conn)?;
        Self::with_schema(conn)
    }

    /// A private database that lives as long as this store (and its clones).
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(sql_error("sqlite: opening in memory"))?;
        Self::with_schema(conn)
    }

    fn with_schema(conn: Connection) -> Result<Self> {
        conn.execute_batch(SCHEMA)
            .map_err(sql_error("sqlite: creating tables"))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `op` on the connection on a blocking thread.
    async fn run<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (an open
            // transaction rolls back), so a poisoned lock is still safe to use.
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            op(&conn)
        })
        .await
        .map_err(|e| Error::internal("sqlite: blocking task failed", e))?
    }
}

/// WAL lets readers and a writer work at once; NORMAL sync is durable enough with WAL.
fn configure_file(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_error("sqlite: setting busy_timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error("sqlite: enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!(
            "sqlite: journal_mode is {mode}, not WAL"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_error("sqlite: setting synchronous"))
}

fn sql_error(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::internal(context, e)
}

/// Maps a failed insert: a uniqueness violation means the record already exists.
fn insert_error(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| {
        if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
            Error::Conflict(format!("{what} already exists"))
        } else {
            Error::internal(&format!("sqlite: inserting {what}"), e)
        }
    }
}

fn to_json<T: Serialize>(record: &T) -> Result<String> {
    serde_json::to_string(record).map_err(|e| Error::internal("sqlite: encoding a record", e))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::internal("sqlite: decoding a stored record", e))
}

/// The single `record` column of the row `sql` selects, decoded, if there is one.
fn query_record<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>> {
    conn.query_row(sql, params, |row| row.get::<_, String>(0))
        .optional()
        .map_err(sql_error("sqlite: reading a record"))?
        .map(|text| from_json(&text))
        .transpose()
}

fn select_webhooks(
    conn: &Connection,
    workspace: WorkspaceId,
    cursor: Option<WebhookId>,
    limit: usize,
) -> Result<Vec<WebhookEndpoint>> {
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(
            "SELECT record FROM webhooks
             WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3",
        )
        .map_err(sql_error("sqlite: preparing the webhook list"))?;
    let rows = statement
        .query_map(
            params![workspace.to_string(), cursor.map(|c| c.to_string()), fetch],
            |row| row.get::<_, String>(0),
        )
        .map_err(sql_error("sqlite: listing webhooks"))?;
    rows.map(|text| from_json(&text.map_err(sql_error("sqlite: listing webhooks"))?))
        .collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()> {
        let id = workspace.id.to_string();
        let record = to_json(workspace)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO workspaces (id, record) VALUES (?1, ?2)",
                params![id, record],
            )
            .map_err(insert_error("workspace"))?;
            Ok(())
        })
        .await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM workspaces WHERE id = ?1",
                [id.to_string()],
            )
        })
        .await
    }

    async fn has_workspaces(&self) -> Result<bool> {
        self.run(|conn| {
            conn.query_row("SELECT EXISTS (SELECT 1 FROM workspaces)", [], |row| {
                row.get(0)
            })
            .map_err(sql_error("sqlite: checking for workspaces"))
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let (hash, id, workspace) = (
            key.hash.to_hex(),
            key.id.to_string(),
            key.workspace_id.to_string(),
        );
        let record = to_json(key)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO api_keys (key_hash, id, workspace_id, record) VALUES (?1, ?2, ?3, ?4)",
                params![hash, id, workspace, record],
            )
            .map_err(insert_error("API key"))?;
            Ok(())
        })
        .await
    }

    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>> {
        let hash = hash.to_hex();
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM api_keys WHERE key_hash = ?1",
                [hash],
            )
        })
        .await
    }

    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let (id, workspace) = (endpoint.id.to_string(), endpoint.workspace_id.to_string());
        let record = to_json(endpoint)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO webhooks (id, workspace_id, record) VALUES (?1, ?2, ?3)",
                params![id, workspace, record],
            )
            .map_err(insert_error("webhook"))?;
            Ok(())
        })
        .await
    }

    async fn get_webhook(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
    ) -> Result<Option<WebhookEndpoint>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn list_webhooks(
        &self,
        workspace: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self
            .run(move |conn| select_webhooks(conn, workspace, cursor, limit))
            .await?;
        Ok(Page::from_overfetch(items, limit, |e| e.id.to_string()))
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        let (id, workspace) = (endpoint.id.to_string(), endpoint.workspace_id.to_string());
        let record = to_json(endpoint)?;
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE webhooks SET record = ?3 WHERE workspace_id = ?1 AND id = ?2",
                    params![workspace, id, record],
                )
                .map_err(sql_error("sqlite: updating a webhook"))?;
            found(changed)
        })
        .await
    }

    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()> {
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
                    [workspace.to_string(), id.to_string()],
                )
                .map_err(sql_error("sqlite: deleting a webhook"))?;
            found(changed)
        })
        .await
    }
}

/// A keyed update or delete that touched no row was aimed at a webhook that is not there.
fn found(changed_rows: usize) -> Result<()> {
    match changed_rows {
        0 => Err(Error::NotFound("webhook")),
        _ => Ok(()),
    }
}
