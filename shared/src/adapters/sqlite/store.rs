//! The embedded Store adapter: one SQLite database (a WAL-mode file on the dev server, or in
//! memory in tests). Each table keeps the record as JSON beside the columns its queries use;
//! every query runs on a blocking thread so the async runtime never waits on disk.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, ToSql, Transaction, TransactionBehavior, named_params, params,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::crypto::KeyHash;
use crate::model::error::{Error, Result};
use time::OffsetDateTime;

use crate::model::automations::{Automation, FeedEntry, Run, Source};
use crate::model::channels::Channel;
use crate::model::connections::Connection as AccountConnection;
use crate::model::connections::{InstanceApp, OAuthState};
use crate::model::ids::{
    AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, PostId, RunId, SourceId, WebhookId, WorkspaceId,
};
use crate::model::posts::{IdempotencyRecord, Post, PostStatus};
use crate::model::webhooks::{Delivery, DeliveryStatus, Event, WebhookEndpoint};
use crate::model::workspaces::{ApiKey, Workspace};
use crate::ports::store::{
    DeliveryCounts, DeliveryFilter, Page, PageRequest, Store, check_new_event, parse_cursor, sortable_time,
};

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
CREATE TABLE IF NOT EXISTS connections (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    record       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channels (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS channels_by_workspace ON channels (workspace_id, id);
CREATE INDEX IF NOT EXISTS connections_by_workspace ON connections (workspace_id, id);
CREATE TABLE IF NOT EXISTS oauth_states (
    workspace_id TEXT NOT NULL,
    state        TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, state)
);
CREATE TABLE IF NOT EXISTS instance_apps (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE TABLE IF NOT EXISTS posts (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    status       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    due_at       TEXT,
    metrics_due_at TEXT,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_by_workspace ON posts (workspace_id, id);
CREATE INDEX IF NOT EXISTS posts_by_status ON posts (workspace_id, status, id);
CREATE INDEX IF NOT EXISTS posts_due ON posts (due_at, id) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency_records (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
CREATE TABLE IF NOT EXISTS sources (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    due_at       TEXT,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_by_workspace ON sources (workspace_id, id);
CREATE INDEX IF NOT EXISTS sources_due ON sources (due_at, id) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS feed_entries (
    workspace_id TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    sort_time    TEXT NOT NULL,
    used         INTEGER NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, source_id, key)
);
CREATE INDEX IF NOT EXISTS feed_entries_unused ON feed_entries (workspace_id, source_id, used, sort_time);
CREATE TABLE IF NOT EXISTS automations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    due_at       TEXT,
    record       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS automations_by_workspace ON automations (workspace_id, id);
CREATE INDEX IF NOT EXISTS automations_due ON automations (due_at, id) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS runs (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    due_at       TEXT,
    record       TEXT NOT NULL
);
";

/// Columns added to a table after its first release: `(table, column, definition, index)`. A
/// database made before one lacks it; opening adds it (and its index), so old dev data still
/// opens.
const ADDED_COLUMNS: &[(&str, &str, &str, &str)] = &[(
    "posts",
    "metrics_due_at",
    "TEXT",
    "CREATE INDEX IF NOT EXISTS posts_metrics_due ON posts (metrics_due_at, id) WHERE metrics_due_at IS NOT NULL",
)];

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

const UPDATE_CONNECTION: &str = "
UPDATE connections SET version = :version, record = :record
WHERE id = :id AND workspace_id = :workspace_id AND version = :expected_version";

const INSERT_POST: &str = "
INSERT INTO posts (id, workspace_id, status, version, due_at, metrics_due_at, record)
VALUES (:id, :workspace_id, :status, :version, :due_at, :metrics_due_at, :record)";

const UPDATE_POST: &str = "
UPDATE posts SET status = :status, version = :version, due_at = :due_at, metrics_due_at = :metrics_due_at,
    record = :record
WHERE id = :id AND workspace_id = :workspace_id AND version = :expected_version";

const LIST_POSTS: &str = "
SELECT record FROM posts
WHERE workspace_id = :workspace_id
  AND (:cursor IS NULL OR id < :cursor)
  AND (:status IS NULL OR status = :status)
ORDER BY id DESC
LIMIT :limit";

const DUE_POSTS: &str = "
SELECT record FROM posts
WHERE due_at <= ?1
ORDER BY due_at, id
LIMIT ?2";

const METRICS_DUE_POSTS: &str = "
SELECT record FROM posts
WHERE metrics_due_at <= ?1
ORDER BY metrics_due_at, id
LIMIT ?2";

/// An unexpired idempotency record: one whose expiry is after `?3`.
const LIVE_IDEMPOTENCY_RECORD: &str = "
SELECT record FROM idempotency_records
WHERE workspace_id = ?1 AND key = ?2 AND expires_at > ?3";

/// Writes an idempotency record over an expired one with the same workspace and key.
const PUT_IDEMPOTENCY_RECORD: &str = "
INSERT OR REPLACE INTO idempotency_records (workspace_id, key, expires_at, record) VALUES (?1, ?2, ?3, ?4)";

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
        add_missing_columns(&conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Posts whose due time in `query`'s column is at most `now`, oldest due first.
    async fn posts_due_by(&self, query: &'static str, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        let now = sortable_time(now)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| query_records(conn, query, params![now, limit])).await
    }

    /// Runs `op` on the connection. Queries on the embedded store take microseconds, so they run
    /// in place: handing each to a blocking thread cost more in thread switches than the query.
    async fn run<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        // A panic while holding the lock cannot leave SQLite half-written (an open transaction
        // rolls back), so a poisoned lock is still safe to use.
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        op(&conn)
    }
}

/// Adds each of [`ADDED_COLUMNS`] that the database lacks, then its index.
fn add_missing_columns(conn: &Connection) -> Result<()> {
    for (table, column, definition, index) in ADDED_COLUMNS {
        let present: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)", [table, column], |row| {
                row.get(0)
            })
            .map_err(sql_error("sqlite: reading a table's columns"))?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"))
                .map_err(sql_error("sqlite: adding a column"))?;
        }
        conn.execute_batch(index).map_err(sql_error("sqlite: creating an index"))?;
    }
    Ok(())
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
    move |e| sqlite_failure(context, e)
}

/// A failed statement: unavailable (503, worth retrying) while another process holds the
/// database's lock beyond [`BUSY_TIMEOUT`], internal otherwise.
fn sqlite_failure(context: &str, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            tracing::warn!(context, %error, "the SQLite database is locked by another connection");
            Error::Unavailable("the store is busy: its database is locked by another process; try again shortly".into())
        }
        _ => Error::internal(context, error),
    }
}

/// Maps a failed insert: a uniqueness violation means the record already exists.
fn insert_error(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| {
        if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) {
            Error::Conflict(format!("{what} already exists"))
        } else {
            sqlite_failure(&format!("sqlite: inserting {what}"), e)
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
    let target = RowKey { table: "deliveries", what: "delivery", id: &row.id, workspace_id: &row.workspace_id };
    update_versioned(conn, UPDATE_DELIVERY, &params, &target, expected_version)
}

/// The row a keyed write is aimed at.
struct RowKey<'a> {
    table: &'static str,
    /// The record's name in errors.
    what: &'static str,
    id: &'a str,
    workspace_id: &'a str,
}

/// Runs `sql`, an `UPDATE` of `target` conditional on `:expected_version`; when it changes no
/// row, tells a row missing from the workspace (`NotFound`) from one at another version
/// (`Conflict`).
fn update_versioned(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn ToSql)],
    target: &RowKey<'_>,
    expected_version: u64,
) -> Result<()> {
    let updating = || format!("sqlite: updating a {}", target.what);
    let changed = conn.execute(sql, params).map_err(|e| sqlite_failure(&updating(), e))?;
    if changed > 0 {
        return Ok(());
    }
    let exists: bool = conn
        .query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1 AND workspace_id = ?2)", target.table),
            [target.id, target.workspace_id],
            |r| r.get(0),
        )
        .map_err(|e| sqlite_failure(&updating(), e))?;
    if exists {
        Err(Error::Conflict(format!("{} {} was changed since version {expected_version}", target.what, target.id)))
    } else {
        Err(Error::NotFound(target.what))
    }
}

/// A connection as the columns of its row.
struct ConnectionRow {
    id: String,
    workspace_id: String,
    version: u64,
    record: String,
}

impl ConnectionRow {
    fn of(connection: &AccountConnection) -> Result<Self> {
        Ok(Self {
            id: connection.id.to_string(),
            workspace_id: connection.workspace_id.to_string(),
            version: connection.version,
            record: to_json(connection)?,
        })
    }
}

/// Rewrites a connection's row if its stored version is `expected_version`.
fn update_connection_row(conn: &Connection, row: &ConnectionRow, expected_version: u64) -> Result<()> {
    let params = named_params! {
        ":id": row.id,
        ":workspace_id": row.workspace_id,
        ":version": row.version,
        ":record": row.record,
        ":expected_version": expected_version,
    };
    let target = RowKey { table: "connections", what: "connection", id: &row.id, workspace_id: &row.workspace_id };
    update_versioned(conn, UPDATE_CONNECTION, params, &target, expected_version)
}

fn select_channels(
    conn: &Connection,
    workspace: WorkspaceId,
    cursor: Option<ChannelId>,
    limit: usize,
) -> Result<Vec<Channel>> {
    query_records(
        conn,
        "SELECT record FROM channels
         WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
        params![workspace.to_string(), cursor.map(|c| c.to_string()), overfetch(limit)],
    )
}

fn select_connections(
    conn: &Connection,
    workspace: WorkspaceId,
    cursor: Option<ConnectionId>,
    limit: usize,
) -> Result<Vec<AccountConnection>> {
    query_records(
        conn,
        "SELECT record FROM connections
         WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
        params![workspace.to_string(), cursor.map(|c| c.to_string()), overfetch(limit)],
    )
}

/// Deletes the row of `table` with this workspace and id; `NotFound(what)` if there is none.
fn delete_row(conn: &Connection, table: &'static str, what: &'static str, workspace: &str, id: &str) -> Result<()> {
    let changed = conn
        .execute(&format!("DELETE FROM {table} WHERE workspace_id = ?1 AND id = ?2"), [workspace, id])
        .map_err(sql_error("sqlite: deleting a row"))?;
    found(changed, what)
}

/// A post as the columns of its row.
struct PostRow {
    id: String,
    workspace_id: String,
    status: &'static str,
    version: u64,
    due_at: Option<String>,
    metrics_due_at: Option<String>,
    record: String,
}

impl PostRow {
    fn of(post: &Post) -> Result<Self> {
        Ok(Self {
            id: post.id.to_string(),
            workspace_id: post.workspace_id.to_string(),
            status: post.status.as_str(),
            version: post.version,
            due_at: post.due_at.map(sortable_time).transpose()?,
            metrics_due_at: post.metrics_due_at.map(sortable_time).transpose()?,
            record: to_json(post)?,
        })
    }

    /// The named parameters of [`INSERT_POST`] and [`UPDATE_POST`].
    fn params(&self) -> [(&'static str, &dyn ToSql); 7] {
        [
            (":id", &self.id),
            (":workspace_id", &self.workspace_id),
            (":status", &self.status),
            (":version", &self.version),
            (":due_at", &self.due_at),
            (":metrics_due_at", &self.metrics_due_at),
            (":record", &self.record),
        ]
    }
}

/// An idempotency record as the columns of its row.
struct IdempotencyRow {
    workspace_id: String,
    key: String,
    expires_at: String,
    record: String,
}

impl IdempotencyRow {
    fn of(record: &IdempotencyRecord) -> Result<Self> {
        Ok(Self {
            workspace_id: record.workspace_id.to_string(),
            key: record.key.clone(),
            expires_at: sortable_time(record.expires_at)?,
            record: to_json(record)?,
        })
    }
}

/// Inserts a post and, if given, its idempotency record, in one transaction that takes the write
/// lock at once. An unexpired record with the same workspace and key (expiring after `now`)
/// wins: nothing is written and it is returned.
fn insert_post(
    conn: &Connection,
    post: &PostRow,
    idempotency: Option<&IdempotencyRow>,
    now: &str,
) -> Result<Option<IdempotencyRecord>> {
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_error("sqlite: starting a transaction"))?;
    if let Some(row) = idempotency {
        let live = params![row.workspace_id, row.key, now];
        if let Some(existing) = query_record(&transaction, LIVE_IDEMPOTENCY_RECORD, live)? {
            return Ok(Some(existing));
        }
        transaction
            .execute(PUT_IDEMPOTENCY_RECORD, params![row.workspace_id, row.key, row.expires_at, row.record])
            .map_err(sql_error("sqlite: writing an idempotency record"))?;
    }
    transaction.execute(INSERT_POST, &post.params()[..]).map_err(insert_error("post"))?;
    transaction.commit().map_err(sql_error("sqlite: committing a post"))?;
    Ok(None)
}

/// Rewrites a post's row if its stored version is `expected_version`.
fn update_post_row(conn: &Connection, row: &PostRow, expected_version: u64) -> Result<()> {
    let mut params = row.params().to_vec();
    params.push((":expected_version", &expected_version));
    let target = RowKey { table: "posts", what: "post", id: &row.id, workspace_id: &row.workspace_id };
    update_versioned(conn, UPDATE_POST, &params, &target, expected_version)
}

fn select_posts(
    conn: &Connection,
    workspace: WorkspaceId,
    status: Option<PostStatus>,
    cursor: Option<PostId>,
    limit: usize,
) -> Result<Vec<Post>> {
    query_records(
        conn,
        LIST_POSTS,
        named_params! {
            ":workspace_id": workspace.to_string(),
            ":cursor": cursor.map(|c| c.to_string()),
            ":status": status.map(PostStatus::as_str),
            ":limit": overfetch(limit),
        },
    )
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
            found(changed, "webhook")
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
            found(changed, "webhook")
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

    async fn create_connection(&self, connection: &AccountConnection) -> Result<()> {
        let row = ConnectionRow::of(connection)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO connections (id, workspace_id, version, record) VALUES (?1, ?2, ?3, ?4)",
                params![row.id, row.workspace_id, row.version, row.record],
            )
            .map_err(insert_error("connection"))?;
            Ok(())
        })
        .await
    }

    async fn get_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<Option<AccountConnection>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM connections WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn update_connection(&self, connection: &AccountConnection, expected_version: u64) -> Result<()> {
        let row = ConnectionRow::of(connection)?;
        self.run(move |conn| update_connection_row(conn, &row, expected_version)).await
    }

    async fn create_channel(&self, channel: &Channel) -> Result<()> {
        let (id, workspace) = (channel.id.to_string(), channel.workspace_id.to_string());
        let record = to_json(channel)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO channels (id, workspace_id, record) VALUES (?1, ?2, ?3)",
                params![id, workspace, record],
            )
            .map_err(insert_error("channel"))?;
            Ok(())
        })
        .await
    }

    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<Option<Channel>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM channels WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn list_channels(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Channel>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self.run(move |conn| select_channels(conn, workspace, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |c| c.id.to_string()))
    }

    async fn list_connections(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<AccountConnection>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self.run(move |conn| select_connections(conn, workspace, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |c| c.id.to_string()))
    }

    async fn delete_connection(&self, workspace: WorkspaceId, id: ConnectionId) -> Result<()> {
        let (workspace, id) = (workspace.to_string(), id.to_string());
        self.run(move |conn| delete_row(conn, "connections", "connection", &workspace, &id)).await
    }

    async fn connection_channels(&self, workspace: WorkspaceId, connection: ConnectionId) -> Result<Vec<Channel>> {
        self.run(move |conn| {
            query_records(
                conn,
                "SELECT record FROM channels
                 WHERE workspace_id = ?1 AND json_extract(record, '$.connection_id') = ?2
                 ORDER BY id",
                [workspace.to_string(), connection.to_string()],
            )
        })
        .await
    }

    async fn update_channel(&self, channel: &Channel) -> Result<()> {
        let (id, workspace) = (channel.id.to_string(), channel.workspace_id.to_string());
        let record = to_json(channel)?;
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE channels SET record = ?3 WHERE workspace_id = ?1 AND id = ?2",
                    params![workspace, id, record],
                )
                .map_err(sql_error("sqlite: updating a channel"))?;
            found(changed, "channel")
        })
        .await
    }

    async fn delete_channel(&self, workspace: WorkspaceId, id: ChannelId) -> Result<()> {
        let (workspace, id) = (workspace.to_string(), id.to_string());
        self.run(move |conn| delete_row(conn, "channels", "channel", &workspace, &id)).await
    }

    async fn create_oauth_state(&self, state: &OAuthState) -> Result<()> {
        let (workspace, value) = (state.workspace_id.to_string(), state.state.clone());
        let record = to_json(state)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO oauth_states (workspace_id, state, record) VALUES (?1, ?2, ?3)",
                params![workspace, value, record],
            )
            .map_err(insert_error("OAuth state"))?;
            Ok(())
        })
        .await
    }

    async fn take_oauth_state(&self, workspace: WorkspaceId, state: &str) -> Result<Option<OAuthState>> {
        let state = state.to_string();
        self.run(move |conn| {
            query_record(
                conn,
                "DELETE FROM oauth_states WHERE workspace_id = ?1 AND state = ?2 RETURNING record",
                [workspace.to_string(), state],
            )
        })
        .await
    }

    async fn put_instance_app(&self, app: &InstanceApp) -> Result<()> {
        let (workspace, key) = (app.workspace_id.to_string(), app.own_key());
        let record = to_json(app)?;
        self.run(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO instance_apps (workspace_id, key, record) VALUES (?1, ?2, ?3)",
                params![workspace, key, record],
            )
            .map_err(sql_error("sqlite: writing an instance app"))?;
            Ok(())
        })
        .await
    }

    async fn get_instance_app(&self, workspace: WorkspaceId, key: &str) -> Result<Option<InstanceApp>> {
        let key = key.to_string();
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM instance_apps WHERE workspace_id = ?1 AND key = ?2",
                [workspace.to_string(), key],
            )
        })
        .await
    }

    /// Compares expiry with this machine's clock.
    async fn create_post(
        &self,
        post: &Post,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Option<IdempotencyRecord>> {
        let row = PostRow::of(post)?;
        let idempotency = idempotency.map(IdempotencyRow::of).transpose()?;
        let now = sortable_time(OffsetDateTime::now_utc())?;
        self.run(move |conn| insert_post(conn, &row, idempotency.as_ref(), &now)).await
    }

    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> Result<Option<Post>> {
        self.run(move |conn| {
            query_record(
                conn,
                "SELECT record FROM posts WHERE workspace_id = ?1 AND id = ?2",
                [workspace.to_string(), id.to_string()],
            )
        })
        .await
    }

    async fn list_posts(
        &self,
        workspace: WorkspaceId,
        status: Option<PostStatus>,
        page: PageRequest,
    ) -> Result<Page<Post>> {
        let cursor = parse_cursor(page.cursor.as_deref())?;
        let limit = page.limit;
        let items = self.run(move |conn| select_posts(conn, workspace, status, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |p| p.id.to_string()))
    }

    async fn update_post(&self, post: &Post, expected_version: u64) -> Result<()> {
        let row = PostRow::of(post)?;
        self.run(move |conn| update_post_row(conn, &row, expected_version)).await
    }

    async fn delete_post(&self, workspace: WorkspaceId, id: PostId) -> Result<()> {
        let (workspace, id) = (workspace.to_string(), id.to_string());
        self.run(move |conn| delete_row(conn, "posts", "post", &workspace, &id)).await
    }

    async fn due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        self.posts_due_by(DUE_POSTS, now, limit).await
    }

    async fn metrics_due_posts(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Post>> {
        self.posts_due_by(METRICS_DUE_POSTS, now, limit).await
    }

    async fn create_source(&self, source: &Source) -> Result<()> {
        let row =
            VersionedRow::of(SOURCES, &source.id, source.workspace_id, source.version, source.next_fetch_at, source)?;
        self.run(move |conn| row.insert(conn)).await
    }

    async fn get_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<Option<Source>> {
        self.run(move |conn| SOURCES.get(conn, workspace, &id)).await
    }

    async fn list_sources(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Source>> {
        let cursor = parse_cursor::<SourceId>(page.cursor.as_deref())?.map(|c| c.to_string());
        let limit = page.limit;
        let items = self.run(move |conn| SOURCES.page(conn, workspace, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |s: &Source| s.id.to_string()))
    }

    async fn update_source(&self, source: &Source, expected_version: u64) -> Result<()> {
        let row =
            VersionedRow::of(SOURCES, &source.id, source.workspace_id, source.version, source.next_fetch_at, source)?;
        self.run(move |conn| row.update(conn, expected_version)).await
    }

    async fn delete_source(&self, workspace: WorkspaceId, id: SourceId) -> Result<()> {
        self.run(move |conn| SOURCES.delete(conn, workspace, &id)).await
    }

    async fn sources_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Source>> {
        let now = sortable_time(now)?;
        self.run(move |conn| SOURCES.due(conn, &now, limit)).await
    }

    async fn upsert_feed_entries(&self, entries: &[FeedEntry]) -> Result<usize> {
        let rows = entries.iter().map(EntryRow::of).collect::<Result<Vec<_>>>()?;
        self.run(move |conn| insert_entries(conn, &rows)).await
    }

    async fn unused_feed_entries(
        &self,
        workspace: WorkspaceId,
        source: SourceId,
        limit: usize,
    ) -> Result<Vec<FeedEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            query_records(conn, UNUSED_ENTRIES, params![workspace.to_string(), source.to_string(), limit])
        })
        .await
    }

    async fn claim_feed_entry(&self, entry: &FeedEntry) -> Result<bool> {
        let row = EntryRow::of(entry)?;
        self.run(move |conn| claim_entry(conn, &row)).await
    }

    async fn create_automation(&self, automation: &Automation) -> Result<()> {
        let row = automation_row(automation)?;
        self.run(move |conn| row.insert(conn)).await
    }

    async fn get_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<Option<Automation>> {
        self.run(move |conn| AUTOMATIONS.get(conn, workspace, &id)).await
    }

    async fn list_automations(&self, workspace: WorkspaceId, page: PageRequest) -> Result<Page<Automation>> {
        let cursor = parse_cursor::<AutomationId>(page.cursor.as_deref())?.map(|c| c.to_string());
        let limit = page.limit;
        let items = self.run(move |conn| AUTOMATIONS.page(conn, workspace, cursor, limit)).await?;
        Ok(Page::from_overfetch(items, limit, |a: &Automation| a.id.to_string()))
    }

    async fn update_automation(&self, automation: &Automation, expected_version: u64) -> Result<()> {
        let row = automation_row(automation)?;
        self.run(move |conn| row.update(conn, expected_version)).await
    }

    async fn delete_automation(&self, workspace: WorkspaceId, id: AutomationId) -> Result<()> {
        self.run(move |conn| AUTOMATIONS.delete(conn, workspace, &id)).await
    }

    async fn automations_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Automation>> {
        let now = sortable_time(now)?;
        self.run(move |conn| AUTOMATIONS.due(conn, &now, limit)).await
    }

    async fn create_run(&self, run: &Run) -> Result<()> {
        let row = VersionedRow::of(RUNS, &run.id, run.workspace_id, run.version, None, run)?;
        self.run(move |conn| row.insert(conn)).await
    }

    async fn get_run(&self, workspace: WorkspaceId, id: RunId) -> Result<Option<Run>> {
        self.run(move |conn| RUNS.get(conn, workspace, &id)).await
    }

    async fn update_run(&self, run: &Run, expected_version: u64) -> Result<()> {
        let row = VersionedRow::of(RUNS, &run.id, run.workspace_id, run.version, None, run)?;
        self.run(move |conn| row.update(conn, expected_version)).await
    }
}

/// A keyed update or delete that touched no row was aimed at a record (`what`) that is not there.
fn found(changed_rows: usize, what: &'static str) -> Result<()> {
    match changed_rows {
        0 => Err(Error::NotFound(what)),
        _ => Ok(()),
    }
}

/// A table of versioned records with the columns `id`, `workspace_id`, `version`, `due_at`
/// (when process-queue should take the record up, if ever) and `record`.
#[derive(Clone, Copy)]
struct VersionedTable {
    name: &'static str,
    /// The record's name in errors.
    what: &'static str,
}

const SOURCES: VersionedTable = VersionedTable { name: "sources", what: "source" };
const AUTOMATIONS: VersionedTable = VersionedTable { name: "automations", what: "automation" };
const RUNS: VersionedTable = VersionedTable { name: "runs", what: "run" };

impl VersionedTable {
    fn get<T: DeserializeOwned>(
        self,
        conn: &Connection,
        workspace: WorkspaceId,
        id: &dyn ToString,
    ) -> Result<Option<T>> {
        let sql = format!("SELECT record FROM {} WHERE workspace_id = ?1 AND id = ?2", self.name);
        query_record(conn, &sql, [workspace.to_string(), id.to_string()])
    }

    /// Newest first, after `cursor`, one more than `limit`.
    fn page<T: DeserializeOwned>(
        self,
        conn: &Connection,
        workspace: WorkspaceId,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Vec<T>> {
        let sql = format!(
            "SELECT record FROM {} WHERE workspace_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
            self.name
        );
        query_records(conn, &sql, params![workspace.to_string(), cursor, overfetch(limit)])
    }

    fn delete(self, conn: &Connection, workspace: WorkspaceId, id: &dyn ToString) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE workspace_id = ?1 AND id = ?2", self.name);
        let changed = conn
            .execute(&sql, [workspace.to_string(), id.to_string()])
            .map_err(|e| sqlite_failure(&format!("sqlite: deleting a {}", self.what), e))?;
        found(changed, self.what)
    }

    /// Records of any workspace due at or before `now`, oldest due first.
    fn due<T: DeserializeOwned>(self, conn: &Connection, now: &str, limit: usize) -> Result<Vec<T>> {
        let sql = format!("SELECT record FROM {} WHERE due_at <= ?1 ORDER BY due_at, id LIMIT ?2", self.name);
        query_records(conn, &sql, params![now, i64::try_from(limit).unwrap_or(i64::MAX)])
    }
}

/// A versioned record as the columns of its row.
struct VersionedRow {
    table: VersionedTable,
    id: String,
    workspace_id: String,
    version: u64,
    due_at: Option<String>,
    record: String,
}

impl VersionedRow {
    fn of<T: Serialize>(
        table: VersionedTable,
        id: &dyn ToString,
        workspace: WorkspaceId,
        version: u64,
        due_at: Option<OffsetDateTime>,
        record: &T,
    ) -> Result<Self> {
        Ok(Self {
            table,
            id: id.to_string(),
            workspace_id: workspace.to_string(),
            version,
            due_at: due_at.map(sortable_time).transpose()?,
            record: to_json(record)?,
        })
    }

    fn insert(&self, conn: &Connection) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (id, workspace_id, version, due_at, record) VALUES (?1, ?2, ?3, ?4, ?5)",
            self.table.name
        );
        conn.execute(&sql, params![self.id, self.workspace_id, self.version, self.due_at, self.record])
            .map_err(insert_error(self.table.what))?;
        Ok(())
    }

    fn update(&self, conn: &Connection, expected_version: u64) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET version = :version, due_at = :due_at, record = :record
             WHERE id = :id AND workspace_id = :workspace_id AND version = :expected_version",
            self.table.name
        );
        let params: [(&str, &dyn ToSql); 6] = [
            (":version", &self.version),
            (":due_at", &self.due_at),
            (":record", &self.record),
            (":id", &self.id),
            (":workspace_id", &self.workspace_id),
            (":expected_version", &expected_version),
        ];
        let target =
            RowKey { table: self.table.name, what: self.table.what, id: &self.id, workspace_id: &self.workspace_id };
        update_versioned(conn, &sql, &params, &target, expected_version)
    }
}

fn automation_row(automation: &Automation) -> Result<VersionedRow> {
    VersionedRow::of(
        AUTOMATIONS,
        &automation.id,
        automation.workspace_id,
        automation.version,
        automation.next_run_at,
        automation,
    )
}

const UNUSED_ENTRIES: &str = "
SELECT record FROM feed_entries
WHERE workspace_id = ?1 AND source_id = ?2 AND used = 0
ORDER BY sort_time DESC, key DESC
LIMIT ?3";

/// A feed entry as the columns of its row.
struct EntryRow {
    workspace_id: String,
    source_id: String,
    key: String,
    sort_time: String,
    used: bool,
    record: String,
}

impl EntryRow {
    fn of(entry: &FeedEntry) -> Result<Self> {
        Ok(Self {
            workspace_id: entry.workspace_id.to_string(),
            source_id: entry.source_id.to_string(),
            key: entry.key.clone(),
            sort_time: sortable_time(entry.sort_time())?,
            used: entry.used_by_run.is_some(),
            record: to_json(entry)?,
        })
    }
}

/// Inserts the entries not stored yet, in one transaction; returns how many were new.
fn insert_entries(conn: &Connection, rows: &[EntryRow]) -> Result<usize> {
    let transaction = conn.unchecked_transaction().map_err(sql_error("sqlite: starting a transaction"))?;
    let mut new = 0;
    for row in rows {
        new += transaction
            .execute(
                "INSERT OR IGNORE INTO feed_entries (workspace_id, source_id, key, sort_time, used, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![row.workspace_id, row.source_id, row.key, row.sort_time, row.used, row.record],
            )
            .map_err(sql_error("sqlite: inserting a feed entry"))?;
    }
    transaction.commit().map_err(sql_error("sqlite: committing feed entries"))?;
    Ok(new)
}

/// Rewrites an entry as used if it is still unused.
fn claim_entry(conn: &Connection, row: &EntryRow) -> Result<bool> {
    let changed = conn
        .execute(
            "UPDATE feed_entries SET used = 1, record = ?4
             WHERE workspace_id = ?1 AND source_id = ?2 AND key = ?3 AND used = 0",
            params![row.workspace_id, row.source_id, row.key, row.record],
        )
        .map_err(sql_error("sqlite: claiming a feed entry"))?;
    if changed > 0 {
        return Ok(true);
    }
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM feed_entries WHERE workspace_id = ?1 AND source_id = ?2 AND key = ?3)",
            params![row.workspace_id, row.source_id, row.key],
            |r| r.get(0),
        )
        .map_err(sql_error("sqlite: claiming a feed entry"))?;
    if exists { Ok(false) } else { Err(Error::NotFound("feed entry")) }
}
