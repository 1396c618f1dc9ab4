//! The embedded adapters of the dev server and the default tests: the Store and the Queue, each
//! in its own SQLite file. Left out of Lambda builds (feature `sqlite`).

mod queue;
mod store;

pub use queue::SqliteQueue;
pub use store::SqliteStore;
