//! The two Store adapters a scenario runs on: the app's in-memory SQLite store, or a fresh
//! DynamoDB table on the moto server; and `on_both_stores!`, which makes each scenario a test
//! on each.

use std::sync::Arc;

use posthorn::adapters::dynamo::DynamoStore;
use posthorn::ports::store::Store;

use crate::aws;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    DynamoDb,
}

/// The store of `kind`: `None` for the app's in-memory SQLite one, or a table of its own named
/// after `prefix`.
pub async fn store(kind: StoreKind, prefix: &str) -> Option<Arc<dyn Store>> {
    match kind {
        StoreKind::Sqlite => None,
        StoreKind::DynamoDb => {
            let store = DynamoStore::new(aws::dynamodb().await, aws::unique_name(prefix));
            store.ensure_table().await.expect("DynamoDB table");
            Some(Arc::new(store))
        }
    }
}

/// Runs each scenario `async fn name(kind: StoreKind)` as `sqlite::<name>` and
/// `dynamodb::<name>`, on a runtime with worker threads, so that concurrent runs really run in
/// parallel.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::stores::StoreKind::Sqlite).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::stores::StoreKind::DynamoDb).await })*
        }
    };
}
