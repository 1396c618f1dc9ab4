//! Running one HTTP scenario on each Store adapter: `on_both_stores!(a, b, …)` turns every
//! `async fn a(kind: StoreKind)` into the tests `sqlite::a` and `dynamodb::a`.

/// Which Store adapter a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    DynamoDb,
}

/// Runs each scenario as `sqlite::<name>` and `dynamodb::<name>`, on a runtime with worker
/// threads, so that concurrent work (process-queue runs, syncs) really runs in parallel.
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
