//! The SQLite adapter's own checks: files kept across reopening, opened twice, and made by an
//! earlier schema.

use posthorn::ports::store::{Condition, Record, RecordStore, Write};

use super::*;
use crate::automations_feeds::{automation_at, entry, source_at};
use crate::connections_channels::{channel, connection, oauth_state};
use crate::posts::{idempotency, list_all_posts, post, post_at};
use crate::webhooks_deliveries::{delivery, endpoint, event};

#[tokio::test]
async fn sqlite_file_keeps_records_across_reopening() {
    let dir = TempDir::new();
    let path = dir.0.join("store.db");
    let workspace = workspace();
    SqliteStore::open(&path).unwrap().create_workspace(&workspace).await.unwrap();
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.get_workspace(workspace.id).await.unwrap(), Some(workspace));
}

#[tokio::test]
async fn sqlite_file_deletes_expired_records_when_opened() {
    let dir = TempDir::new();
    let path = dir.0.join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    let workspace = WorkspaceId::new();
    let mut expired = idempotency(workspace, "expired-key", PostId::new());
    expired.expires_at = now() - Duration::seconds(1);
    let live = idempotency(workspace, "live-key", PostId::new());
    for record in [&expired, &live] {
        store.write(Write::Put(record.document().unwrap(), Condition::Absent)).await.unwrap();
    }
    drop(store);
    let rows = |path: &std::path::Path| {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("SELECT COUNT(*) FROM records WHERE workspace_id = ?1", [workspace.to_string()], |row| {
            row.get::<_, i64>(0)
        })
        .unwrap()
    };
    assert_eq!(rows(&path), 2);
    SqliteStore::open(&path).unwrap();
    assert_eq!(rows(&path), 1, "the expired record was deleted, the live one kept");
}

/// The schema of the store before every record moved into one table: a table per kind.
const EARLIER_SCHEMA: &str = "
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

/// Inserts one row of the earlier schema: `record` as JSON beside the other `columns`.
fn insert_earlier(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &[(&str, String)],
    record: &impl serde::Serialize,
) {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).chain(["record"]).collect();
    let values: Vec<String> =
        columns.iter().map(|(_, value)| value.clone()).chain([serde_json::to_string(record).unwrap()]).collect();
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), placeholders.join(", "));
    conn.execute(&sql, rusqlite::params_from_iter(values)).unwrap();
}

/// A dev-server database of the earlier schema opens: every record is moved into the current
/// one, found by key and through the indexes, and the earlier tables are gone.
#[tokio::test]
async fn sqlite_file_of_the_earlier_schema_opens_with_its_records() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("store.db");
    let past = now() - Duration::minutes(5);
    let workspace = workspace();
    let ws = workspace.id;
    let key = NewApiKey::generate(ws, None, Scope::every(), now());
    let endpoint = endpoint(ws);
    let event = event(ws, EventType::PostPublished);
    let delivery = Delivery { next_attempt_at: Some(past), ..delivery(&event, endpoint.id, past) };
    let connection = connection(ws);
    let channel = Channel { connection_id: connection.id, ..channel(ws) };
    let state = oauth_state(ws);
    let post = Post { due_at: Some(past), ..post(ws) };
    let record = idempotency(ws, "earlier", post.id);
    let source = source_at(ws, past);
    let entry = entry(&source, "first", Some(10));
    let automation = automation_at(ws, past);

    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(EARLIER_SCHEMA).unwrap();
    let text = |value: &dyn ToString| value.to_string();
    insert_earlier(&conn, "workspaces", &[("id", text(&ws))], &workspace);
    let key_columns =
        [("key_hash", key.record.hash.to_hex()), ("id", text(&key.record.id)), ("workspace_id", text(&ws))];
    insert_earlier(&conn, "api_keys", &key_columns, &key.record);
    insert_earlier(&conn, "webhooks", &[("id", text(&endpoint.id)), ("workspace_id", text(&ws))], &endpoint);
    insert_earlier(&conn, "events", &[("id", text(&event.id)), ("workspace_id", text(&ws))], &event);
    let delivery_columns = [
        ("id", text(&delivery.id)),
        ("workspace_id", text(&ws)),
        ("webhook_id", text(&endpoint.id)),
        ("status", "pending".into()),
        ("event_type", delivery.event_type.as_str().into()),
        ("version", "0".into()),
        ("created_at", text(&delivery.created_at)),
    ];
    insert_earlier(&conn, "deliveries", &delivery_columns, &delivery);
    let versioned =
        |id: &dyn ToString| [("id", id.to_string()), ("workspace_id", ws.to_string()), ("version", "0".into())];
    insert_earlier(&conn, "connections", &versioned(&connection.id), &connection);
    insert_earlier(&conn, "channels", &[("id", text(&channel.id)), ("workspace_id", text(&ws))], &channel);
    insert_earlier(&conn, "oauth_states", &[("workspace_id", text(&ws)), ("state", state.state.clone())], &state);
    insert_earlier(
        &conn,
        "posts",
        &[versioned(&post.id).as_slice(), &[("status", "scheduled".into())]].concat(),
        &post,
    );
    let record_columns =
        [("workspace_id", text(&ws)), ("key", "earlier".into()), ("expires_at", text(&record.expires_at))];
    insert_earlier(&conn, "idempotency_records", &record_columns, &record);
    insert_earlier(&conn, "sources", &versioned(&source.id), &source);
    let entry_columns = [
        ("workspace_id", text(&ws)),
        ("source_id", text(&source.id)),
        ("key", "first".into()),
        ("sort_time", text(&past)),
        ("used", "0".into()),
    ];
    insert_earlier(&conn, "feed_entries", &entry_columns, &entry);
    insert_earlier(&conn, "automations", &versioned(&automation.id), &automation);
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert!(store.has_workspaces().await.unwrap());
    assert_eq!(store.get_workspace(ws).await.unwrap(), Some(workspace));
    assert_eq!(store.find_api_key(&key.record.hash).await.unwrap(), Some(key.record));
    assert_eq!(store.get_webhook(ws, endpoint.id).await.unwrap(), Some(endpoint.clone()));
    assert_eq!(store.get_event(ws, event.id).await.unwrap(), Some(event));
    assert_eq!(store.overdue_deliveries(now(), 10).await.unwrap(), std::slice::from_ref(&delivery));
    let listed =
        store.list_deliveries(ws, endpoint.id, DeliveryFilter::default(), PageRequest { limit: 10, cursor: None });
    assert_eq!(listed.await.unwrap().items, [delivery]);
    assert_eq!(store.get_connection(ws, connection.id).await.unwrap(), Some(connection.clone()));
    assert_eq!(store.connection_channels(ws, connection.id).await.unwrap(), [channel]);
    assert_eq!(store.take_oauth_state(ws, &state.state).await.unwrap(), Some(state));
    assert_eq!(store.due_posts(now(), 10).await.unwrap(), std::slice::from_ref(&post));
    let replay = post_at(ws, now());
    assert_eq!(store.create_post(&replay, Some(&idempotency(ws, "earlier", replay.id))).await.unwrap(), Some(record));
    assert_eq!(store.sources_due(now(), 10).await.unwrap(), std::slice::from_ref(&source));
    assert_eq!(store.unused_feed_entries(ws, source.id, 10).await.unwrap(), [entry]);
    assert_eq!(store.automations_due(now(), 10).await.unwrap(), [automation]);
    drop(store);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["records"], "the earlier tables are dropped once moved");
    assert_eq!(SqliteStore::open(&path).unwrap().get_post(ws, post.id).await.unwrap(), Some(post), "opens again");
}

#[tokio::test]
async fn sqlite_files_opened_twice_still_make_one_post_per_key() {
    let dir = TempDir::new();
    let path = dir.0.join("store.db");
    let (first, second) = (SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap());
    let workspace = WorkspaceId::new();
    let posts = [post(workspace), post(workspace)];
    let records = [idempotency(workspace, "shared", posts[0].id), idempotency(workspace, "shared", posts[1].id)];
    let (a, b) =
        tokio::join!(first.create_post(&posts[0], Some(&records[0])), second.create_post(&posts[1], Some(&records[1])));
    let outcomes = [a.unwrap(), b.unwrap()];
    let winner = usize::from(outcomes[0].is_some());
    assert_eq!(outcomes[1 - winner], Some(records[winner].clone()), "{outcomes:?}");
    let (listed, _) = list_all_posts(&second, workspace, None, 10).await;
    assert_eq!(listed, [posts[winner].clone()]);
}
