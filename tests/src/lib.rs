//! What the cross-function tests share: an in-process API over the embedded adapters, real
//! HTTPS webhook receivers, the local AWS emulator's clients with uniquely named tables and queues, so suites never see each
//! other's data, and the pieces of Meta's Graph API fakes.

pub mod app;
pub mod aws;
pub mod graph_fake;
pub mod receiver;
