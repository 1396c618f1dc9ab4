//! A Store that hands everything to another one, except that its transactions, or its single
//! writes of one kind of record, fail while told to: a store outage at the moment a state change
//! and its event are committed, or a crash in the middle of a run's writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use posthorn::model::error::{Error, Result};
use posthorn::ports::store::{
    Addition, Document, IndexQuery, Kind, ListQuery, Outcome, RecordKey, RecordStore, Store, Write,
};
use serde_json::Value;

pub struct FailingStore {
    inner: Arc<dyn Store>,
    failing: AtomicBool,
    failing_kind: Mutex<Option<Kind>>,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner, failing: AtomicBool::new(false), failing_kind: Mutex::new(None) }
    }

    /// From now on, every single write of a record of `kind` fails (or, with `None`, none does).
    pub fn fail_writes_of(&self, kind: Option<Kind>) {
        *self.failing_kind.lock().expect("failing kind lock") = kind;
    }

    /// From now on, every transaction fails (or succeeds again).
    pub fn fail_transactions(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl RecordStore for FailingStore {
    async fn get(&self, key: &RecordKey) -> Result<Option<Value>> {
        self.inner.get(key).await
    }

    async fn write(&self, write: Write) -> Result<Outcome> {
        if *self.failing_kind.lock().expect("failing kind lock") == Some(write.key().kind) {
            return Err(Error::Unavailable("the store is unavailable".into()));
        }
        self.inner.write(write).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<Outcome> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the store is unavailable".into()));
        }
        self.inner.transact(writes).await
    }

    async fn add(&self, document: Document, additions: Vec<Addition>) -> Result<()> {
        self.inner.add(document, additions).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<Value>> {
        self.inner.list(query).await
    }

    async fn query_index(&self, query: IndexQuery) -> Result<Vec<Value>> {
        self.inner.query_index(query).await
    }
}

impl Store for FailingStore {
    fn core(&self) -> &dyn RecordStore {
        self
    }
}
