//! Probing the endpoints Posthorn disabled (SPEC §4): each gets a signed `webhook.ping` when its
//! probe is due, on a doubling backoff, until it answers with a 2xx — then it is enabled again
//! (`enabled_reason: "recovered"`) and a recovery of the window it was failing in starts, in one
//! transaction with the `webhook.endpoint.enabled` event — or until the probing period ends.

use std::time::Instant;

use serde_json::json;

use crate::model::error::{Error, Result};
use crate::model::ids::DeliveryId;
use crate::model::webhooks::{EventType, NewRecovery, Recovery, RecoveryTrigger, WebhookEndpoint};
use crate::services::webhooks::outbox::new_event;
use crate::services::webhooks::recovery::{Recovering, enable_and_recover};
use crate::services::webhooks::send::{Outgoing, send, signing_secrets};

/// How many due probes one run reads.
const PROBES_PER_RUN: usize = 100;

/// What one run of probes did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeReport {
    pub probed: usize,
    /// Endpoints that answered, were enabled again and are being recovered.
    pub recovered: usize,
}

/// Probes every endpoint whose probe is due, taking up none after `deadline`.
pub async fn probe_due(recovering: &Recovering<'_>, deadline: Instant) -> Result<ProbeReport> {
    let now = recovering.outbox.clock.now();
    let mut report = ProbeReport::default();
    for endpoint in recovering.outbox.store.probes_due(now, PROBES_PER_RUN).await? {
        if Instant::now() >= deadline {
            break;
        }
        let id = endpoint.id;
        match probe(recovering, endpoint).await {
            Ok(None) => {}
            Ok(Some(recovered)) => {
                report.probed += 1;
                report.recovered += usize::from(recovered);
            }
            Err(error) => tracing::error!(webhook_id = %id, %error, "probing an endpoint failed"),
        }
    }
    Ok(report)
}

/// Claims the probe by writing the next one first (so that of two runs one probes, and a crash
/// only waits for the next), then pings. `None` if another run claimed it; else whether the
/// endpoint answered and is being recovered.
async fn probe(recovering: &Recovering<'_>, mut endpoint: WebhookEndpoint) -> Result<Option<bool>> {
    let Some(probe) = endpoint.probe else { return Ok(None) };
    let now = recovering.outbox.clock.now();
    let expected = endpoint.version;
    endpoint.probe = probe.after_failure(recovering.settings, now);
    endpoint.version += 1;
    endpoint.updated_at = now;
    match recovering.outbox.store.update_webhook(&endpoint, expected).await {
        Ok(()) => {}
        Err(Error::Conflict(_) | Error::NotFound(_)) => return Ok(None),
        Err(error) => return Err(error),
    }
    if endpoint.probe.is_none() {
        tracing::info!(webhook_id = %endpoint.id, "last probe of a disabled endpoint; it stays disabled unless it answers");
    }
    if !ping(recovering, &endpoint, now).await? {
        return Ok(Some(false));
    }
    let new = NewRecovery {
        workspace_id: endpoint.workspace_id,
        webhook_id: endpoint.id,
        since: probe.failing_since,
        until: now,
        trigger: RecoveryTrigger::Automatic,
    };
    let recovery = Recovery::new(new, now);
    match enable_and_recover(&recovering.outbox, &endpoint, "recovered", recovery).await {
        Ok(recovery) => {
            tracing::info!(webhook_id = %endpoint.id, recovery_id = %recovery.id, "a probed endpoint answered; recovering it");
            Ok(Some(true))
        }
        // Its owner enabled it meanwhile.
        Err(Error::Conflict(_)) => Ok(Some(false)),
        Err(error) => Err(error),
    }
}

/// Sends a signed `webhook.ping` (stored nowhere) and says whether it got a 2xx.
async fn ping(recovering: &Recovering<'_>, endpoint: &WebhookEndpoint, now: time::OffsetDateTime) -> Result<bool> {
    let data = json!({"webhook_id": endpoint.id, "message": "Posthorn recovery probe"});
    let event = new_event(endpoint.workspace_id, EventType::WebhookPing, data, now);
    let secrets = signing_secrets(recovering.secrets, endpoint, now)?;
    let outgoing = Outgoing {
        event_id: event.id,
        event_type: event.event_type,
        delivery_id: DeliveryId::new(),
        body: &event.body,
    };
    let sent = send(recovering.outbound, &endpoint.url, &outgoing, &secrets, now).await;
    Ok(sent.succeeded())
}
