//! The Clock port: the system clock in production, a settable one in tests.

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}
