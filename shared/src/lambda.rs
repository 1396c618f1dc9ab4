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
use crate::jobs::{ProcessQueueReport, process_queue};
use crate::queue::Receipt;
use crate::telemetry::{LogTarget, init_logging};
use crate::webhooks::worker::{Settled, settle};

type BoxError = lambda_runtime::Error;

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
/// as batch item failures, so SQS keeps them (with the visibility the worker set).
pub async fn deliver_batch(state: Arc<AppState>, event: SqsEvent) -> SqsBatchResponse {
    let mut running = tokio::task::JoinSet::new();
    for record in event.records {
        let (Some(id), Some(body), Some(receipt)) = (record.message_id, record.body, record.receipt_handle) else {
            continue;
        };
        let state = state.clone();
        running.spawn(async move { (id, settle(&state, &body, &Receipt(receipt)).await) });
    }
    let mut response = SqsBatchResponse::default();
    for (id, settled) in running.join_all().await {
        if settled != Settled::Deleted {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Runs process-queue on its EventBridge schedule.
pub async fn serve_process_queue() -> Result<(), BoxError> {
    let state = state().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<EventBridgeEvent>| {
        let state = state.clone();
        async move { Ok::<ProcessQueueReport, BoxError>(run_process_queue(&state, event.payload).await?) }
    }))
    .await
}

/// One scheduled run of process-queue. The schedule's event carries nothing the run needs: each
/// run takes up whatever is due at its own clock's now.
pub async fn run_process_queue(state: &AppState, _schedule: EventBridgeEvent) -> crate::Result<ProcessQueueReport> {
    process_queue(state).await
}
