//! The delivery worker: takes one queued delivery, makes one attempt, records it, and says what
//! the queue should do with the message. The SQS-triggered Lambda and the dev server's loop both
//! run this.

use std::time::Duration;

use time::OffsetDateTime;

use crate::adapters::outbound::{OutboundClient, REQUEST_TIMEOUT};
use crate::model::crypto::SecretBox;
use crate::model::error::{Error, Result};
use crate::model::ids::{WebhookId, WorkspaceId};
use crate::model::webhooks::WebhookEndpoint;
use crate::model::webhooks::{Attempt, Delivery, DeliveryStatus, EventType, Probe, RecoverySettings, RetrySchedule};
use crate::ports::clock::Clock;
use crate::ports::queue::{MAX_VISIBILITY, Queue, Receipt};
use crate::ports::store::{DeliveryFilter, PageRequest, Store};
use crate::services::webhooks::endpoints::{EndpointChange, change_endpoint};
use crate::services::webhooks::outbox::{DeliveryMessage, Outbox};
use crate::services::webhooks::send::{Outgoing, send, signing_secrets};

/// How long an attempt holds a delivery: a worker that dies mid-attempt frees it after this.
/// An attempt is bounded by the request timeout; twice that leaves room for the store writes
/// around it, and a crashed worker's deliveries resume within half a minute.
pub const ATTEMPT_LEASE: Duration = Duration::from_secs(2 * REQUEST_TIMEOUT.as_secs());
/// After this many consecutive deliveries failed for good, an endpoint is disabled.
pub const DISABLE_AFTER_FAILURES: usize = 20;

/// What delivering needs: the store of deliveries and endpoints, the queue, the outbound
/// client that makes each attempt, the sealed signing secrets and the retry schedule.
#[derive(Clone, Copy)]
pub struct Worker<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
    pub outbound: &'a OutboundClient,
    pub secrets: &'a SecretBox,
    pub retries: &'a RetrySchedule,
    /// How many of its newest attempts a delivery keeps.
    pub attempts_kept: usize,
    /// When an endpoint it disables is first probed.
    pub recovery: &'a RecoverySettings,
}

impl Worker<'_> {
    fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self.store, queue: self.queue, clock: self.clock }
    }
}

/// What to do with the queue message once the worker is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing more to send: delete the message.
    Done,
    /// Make the message visible again after this delay.
    RetryIn(Duration),
}

/// Processes one delivery message.
pub async fn process(worker: &Worker<'_>, message: DeliveryMessage) -> Result<Disposition> {
    let Some(delivery) = worker.store.get_delivery(message.workspace_id, message.delivery_id).await? else {
        return Ok(Disposition::Done);
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(Disposition::Done);
    }
    let now = worker.clock.now();
    if let Some(due) = delivery.next_attempt_at.filter(|due| *due > now) {
        return Ok(Disposition::RetryIn(until(now, due)));
    }
    let endpoint = worker.store.get_webhook(delivery.workspace_id, delivery.webhook_id).await?;
    match endpoint {
        Some(endpoint) if endpoint.active => attempt(worker, delivery, &endpoint, now).await,
        Some(_) => give_up(worker, delivery, "not sent: the endpoint is disabled", now).await,
        None => give_up(worker, delivery, "not sent: the endpoint was deleted", now).await,
    }
}

async fn attempt(
    worker: &Worker<'_>,
    delivery: Delivery,
    endpoint: &WebhookEndpoint,
    now: OffsetDateTime,
) -> Result<Disposition> {
    let Some(mut delivery) = claim(worker, delivery, now).await? else {
        return Ok(Disposition::Done);
    };
    let event = worker.store.get_event(delivery.workspace_id, delivery.event_id).await?.ok_or_else(|| {
        Error::Internal(format!("event {} of delivery {} is missing", delivery.event_id, delivery.id))
    })?;
    let secrets = signing_secrets(worker.secrets, endpoint, now)?;
    let outgoing =
        Outgoing { event_id: event.id, event_type: event.event_type, delivery_id: delivery.id, body: &event.body };
    let sent = send(worker.outbound, &endpoint.url, &outgoing, &secrets, now).await;

    let succeeded = sent.succeeded();
    let retry_after = sent.response.as_ref().filter(|r| matches!(r.status, 429 | 503)).and_then(|r| r.retry_after);
    delivery.record_attempt(sent.attempt, worker.attempts_kept);
    let finished_at = worker.clock.now();
    let disposition = if succeeded {
        delivery.status = DeliveryStatus::Delivered;
        delivery.next_attempt_at = None;
        Disposition::Done
    } else {
        let made = delivery.attempts_made() - delivery.schedule_start;
        // A recovery sends a delivery once: the recovery, not a schedule, decides what follows.
        let next = if delivery.recovery.is_some() { None } else { worker.retries.next_delay(made, retry_after) };
        match next {
            Some(delay) => {
                delivery.next_attempt_at = Some(finished_at + delay);
                Disposition::RetryIn(delay)
            }
            None => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                Disposition::Done
            }
        }
    };
    save(worker, &mut delivery, finished_at).await?;
    if delivery.status == DeliveryStatus::Failed {
        log_failed(&delivery);
        disable_if_failing(worker, endpoint).await?;
    }
    Ok(disposition)
}

/// Marks the delivery as being attempted, so a duplicate message cannot attempt it too.
/// `None` when another worker holds it.
async fn claim(worker: &Worker<'_>, mut delivery: Delivery, now: OffsetDateTime) -> Result<Option<Delivery>> {
    delivery.next_attempt_at = Some(now + ATTEMPT_LEASE);
    match save(worker, &mut delivery, now).await {
        Ok(()) => Ok(Some(delivery)),
        Err(Error::Conflict(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

async fn give_up(
    worker: &Worker<'_>,
    mut delivery: Delivery,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Disposition> {
    let attempt =
        Attempt { at: now, status_code: None, duration_ms: 0, error: Some(reason.into()), response_body: None };
    delivery.record_attempt(attempt, worker.attempts_kept);
    delivery.status = DeliveryStatus::Failed;
    delivery.next_attempt_at = None;
    match save(worker, &mut delivery, now).await {
        Ok(()) => {
            log_failed(&delivery);
            Ok(Disposition::Done)
        }
        Err(Error::Conflict(_)) => Ok(Disposition::Done),
        Err(error) => Err(error),
    }
}

/// The log line of a delivery that failed for good: the template's `FailedDeliveries` metric
/// counts these lines, so its text is fixed.
fn log_failed(delivery: &Delivery) {
    tracing::warn!(delivery_id = %delivery.id, webhook_id = %delivery.webhook_id, "delivery failed for good");
}

/// Writes the worker's change to a delivery, which was pending when read.
async fn save(worker: &Worker<'_>, delivery: &mut Delivery, now: OffsetDateTime) -> Result<()> {
    let expected_version = delivery.version;
    delivery.version += 1;
    delivery.updated_at = now;
    worker.store.update_delivery(delivery, expected_version, DeliveryStatus::Pending).await
}

/// Disables an endpoint whose last [`DISABLE_AFTER_FAILURES`] deliveries all failed for good.
async fn disable_if_failing(worker: &Worker<'_>, endpoint: &WebhookEndpoint) -> Result<()> {
    let page = PageRequest { limit: DISABLE_AFTER_FAILURES, cursor: None };
    let recent =
        worker.store.list_deliveries(endpoint.workspace_id, endpoint.id, DeliveryFilter::default(), page).await?;
    let all_failed = recent.items.len() == DISABLE_AFTER_FAILURES
        && recent.items.iter().all(|delivery| delivery.status == DeliveryStatus::Failed);
    if !all_failed {
        return Ok(());
    }
    let last_error = recent.items[0].attempts.last().and_then(|attempt| attempt.error.clone()).unwrap_or_default();
    let reason =
        format!("disabled after {DISABLE_AFTER_FAILURES} consecutive failed deliveries; last error: {last_error}");
    // Deliveries made up to one retry schedule before the oldest of them were failing meanwhile.
    let oldest = recent.items[DISABLE_AFTER_FAILURES - 1].created_at;
    let failing_since = oldest - time::Duration::try_from(worker.retries.span()).unwrap_or_default();
    let ended = recent.items.iter().map(|delivery| delivery.updated_at).min().unwrap_or(oldest);
    let disabled = disable_endpoint(worker, endpoint.workspace_id, endpoint.id, &reason, failing_since, ended).await;
    match disabled {
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Disables an active endpoint with `reason`, over whatever else changed it meanwhile, and tells
/// the workspace's other endpoints with `webhook.endpoint.disabled`. Unless it opted out, the
/// endpoint is probed from then on. Failures of which the first `ended` before the endpoint was
/// last enabled again leave it be: its owner (or a probe) enabled it past some of them.
pub async fn disable_endpoint(
    worker: &Worker<'_>,
    workspace: WorkspaceId,
    id: WebhookId,
    reason: &str,
    failing_since: OffsetDateTime,
    ended: OffsetDateTime,
) -> Result<WebhookEndpoint> {
    let now = worker.clock.now();
    change_endpoint(&worker.outbox(), workspace, id, |endpoint| {
        if !endpoint.active || endpoint.enabled_at.is_some_and(|enabled| enabled > ended) {
            return Ok(EndpointChange::Unchanged);
        }
        endpoint.active = false;
        endpoint.disabled_reason = Some(reason.to_string());
        endpoint.probe = endpoint.auto_recover.then(|| Probe::first(worker.recovery, failing_since, now));
        tracing::warn!(webhook_id = %endpoint.id, "endpoint disabled after consecutive failures");
        Ok(EndpointChange::Announced {
            event_type: EventType::WebhookEndpointDisabled,
            data: disabled_data(endpoint),
            writes: Vec::new(),
        })
    })
    .await
}

/// The data of `webhook.endpoint.disabled`.
pub fn disabled_data(endpoint: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "webhook_id": endpoint.id,
        "url": endpoint.url,
        "reason": endpoint.disabled_reason,
        "auto_recover": endpoint.auto_recover,
        "next_probe_at": endpoint.probe.map(|probe| crate::model::times::rfc3339(probe.next_at)),
    })
}

fn until(now: OffsetDateTime, due: OffsetDateTime) -> Duration {
    Duration::try_from(due - now).unwrap_or_default()
}

/// How a queue message was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Finished with and deleted.
    Deleted,
    /// Hidden until its next attempt is due.
    Delayed,
    /// Not processed: it becomes visible again after its visibility timeout, and lands in the
    /// dead-letter queue after too many receives.
    Failed,
}

/// Processes one queue message and settles it with the queue.
pub async fn settle(worker: &Worker<'_>, body: &str, receipt: &Receipt) -> Settled {
    let message: DeliveryMessage = match serde_json::from_str(body) {
        Ok(message) => message,
        Err(error) => {
            tracing::error!(error = %error, "unreadable delivery message");
            return Settled::Failed;
        }
    };
    let settled = match process(worker, message).await {
        Ok(Disposition::Done) => worker.queue.delete(receipt).await.map(|()| Settled::Deleted),
        Ok(Disposition::RetryIn(delay)) => {
            worker.queue.change_visibility(receipt, delay.min(MAX_VISIBILITY)).await.map(|()| Settled::Delayed)
        }
        Err(error) => Err(error),
    };
    settled.unwrap_or_else(|error| {
        tracing::error!(delivery_id = %message.delivery_id, error = %error, "delivery processing failed");
        Settled::Failed
    })
}
