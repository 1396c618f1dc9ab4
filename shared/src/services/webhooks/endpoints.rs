//! Changes to webhook endpoints: each a write conditional on the version that was read, re-applied
//! to a fresh read when another write got in first, so no change — least of all a new secret —
//! is lost to a concurrent one (an edit, a rotation, the worker disabling a failing endpoint).

use crate::model::error::{Error, Result};
use crate::model::ids::{WebhookId, WorkspaceId};
use crate::model::webhooks::WebhookEndpoint;
use crate::ports::clock::Clock;
use crate::ports::store::Store;

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
