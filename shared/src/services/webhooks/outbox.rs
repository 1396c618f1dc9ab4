//! The outbox (SPEC §4): a state change, the event it causes and one delivery per subscribed
//! endpoint are written to the store before anything is queued. The change and the event are
//! one transaction, so neither is ever stored without the other. When the deliveries fit in that
//! transaction they go with it; a larger fan-out stores the event with the endpoints it goes to,
//! then writes the deliveries in transactions of at most [`MAX_ITEMS_PER_TRANSACTION`] (their
//! ids derived from the event and the endpoint, so a second try never writes a second
//! delivery). The sweep completes a fan-out that a crash interrupted and re-enqueues deliveries
//! whose next attempt is long overdue, so a crash or a queue outage loses nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use crate::model::times::rfc3339;
use crate::model::webhooks::WebhookEndpoint;
use crate::model::webhooks::catalog::EventType;
use crate::model::webhooks::{Delivery, DeliveryStatus, Event};
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::{Condition, MAX_ITEMS_PER_TRANSACTION, Outcome, PageRequest, Record, Store, Write};

/// How overdue a pending delivery (or an unfinished fan-out) must be before the sweep decides
/// its message was lost (or its writer died).
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

/// Emits an event to every active (or probed) endpoint of the workspace subscribed to it.
pub async fn emit(outbox: &Outbox<'_>, workspace_id: WorkspaceId, event_type: EventType, data: Value) -> Result<Event> {
    commit(outbox, Vec::new(), workspace_id, event_type, data).await
}

/// Writes `changes` (the state change, e.g. a post's next version) and the event it causes as
/// one transaction, then the event's deliveries to every active endpoint subscribed to it, and
/// queues them. If a change's condition fails, nothing is written: `Conflict`.
pub async fn commit(
    outbox: &Outbox<'_>,
    changes: Vec<Write>,
    workspace_id: WorkspaceId,
    event_type: EventType,
    data: Value,
) -> Result<Event> {
    let endpoints = subscribed_endpoints(outbox, workspace_id, event_type).await?;
    let targets: Vec<WebhookId> = endpoints.iter().map(|endpoint| endpoint.id).collect();
    let event = new_event(workspace_id, event_type, data, outbox.clock.now());
    commit_to(outbox, changes, event, &targets).await.map(|(event, _)| event)
}

/// Like [`commit`], for an event about one endpoint (disabled, enabled, recovered): every other
/// subscribed endpoint of the workspace gets it, the endpoint concerned never does.
pub async fn commit_about(
    outbox: &Outbox<'_>,
    changes: Vec<Write>,
    concerned: &WebhookEndpoint,
    event_type: EventType,
    data: Value,
) -> Result<Event> {
    let workspace_id = concerned.workspace_id;
    let endpoints = subscribed_endpoints(outbox, workspace_id, event_type).await?;
    let targets: Vec<WebhookId> =
        endpoints.iter().map(|endpoint| endpoint.id).filter(|id| *id != concerned.id).collect();
    let event = new_event(workspace_id, event_type, data, outbox.clock.now());
    commit_to(outbox, changes, event, &targets).await.map(|(event, _)| event)
}

/// Emits an event to the given endpoints only (e.g. a test send).
pub async fn emit_to(
    outbox: &Outbox<'_>,
    workspace_id: WorkspaceId,
    event_type: EventType,
    data: Value,
    endpoints: &[WebhookEndpoint],
) -> Result<(Event, Vec<Delivery>)> {
    let targets: Vec<WebhookId> = endpoints.iter().map(|endpoint| endpoint.id).collect();
    let event = new_event(workspace_id, event_type, data, outbox.clock.now());
    commit_to(outbox, Vec::new(), event, &targets).await
}

/// The event with its deliveries, committed with `changes` (see [`commit`]).
async fn commit_to(
    outbox: &Outbox<'_>,
    changes: Vec<Write>,
    mut event: Event,
    targets: &[WebhookId],
) -> Result<(Event, Vec<Delivery>)> {
    let deliveries: Vec<Delivery> =
        targets.iter().map(|webhook| new_delivery(&event, *webhook, event.created_at)).collect();
    let fits = changes.len() + 1 + deliveries.len() <= MAX_ITEMS_PER_TRANSACTION;
    if !fits {
        event.fanout = targets.to_vec();
    }
    let change_count = changes.len();
    let mut writes = changes;
    writes.push(Write::Put(event.document()?, Condition::Absent));
    if fits {
        for delivery in &deliveries {
            writes.push(Write::Put(delivery.document()?, Condition::Absent));
        }
    }
    match outbox.store.transact(writes).await? {
        Outcome::Written => {}
        Outcome::Refused { item } if item < change_count => {
            return Err(Error::Conflict("the record changed meanwhile; read it and try again".into()));
        }
        Outcome::Refused { .. } => return Err(Error::Conflict(format!("event {} already exists", event.id))),
    }
    if fits {
        enqueue_all(outbox, &deliveries).await;
    } else {
        fan_out(outbox, &event, &deliveries).await?;
        event.fanout.clear();
    }
    Ok((event, deliveries))
}

/// Writes a large fan-out's deliveries, one transaction per chunk, queues them, and marks the
/// event's fan-out finished. Deliveries a crashed earlier try already wrote are kept as they are.
async fn fan_out(outbox: &Outbox<'_>, event: &Event, deliveries: &[Delivery]) -> Result<()> {
    for chunk in deliveries.chunks(MAX_ITEMS_PER_TRANSACTION) {
        let writes = chunk.iter().map(|d| Ok(Write::Put(d.document()?, Condition::Absent))).collect::<Result<_>>()?;
        if let Outcome::Refused { .. } = outbox.store.transact(writes).await? {
            // Some were written before a crash: write the others one by one, leaving those be.
            for delivery in chunk {
                outbox.store.write(Write::Put(delivery.document()?, Condition::Absent)).await?;
            }
        }
        enqueue_all(outbox, chunk).await;
    }
    let finished = Event { fanout: Vec::new(), ..event.clone() };
    outbox.store.write(Write::Put(finished.document()?, Condition::Present)).await.map(drop)
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
    Event { id, workspace_id, event_type, body: body.to_string(), created_at: now, fanout: Vec::new() }
}

/// The pending delivery of `event` to `webhook`, due at once.
pub fn new_delivery(event: &Event, webhook: WebhookId, now: OffsetDateTime) -> Delivery {
    Delivery {
        id: DeliveryId::of(event.id, webhook),
        workspace_id: event.workspace_id,
        webhook_id: webhook,
        event_id: event.id,
        event_type: event.event_type,
        status: DeliveryStatus::Pending,
        version: 0,
        attempts: Vec::new(),
        attempts_dropped: 0,
        schedule_start: 0,
        next_attempt_at: Some(now),
        recovery: None,
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
        // A disabled endpoint that is probed gets its deliveries too; they fail at once (the
        // worker sends nothing to it) and are what its recovery sends once it answers again.
        let receiving = |endpoint: &WebhookEndpoint| endpoint.active || endpoint.probe.is_some();
        endpoints.extend(
            page.items.into_iter().filter(|endpoint| receiving(endpoint) && endpoint.events.accepts(event_type)),
        );
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(endpoints);
        }
    }
}

async fn enqueue_all(outbox: &Outbox<'_>, deliveries: &[Delivery]) {
    for delivery in deliveries {
        enqueue(outbox, delivery, Duration::ZERO).await;
    }
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

/// Completes the fan-outs a crash interrupted, then re-enqueues pending deliveries whose next
/// attempt is more than [`SWEEP_GRACE`] overdue. Returns how many deliveries were queued.
pub async fn sweep(outbox: &Outbox<'_>) -> Result<usize> {
    let now = outbox.clock.now();
    for event in outbox.store.unfinished_fanouts(now - SWEEP_GRACE, SWEEP_BATCH).await? {
        tracing::warn!(event_id = %event.id, endpoints = event.fanout.len(), "completing an interrupted fan-out");
        let deliveries: Vec<Delivery> =
            event.fanout.iter().map(|webhook| new_delivery(&event, *webhook, event.created_at)).collect();
        fan_out(outbox, &event, &deliveries).await?;
    }
    let overdue = outbox.store.overdue_deliveries(now - SWEEP_GRACE, SWEEP_BATCH).await?;
    let mut queued = 0;
    for mut delivery in overdue {
        let expected_version = delivery.version;
        delivery.version += 1;
        delivery.next_attempt_at = Some(now);
        delivery.updated_at = now;
        match outbox.store.update_delivery(&delivery, expected_version, DeliveryStatus::Pending).await {
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
