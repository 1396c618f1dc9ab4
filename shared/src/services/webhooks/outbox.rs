//! The outbox (SPEC §4): an event and one delivery per subscribed endpoint are written to the
//! store before anything is queued; the sweep re-enqueues deliveries whose next attempt is long
//! overdue, so a crash or a queue outage between the two steps loses nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::{DeliveryId, EventId, WorkspaceId};
use crate::model::times::rfc3339;
use crate::model::webhooks::WebhookEndpoint;
use crate::model::webhooks::catalog::EventType;
use crate::model::webhooks::{Delivery, DeliveryStatus, Event};
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::{MAX_DELIVERIES_PER_EVENT, PageRequest, Store};

/// A transaction holds the event and its deliveries, so an event reaches at most this many
/// endpoints.
pub const MAX_ENDPOINTS_PER_EVENT: usize = MAX_DELIVERIES_PER_EVENT;

/// How overdue a pending delivery must be before the sweep decides its message was lost.
pub const SWEEP_GRACE: time::Duration = time::Duration::minutes(2);
const SWEEP_BATCH: usize = 100;

/// What the outbox writes through: events and deliveries to the store, their messages to the
/// queue.
#[derive(Clone, Copy)]
pub struct Outbox<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
}

/// The queue message of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub workspace_id: WorkspaceId,
    pub delivery_id: DeliveryId,
}

/// Emits an event to every active endpoint of the workspace subscribed to it.
pub async fn emit(outbox: &Outbox<'_>, workspace_id: WorkspaceId, event_type: EventType, data: Value) -> Result<Event> {
    let endpoints = subscribed_endpoints(outbox, workspace_id, event_type).await?;
    emit_to(outbox, workspace_id, event_type, data, &endpoints).await.map(|(event, _)| event)
}

/// Emits an event to the given endpoints only (e.g. a test send).
pub async fn emit_to(
    outbox: &Outbox<'_>,
    workspace_id: WorkspaceId,
    event_type: EventType,
    data: Value,
    endpoints: &[WebhookEndpoint],
) -> Result<(Event, Vec<Delivery>)> {
    let now = outbox.clock.now();
    let event = new_event(workspace_id, event_type, data, now);
    let deliveries: Vec<Delivery> = endpoints.iter().map(|endpoint| new_delivery(&event, endpoint, now)).collect();
    outbox.store.create_event(&event, &deliveries).await?;
    for delivery in &deliveries {
        enqueue(outbox, delivery, Duration::ZERO).await;
    }
    Ok((event, deliveries))
}

/// The envelope of SPEC §4, serialized once: every attempt sends exactly these bytes.
pub fn new_event(workspace_id: WorkspaceId, event_type: EventType, data: Value, now: OffsetDateTime) -> Event {
    let id = EventId::new();
    let body = json!({
        "id": id,
        "event": event_type,
        "timestamp": rfc3339(now),
        "workspace_id": workspace_id,
        "data": data,
    });
    Event { id, workspace_id, event_type, body: body.to_string(), created_at: now }
}

/// A pending delivery of `event` to `endpoint`, due at once.
pub fn new_delivery(event: &Event, endpoint: &WebhookEndpoint, now: OffsetDateTime) -> Delivery {
    Delivery {
        id: DeliveryId::new(),
        workspace_id: event.workspace_id,
        webhook_id: endpoint.id,
        event_id: event.id,
        event_type: event.event_type,
        status: DeliveryStatus::Pending,
        version: 0,
        attempts: Vec::new(),
        schedule_start: 0,
        next_attempt_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

async fn subscribed_endpoints(
    outbox: &Outbox<'_>,
    workspace_id: WorkspaceId,
    event_type: EventType,
) -> Result<Vec<WebhookEndpoint>> {
    let mut endpoints = Vec::new();
    let mut cursor = None;
    loop {
        let page = outbox.store.list_webhooks(workspace_id, PageRequest { limit: 100, cursor }).await?;
        endpoints
            .extend(page.items.into_iter().filter(|endpoint| endpoint.active && endpoint.events.accepts(event_type)));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if endpoints.len() > MAX_ENDPOINTS_PER_EVENT {
        return Err(Error::Internal(format!(
            "workspace {workspace_id} has {} endpoints for {}; at most {MAX_ENDPOINTS_PER_EVENT} are supported",
            endpoints.len(),
            event_type.as_str()
        )));
    }
    Ok(endpoints)
}

/// Queues a delivery's message. A failure is logged, not returned: the delivery is already
/// stored, and the sweep will queue it.
pub async fn enqueue(outbox: &Outbox<'_>, delivery: &Delivery, delay: Duration) {
    let message = DeliveryMessage { workspace_id: delivery.workspace_id, delivery_id: delivery.id };
    let body = serde_json::to_string(&message).expect("a message of two ids serializes");
    if let Err(error) = outbox.queue.send(&body, delay).await {
        tracing::warn!(delivery_id = %delivery.id, error = %error, "could not queue a delivery; the outbox sweep will");
    }
}

/// Re-enqueues pending deliveries whose next attempt is more than [`SWEEP_GRACE`] overdue.
/// Returns how many were queued.
pub async fn sweep(outbox: &Outbox<'_>) -> Result<usize> {
    let now = outbox.clock.now();
    let overdue = outbox.store.overdue_deliveries(now - SWEEP_GRACE, SWEEP_BATCH).await?;
    let mut queued = 0;
    for mut delivery in overdue {
        let expected_version = delivery.version;
        delivery.version += 1;
        delivery.next_attempt_at = Some(now);
        delivery.updated_at = now;
        match outbox.store.update_delivery(&delivery, expected_version).await {
            Ok(()) => {
                enqueue(outbox, &delivery, Duration::ZERO).await;
                queued += 1;
            }
            Err(Error::Conflict(_) | Error::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    if queued > 0 {
        tracing::info!(queued, "outbox sweep re-enqueued overdue deliveries");
    }
    Ok(queued)
}
