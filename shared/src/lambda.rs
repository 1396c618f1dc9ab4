//! What each function's `main` does: read configuration, build the adapters once, and hand a
//! router (HTTP functions) or an event handler (queue and schedule functions) to the Lambda
//! runtime.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

use crate::api::FunctionRoutes;
use crate::app::AppState;
use crate::config::Config;
use crate::jobs::{ProcessQueueReport, process_queue_until};
use crate::ports::queue::Receipt;
use crate::services::inbox::{InboxReport, InboxSettings, sync_inbox};
use crate::services::metrics::MetricsSettings;
use crate::services::metrics::{MetricsReport, sync_post_metrics};
use crate::services::webhooks::worker::{Settled, settle};
use crate::telemetry::{LogTarget, init_logging};

type BoxError = lambda_runtime::Error;

/// How long before the invocation's deadline a scheduled run stops taking up work, so that it
/// finishes what it started (a platform call takes at most its 10 s timeout) and reports.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

async fn state() -> Result<Arc<AppState>, BoxError> {
    init_logging(LogTarget::CloudWatch);
    let config = Config::from_env()?;
    let key = AppState::required_key(&config)?;
    Ok(Arc::new(AppState::from_config(&config, &key).await?))
}

/// Runs an HTTP function.
pub async fn serve_http(routes: FunctionRoutes) -> Result<(), BoxError> {
    let state = state().await?;
    lambda_http::run(routes.into_lambda_router(state)).await
}

/// Runs the HTTP function that also serves the whole API's OpenAPI document.
pub async fn serve_http_with_whole_document(routes: FunctionRoutes) -> Result<(), BoxError> {
    let state = state().await?;
    lambda_http::run(routes.into_lambda_router_with_whole_document(state)).await
}

/// Runs deliver-webhooks: each SQS record is one delivery attempt.
pub async fn serve_delivery_worker() -> Result<(), BoxError> {
    let state = state().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move { Ok::<_, BoxError>(deliver_batch(state, event.payload).await) }
    }))
    .await
}

/// Settles every record of an SQS batch at once; records to retry or that failed are reported
/// as batch item failures, so SQS keeps them (with the visibility the worker set) and moves a
/// record that keeps failing to the dead-letter queue.
pub async fn deliver_batch(state: Arc<AppState>, event: SqsEvent) -> SqsBatchResponse {
    let mut running = tokio::task::JoinSet::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        let (Some(body), Some(receipt)) = (record.body, record.receipt_handle) else {
            // Reported rather than skipped: a skipped record counts as processed and is deleted.
            tracing::error!(message_id = %id, "SQS record without a body or receipt handle");
            running.spawn(async move { (id, Settled::Failed) });
            continue;
        };
        let state = state.clone();
        running.spawn(async move { (id, settle(&state.worker(), &body, &Receipt(receipt)).await) });
    }
    let mut response = SqsBatchResponse::default();
    for (id, settled) in running.join_all().await {
        if settled != Settled::Deleted {
            response.batch_item_failures.push(batch_item_failure(id));
        }
    }
    response
}

/// A record for SQS to keep. An empty identifier (a record without a message id) makes Lambda
/// treat the whole batch as failed, which keeps that record too.
fn batch_item_failure(message_id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = message_id;
    failure
}

/// Runs process-queue on its EventBridge schedule, each run stopping before its Lambda deadline.
pub async fn serve_process_queue() -> Result<(), BoxError> {
    let state = state().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let state = state.clone();
        async move {
            let deadline = run_deadline(event.context.deadline());
            Ok::<ProcessQueueReport, BoxError>(run_process_queue(&state, event.payload, deadline).await?)
        }
    }))
    .await
}

/// Runs sync-post-metrics on its EventBridge schedule, each run stopping before its Lambda
/// deadline.
pub async fn serve_sync_post_metrics() -> Result<(), BoxError> {
    let settings = Config::from_env()?.metrics;
    let state = state().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let state = state.clone();
        async move {
            let deadline = run_deadline(event.context.deadline());
            Ok::<MetricsReport, BoxError>(run_sync_post_metrics(&state, event.payload, &settings, deadline).await?)
        }
    }))
    .await
}

/// Runs sync-inbox on its EventBridge schedule, each run stopping before its Lambda deadline.
pub async fn serve_sync_inbox() -> Result<(), BoxError> {
    let settings = Config::from_env()?.inbox;
    let state = state().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let state = state.clone();
        async move {
            let deadline = run_deadline(event.context.deadline());
            Ok::<InboxReport, BoxError>(run_sync_inbox(&state, event.payload, &settings, deadline).await?)
        }
    }))
    .await
}

/// One scheduled run of sync-inbox, taking up no new channel or page after `deadline`. Like
/// the other schedules', its event carries nothing the run needs.
pub async fn run_sync_inbox(
    state: &AppState,
    _schedule: EventBridgeEvent,
    settings: &InboxSettings,
    deadline: std::time::Instant,
) -> crate::model::error::Result<InboxReport> {
    sync_inbox(&state.accounts(), settings, deadline).await
}

/// One scheduled run of process-queue, taking up no new work after `deadline`. The schedule's
/// event carries nothing the run needs: each run takes up whatever is due at its own clock's now.
pub async fn run_process_queue(
    state: &AppState,
    _schedule: EventBridgeEvent,
    deadline: std::time::Instant,
) -> crate::model::error::Result<ProcessQueueReport> {
    process_queue_until(state, deadline).await
}

/// One scheduled run of sync-post-metrics, taking up no new post after `deadline`. Like
/// process-queue's, the schedule's event carries nothing the run needs.
pub async fn run_sync_post_metrics(
    state: &AppState,
    _schedule: EventBridgeEvent,
    settings: &MetricsSettings,
    deadline: std::time::Instant,
) -> crate::model::error::Result<MetricsReport> {
    sync_post_metrics(&state.accounts(), settings, deadline).await
}

/// When a run that must end by `deadline` (wall-clock) stops taking up work.
pub fn run_deadline(deadline: std::time::SystemTime) -> std::time::Instant {
    let left = deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    std::time::Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;

    #[test]
    fn a_run_stops_taking_up_work_a_margin_before_its_deadline() {
        let stop = run_deadline(SystemTime::now() + Duration::from_secs(60));
        let left = stop.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(40) && left > Duration::from_secs(38), "{left:?}");
        assert!(run_deadline(SystemTime::now() - Duration::from_secs(1)) <= Instant::now(), "already past");
    }
}
