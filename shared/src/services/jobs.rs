//! The scheduled functions' work: process-queue (every minute: fetch due feeds, run due
//! automations, publish due posts, sweep the webhook outbox — each step bounded in time), and
//! the dev server's timers that run it and sync-post-metrics in-process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::app::AppState;
use crate::model::error::Result;
use crate::services::automations::{ScheduleReport, run_due_automations};
use crate::services::feeds::{FeedReport, fetch_due_sources};
use crate::services::metrics::MetricsSettings;
use crate::services::metrics::sync_post_metrics;
use crate::services::publish::publish_due;
use crate::services::webhooks::outbox;

/// What one run of process-queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessQueueReport {
    pub feeds: FeedReport,
    pub automations: ScheduleReport,
    /// Due posts this run claimed and published.
    pub published_posts: usize,
    /// Deliveries re-enqueued by the outbox sweep.
    pub requeued_deliveries: usize,
}

/// How many due posts one run takes up.
const DUE_POSTS_PER_RUN: usize = 100;

/// How long a run without an invocation deadline (the dev server, tests) may take.
const DEFAULT_RUN_TIME: Duration = Duration::from_secs(50);

/// One process-queue run with the default time budget.
pub async fn process_queue(state: &AppState) -> Result<ProcessQueueReport> {
    process_queue_until(state, Instant::now() + DEFAULT_RUN_TIME).await
}

/// One process-queue run that takes up no new work after `deadline`. Feeds may use the first
/// third of the time and automations up to two thirds, so due posts always get their turn; a
/// failing step is logged and the next one still runs.
pub async fn process_queue_until(state: &AppState, deadline: Instant) -> Result<ProcessQueueReport> {
    let share = |thirds: u32| {
        let start = Instant::now();
        start + deadline.saturating_duration_since(start) * thirds / 3
    };
    let feeds = fetch_due_sources(state, share(1)).await.unwrap_or_else(|error| {
        tracing::error!(%error, "fetching feeds failed");
        FeedReport::default()
    });
    let automations = run_due_automations(state, share(2)).await.unwrap_or_else(|error| {
        tracing::error!(%error, "running due automations failed");
        ScheduleReport::default()
    });
    let published_posts = publish_due(state, DUE_POSTS_PER_RUN).await?;
    let requeued_deliveries = outbox::sweep(state).await?;
    Ok(ProcessQueueReport { feeds, automations, published_posts, requeued_deliveries })
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
