//! The store database's one table, `records` (every record kind, keyed by kind, workspace and
//! id, with its two index entries as columns), its configuration, and the move of a database
//! made before it (a table per kind) into it on open.

use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::model::automations::{Automation, FeedEntry, Run, Source};
use crate::model::channels::Channel;
use crate::model::connections::{Connection as AccountConnection, InstanceApp, OAuthState};
use crate::model::error::{Error, Result};
use crate::model::posts::{IdempotencyRecord, Post};
use crate::model::webhooks::{Delivery, Event, WebhookEndpoint};
use crate::model::workspaces::{ApiKey, Workspace};
use crate::ports::store::{Record, sortable_time};

use super::rows::{from_json, put_row, sql_error};

/// How long a write waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    kind         TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    version      INTEGER,
    valid_until  TEXT,
    first_pk     TEXT,
    first_sk     TEXT,
    second_pk    TEXT,
    second_sk    TEXT,
    record       TEXT NOT NULL,
    PRIMARY KEY (kind, workspace_id, id)
);
CREATE INDEX IF NOT EXISTS records_first_index ON records (first_pk, first_sk);
CREATE INDEX IF NOT EXISTS records_second_index ON records (second_pk, second_sk);
";

/// Moves every row of one table of the earlier schema into `records`.
type MoveTable = fn(&Connection, &str) -> Result<()>;

/// The tables of the schema before `records`, each with the record kind its rows hold.
const EARLIER_TABLES: &[(&str, MoveTable)] = &[
    ("workspaces", move_rows::<Workspace>),
    ("api_keys", move_rows::<ApiKey>),
    ("webhooks", move_rows::<WebhookEndpoint>),
    ("events", move_rows::<Event>),
    ("deliveries", move_rows::<Delivery>),
    ("connections", move_rows::<AccountConnection>),
    ("channels", move_rows::<Channel>),
    ("oauth_states", move_rows::<OAuthState>),
    ("instance_apps", move_rows::<InstanceApp>),
    ("posts", move_rows::<Post>),
    ("idempotency_records", move_rows::<IdempotencyRecord>),
    ("sources", move_rows::<Source>),
    ("feed_entries", move_rows::<FeedEntry>),
    ("automations", move_rows::<Automation>),
    ("runs", move_rows::<Run>),
];

/// Creates `records` if missing and moves the rows of any earlier table into it, in one
/// transaction: a database from before opens with its data. Records that expired are deleted,
/// as DynamoDB's TTL deletes them: the dev server's database does not grow without end.
pub(super) fn create(conn: &Connection) -> Result<()> {
    let transaction = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sql_error("sqlite: starting the schema transaction"))?;
    transaction.execute_batch(SCHEMA).map_err(sql_error("sqlite: creating tables"))?;
    for (table, move_table) in EARLIER_TABLES {
        if table_exists(&transaction, table)? {
            move_table(&transaction, table)?;
            transaction
                .execute_batch(&format!("DROP TABLE {table}"))
                .map_err(sql_error("sqlite: dropping a moved table"))?;
        }
    }
    let now = sortable_time(time::OffsetDateTime::now_utc())?;
    transaction
        .execute("DELETE FROM records WHERE valid_until IS NOT NULL AND valid_until <= ?1", [now])
        .map_err(sql_error("sqlite: deleting expired records"))?;
    transaction.commit().map_err(sql_error("sqlite: committing the schema"))
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [table], |row| {
        row.get(0)
    })
    .map_err(sql_error("sqlite: reading the schema"))
}

fn move_rows<T: Record>(conn: &Connection, table: &str) -> Result<()> {
    let mut statement =
        conn.prepare(&format!("SELECT record FROM {table}")).map_err(sql_error("sqlite: reading a moved table"))?;
    let texts = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(sql_error("sqlite: reading a moved table"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_error("sqlite: reading a moved table"))?;
    for text in texts {
        put_row(conn, &from_json::<T>(&text)?.document()?)?;
    }
    Ok(())
}

/// WAL lets readers and a writer work at once; NORMAL sync is durable enough with WAL.
pub(super) fn configure_file(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error("sqlite: setting busy_timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error("sqlite: enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Internal(format!("sqlite: journal_mode is {mode}, not WAL")));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql_error("sqlite: setting synchronous"))
}
