//! Webhook endpoints: register (after a verification ping), list, read with delivery stats,
//! change, delete, rotate the secret, send a test event; and the event catalog.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api::{Caller, Data, Json, List, PageParams, PathId, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use crate::model::webhooks::catalog::{EventCategory, EventType};
use crate::model::webhooks::{
    DeliveryCounts, EventFilter, NewEndpoint, RetiringSecret, STATS_WINDOW, WebhookEndpoint, WebhookSecret,
    validate_name,
};
use crate::ports::store::PageRequest;
use crate::services::webhooks::endpoints::{EndpointChange, change_endpoint, update_endpoint};
use crate::services::webhooks::outbox::{emit_to, new_event};
use crate::services::webhooks::recovery::{enable, enabled_data};
use crate::services::webhooks::send::{Outgoing, send};

type Response<T> = Result<axum::Json<T>>;

/// How long a replaced secret keeps signing beside the new one.
const ROTATION_OVERLAP: time::Duration = time::Duration::hours(24);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An https URL that reaches a public address.
    url: String,
    /// Catalog event names, or `["*"]` for every event.
    events: Vec<String>,
    name: Option<String>,
    /// Optional; must be the API key's own workspace.
    workspace_id: Option<WorkspaceId>,
    /// `whsec_` + base64 of 24–64 bytes; generated when absent.
    secret: Option<String>,
    /// Skip the verification ping sent before saving.
    skip_verification: Option<bool>,
    /// Once Posthorn disables the endpoint, probe it and re-enable and recover it when it answers
    /// again (default true).
    auto_recover: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    url: Option<String>,
    events: Option<Vec<String>>,
    name: Option<String>,
    /// Also accepted as `is_active` or `enabled`. `true` re-enables an endpoint Posthorn disabled.
    #[serde(alias = "is_active", alias = "enabled")]
    active: Option<bool>,
    /// Probe, re-enable and recover the endpoint once Posthorn disables it.
    auto_recover: Option<bool>,
}

/// A webhook endpoint as the API shows it. `secret` appears only when it is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    id: WebhookId,
    name: Option<String>,
    url: String,
    events: Vec<String>,
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    /// Why it was last enabled again: `manual` or `recovered`.
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled_reason: Option<String>,
    /// Whether Posthorn probes it once disabled, and re-enables and recovers it.
    auto_recover: bool,
    /// When the next probe is sent, while Posthorn probes it.
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    next_probe_at: Option<OffsetDateTime>,
    /// The last 4 characters of the signing secret.
    secret_hint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// Delivery outcomes; on `GET /v1/webhooks/{id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<DeliveryStats>,
}

/// Deliveries created in the last 24 hours and 7 days (counted by whole hours, so up to an hour
/// more), by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStats {
    last_24h: Outcomes,
    last_7d: Outcomes,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Outcomes {
    delivered: u64,
    failed: u64,
}

/// A new secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    secret: String,
    secret_hint: String,
    /// Until then, deliveries carry signatures made with the old secret too.
    #[serde(with = "time::serde::rfc3339")]
    previous_secret_expires_at: OffsetDateTime,
}

/// The event and delivery a test send created.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSend {
    event_id: EventId,
    delivery_id: DeliveryId,
}

impl From<&WebhookEndpoint> for WebhookView {
    fn from(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id,
            name: endpoint.name.clone(),
            url: endpoint.url.clone(),
            events: endpoint.events.names(),
            active: endpoint.active,
            disabled_reason: endpoint.disabled_reason.clone(),
            enabled_reason: endpoint.enabled_reason.clone(),
            auto_recover: endpoint.auto_recover,
            next_probe_at: endpoint.probe.map(|probe| probe.next_at),
            secret_hint: endpoint.secret_hint.clone(),
            secret: None,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
            stats: None,
        }
    }
}

/// One entry of the event catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogEntry {
    name: EventType,
    category: EventCategory,
    description: &'static str,
    /// A full delivery body of this event.
    example: Value,
}

/// Register a webhook endpoint. The secret is in this response and never shown again.
/// Unless `skip_verification`, a `webhook.ping` is delivered first and must be answered with a
/// 2xx, or nothing is saved.
#[utoipa::path(post, path = "", tag = "webhooks", request_body = CreateWebhook, security(("api_key" = ["webhooks:write"])),
    responses((status = 201, body = Data<WebhookView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreateWebhook>,
) -> Result<(StatusCode, axum::Json<Data<WebhookView>>)> {
    caller.ensure_workspace(request.workspace_id)?;
    ensure_room_for_one_more(&state, caller.workspace_id).await?;
    let url = checked_url(&state, &request.url).await?;
    let events = EventFilter::from_names(&request.events)?;
    if let Some(name) = &request.name {
        validate_name(name)?;
    }
    let secret = match &request.secret {
        Some(text) => WebhookSecret::parse(text)?,
        None => WebhookSecret::generate(),
    };
    let now = state.clock.now();
    let new = NewEndpoint { workspace_id: caller.workspace_id, name: request.name, url, events, secret: &secret };
    let mut endpoint = WebhookEndpoint::new(new, &state.secrets, now);
    endpoint.auto_recover = request.auto_recover.unwrap_or(true);
    if !request.skip_verification.unwrap_or(false) {
        verify(&state, &endpoint, &secret).await?;
    }
    state.store.create_webhook(&endpoint).await?;
    tracing::info!(webhook_id = %endpoint.id, workspace_id = %caller.workspace_id, "webhook endpoint created");
    let mut view = WebhookView::from(&endpoint);
    view.secret = Some(secret.as_str().to_string());
    Ok((StatusCode::CREATED, axum::Json(Data { data: view })))
}

/// A 422 when the workspace already has the most endpoints it may have.
async fn ensure_room_for_one_more(state: &AppState, workspace: WorkspaceId) -> Result<()> {
    let most = state.webhook_limits.max_endpoints_per_workspace;
    let (mut count, mut cursor) = (0, None);
    loop {
        let page = state.store.list_webhooks(workspace, PageRequest { limit: 100, cursor }).await?;
        count += page.items.len();
        cursor = page.next_cursor;
        if cursor.is_none() || count >= most {
            break;
        }
    }
    if count >= most {
        return Err(Error::Unprocessable(format!(
            "this workspace has {count} webhook endpoints, the most it may have; delete one first \
             (the limit is POSTHORN_MAX_ENDPOINTS_PER_WORKSPACE)"
        )));
    }
    Ok(())
}

/// List the workspace's webhook endpoints, newest first.
#[utoipa::path(get, path = "", tag = "webhooks", params(PageParams), security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = List<WebhookView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn list_webhooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Response<List<WebhookView>> {
    let page = params.page_request()?;
    if let Some(cursor) = &page.cursor {
        cursor.parse::<WebhookId>().map_err(|_| Error::bad_request("cursor is not valid"))?;
    }
    let page = state.store.list_webhooks(caller.workspace_id, page).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read one webhook endpoint.
#[utoipa::path(get, path = "/{id}", tag = "webhooks", params(("id" = WebhookId, Path)), security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = Data<WebhookView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn get_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Response<Data<WebhookView>> {
    let endpoint = find_webhook(&state, caller, id).await?;
    let mut view = WebhookView::from(&endpoint);
    view.stats = Some(stats(&state, &endpoint).await?);
    Ok(axum::Json(Data { data: view }))
}

/// Change an endpoint's url, events, name, active flag or auto_recover (at least one). Switching
/// `active` tells the workspace's other endpoints (`webhook.endpoint.enabled` / `.disabled`).
#[utoipa::path(patch, path = "/{id}", tag = "webhooks", params(("id" = WebhookId, Path)), request_body = UpdateWebhook,
    security(("api_key" = ["webhooks:write"])),
    responses((status = 200, body = Data<WebhookView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(super) async fn update_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
    Json(request): Json<UpdateWebhook>,
) -> Response<Data<WebhookView>> {
    if request.url.is_none()
        && request.events.is_none()
        && request.name.is_none()
        && request.active.is_none()
        && request.auto_recover.is_none()
    {
        return Err(Error::bad_request("give at least one of url, events, name, active, auto_recover"));
    }
    let url = match &request.url {
        Some(url) => Some(checked_url(&state, url).await?),
        None => None,
    };
    let events = request.events.as_deref().map(EventFilter::from_names).transpose()?;
    if let Some(name) = &request.name {
        validate_name(name)?;
    }
    let now = state.clock.now();
    let endpoint = change_endpoint(&state.outbox(), caller.workspace_id, id, |endpoint| {
        if let Some(url) = &url {
            endpoint.url = url.clone();
        }
        if let Some(events) = &events {
            endpoint.events = events.clone();
        }
        if let Some(name) = &request.name {
            endpoint.name = Some(name.clone());
        }
        if let Some(auto_recover) = request.auto_recover {
            endpoint.auto_recover = auto_recover;
            if !auto_recover {
                endpoint.probe = None;
            }
        }
        Ok(match request.active {
            Some(true) if !endpoint.active => {
                enable(endpoint, "manual", now);
                EndpointChange::Announced {
                    event_type: EventType::WebhookEndpointEnabled,
                    data: enabled_data(endpoint, None),
                    writes: Vec::new(),
                }
            }
            Some(false) if endpoint.active => {
                endpoint.active = false;
                endpoint.disabled_reason = None;
                EndpointChange::Announced {
                    event_type: EventType::WebhookEndpointDisabled,
                    data: json!({"webhook_id": endpoint.id, "url": endpoint.url, "reason": "disabled by its owner",
                        "auto_recover": endpoint.auto_recover, "next_probe_at": null}),
                    writes: Vec::new(),
                }
            }
            _ => EndpointChange::Quiet,
        })
    })
    .await?;
    Ok(axum::Json(Data { data: WebhookView::from(&endpoint) }))
}

/// Delete an endpoint; deliveries still queued for it stop before their next attempt.
#[utoipa::path(delete, path = "/{id}", tag = "webhooks", params(("id" = WebhookId, Path)), security(("api_key" = ["webhooks:write"])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<StatusCode> {
    state.store.delete_webhook(caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The catalog of events an endpoint can subscribe to, each with an example delivery body.
#[utoipa::path(get, path = "/events", tag = "webhooks", security(("api_key" = ["webhooks:read"])),
    responses((status = 200, body = Data<Vec<CatalogEntry>>), (status = 401, body = ErrorBody)))]
pub(super) async fn event_catalog(_caller: Caller) -> Response<Data<Vec<CatalogEntry>>> {
    let entries = EventType::ALL
        .into_iter()
        .map(|event| CatalogEntry {
            name: event,
            category: event.category(),
            description: event.description(),
            example: json!({
                "id": "evt_01JD8Z3QK5V7Y2W9X4T6R8P0MG",
                "event": event.as_str(),
                "timestamp": "2026-03-23T18:00:00Z",
                "workspace_id": "ws_01JD8Z3QK5V7Y2W9X4T6R8P0MH",
                "data": event.example_data(),
            }),
        })
        .collect();
    Ok(axum::Json(Data { data: entries }))
}

/// Issue a new signing secret. The old one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/{id}/rotate-secret", tag = "webhooks", params(("id" = WebhookId, Path)),
    security(("api_key" = ["webhooks:write"])),
    responses((status = 200, body = Data<RotatedSecret>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Response<Data<RotatedSecret>> {
    let now = state.clock.now();
    let until = now + ROTATION_OVERLAP;
    let mut issued = None;
    update_endpoint(&*state.store, &*state.clock, caller.workspace_id, id, |endpoint| {
        let secret = WebhookSecret::generate();
        endpoint.retiring_secret = Some(RetiringSecret { secret: endpoint.secret.clone(), until });
        endpoint.secret = state.secrets.seal(secret.as_str());
        endpoint.secret_hint = secret.hint();
        issued = Some(secret);
        Ok(true)
    })
    .await?;
    let secret = issued.expect("a written rotation issued a secret");
    let rotated = RotatedSecret {
        secret: secret.as_str().to_string(),
        secret_hint: secret.hint(),
        previous_secret_expires_at: until,
    };
    Ok(axum::Json(Data { data: rotated }))
}

/// Queue a `webhook.test` event to this endpoint; follow it in its deliveries.
#[utoipa::path(post, path = "/{id}/test", tag = "webhooks", params(("id" = WebhookId, Path)), security(("api_key" = ["webhooks:write"])),
    responses((status = 202, body = Data<TestSend>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(super) async fn send_test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<WebhookId>,
) -> Result<(StatusCode, axum::Json<Data<TestSend>>)> {
    let endpoint = find_active_webhook(&state, caller, id).await?;
    let data = json!({"webhook_id": endpoint.id, "message": "Posthorn test event"});
    let (event, deliveries) =
        emit_to(&state.outbox(), caller.workspace_id, EventType::WebhookTest, data, std::slice::from_ref(&endpoint))
            .await?;
    let sent = TestSend { event_id: event.id, delivery_id: deliveries[0].id };
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: sent })))
}

/// Sends the `webhook.ping` that must succeed before an endpoint is saved.
async fn verify(state: &AppState, endpoint: &WebhookEndpoint, secret: &WebhookSecret) -> Result<()> {
    let now = state.clock.now();
    let data = json!({"webhook_id": endpoint.id, "message": "Posthorn verification ping"});
    let event = new_event(endpoint.workspace_id, EventType::WebhookPing, data, now);
    let outgoing = Outgoing {
        event_id: event.id,
        event_type: event.event_type,
        delivery_id: DeliveryId::new(),
        body: &event.body,
    };
    let sent = send(&state.outbound, &endpoint.url, &outgoing, std::slice::from_ref(secret), now).await;
    if sent.succeeded() {
        return Ok(());
    }
    let reason = sent.attempt.error.unwrap_or_default();
    Err(Error::bad_request(format!(
        "the verification ping failed ({reason}); fix the endpoint or pass skip_verification"
    )))
}

async fn stats(state: &AppState, endpoint: &WebhookEndpoint) -> Result<DeliveryStats> {
    let now = state.clock.now();
    let hours = state.store.endpoint_outcomes(endpoint.workspace_id, endpoint.id, now - STATS_WINDOW).await?;
    let outcomes = |since| {
        let counts = DeliveryCounts::since(&hours, since);
        Outcomes { delivered: counts.delivered, failed: counts.failed }
    };
    Ok(DeliveryStats { last_24h: outcomes(now - time::Duration::hours(24)), last_7d: outcomes(now - STATS_WINDOW) })
}

pub(super) async fn find_webhook(state: &AppState, caller: Caller, id: WebhookId) -> Result<WebhookEndpoint> {
    state.store.get_webhook(caller.workspace_id, id).await?.ok_or(Error::NotFound("webhook"))
}

/// An endpoint that can be sent to now: a disabled one is a 409 until it is re-enabled.
pub(super) async fn find_active_webhook(state: &AppState, caller: Caller, id: WebhookId) -> Result<WebhookEndpoint> {
    let endpoint = find_webhook(state, caller, id).await?;
    if !endpoint.active {
        return Err(Error::Conflict("the endpoint is disabled; PATCH {\"active\": true} first".into()));
    }
    Ok(endpoint)
}

async fn checked_url(state: &AppState, raw: &str) -> Result<String> {
    state
        .outbound
        .guard()
        .check(raw)
        .await
        .map(String::from)
        .map_err(|rejected| Error::bad_request(format!("url {rejected}")))
}
