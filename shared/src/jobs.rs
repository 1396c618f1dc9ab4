//! The scheduled functions' work: process-queue (every minute: sweep the webhook outbox, fetch
//! due feeds, run due automations, publish due posts, go on with data deletions — each step
//! bounded in time), and the dev server's timers that run it and sync-post-metrics in-process,
//! and its delivery worker loop.
//! This is composition: it hands each service the ports it uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::adapters::outbound::REQUEST_TIMEOUT;
use crate::app::AppState;
use crate::model::error::Result;
use crate::ports::queue::MAX_BATCH;
use crate::services::automations::{ScheduleReport, run_due_automations};
use crate::services::connections::revoke::resume_data_deletions;
use crate::services::feeds::{FeedReport, fetch_due_sources};
use crate::services::inbox::{InboxSettings, sync_inbox};
use crate::services::metrics::MetricsSettings;
use crate::services::metrics::sync_post_metrics;
use crate::services::publish::publish_due;
use crate::services::webhooks::outbox;
use crate::services::webhooks::probe::{ProbeReport, probe_due};
use crate::services::webhooks::recovery::{RecoveryReport, advance_running};
use crate::services::webhooks::worker::{ATTEMPT_LEASE, settle};

/// What one run of process-queue did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessQueueReport {
    pub feeds: FeedReport,
    pub automations: ScheduleReport,
    /// Due posts this run claimed and published.
    pub published_posts: usize,
    /// Deliveries re-enqueued by the outbox sweep.
    pub requeued_deliveries: usize,
    /// Data deletions a platform asked for that this run completed.
    pub data_deletions_completed: usize,
    pub recoveries: RecoveryReport,
    pub probes: ProbeReport,
}

/// How many due posts one run takes up.
const DUE_POSTS_PER_RUN: usize = 100;

/// How long a run without an invocation deadline (the dev server, tests) may take.
const DEFAULT_RUN_TIME: Duration = Duration::from_secs(50);

/// One process-queue run with the default time budget.
pub async fn process_queue(state: &AppState) -> Result<ProcessQueueReport> {
    process_queue_until(state, Instant::now() + DEFAULT_RUN_TIME).await
}

/// One process-queue run that takes up no new work after `deadline`. The outbox sweep runs
/// first, so no amount of due work starves it, then the webhook recoveries (store work only) and
/// the probes of disabled endpoints; then feeds may use the first third of the time left and
/// automations up to two thirds, so due posts always get their turn. A failing step is logged and
/// the next one still runs; a failed sweep fails the run once the others are done.
pub async fn process_queue_until(state: &AppState, deadline: Instant) -> Result<ProcessQueueReport> {
    let swept = outbox::sweep(&state.outbox()).await;
    let (recoveries, probes) = recover_endpoints(state, deadline).await;
    let share = |thirds: u32| {
        let start = Instant::now();
        start + deadline.saturating_duration_since(start) * thirds / 3
    };
    let feeds = fetch_due_sources(&state.feed_fetcher(), share(1)).await.unwrap_or_else(|error| {
        tracing::error!(%error, "fetching feeds failed");
        FeedReport::default()
    });
    let automations = run_due_automations(&state.automations(), share(2)).await.unwrap_or_else(|error| {
        tracing::error!(%error, "running due automations failed");
        ScheduleReport::default()
    });
    let published_posts = publish_due(&state.accounts(), DUE_POSTS_PER_RUN, deadline).await?;
    let data_deletions_completed =
        resume_data_deletions(&state.accounts(), deadline.into()).await.unwrap_or_else(|error| {
            tracing::error!(%error, "going on with data deletions failed");
            0
        });
    let requeued_deliveries = swept?;
    Ok(ProcessQueueReport {
        feeds,
        automations,
        published_posts,
        requeued_deliveries,
        recoveries,
        probes,
        data_deletions_completed,
    })
}

/// Advances the running recoveries, then probes the disabled endpoints that are due, each
/// taking up no new work after `deadline`; a failure is logged, and the next run resumes.
pub async fn recover_endpoints(state: &AppState, deadline: Instant) -> (RecoveryReport, ProbeReport) {
    let recovering = state.recovering();
    let recoveries = advance_running(&recovering, deadline).await.unwrap_or_else(|error| {
        tracing::error!(%error, "advancing recoveries failed");
        RecoveryReport::default()
    });
    let probes = probe_due(&recovering, deadline).await.unwrap_or_else(|error| {
        tracing::error!(%error, "probing disabled endpoints failed");
        ProbeReport::default()
    });
    (recoveries, probes)
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
    repeat("sync-post-metrics", period, None, shutdown, || async {
        sync_post_metrics(&state.accounts(), &settings, Instant::now() + period).await
    })
    .await;
}

/// Runs sync-inbox every `settings.interval` until `shutdown`, each run ending by the next.
pub async fn sync_inbox_periodically(state: Arc<AppState>, settings: InboxSettings, shutdown: watch::Receiver<bool>) {
    let period = settings.interval;
    repeat("sync-inbox", period, None, shutdown, || async {
        sync_inbox(&state.accounts(), &settings, Instant::now() + period).await
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
/// The dev server's worker: receives batches and settles each message in its own task, with at
/// most `in_flight` messages being settled at once, until `shutdown`; then lets those finish.
pub async fn run_local(state: Arc<AppState>, in_flight: usize, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight.max(MAX_BATCH)));
    let mut running = tokio::task::JoinSet::new();
    while !*shutdown.borrow() {
        let Ok(mut permits) = slots.clone().acquire_many_owned(MAX_BATCH as u32).await else { break };
        let batch = tokio::select! {
            batch = state.queue.receive(MAX_BATCH, ATTEMPT_LEASE + REQUEST_TIMEOUT, Duration::from_secs(1)) => batch,
            _ = shutdown.changed() => break,
        };
        let messages = batch.unwrap_or_else(|error| {
            tracing::error!(error = %error, "receiving deliveries failed");
            Vec::new()
        });
        for message in messages {
            let permit = permits.split(1);
            let state = state.clone();
            running.spawn(async move {
                settle(&state.worker(), &message.body, &message.receipt).await;
                drop(permit);
            });
        }
        while running.try_join_next().is_some() {}
    }
    running.join_all().await;
}
