//! An endpoint's recoveries: start one (its failed deliveries of a window, sent once more at a
//! bounded rate) and follow its progress.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api::webhooks::endpoints::find_webhook;
use crate::api::{Caller, Data, Json, PathId, PathIds};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{RecoveryId, WebhookId};
use crate::model::webhooks::{Recovery, RecoveryState, RecoveryTrigger};
use crate::services::webhooks::recovery::start;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRecovery {
    /// The window's start (RFC 3339): deliveries of events made at or after it.
    #[serde(with = "time::serde::rfc3339")]
    since: OffsetDateTime,
    /// The window's end (RFC 3339, exclusive); now when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<OffsetDateTime>,
    /// Re-enable a disabled endpoint first; without it, a disabled endpoint is a 409.
    enable: Option<bool>,
}

/// A recovery and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryView {
    id: RecoveryId,
    webhook_id: WebhookId,
    #[serde(with = "time::serde::rfc3339")]
    since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    until: OffsetDateTime,
    trigger: RecoveryTrigger,
    state: RecoveryState,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_reason: Option<String>,
    /// Failed deliveries of the window found so far; final once `scan_complete`.
    total: u64,
    /// Sent again and answered with a 2xx.
    delivered: u64,
    /// Sent again and failed again (they stay `failed`; a later recovery may send them again).
    failed: u64,
    /// Taken up and not settled yet.
    pending: u64,
    /// Whether every failed delivery of the window has been found.
    scan_complete: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    finished_at: Option<OffsetDateTime>,
}

impl From<&Recovery> for RecoveryView {
    fn from(recovery: &Recovery) -> Self {
        Self {
            id: recovery.id,
            webhook_id: recovery.webhook_id,
            since: recovery.since,
            until: recovery.until,
            trigger: recovery.trigger,
            state: recovery.state,
            stopped_reason: recovery.stopped_reason.clone(),
            total: recovery.total,
            delivered: recovery.delivered,
            failed: recovery.failed,
            pending: recovery.in_flight.len() as u64,
            scan_complete: recovery.scanned,
            created_at: recovery.created_at,
            finished_at: recovery.finished_at,
        }
    }
}

/// Send every delivery of this endpoint that ended `failed` in the window once more: oldest
/// first, at a bounded rate, signed afresh with the same event id. Follow it with
/// `GET /v1/webhooks/{id}/recoveries/{recovery_id}`.
#[utoipa::path(post, path = "/{id}/recover", tag = "webhooks", params(("id" = WebhookId, Path)),
    request_body = StartRecovery, security(("api_key" = ["webhooks:write"])),
    responses((status = 202, body = Data<RecoveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn recover(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
    Json(request): Json<StartRecovery>,
) -> Result<(StatusCode, axum::Json<Data<RecoveryView>>)> {
    let now = state.clock.now();
    let until = request.until.unwrap_or(now);
    if request.since >= until {
        return Err(Error::bad_request("since must be before until (or before now, when until is absent)"));
    }
    let endpoint = find_webhook(&state, caller, id).await?;
    let recovery = start(&state.recovering(), &endpoint, request.since, until, request.enable.unwrap_or(false)).await?;
    tracing::info!(recovery_id = %recovery.id, webhook_id = %id, "recovery started");
    state.wake_scheduler.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: RecoveryView::from(&recovery) })))
}

/// A recovery's progress.
#[utoipa::path(get, path = "/{id}/recoveries/{recovery_id}", tag = "webhooks",
    params(("id" = WebhookId, Path), ("recovery_id" = RecoveryId, Path)), security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = Data<RecoveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn get_recovery(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathIds(webhook_id, recovery_id): PathIds<WebhookId, RecoveryId>,
) -> Result<axum::Json<Data<RecoveryView>>> {
    let recovery = state
        .store
        .get_recovery(caller.workspace_id, recovery_id)
        .await?
        .filter(|recovery| recovery.webhook_id == webhook_id)
        .ok_or(Error::NotFound("recovery"))?;
    Ok(axum::Json(Data { data: RecoveryView::from(&recovery) }))
}
