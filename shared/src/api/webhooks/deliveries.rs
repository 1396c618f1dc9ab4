//! An endpoint's deliveries: list them by status and event, read one with its payload and every
//! attempt, and retry one that failed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::api::webhooks::endpoints::{find_active_webhook, find_webhook};
use crate::api::{Caller, Data, List, PageParams, PathId, PathIds, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{DeliveryId, EventId, WebhookId};
use crate::model::webhooks::catalog::EventType;
use crate::model::webhooks::{Attempt, Delivery, DeliveryStatus};
use crate::ports::store::DeliveryFilter;
use crate::services::webhooks::outbox::enqueue;

/// `?status=&event_type=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// `pending`, `delivered` or `failed`.
    status: Option<String>,
    /// A catalog event name.
    event_type: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A delivery as the API shows it. `payload` and `attempts` appear when one is read alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    id: DeliveryId,
    webhook_id: WebhookId,
    event_id: EventId,
    event_type: EventType,
    status: DeliveryStatus,
    attempt_count: usize,
    last_status_code: Option<u16>,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// The exact body every attempt sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<Attempt>>,
}

impl From<&Delivery> for DeliveryView {
    fn from(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            status: delivery.status,
            attempt_count: delivery.attempts_made(),
            last_status_code: delivery.attempts.last().and_then(|attempt| attempt.status_code),
            next_attempt_at: delivery.next_attempt_at.filter(|_| delivery.status == DeliveryStatus::Pending),
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
            payload: None,
            attempts: None,
        }
    }
}

/// List an endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/{id}/deliveries", tag = "webhooks", params(("id" = WebhookId, Path), DeliveryParams),
    security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = List<DeliveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn list_deliveries(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
    Query(params): Query<DeliveryParams>,
) -> Result<axum::Json<List<DeliveryView>>> {
    let filter = DeliveryFilter {
        status: params.status.as_deref().map(parse_status).transpose()?,
        event_type: params.event_type.as_deref().map(parse_event_type).transpose()?,
    };
    let page = PageParams { limit: params.limit, cursor: params.cursor }.page_request()?;
    if let Some(cursor) = &page.cursor {
        cursor.parse::<DeliveryId>().map_err(|_| Error::bad_request("cursor is not valid"))?;
    }
    let endpoint = find_webhook(&state, caller, id).await?;
    let page = state.store.list_deliveries(caller.workspace_id, endpoint.id, filter, page).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read one delivery with its payload and every attempt.
#[utoipa::path(get, path = "/{id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("id" = WebhookId, Path), ("delivery_id" = DeliveryId, Path)), security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = Data<DeliveryView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn get_delivery(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathIds(webhook_id, delivery_id): PathIds<WebhookId, DeliveryId>,
) -> Result<axum::Json<Data<DeliveryView>>> {
    let delivery = find_delivery(&state, caller, webhook_id, delivery_id).await?;
    let event = state.store.get_event(caller.workspace_id, delivery.event_id).await?.ok_or_else(|| {
        Error::Internal(format!("event {} of delivery {} is missing", delivery.event_id, delivery.id))
    })?;
    let mut view = DeliveryView::from(&delivery);
    view.payload = Some(serde_json::from_str(&event.body).map_err(|e| Error::internal("stored event body", e))?);
    view.attempts = Some(delivery.attempts);
    Ok(axum::Json(Data { data: view }))
}

/// Send a failed delivery again, starting the retry schedule afresh.
#[utoipa::path(post, path = "/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = WebhookId, Path), ("delivery_id" = DeliveryId, Path)), security(("api_key" = ["webhooks:write"])),
    responses((status = 202, body = Data<DeliveryView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(super) async fn retry_delivery(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathIds(webhook_id, delivery_id): PathIds<WebhookId, DeliveryId>,
) -> Result<(StatusCode, axum::Json<Data<DeliveryView>>)> {
    find_active_webhook(&state, caller, webhook_id).await?;
    let mut delivery = find_delivery(&state, caller, webhook_id, delivery_id).await?;
    if delivery.status != DeliveryStatus::Failed {
        return Err(Error::Conflict(format!(
            "only failed deliveries can be retried; this one is {}",
            delivery.status.as_str()
        )));
    }
    let now = state.clock.now();
    let expected_version = delivery.version;
    delivery.version += 1;
    delivery.status = DeliveryStatus::Pending;
    delivery.schedule_start = delivery.attempts_made();
    delivery.next_attempt_at = Some(now);
    // A retry is the owner's, with the whole schedule, whatever recovery sent it last.
    delivery.recovery = None;
    delivery.updated_at = now;
    state.store.update_delivery(&delivery, expected_version, DeliveryStatus::Failed).await?;
    enqueue(&state.outbox(), &delivery, Duration::ZERO).await;
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: DeliveryView::from(&delivery) })))
}

async fn find_delivery(state: &AppState, caller: Caller, webhook_id: WebhookId, id: DeliveryId) -> Result<Delivery> {
    state
        .store
        .get_delivery(caller.workspace_id, id)
        .await?
        .filter(|delivery| delivery.webhook_id == webhook_id)
        .ok_or(Error::NotFound("delivery"))
}

fn parse_status(text: &str) -> Result<DeliveryStatus> {
    DeliveryStatus::parse(text).ok_or_else(|| Error::bad_request("status must be pending, delivered or failed"))
}

fn parse_event_type(text: &str) -> Result<EventType> {
    EventType::parse(text).ok_or_else(|| Error::bad_request(format!("event_type: unknown event `{text}`")))
}
