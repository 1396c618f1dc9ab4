//! Delivering webhooks: the outbox that writes an event and its deliveries before anything is
//! queued, the worker that takes deliveries off the queue, the one signed POST of each
//! attempt, and recovering what a receiver missed (recoveries, and the probes of disabled
//! endpoints).

pub mod endpoints;
pub mod outbox;
pub mod probe;
pub mod recovery;
pub mod send;
pub mod worker;
