//! The scheduled functions' work: process-queue (every minute: publish due posts, then sweep the
//! webhook outbox; RSS fetching and due automations join it as they are built), and the dev
//! server's timers that run it and sync-post-metrics in-process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::app::AppState;
use crate::config::MetricsSettings;
use crate::error::Result;
use crate::posts::metrics::sync_post_metrics;
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

/// Runs process-queue every `period`, and at once when a post is due now, until `shutdown` (the
/// dev server's stand-in for the EventBridge schedule).
pub async fn run_periodically(state: Arc<AppState>, period: Duration, shutdown: watch::Receiver<bool>) {
    let wake = state.wake_scheduler.clone();
    repeat("process-queue", period, Some(&wake), shutdown, || process_queue(&state)).await;
}

/// Runs sync-post-metrics every `settings.interval` until `shutdown`, each run ending by the next.
pub async fn sync_metrics_periodically(
    state: Arc<AppState>,
    settings: MetricsSettings,
    shutdown: watch::Receiver<bool>,
) {
    let period = Duration::try_from(settings.interval).unwrap_or(Duration::from_secs(15 * 60));
    repeat("sync-post-metrics", period, None, shutdown, || {
        sync_post_metrics(&state, &settings, Instant::now() + period)
    })
    .await;
}

/// Runs `job` every `period` (and whenever `wake` is notified) until `shutdown`, logging what
/// each run reports.
async fn repeat<F, Fut, R>(
    name: &str,
    period: Duration,
    wake: Option<&Notify>,
    mut shutdown: watch::Receiver<bool>,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R>>,
    R: std::fmt::Debug,
{
    let mut ticks = tokio::time::interval(period);
    loop {
        let woken = async {
            match wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ticks.tick() => {}
            _ = woken => {}
            _ = shutdown.changed() => return,
        }
        match job().await {
            Ok(report) => tracing::debug!(?report, "{name} ran"),
            Err(error) => tracing::error!(error = %error, "{name} failed"),
        }
    }
}
