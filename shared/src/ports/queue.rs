//! The Queue port: at-least-once messages with delays, visibility timeouts and a dead-letter
//! queue. SQS in production, a SQLite table with visible-at times on the dev server. Both pass
//! one contract suite (`tests/tests/queue_contract.rs`).

use std::time::Duration;

use async_trait::async_trait;

use crate::model::error::Result;

/// SQS's limit on a message's initial delay; longer sends are clamped to it.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(15 * 60);
/// SQS's limit on a visibility timeout.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// SQS's limit on a receive batch.
pub const MAX_BATCH: usize = 10;

/// The handle that acknowledges or delays one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    pub receipt: Receipt,
    /// How many times this message has been received, this time included (1 on the first).
    pub receive_count: u32,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues `body`, invisible for `delay` (at most [`MAX_SEND_DELAY`]).
    async fn send(&self, body: &str, delay: Duration) -> Result<()>;
    /// Up to `max` (≤ [`MAX_BATCH`]) visible messages, each hidden for `visibility` afterwards.
    /// Waits up to `wait` for one to arrive when none is visible. A message received more than
    /// the queue's `max_receives` times moves to the dead-letter queue instead.
    async fn receive(&self, max: usize, visibility: Duration, wait: Duration) -> Result<Vec<QueueMessage>>;
    /// Hides a received message for `visibility` from now (at most [`MAX_VISIBILITY`]).
    async fn change_visibility(&self, receipt: &Receipt, visibility: Duration) -> Result<()>;
    /// Acknowledges a received message: it will not be delivered again.
    async fn delete(&self, receipt: &Receipt) -> Result<()>;
    /// Receives from the dead-letter queue (for operators and tests), with the same semantics.
    async fn receive_dead_letters(&self, max: usize, visibility: Duration) -> Result<Vec<QueueMessage>>;
}
