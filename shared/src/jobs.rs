//! process-queue: the work that runs every minute: publish due posts, then sweep the webhook
//! outbox. RSS fetching and due automations join it as they are built.

use crate::app::AppState;
use crate::error::Result;
use crate::posts::publish::publish_due;
use crate::webhooks::outbox;

/// What one run of process-queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessQueueReport {
    /// Due posts this run claimed and published.
    pub published_posts: usize,
    /// Deliveries re-enqueued by the outbox sweep.
    pub requeued_deliveries: usize,
}

/// How many due posts one run takes up.
const DUE_POSTS_PER_RUN: usize = 100;

pub async fn process_queue(state: &AppState) -> Result<ProcessQueueReport> {
    let published_posts = publish_due(state, DUE_POSTS_PER_RUN).await?;
    let requeued_deliveries = outbox::sweep(state).await?;
    Ok(ProcessQueueReport { published_posts, requeued_deliveries })
}

/// Runs process-queue every `period` until `shutdown` (the dev server's stand-in for the
/// EventBridge schedule).
pub async fn run_periodically(
    state: std::sync::Arc<AppState>,
    period: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = state.wake_scheduler.notified() => {}
            _ = shutdown.changed() => return,
        }
        match process_queue(&state).await {
            Ok(report) => tracing::debug!(?report, "process-queue ran"),
            Err(error) => tracing::error!(error = %error, "process-queue failed"),
        }
    }
}
