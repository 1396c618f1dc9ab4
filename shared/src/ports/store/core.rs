//! The generic core of the Store port: versioned records of any kind, as JSON documents with a
//! key and up to two secondary index entries, and the few operations every adapter implements
//! once (get, conditional write, transaction, list, index query). The typed accessors in
//! [`super::records`] and [`super::Store`] are written over it.

use std::collections::HashSet;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::WorkspaceId;

/// The most writes one [`RecordStore::transact`] takes: DynamoDB's TransactWriteItems limit,
/// which the SQLite adapter enforces too so that both behave alike.
pub const MAX_ITEMS_PER_TRANSACTION: usize = 100;

/// Which kind of record a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Workspace,
    ApiKey,
    Webhook,
    Event,
    Delivery,
    Connection,
    Channel,
    ChannelImport,
    OAuthState,
    InstanceApp,
    Post,
    IdempotencyRecord,
    Source,
    FeedEntry,
    Automation,
    Run,
    Interaction,
    InboxState,
    HourlyOutcomes,
    DataDeletion,
    DmStatusMark,
    Recovery,
    KeyUsage,
}

impl Kind {
    /// The record's name, in errors and as the SQLite adapter's `kind` column (so a stored
    /// value: renaming a kind means moving its rows).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::ApiKey => "API key",
            Self::Webhook => "webhook",
            Self::Event => "event",
            Self::Delivery => "delivery",
            Self::Connection => "connection",
            Self::Channel => "channel",
            Self::ChannelImport => "channel import",
            Self::OAuthState => "OAuth state",
            Self::InstanceApp => "instance app",
            Self::Post => "post",
            Self::IdempotencyRecord => "idempotency record",
            Self::Source => "source",
            Self::FeedEntry => "feed entry",
            Self::Automation => "automation",
            Self::Run => "run",
            Self::Interaction => "interaction",
            Self::InboxState => "inbox state",
            Self::HourlyOutcomes => "hourly outcomes",
            Self::DataDeletion => "data deletion",
            Self::DmStatusMark => "DM status mark",
            Self::Recovery => "recovery",
            Self::KeyUsage => "key usage",
        }
    }
}

/// Where one record is kept: its kind, its workspace (`None` for the few records found before
/// the workspace is known, such as API keys) and its id within both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    pub kind: Kind,
    pub workspace: Option<WorkspaceId>,
    pub id: String,
}

/// One of the two secondary indexes. Each is sparse: a record is in it only while it has an
/// entry there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    First,
    Second,
}

/// A record's entry in a secondary index: found under `partition`, ordered by `sort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub partition: String,
    pub sort: String,
}

/// A record as the core stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub key: RecordKey,
    /// The record's `version`, for records written conditionally on it.
    pub version: Option<u64>,
    /// For an expiring record: the exact time it expires, also kept in its `expires_at` field
    /// (RFC 3339). Adapters may delete it any time later.
    pub expires_at: Option<OffsetDateTime>,
    pub first_index: Option<IndexEntry>,
    pub second_index: Option<IndexEntry>,
    /// The record's fields, a JSON object.
    pub body: Value,
}

impl Document {
    pub fn index(&self, index: Index) -> Option<&IndexEntry> {
        match index {
            Index::First => self.first_index.as_ref(),
            Index::Second => self.second_index.as_ref(),
        }
    }
}

/// What must hold of the stored record (if any) for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Anything or nothing may be stored.
    Always,
    /// Nothing is stored under the key.
    Absent,
    /// A record is stored under the key.
    Present,
    /// The stored record has this version.
    Version(u64),
    /// Nothing is stored, or an expiring record that expired at or before this time.
    AbsentOrExpiredBy(OffsetDateTime),
    /// The stored record has an entry in the first index (claiming a record listed there).
    InFirstIndex,
}

/// An amount added to a number field of a record ([`RecordStore::add`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addition {
    pub field: &'static str,
    pub amount: i64,
}

/// One write: a document put, or a key deleted, if its condition holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put(Document, Condition),
    Delete(RecordKey, Condition),
}

impl Write {
    pub fn key(&self) -> &RecordKey {
        match self {
            Self::Put(document, _) => &document.key,
            Self::Delete(key, _) => key,
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            Self::Put(_, condition) | Self::Delete(_, condition) => *condition,
        }
    }
}

/// How a write or transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written,
    /// The condition of write `item` (0 for a single write) did not hold; nothing was written.
    Refused {
        item: usize,
    },
}

/// In which order a list or index query returns records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Highest id (or index sort key) first.
    Descending,
    Ascending,
}

/// Keeps only the records whose top-level text field `field` is `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIs {
    pub field: &'static str,
    pub value: String,
}

/// The records of one kind in one workspace, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub kind: Kind,
    pub workspace: WorkspaceId,
    /// Only ids after this one in `order` (a page's cursor).
    pub after: Option<String>,
    pub order: Order,
    pub filter: Vec<FieldIs>,
    pub limit: usize,
}

/// Which sort keys of an index partition a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortRange {
    All,
    AtLeast(String),
    Below(String),
}

/// The records of one partition of a secondary index, by sort key, of any kind and workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexQuery {
    pub index: Index,
    pub partition: String,
    pub range: SortRange,
    pub order: Order,
    pub filter: Vec<FieldIs>,
    pub limit: usize,
}

impl IndexQuery {
    /// Every record of `partition` of `index`, lowest sort key first.
    pub fn all_of(index: Index, partition: String) -> Self {
        Self { index, partition, range: SortRange::All, order: Order::Ascending, filter: Vec::new(), limit: usize::MAX }
    }
}

/// What each Store adapter implements: every record kind goes through these six operations.
/// Reads by key are consistent; index queries may lag writes slightly (DynamoDB GSIs).
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The body of the record under `key`.
    async fn get(&self, key: &RecordKey) -> Result<Option<Value>>;
    /// One conditional write.
    async fn write(&self, write: Write) -> Result<Outcome>;
    /// Up to [`MAX_ITEMS_PER_TRANSACTION`] writes to distinct keys, all or nothing: if any
    /// condition fails, none is written. More writes, or two to one key, are refused with an
    /// error ([`check_transaction`]).
    async fn transact(&self, writes: Vec<Write>) -> Result<Outcome>;
    /// Stores `document` with each field of `additions` set to its stored value (0 when nothing
    /// is stored) plus the amount, atomically: concurrent additions all count. Unconditional and
    /// never part of a transaction, so that a record many writers add to (a counter) never makes
    /// their writes collide.
    async fn add(&self, document: Document, additions: Vec<Addition>) -> Result<()>;
    async fn list(&self, query: ListQuery) -> Result<Vec<Value>>;
    async fn query_index(&self, query: IndexQuery) -> Result<Vec<Value>>;
}

/// Refuses, alike in every adapter, a transaction of more than [`MAX_ITEMS_PER_TRANSACTION`]
/// writes or with two writes to one key (which DynamoDB refuses).
pub fn check_transaction(writes: &[Write]) -> Result<()> {
    if writes.len() > MAX_ITEMS_PER_TRANSACTION {
        return Err(Error::Internal(format!(
            "a transaction writes at most {MAX_ITEMS_PER_TRANSACTION} items; this one has {}",
            writes.len()
        )));
    }
    let mut keys = HashSet::new();
    match writes.iter().map(Write::key).find(|key| !keys.insert(*key)) {
        Some(twice) => Err(Error::Internal(format!(
            "a transaction writes each record once; {} {:?} is written twice",
            twice.kind.name(),
            twice.id
        ))),
        None => Ok(()),
    }
}
