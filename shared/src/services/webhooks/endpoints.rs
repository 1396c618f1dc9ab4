//! Changes to webhook endpoints: each a write conditional on the version that was read, re-applied
//! to a fresh read when another write got in first, so no change — least of all a new secret —
//! is lost to a concurrent one (an edit, a rotation, the worker disabling a failing endpoint).

use serde_json::Value;

use crate::model::error::{Error, Result};
use crate::model::ids::{WebhookId, WorkspaceId};
use crate::model::webhooks::{EventType, WebhookEndpoint};
use crate::ports::clock::Clock;
use crate::ports::store::{Condition, Record, Store, Write};
use crate::services::webhooks::outbox::{Outbox, commit_about};

/// How often a change is re-applied after losing a race before the write gives up.
const WRITE_ATTEMPTS: u32 = 10;

/// Reads the endpoint, lets `change` edit it and writes it as its next version, again from a
/// fresh read while another write gets in first. `change` returns whether there is anything to
/// write, or an error that stops the update. `NotFound` if there is no such endpoint.
pub async fn update_endpoint(
    store: &dyn Store,
    clock: &dyn Clock,
    workspace: WorkspaceId,
    id: WebhookId,
    mut change: impl FnMut(&mut WebhookEndpoint) -> Result<bool>,
) -> Result<WebhookEndpoint> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut endpoint = store.get_webhook(workspace, id).await?.ok_or(Error::NotFound("webhook"))?;
        if !change(&mut endpoint)? {
            return Ok(endpoint);
        }
        let expected = endpoint.version;
        endpoint.version += 1;
        endpoint.updated_at = clock.now();
        match store.update_webhook(&endpoint, expected).await {
            Ok(()) => return Ok(endpoint),
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(format!("webhook {id} keeps changing; try again")))
}

/// What a change to an endpoint amounts to.
pub enum EndpointChange {
    /// Nothing to write.
    Unchanged,
    /// A change nobody is told about (a new name, url or event list).
    Quiet,
    /// A change the workspace's other endpoints are told about with this event, committed with
    /// `writes` (say, the recovery it starts) in one transaction.
    Announced { event_type: EventType, data: Value, writes: Vec<Write> },
}

/// Like [`update_endpoint`], for changes that may fire an event about the endpoint (it was
/// disabled or enabled): the endpoint's next version, the event and the change's other writes
/// are one outbox transaction, so no one learns of a change that was not made, nor misses one
/// that was.
pub async fn change_endpoint(
    outbox: &Outbox<'_>,
    workspace: WorkspaceId,
    id: WebhookId,
    mut change: impl FnMut(&mut WebhookEndpoint) -> Result<EndpointChange>,
) -> Result<WebhookEndpoint> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut endpoint = outbox.store.get_webhook(workspace, id).await?.ok_or(Error::NotFound("webhook"))?;
        let change = change(&mut endpoint)?;
        if let EndpointChange::Unchanged = change {
            return Ok(endpoint);
        }
        let expected = endpoint.version;
        endpoint.version += 1;
        endpoint.updated_at = outbox.clock.now();
        let written = match change {
            EndpointChange::Unchanged | EndpointChange::Quiet => outbox.store.update_webhook(&endpoint, expected).await,
            EndpointChange::Announced { event_type, data, mut writes } => {
                writes.insert(0, Write::Put(endpoint.document()?, Condition::Version(expected)));
                commit_about(outbox, writes, &endpoint, event_type, data).await.map(drop)
            }
        };
        match written {
            Ok(()) => return Ok(endpoint),
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(format!("webhook {id} keeps changing; try again")))
}
