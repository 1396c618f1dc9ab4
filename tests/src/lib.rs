//! What the cross-function tests share: the local AWS emulator's clients and fresh, uniquely
//! named tables and queues, so suites never see each other's data.

pub mod aws;
