//! The embedded Store adapter: one SQLite database (a WAL-mode file on the dev server, or in
//! memory in tests). Each table keeps the record as JSON beside the columns its queries use;
//! every query runs on a blocking thread so the async runtime never waits on disk.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, ToSql, named_params, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::KeyHash;
use crate::error::{Error, Result};
use time::OffsetDateTime;

use crate::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use crate::store::{
    DeliveryCounts, DeliveryFilter, Page, PageRequest, Store, check_new_event, parse_cursor, sortable_time,
};
use crate::webhooks::{Delivery, DeliveryStatus, Event, WebhookEndpoint};
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
CREATE TABLE IF NOT EXISTS events (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    status          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    next_attempt_at TEXT,
    created_at      TEXT NOT NULL,
    record          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (workspace_id, webhook_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_creation ON deliveries (workspace_id, webhook_id, created_at);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
";

const INSERT_DELIVERY: &str = "
INSERT INTO deliveries
    (id, workspace_id, webhook_id, status, event_type, version, next_attempt_at, created_at, record)
VALUES
    (:id, :workspace_id, :webhook_id, :status, :event_type, :version, :next_attempt_at, :created_at, :record)";

const UPDATE_DELIVERY: &str = "
UPDATE deliveries
SET webhook_id = :webhook_id, status = :status, event_type = :event_type, version = :version,
    next_attempt_at = :next_attempt_at, created_at = :created_at, record = :record
WHERE id = :id AND workspace_id = :workspace_id AND version = :expected_version";

const LIST_DELIVERIES: &str = "
SELECT record FROM deliveries
WHERE workspace_id = :workspace_id AND webhook_id = :webhook_id
  AND (:cursor IS NULL OR id < :cursor)
  AND (:status IS NULL OR status = :status)
  AND (:event_type IS NULL OR event_type = :event_type)
ORDER BY id DESC
LIMIT :limit";

const COUNT_DELIVERIES: &str = "
SELECT COALESCE(SUM(status = 'delivered'), 0), COALESCE(SUM(status = 'failed'), 0)
FROM deliveries
WHERE workspace_id = ?1 AND webhook_id = ?2 AND created_at >= ?3";

const OVERDUE_DELIVERIES: &str = "
SELECT record FROM deliveries
WHERE status = 'pending' AND next_attempt_at < ?1
ORDER BY next_attempt_at, id
LIMIT ?2";

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
        conn.execute_batch(SCHEMA).map_err(sql_error("sqlite: creating tables"))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
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
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error("sqlite: setting busy_timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error("sqlite: enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!("sqlite: journal_mode is {mode}, not WAL")));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql_error("sqlite: setting synchronous"))
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
fn query_record<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Option<T>> {
    conn.query_row(sql, params, |row| row.get::<_, String>(0))
        .optional()
        .map_err(sql_error("sqlite: reading a record"))?
        .map(|text| from_json(&text))
        .transpose()
}

/// The decoded `record` column of every row `sql` selects.
fn query_records<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(sql_error("sqlite: preparing a list"))?;
    let rows =
        statement.query_map(params, |row| row.get::<_, String>(0)).map_err(sql_error("sqlite: listing records"))?;
    rows.map(|text| from_json(&text.map_err(sql_error("sqlite: listing records"))?)).collect()
}

/// How many rows to read for a page of `limit`: one more, to learn whether another page follows.
fn overfetch(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

fn select_webhooks(
    conn: &Connection,
    workspace: WorkspaceId,
    cursor: Option<WebhookId>,
    limit: usize,
) -> Result<Vec<WebhookEndpoint>> {
    query_records(
        conn,
        "SELECT record FROM webhooks
         WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
        params![workspace.to_string(), cursor.map(|c| c.to_string()), overfetch(limit)],
    )
}

/// A delivery as the columns of its row.
struct DeliveryRow {
    id: String,
    workspace_id: String,
    webhook_id: String,
    status: &'static str,
    event_type: &'static str,
    version: u64,
    next_attempt_at: Option<String>,
    created_at: String,
    record: String,
}

impl DeliveryRow {
    fn of(delivery: &Delivery) -> Result<Self> {
        Ok(Self {
            id: delivery.id.to_string(),
            workspace_id: delivery.workspace_id.to_string(),
            webhook_id: delivery.webhook_id.to_string(),
            status: delivery.status.as_str(),
            event_type: delivery.event_type.as_str(),
            version: delivery.version,
            next_attempt_at: delivery.next_attempt_at.map(sortable_time).transpose()?,
            created_at: sortable_time(delivery.created_at)?,
            record: to_json(delivery)?,
        })
    }

    /// The named parameters of [`INSERT_DELIVERY`] and [`UPDATE_DELIVERY`].
    fn params(&self) -> [(&'static str, &dyn ToSql); 9] {
        [
            (":id", &self.id),
            (":workspace_id", &self.workspace_id),
            (":webhook_id", &self.webhook_id),
            (":status", &self.status),
            (":event_type", &self.event_type),
            (":version", &self.version),
            (":next_attempt_at", &self.next_attempt_at),
            (":created_at", &self.created_at),
            (":record", &self.record),
        ]
    }
}

/// Inserts an event and its deliveries in one transaction: all of them or, on any error, none.
fn insert_event(conn: &Connection, event: &Event, record: &str, deliveries: &[DeliveryRow]) -> Result<()> {
    let transaction = conn.unchecked_transaction().map_err(sql_error("sqlite: starting a transaction"))?;
    transaction
        .execute(
            "INSERT INTO events (id, workspace_id, record) VALUES (?1, ?2, ?3)",
            params![event.id.to_string(), event.workspace_id.to_string(), record],
        )
        .map_err(insert_error("event"))?;
    for row in deliveries {
        transaction.execute(INSERT_DELIVERY, &row.params()[..]).map_err(insert_error("delivery"))?;
    }
    transaction.commit().map_err(sql_error("sqlite: committing an event"))
}

/// Rewrites a delivery's row if its stored version is `expected_version`.
fn update_delivery_row(conn: &Connection, row: &DeliveryRow, expected_version: u64) -> Result<()> {
    let mut params = row.params().to_vec();
    params.push((":expected_version", &expected_version));
    let changed = conn.execute(UPDATE_DELIVERY, &params[..]).map_err(sql_error("sqlite: updating a delivery"))?;
    if changed > 0 {
        return Ok(());
    }
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = ?1 AND workspace_id = ?2)",
            [&row.id, &row.workspace_id],
            |r| r.get(0),
        )
        .map_err(sql_error("sqlite: checking for a delivery"))?;
    if exists {
        Err(Error::Conflict(format!("delivery {} was changed since version {expected_version}", row.id)))
    } else {
        Err(Error::NotFound("delivery"))
    }
}

fn select_deliveries(
    conn: &Connection,
    workspace: WorkspaceId,
    webhook: WebhookId,
    filter: DeliveryFilter,
    cursor: Option<DeliveryId>,
    limit: usize,
) -> Result<Vec<Delivery>> {
    query_records(
        conn,
        LIST_DELIVERIES,
        named_params! {
            ":workspace_id": workspace.to_string(),
            ":webhook_id": webhook.to_string(),
            ":cursor": cursor.map(|c| c.to_string()),
            ":status": filter.status.map(DeliveryStatus::as_str),
            ":event_type": filter.event_type.map(|t| t.as_str()),
            ":limit": overfetch(limit),
        },
    )
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()> {
        let id = workspace.id.to_string();
        let record = to_json(workspace)?;
        self.run(move |conn| {
            conn.execute("INSERT INTO workspaces (id, record) VALUES (?1, ?2)", params![id, record])
                .map_err(insert_error("workspace"))?;
            Ok(())
        })
        .await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>> {
        self.run(move |conn| query_record(conn, "SELECT record FROM workspaces WHERE id = ?1", [id.to_string()])).await
    }

    async fn has_workspaces(&self) -> Result<bool> {
        self.run(|conn| {
            conn.query_row("SELECT EXISTS (SELECT 1 FROM workspaces)", [], |row| row.get(0))
                .map_err(sql_error("sqlite: checking for workspaces"))
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        let (hash, id, workspace) = (key.hash.to_hex(), key.id.to_string(), key.workspace_id.to_string());
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
        self.run(move |conn| query_record(conn, "SELECT record FROM api_keys WHERE key_hash = ?1", [hash])).await
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

    async fn get_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<WebhookEndpoint>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn list_webhooks(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self.run(move |conn| select_webhooks(conn, workspace, cursor, limit)).await?;
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

    async fn create_event(&self, event: &Event, deliveries: &[Delivery]) -> Result<()> {
        check_new_event(event, deliveries)?;
        let record = to_json(event)?;
        let rows = deliveries.iter().map(DeliveryRow::of).collect::<Result<Vec<_>>>()?;
        let event = event.clone();
        self.run(move |conn| insert_event(conn, &event, &record, &rows)).await
    }

    async fn get_event(&self, workspace: WorkspaceId, id: EventId) -> Result<Option<Event>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM events WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn get_delivery(&self, workspace: WorkspaceId, id: DeliveryId) -> Result<Option<Delivery>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM deliveries WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn update_delivery(&self, delivery: &Delivery, expected_version: u64) -> Result<()> {
        let row = DeliveryRow::of(delivery)?;
        self.run(move |conn| update_delivery_row(conn, &row, expected_version)).await
    }

    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self.run(move |conn| select_deliveries(conn, workspace, webhook, filter, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |d| d.id.to_string()))
    }

    async fn count_deliveries(
        &self,
        workspace: WorkspaceId,
        webhook: WebhookId,
        since: OffsetDateTime,
    ) -> Result<DeliveryCounts> {
        let since = sortable_time(since)?;
        self.run(move |conn| {
            conn.query_row(COUNT_DELIVERIES, params![workspace.to_string(), webhook.to_string(), since], |row| {
                Ok(DeliveryCounts { delivered: row.get(0)?, failed: row.get(1)? })
            })
            .map_err(sql_error("sqlite: counting deliveries"))
        })
        .await
    }

    async fn overdue_deliveries(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Delivery>> {
        let before = sortable_time(before)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| query_records(conn, OVERDUE_DELIVERIES, params![before, limit])).await
    }
}

/// A keyed webhook update or delete that touched no row was aimed at a webhook that is not there.
fn found(changed_rows: usize) -> Result<()> {
    match changed_rows {
        0 => Err(Error::NotFound("webhook")),
        _ => Ok(()),
    }
}
