//! Recovering what a receiver missed (SPEC §4). A recovery sends an endpoint's failed deliveries
//! of a time window once more, oldest first, through the normal worker (same event id, signed
//! afresh), at most `rate_per_second` a second. Process-queue advances every running recovery:
//! it counts the deliveries in flight that settled, takes up the next failed ones from its
//! endpoint's failures index after the stored cursor, saves the record, and only then hands them
//! to the queue, each delayed to its send time. A run that dies after the save leaves deliveries
//! taken up but still failed; the next run sees they carry no mark of the recovery and sends them,
//! so a crash delays a recovery and never skips or repeats a delivery.

use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;

use crate::adapters::outbound::OutboundClient;
use crate::model::crypto::SecretBox;
use crate::model::error::{Error, Result};
use crate::model::ids::DeliveryId;
use crate::model::times::rfc3339;
use crate::model::webhooks::{
    Delivery, DeliveryStatus, EventType, InFlight, NewRecovery, Recovery, RecoverySettings, RecoveryState,
    RecoveryTrigger, WebhookEndpoint,
};
use crate::ports::store::{Condition, Outcome, Record, Write};
use crate::services::webhooks::endpoints::{EndpointChange, change_endpoint};
use crate::services::webhooks::outbox::{Outbox, commit_about, enqueue};

/// How many running recoveries one run reads.
const RECOVERIES_PER_RUN: usize = 100;

/// What recovering writes through (the outbox: store, queue, clock), how fast it sends, and what
/// probes a disabled endpoint (the outbound client, the sealed signing secrets).
#[derive(Clone, Copy)]
pub struct Recovering<'a> {
    pub outbox: Outbox<'a>,
    pub settings: &'a RecoverySettings,
    pub outbound: &'a OutboundClient,
    pub secrets: &'a SecretBox,
}

/// What one run did to the running recoveries.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryReport {
    /// Deliveries handed to the queue to be sent again.
    pub sent: usize,
    /// Recoveries that finished (completed or stopped).
    pub finished: usize,
}

/// Starts a recovery of `endpoint`'s failed deliveries created in `[since, until)`. A disabled
/// endpoint is a `Conflict` unless `enable`, which re-enables it in the same transaction. One
/// recovery of an endpoint runs at a time.
pub async fn start(
    recovering: &Recovering<'_>,
    endpoint: &WebhookEndpoint,
    since: OffsetDateTime,
    until: OffsetDateTime,
    enable: bool,
) -> Result<Recovery> {
    if let Some(running) = recovering
        .outbox
        .store
        .latest_recovery(endpoint.workspace_id, endpoint.id)
        .await?
        .filter(|latest| latest.state == RecoveryState::Running)
    {
        return Err(Error::Conflict(format!("recovery {} of this endpoint is still running", running.id)));
    }
    let now = recovering.outbox.clock.now();
    let new = NewRecovery {
        workspace_id: endpoint.workspace_id,
        webhook_id: endpoint.id,
        since,
        until,
        trigger: RecoveryTrigger::Manual,
    };
    let recovery = Recovery::new(new, now);
    if endpoint.active {
        recovering.outbox.store.write(Write::Put(recovery.document()?, Condition::Absent)).await?;
        return Ok(recovery);
    }
    if !enable {
        return Err(Error::Conflict(
            "the endpoint is disabled; enable it first (PATCH {\"active\": true}) or pass \"enable\": true".into(),
        ));
    }
    enable_and_recover(&recovering.outbox, endpoint, "manual", recovery).await
}

/// Re-enables `endpoint` for `reason` and starts `recovery`, with the `webhook.endpoint.enabled`
/// event, in one transaction.
pub async fn enable_and_recover(
    outbox: &Outbox<'_>,
    endpoint: &WebhookEndpoint,
    reason: &'static str,
    recovery: Recovery,
) -> Result<Recovery> {
    let document = recovery.document()?;
    let now = outbox.clock.now();
    change_endpoint(outbox, endpoint.workspace_id, endpoint.id, |endpoint| {
        if endpoint.active {
            return Err(Error::Conflict("the endpoint was enabled meanwhile; start the recovery again".into()));
        }
        enable(endpoint, reason, now);
        Ok(EndpointChange::Announced {
            event_type: EventType::WebhookEndpointEnabled,
            data: enabled_data(endpoint, Some(&recovery)),
            writes: vec![Write::Put(document.clone(), Condition::Absent)],
        })
    })
    .await?;
    Ok(recovery)
}

/// Switches a disabled endpoint on again at `now`, saying why.
pub fn enable(endpoint: &mut WebhookEndpoint, reason: &str, now: OffsetDateTime) {
    endpoint.active = true;
    endpoint.enabled_at = Some(now);
    endpoint.disabled_reason = None;
    endpoint.enabled_reason = Some(reason.to_string());
    endpoint.probe = None;
}

/// The data of `webhook.endpoint.enabled`.
pub fn enabled_data(endpoint: &WebhookEndpoint, recovery: Option<&Recovery>) -> serde_json::Value {
    json!({
        "webhook_id": endpoint.id,
        "url": endpoint.url,
        "reason": endpoint.enabled_reason,
        "recovery_id": recovery.map(|recovery| recovery.id),
    })
}

/// Advances every running recovery once, taking up no new one after `deadline`.
pub async fn advance_running(recovering: &Recovering<'_>, deadline: Instant) -> Result<RecoveryReport> {
    let now = recovering.outbox.clock.now();
    let mut report = RecoveryReport::default();
    for recovery in recovering.outbox.store.running_recoveries(now, RECOVERIES_PER_RUN).await? {
        if Instant::now() >= deadline {
            break;
        }
        let id = recovery.id;
        match advance(recovering, recovery).await {
            Ok(step) => {
                report.sent += step.sent;
                report.finished += usize::from(step.finished);
            }
            Err(error) => {
                tracing::error!(recovery_id = %id, %error, "advancing a recovery failed; the next run resumes it")
            }
        }
    }
    Ok(report)
}

/// What one step of one recovery did.
#[derive(Debug, Default)]
struct Step {
    sent: usize,
    finished: bool,
}

/// Counts what settled, takes up what the rate allows, saves, then sends.
async fn advance(recovering: &Recovering<'_>, mut recovery: Recovery) -> Result<Step> {
    let store = recovering.outbox.store;
    let now = recovering.outbox.clock.now();
    let endpoint = store.get_webhook(recovery.workspace_id, recovery.webhook_id).await?;
    let sendable = endpoint.as_ref().is_some_and(|endpoint| endpoint.active);
    let expected = recovery.version;

    let mut to_send = settle_in_flight(recovering, &mut recovery, now, sendable).await?;
    if sendable && !recovery.scanned {
        to_send.extend(take_up(recovering, &mut recovery, now).await?);
    }
    let finished = recovery.in_flight.is_empty() && (recovery.scanned || !sendable);
    if finished {
        finish(&mut recovery, sendable, now);
    }
    recovery.version += 1;
    recovery.updated_at = now;
    let save = Write::Put(recovery.document()?, Condition::Version(expected));
    let saved = match (&endpoint, finished) {
        (Some(endpoint), true) => {
            let data = completed_data(&recovery);
            commit_about(&recovering.outbox, vec![save], endpoint, EventType::WebhookRecoveryCompleted, data)
                .await
                .map(drop)
        }
        _ => match store.write(save).await? {
            Outcome::Written => Ok(()),
            Outcome::Refused { .. } => Err(Error::Conflict(format!("recovery {} moved on meanwhile", recovery.id))),
        },
    };
    match saved {
        Ok(()) => {}
        // Another run advanced it first; what this one took up, that one took up too.
        Err(Error::Conflict(_)) => return Ok(Step::default()),
        Err(error) => return Err(error),
    }
    let sent = to_send.len();
    for (delivery, at) in to_send {
        send_again(recovering, &recovery, delivery, at, now).await?;
    }
    Ok(Step { sent, finished })
}

/// Counts the deliveries in flight whose recovery attempt settled and drops them; returns those
/// taken up but not sent yet (a run died between saving and sending), to send now. Deliveries not
/// due yet are not read.
async fn settle_in_flight(
    recovering: &Recovering<'_>,
    recovery: &mut Recovery,
    now: OffsetDateTime,
    sendable: bool,
) -> Result<Vec<(Delivery, OffsetDateTime)>> {
    let mut unsent = Vec::new();
    let mut waiting = Vec::new();
    for entry in std::mem::take(&mut recovery.in_flight) {
        if entry.at > now {
            waiting.push(entry);
            continue;
        }
        let delivery = recovering.outbox.store.get_delivery(recovery.workspace_id, entry.delivery_id).await?;
        match delivery {
            None => recovery.failed += 1,
            Some(delivery) if delivery.recovery == Some(recovery.id) => match delivery.status {
                DeliveryStatus::Delivered => recovery.delivered += 1,
                DeliveryStatus::Failed => recovery.failed += 1,
                DeliveryStatus::Pending => waiting.push(entry),
            },
            Some(delivery) if delivery.status == DeliveryStatus::Failed && sendable => {
                waiting.push(entry);
                unsent.push((delivery, entry.at.max(now)));
            }
            // Sent by someone else meanwhile (a manual retry), or no longer to be sent.
            Some(_) => recovery.total -= 1,
        }
    }
    recovery.in_flight = waiting;
    Ok(unsent)
}

/// Takes up the next failed deliveries of the window, as many as the rate and the room in flight
/// allow, each with its send time; marks the scan done at the window's end.
async fn take_up(
    recovering: &Recovering<'_>,
    recovery: &mut Recovery,
    now: OffsetDateTime,
) -> Result<Vec<(Delivery, OffsetDateTime)>> {
    let room = recovery.room(now, recovering.settings.rate_per_second);
    if room == 0 {
        return Ok(Vec::new());
    }
    let from = recovery.cursor.unwrap_or_else(|| DeliveryId::lowest_at(recovery.since));
    // One more than wanted: the cursor's own delivery is read again if it failed again.
    let limit = room + 1;
    let page =
        recovering.outbox.store.failed_deliveries(recovery.workspace_id, recovery.webhook_id, from, limit).await?;
    let read = page.len();
    let mut taken = Vec::new();
    let mut window_ended = false;
    let after = recovery.cursor;
    for delivery in page.into_iter().filter(|delivery| Some(delivery.id) > after) {
        if recovery.ends_before(delivery.id) {
            window_ended = true;
            break;
        }
        if taken.len() == room {
            break;
        }
        let at = recovery.next_send_time(now, recovering.settings.rate_per_second);
        recovery.in_flight.push(InFlight { delivery_id: delivery.id, at });
        recovery.cursor = Some(delivery.id);
        recovery.total += 1;
        taken.push((delivery, at));
    }
    // Fewer than asked for: the index has nothing more (a break for room needs one more item).
    recovery.scanned = window_ended || read < limit;
    Ok(taken)
}

fn finish(recovery: &mut Recovery, sendable: bool, now: OffsetDateTime) {
    recovery.finished_at = Some(now);
    if sendable {
        recovery.state = RecoveryState::Completed;
    } else {
        recovery.state = RecoveryState::Stopped;
        recovery.stopped_reason = Some("the endpoint was disabled or deleted before the recovery finished".into());
    }
}

fn completed_data(recovery: &Recovery) -> serde_json::Value {
    json!({
        "webhook_id": recovery.webhook_id,
        "recovery_id": recovery.id,
        "state": recovery.state,
        "trigger": recovery.trigger,
        "since": rfc3339(recovery.since),
        "until": rfc3339(recovery.until),
        "total": recovery.total,
        "delivered": recovery.delivered,
        "failed": recovery.failed,
    })
}

/// Makes a failed delivery pending again for one attempt at `at`, marked as this recovery's, and
/// queues it delayed to then. A delivery changed meanwhile is left to the next run to count.
async fn send_again(
    recovering: &Recovering<'_>,
    recovery: &Recovery,
    mut delivery: Delivery,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    let expected = delivery.version;
    delivery.version += 1;
    delivery.status = DeliveryStatus::Pending;
    delivery.recovery = Some(recovery.id);
    delivery.schedule_start = delivery.attempts_made();
    delivery.next_attempt_at = Some(at);
    delivery.updated_at = now;
    match recovering.outbox.store.update_delivery(&delivery, expected, DeliveryStatus::Failed).await {
        Ok(()) => {
            let delay = Duration::try_from(at - now).unwrap_or_default();
            enqueue(&recovering.outbox, &delivery, delay).await;
            Ok(())
        }
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::webhooks::SEND_AHEAD;
    use crate::ports::queue::MAX_SEND_DELAY;

    #[test]
    fn sends_are_scheduled_within_what_a_queue_message_can_be_delayed() {
        assert!(std::time::Duration::try_from(SEND_AHEAD).unwrap() < MAX_SEND_DELAY);
    }
}
