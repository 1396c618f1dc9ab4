//! The embedded Queue adapter: one SQLite table of messages with visible-at times, receive
//! counts and per-receive receipt tokens, shared by any number of named queues (and, if wanted,
//! by the store's file). Dead letters stay in the same table, flagged.
//!
//! Receipts are `<row id>:<token>`, and the token changes on every receive. A stale receipt (one
//! from an earlier receive) or the receipt of a deleted message is ignored: `delete` and
//! `change_visibility` succeed without touching the message, so a worker whose message was
//! received again by another can neither delete nor hide it. SQS documents the same for a
//! delete with an outdated receipt handle ("succeeds, but the message might not be deleted");
//! moto is laxer and honours every receipt a message ever had, so the contract suite relies on
//! neither and this adapter's unit tests pin its behaviour.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::model::error::{Error, Result};
use crate::ports::queue::{MAX_BATCH, MAX_SEND_DELAY, MAX_VISIBILITY, Queue, QueueMessage, Receipt};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    id            INTEGER PRIMARY KEY,
    queue         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    dead_letter   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_messages_due
    ON queue_messages (queue, dead_letter, visible_at);
CREATE INDEX IF NOT EXISTS queue_messages_received
    ON queue_messages (queue, dead_letter, receive_count);
";

const SEND: &str = "INSERT INTO queue_messages (queue, body, visible_at) VALUES (?1, ?2, ?3)";

/// Moves visible messages that were received `max_receives` times to the dead-letter queue.
const DEAD_LETTER: &str = "
UPDATE queue_messages SET dead_letter = 1
WHERE queue = ?1 AND dead_letter = 0 AND receive_count >= ?2 AND visible_at <= ?3";

const CLAIM: &str = "
UPDATE queue_messages
SET visible_at = ?4, receive_count = receive_count + 1, receipt = lower(hex(randomblob(16)))
WHERE id IN (
    SELECT id FROM queue_messages
    WHERE queue = ?1 AND dead_letter = ?2 AND visible_at <= ?3
    ORDER BY visible_at LIMIT ?5
)
RETURNING id, body, receive_count, receipt";

const NEXT_VISIBLE: &str = "SELECT min(visible_at) FROM queue_messages WHERE queue = ?1 AND dead_letter = ?2";

const CHANGE_VISIBILITY: &str =
    "UPDATE queue_messages SET visible_at = ?4 WHERE id = ?1 AND queue = ?2 AND receipt = ?3";

const DELETE: &str = "DELETE FROM queue_messages WHERE id = ?1 AND queue = ?2 AND receipt = ?3";

/// A named queue in a SQLite database. Clones share the connection.
#[derive(Clone)]
pub struct SqliteQueue {
    conn: Arc<Mutex<Connection>>,
    name: Arc<str>,
    max_receives: u32,
    /// Woken on every send and visibility change of this queue within the process.
    changed: Arc<Notify>,
}

/// What one receive attempt found.
struct Claim {
    messages: Vec<QueueMessage>,
    /// When the earliest message still hidden becomes visible (unix ms).
    next_visible_at: Option<i64>,
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue `name` in the database file at `path`.
    pub fn open(path: &Path, name: &str, max_receives: u32) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::internal("creating the queue database directory", e))?;
        }
        let conn = Connection::open(path).map_err(|e| Error::internal("opening the queue database", e))?;
        configure_file(&conn).map_err(|e| Error::internal("configuring the queue database", e))?;
        let file = std::fs::canonicalize(path).map_err(|e| Error::internal("resolving the queue database path", e))?;
        let changed = shared_notify(format!("{}\0{name}", file.display()));
        Self::with_connection(conn, name, max_receives, changed)
    }

    /// A queue that lives as long as this value and its clones.
    pub fn in_memory(name: &str, max_receives: u32) -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| Error::internal("opening the in-memory queue", e))?;
        Self::with_connection(conn, name, max_receives, Arc::default())
    }

    fn with_connection(conn: Connection, name: &str, max_receives: u32, changed: Arc<Notify>) -> Result<Self> {
        conn.execute_batch(SCHEMA).map_err(|e| Error::internal("creating the queue tables", e))?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), name: name.into(), max_receives, changed })
    }

    /// Runs `op` on the connection. Queue statements take microseconds, so they run in place:
    /// handing each to a blocking thread cost more in thread switches than the statement.
    async fn run<T, F>(&self, context: &'static str, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &str) -> rusqlite::Result<T> + Send + 'static,
    {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        op(&mut conn, &self.name).map_err(|e| Error::internal(context, e))
    }

    /// Claims up to `max` visible messages of the main (`dead_letter == false`) or dead-letter
    /// queue, and says when the next hidden one becomes visible.
    async fn claim(&self, dead_letter: bool, max: usize, visibility: Duration) -> Result<Claim> {
        let max_receives = self.max_receives;
        let visibility = millis(visibility.min(MAX_VISIBILITY));
        self.run("receiving from the sqlite queue", move |conn, name| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_millis();
            if !dead_letter {
                tx.prepare_cached(DEAD_LETTER)?.execute(params![name, max_receives, now])?;
            }
            let messages = tx
                .prepare_cached(CLAIM)?
                .query_map(params![name, dead_letter, now, now + visibility, max], read_message)?
                .collect::<rusqlite::Result<_>>()?;
            let next_visible_at =
                tx.prepare_cached(NEXT_VISIBLE)?.query_row(params![name, dead_letter], |row| row.get(0))?;
            tx.commit()?;
            Ok(Claim { messages, next_visible_at })
        })
        .await
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<()> {
        let body = body.to_owned();
        let delay = millis(delay.min(MAX_SEND_DELAY));
        self.run("sending to the sqlite queue", move |conn, name| {
            conn.prepare_cached(SEND)?.execute(params![name, body, now_millis() + delay]).map(drop)
        })
        .await?;
        self.changed.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration, wait: Duration) -> Result<Vec<QueueMessage>> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let claim = self.claim(false, max, visibility).await?;
            let now = Instant::now();
            if !claim.messages.is_empty() || now >= deadline {
                return Ok(claim.messages);
            }
            let wake_at = claim.next_visible_at.map_or(deadline, |at| deadline.min(now + until(at)));
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn change_visibility(&self, receipt: &Receipt, visibility: Duration) -> Result<()> {
        let (id, token) = parse_receipt(receipt)?;
        let visibility = millis(visibility.min(MAX_VISIBILITY));
        self.run("changing a sqlite queue message's visibility", move |conn, name| {
            conn.prepare_cached(CHANGE_VISIBILITY)?
                .execute(params![id, name, token, now_millis() + visibility])
                .map(drop)
        })
        .await?;
        self.changed.notify_waiters();
        Ok(())
    }

    async fn delete(&self, receipt: &Receipt) -> Result<()> {
        let (id, token) = parse_receipt(receipt)?;
        self.run("deleting a sqlite queue message", move |conn, name| {
            conn.prepare_cached(DELETE)?.execute(params![id, name, token]).map(drop)
        })
        .await
    }

    async fn receive_dead_letters(&self, max: usize, visibility: Duration) -> Result<Vec<QueueMessage>> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        Ok(self.claim(true, max, visibility).await?.messages)
    }
}

/// WAL lets readers (the store's connection, other processes) run beside the writer.
fn configure_file(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")
}

/// One `Notify` per database file and queue name, so that every handle opened on the same
/// queue in this process wakes the others' long polls.
fn shared_notify(key: String) -> Arc<Notify> {
    static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<Notify>>>> = LazyLock::new(Mutex::default);
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|_, notify| notify.strong_count() > 0);
    if let Some(notify) = registry.get(&key).and_then(Weak::upgrade) {
        return notify;
    }
    let notify = Arc::new(Notify::new());
    registry.insert(key, Arc::downgrade(&notify));
    notify
}

fn read_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<QueueMessage> {
    let id: i64 = row.get(0)?;
    let token: String = row.get(3)?;
    Ok(QueueMessage { body: row.get(1)?, receipt: Receipt(format!("{id}:{token}")), receive_count: row.get(2)? })
}

fn parse_receipt(receipt: &Receipt) -> Result<(i64, String)> {
    receipt
        .0
        .split_once(':')
        .and_then(|(id, token)| Some((id.parse().ok()?, token.to_owned())))
        .ok_or_else(|| Error::internal("sqlite queue", "malformed receipt"))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How long until the unix time `at_millis`: at least 1 ms, so a wait on it never spins.
fn until(at_millis: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_millis - now_millis()).unwrap_or(0).max(1))
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    //! What the contract suite cannot check on both adapters: receipts that went stale, and
    //! long polls woken at once.

    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    /// A database file in a fresh directory, removed with it.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("posthorn-queue-{}", ulid::Ulid::new()));
            Self(dir.join("queue.sqlite"))
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    async fn receive_one(queue: &SqliteQueue, visibility: Duration) -> QueueMessage {
        let mut messages = queue.receive(1, visibility, Duration::ZERO).await.unwrap();
        assert_eq!(messages.len(), 1);
        messages.remove(0)
    }

    #[tokio::test]
    async fn stale_receipts_are_ignored() {
        let queue = SqliteQueue::in_memory("q", 5).unwrap();
        queue.send("m", Duration::ZERO).await.unwrap();
        let stale = receive_one(&queue, Duration::ZERO).await.receipt;
        let current = receive_one(&queue, LONG).await.receipt;
        assert_ne!(stale, current);

        queue.delete(&stale).await.unwrap();
        queue.change_visibility(&stale, Duration::ZERO).await.unwrap();
        assert!(queue.receive(1, LONG, Duration::ZERO).await.unwrap().is_empty());

        queue.change_visibility(&current, Duration::ZERO).await.unwrap();
        let again = receive_one(&queue, Duration::ZERO).await;
        assert_eq!(again.receive_count, 3);
        queue.delete(&again.receipt).await.unwrap();
        assert!(queue.receive(1, LONG, Duration::ZERO).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn long_poll_wakes_on_a_send_through_another_handle() {
        let file = TempFile::new();
        let receiver = SqliteQueue::open(&file.0, "q", 5).unwrap();
        let sender = SqliteQueue::open(&file.0, "q", 5).unwrap();
        let other_queue = SqliteQueue::open(&file.0, "other", 5).unwrap();
        other_queue.send("not for q", Duration::ZERO).await.unwrap();

        let started = Instant::now();
        let send_later = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send("m", Duration::ZERO).await.unwrap();
        };
        let (messages, ()) = tokio::join!(receiver.receive(10, LONG, LONG), send_later);
        let bodies: Vec<_> = messages.unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["m"]);
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn long_poll_wakes_when_a_delay_passes() {
        let queue = SqliteQueue::in_memory("q", 5).unwrap();
        let started = Instant::now();
        queue.send("m", Duration::from_millis(300)).await.unwrap();
        let messages = queue.receive(10, LONG, LONG).await.unwrap();
        assert_eq!(messages.len(), 1);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handles_on_one_file_never_share_a_message() {
        let file = TempFile::new();
        let a = SqliteQueue::open(&file.0, "q", 5).unwrap();
        let b = SqliteQueue::open(&file.0, "q", 5).unwrap();
        for n in 0..200 {
            a.send(&n.to_string(), Duration::ZERO).await.unwrap();
        }
        let drain = |queue: SqliteQueue| {
            tokio::spawn(async move {
                let mut bodies = Vec::new();
                loop {
                    let batch = queue.receive(10, LONG, Duration::ZERO).await.unwrap();
                    if batch.is_empty() {
                        return bodies;
                    }
                    bodies.extend(batch.into_iter().map(|m| m.body));
                }
            })
        };
        let (from_a, from_b) = tokio::join!(drain(a), drain(b));
        let all: Vec<_> = from_a.unwrap().into_iter().chain(from_b.unwrap()).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!((all.len(), distinct.len()), (200, 200));
    }
}
