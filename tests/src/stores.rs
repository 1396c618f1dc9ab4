//! The two Store adapters a scenario runs on: the app's in-memory SQLite store, or a fresh
//! DynamoDB table on the moto server; and `on_both_stores!` / `on_stores!`, which make each
//! scenario a test on each.

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
/// `dynamodb::<name>`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $crate::on_stores!(
            [sqlite => $crate::stores::StoreKind::Sqlite, dynamodb => $crate::stores::StoreKind::DynamoDb],
            [$($name),*]
        );
    };
}

/// Runs each scenario `async fn name(store: S)` once per `module => store` pair as
/// `<module>::<name>`, on a runtime with worker threads, so that concurrent runs really run in
/// parallel. `store` is evaluated in the test, so it may `.await` (a fixture it borrows from
/// lives until the scenario ends).
#[macro_export]
macro_rules! on_stores {
    ([$($module:ident => $store:expr),+ $(,)?], $names:tt) => {
        $($crate::on_stores!(@module $module, $store, $names);)+
    };
    (@module $module:ident, $store:expr, [$($name:ident),* $(,)?]) => {
        mod $module {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($store).await })*
        }
    };
}
