//! What the cross-function tests share: an in-process API over the embedded adapters, real
//! HTTPS webhook receivers, and the local AWS emulator's clients with uniquely named tables and queues, so suites never see each
//! other's data.

pub mod app;
pub mod aws;
pub mod platform;
pub mod receiver;
