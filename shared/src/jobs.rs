//! process-queue: the work that runs every minute. For now, the outbox sweep; RSS fetching,
//! due automations and due posts join it as they are built.

use crate::app::AppState;
use crate::error::Result;
use crate::webhooks::outbox;

/// What one run of process-queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessQueueReport {
    /// Deliveries re-enqueued by the outbox sweep.
    pub requeued_deliveries: usize,
}

pub async fn process_queue(state: &AppState) -> Result<ProcessQueueReport> {
    let requeued_deliveries = outbox::sweep(state).await?;
    Ok(ProcessQueueReport { requeued_deliveries })
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
            _ = shutdown.changed() => return,
        }
        match process_queue(&state).await {
            Ok(report) => tracing::debug!(?report, "process-queue ran"),
            Err(error) => tracing::error!(error = %error, "process-queue failed"),
        }
    }
}
