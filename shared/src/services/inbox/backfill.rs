//! Reading an account's inbox back in time (`POST /v1/accounts/{id}/inbox/backfill`): each of
//! its watched channels starts over from `since`, so the next sync-inbox run reads what arrived
//! since then. Items already stored are recognised by their ids and fire nothing again.

use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::inbox::InboxState;
use crate::services::connections::Accounts;

/// The furthest back a backfill reads: platforms keep notifications for about this long.
pub const MAX_BACKFILL: time::Duration = time::Duration::days(30);
/// How often a write that lost to a poll is re-read and re-applied.
const WRITE_ATTEMPTS: usize = 5;

/// Restarts every watched channel of the account from `since`; returns their states.
pub async fn backfill(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    account: ConnectionId,
    since: OffsetDateTime,
) -> Result<Vec<InboxState>> {
    let now = accounts.clock.now();
    if since > now || now - since > MAX_BACKFILL {
        return Err(Error::bad_request(format!(
            "since must be in the past, at most {} days ago",
            MAX_BACKFILL.whole_days()
        )));
    }
    accounts.store.get_connection(workspace, account).await?.ok_or(Error::NotFound("connection"))?;
    let mut restarted = Vec::new();
    for channel in accounts.store.connection_channels(workspace, account).await? {
        if let Some(state) = restart(accounts, workspace, channel.id, since, now).await? {
            restarted.push(state);
        }
    }
    if restarted.is_empty() {
        return Err(Error::Unprocessable(format!(
            "connection {account} has no channel whose inbox is polled (import its channels first; sandbox interactions are simulated)"
        )));
    }
    Ok(restarted)
}

async fn restart(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    channel: crate::model::ids::ChannelId,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<InboxState>> {
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut state) = accounts.store.get_inbox_state(workspace, channel).await? else {
            return Ok(None);
        };
        let expected = state.version;
        state.version += 1;
        state.start_at = since;
        state.sources.clear();
        state.next_poll_at = Some(now);
        match accounts.store.update_inbox_state(&state, expected).await {
            Ok(()) => return Ok(Some(state)),
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(format!("channel {channel} is being polled; try again")))
}
