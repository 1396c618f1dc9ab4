//! Typed records over the generic core: the [`Record`] trait, which says how a record kind is
//! keyed and indexed, and [`Records`], the typed get / create / replace / delete / list / due
//! operations that every kind shares.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::WorkspaceId;

use super::core::{
    Condition, Document, FieldIs, Index, IndexEntry, IndexQuery, Kind, ListQuery, Order, Outcome, RecordKey,
    RecordStore, SortRange, Write,
};
use super::{Page, PageRequest, parse_cursor, sortable_time};

/// A record kind the Store keeps. Adding a kind is an impl of this trait (and a [`Kind`]).
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    const KIND: Kind;
    /// What a page cursor of this kind must parse as.
    type Id: FromStr + Display;

    fn key(&self) -> RecordKey;

    /// The version conditional writes compare, for kinds that have one.
    fn version(&self) -> Option<u64> {
        None
    }

    /// When the record expires, for kinds that do; it must be the record's `expires_at` field.
    fn expires_at(&self) -> Option<OffsetDateTime> {
        None
    }

    fn first_index(&self) -> Result<Option<IndexEntry>> {
        Ok(None)
    }

    fn second_index(&self) -> Result<Option<IndexEntry>> {
        Ok(None)
    }

    fn document(&self) -> Result<Document> {
        Ok(Document {
            key: self.key(),
            version: self.version(),
            expires_at: self.expires_at(),
            first_index: self.first_index()?,
            second_index: self.second_index()?,
            body: serde_json::to_value(self).map_err(|e| Error::internal("encoding a record", e))?,
        })
    }
}

/// The key of a record of kind `T` kept in `workspace` under `id`.
pub fn key_of<T: Record>(workspace: WorkspaceId, id: &dyn Display) -> RecordKey {
    RecordKey { kind: T::KIND, workspace: Some(workspace), id: id.to_string() }
}

/// An index entry sorted by a time, then by `id` to keep entries of one time apart.
pub fn due_entry(partition: impl Into<String>, due: OffsetDateTime, id: &dyn Display) -> Result<IndexEntry> {
    Ok(IndexEntry { partition: partition.into(), sort: format!("{}#{id}", sortable_time(due)?) })
}

/// The upper bound of [`due_entry`] sort keys due at or before `now`: `$` follows the `#`
/// after the time, so every entry due exactly at `now` sorts below it.
fn due_bound(now: OffsetDateTime) -> Result<String> {
    Ok(format!("{}$", sortable_time(now)?))
}

fn decode<T: DeserializeOwned>(body: Value) -> Result<T> {
    serde_json::from_value(body).map_err(|e| Error::internal("decoding a stored record", e))
}

fn decode_all<T: DeserializeOwned>(bodies: Vec<Value>) -> Result<Vec<T>> {
    bodies.into_iter().map(decode).collect()
}

/// The records of kind `T` in `store`.
pub struct Records<'a, T> {
    store: &'a dyn RecordStore,
    kind: PhantomData<T>,
}

pub fn records<T: Record>(store: &dyn RecordStore) -> Records<'_, T> {
    Records { store, kind: PhantomData }
}

impl<T: Record> Records<'_, T> {
    pub async fn get(&self, workspace: WorkspaceId, id: &T::Id) -> Result<Option<T>> {
        self.get_key(&key_of::<T>(workspace, id)).await
    }

    pub async fn get_key(&self, key: &RecordKey) -> Result<Option<T>> {
        self.store.get(key).await?.map(decode).transpose()
    }

    /// `Conflict` if a record has its key.
    pub async fn create(&self, record: &T) -> Result<()> {
        match self.store.write(Write::Put(record.document()?, Condition::Absent)).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(Error::Conflict(format!("{} already exists", T::KIND.name()))),
        }
    }

    /// Writes `record` whatever is stored under its key.
    pub async fn put(&self, record: &T) -> Result<()> {
        self.store.write(Write::Put(record.document()?, Condition::Always)).await.map(drop)
    }

    /// Replaces the stored record; `NotFound` if there is none.
    pub async fn replace(&self, record: &T) -> Result<()> {
        match self.store.write(Write::Put(record.document()?, Condition::Present)).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(Error::NotFound(T::KIND.name())),
        }
    }

    /// Replaces the stored record if its version is `expected`: `Conflict` if it has another
    /// (another writer came first), `NotFound` if there is none.
    pub async fn replace_if_version(&self, record: &T, expected: u64) -> Result<()> {
        let document = record.document()?;
        let key = document.key.clone();
        match self.store.write(Write::Put(document, Condition::Version(expected))).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(self.stale(&key, expected).await),
        }
    }

    /// Why a write conditional on version `expected` of `key` was refused.
    async fn stale(&self, key: &RecordKey, expected: u64) -> Error {
        match self.store.get(key).await {
            Ok(Some(_)) => {
                Error::Conflict(format!("{} {} was changed since version {expected}", T::KIND.name(), key.id))
            }
            Ok(None) => Error::NotFound(T::KIND.name()),
            Err(error) => error,
        }
    }

    /// `NotFound` if no record has the key.
    pub async fn delete(&self, workspace: WorkspaceId, id: &T::Id) -> Result<()> {
        match self.store.write(Write::Delete(key_of::<T>(workspace, id), Condition::Present)).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(Error::NotFound(T::KIND.name())),
        }
    }

    /// Deletes the record under `key` and returns it; of two concurrent takes only one gets it.
    pub async fn take(&self, key: RecordKey) -> Result<Option<T>> {
        let Some(record) = self.get_key(&key).await? else {
            return Ok(None);
        };
        match self.store.write(Write::Delete(key, Condition::Present)).await? {
            Outcome::Written => Ok(Some(record)),
            Outcome::Refused { .. } => Ok(None),
        }
    }

    /// A page of the workspace's records matching `filter`, newest first.
    pub async fn page(&self, workspace: WorkspaceId, page: PageRequest, filter: Vec<FieldIs>) -> Result<Page<T>> {
        let after = parse_cursor::<T::Id>(page.cursor.as_deref())?.map(|id| id.to_string());
        let limit = page.limit.saturating_add(1);
        let query = ListQuery { kind: T::KIND, workspace, after, order: Order::Descending, filter, limit };
        let items = decode_all(self.store.list(query).await?)?;
        Ok(Page::from_overfetch(items, page.limit, |record: &T| record.key().id))
    }

    /// Every record of the workspace matching `filter`, oldest first.
    pub async fn all(&self, workspace: WorkspaceId, filter: Vec<FieldIs>) -> Result<Vec<T>> {
        let query =
            ListQuery { kind: T::KIND, workspace, after: None, order: Order::Ascending, filter, limit: usize::MAX };
        decode_all(self.store.list(query).await?)
    }

    pub async fn in_index(&self, query: IndexQuery) -> Result<Vec<T>> {
        decode_all(self.store.query_index(query).await?)
    }

    /// Up to `limit` records with a [`due_entry`] in `partition` of `index` due at or before
    /// `now`, oldest due first.
    pub async fn due(&self, index: Index, partition: &str, now: OffsetDateTime, limit: usize) -> Result<Vec<T>> {
        self.before(index, partition, due_bound(now)?, limit).await
    }

    /// Up to `limit` records of `partition` of `index` sorted below `bound`, lowest first.
    pub async fn before(&self, index: Index, partition: &str, bound: String, limit: usize) -> Result<Vec<T>> {
        self.in_index(IndexQuery {
            range: SortRange::Below(bound),
            limit,
            ..IndexQuery::all_of(index, partition.into())
        })
        .await
    }
}
