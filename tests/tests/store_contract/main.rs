//! The Store contract: every case is written once against `&dyn Store` and run against each
//! adapter — SQLite in memory, SQLite in a file, and DynamoDB on the moto server (a fresh table
//! per test) — as `<family>::<adapter>::<case>`. Each record family has its module; the
//! adapter-specific checks (table layout, files) follow in their own.

mod automations_feeds;
mod connections_channels;
mod dynamodb_layout;
mod inbox;
mod outcomes;
mod posts;
mod recoveries;
mod sqlite_files;
mod transactions;
mod webhooks_deliveries;
mod workspaces_keys;

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, TimeToLiveStatus};
use posthorn::adapters::dynamo::DynamoStore;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::model::automations::{
    Automation, EntryRef, FeedEntry, PublishMode, Run, RunStatus, RunTrigger, Schedule, Source,
};
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::{Connection, ConnectionStatus, SealedApp};
use posthorn::model::connections::{InstanceApp, OAuthState};
use posthorn::model::crypto::{EncryptionKey, KeyHash, Sealed, SecretBox};
use posthorn::model::error::Error;
use posthorn::model::ids::{
    ApiKeyId, AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, PostId, RecoveryId, RunId, SourceId,
    WebhookId, WorkspaceId,
};
use posthorn::model::platforms::{ErrorCode, MediaItem, Metrics, Platform};
use posthorn::model::posts::{
    IdempotencyRecord, MetricsSample, Post, PostStatus, Target, TargetError, TargetMetrics, TargetStatus,
};
use posthorn::model::webhooks::{
    Attempt, Delivery, DeliveryStatus, Event, EventFilter, EventType, Probe, RetiringSecret, WebhookEndpoint,
};
use posthorn::model::workspaces::{ApiKey, NewApiKey, Scope, Workspace};
use posthorn::ports::store::{DeliveryFilter, Page, PageRequest, Store};
use posthorn::services::automations::claim_slot;
use posthorn_testkit::aws;
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

/// A store under test and whatever must outlive it.
struct Fixture {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(aws::unique_name("posthorn-store")))
    }
}

async fn sqlite_in_memory() -> Fixture {
    Fixture { store: Box::new(SqliteStore::in_memory().expect("open in-memory SQLite")), _dir: None }
}

async fn sqlite_file() -> Fixture {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.0.join("nested/store.db")).expect("open SQLite file");
    Fixture { store: Box::new(store), _dir: Some(dir) }
}

async fn dynamo_store() -> DynamoStore {
    let store = DynamoStore::new(aws::dynamodb().await, aws::unique_name("posthorn-store"));
    store.ensure_table().await.expect("create the table");
    store
}

async fn dynamodb() -> Fixture {
    Fixture { store: Box::new(dynamo_store().await), _dir: None }
}

/// Makes each case `async fn case(store: &dyn Store)` a test on every adapter.
macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        posthorn_testkit::on_stores!(
            [
                sqlite_in_memory => crate::sqlite_in_memory().await.store.as_ref(),
                sqlite_file => crate::sqlite_file().await.store.as_ref(),
                dynamodb => crate::dynamodb().await.store.as_ref(),
            ],
            [$($case),+]
        );
    };
}
use contract;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn sealed(secret: &str) -> Sealed {
    SecretBox::new(&EncryptionKey::generate()).seal(secret)
}

fn workspace() -> Workspace {
    Workspace { id: WorkspaceId::new(), name: "Acme".into(), created_at: now() }
}

/// Every item of a list, reading pages of `limit` with `read`; also returns each page's size.
async fn read_pages<T>(limit: usize, read: impl AsyncFn(PageRequest) -> Page<T>) -> (Vec<T>, Vec<usize>) {
    let (mut items, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None);
    loop {
        let page = read(PageRequest { limit, cursor }).await;
        sizes.push(page.items.len());
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (items, sizes),
        }
    }
}

/// An id of kind `I` minted at `at`, as `I::new()` would mint it then.
fn id_at<I: std::str::FromStr<Err: std::fmt::Debug>>(prefix: &str, at: OffsetDateTime) -> I {
    format!("{prefix}_{}", Ulid::from_datetime(at.into())).parse().unwrap()
}
