//! Delivering webhooks: the outbox that writes an event and its deliveries before anything is
//! queued, the worker that takes deliveries off the queue, and the one signed POST of each
//! attempt.

pub mod endpoints;
pub mod outbox;
pub mod send;
pub mod worker;
