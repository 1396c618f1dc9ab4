//! Push subscriptions (SPEC §8): Facebook Pages and Instagram accounts push their comments and
//! messages only to apps subscribed to them. A channel of such a platform is subscribed when it is
//! stored (and again by the next import-channels while that failed), and unsubscribed before it
//! is deleted; whether subscribing worked is kept on the channel's inbox state, which
//! `GET /v1/connections/{id}` shows, so a failure is seen, never swallowed.

use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::error::{Error, Result};
use crate::model::inbox::{InboxState, PushSubscription};
use crate::ports::platforms::PlatformError;
use crate::ports::store::{Condition, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::sync::{CallError, with_fresh_token};

/// Whether `channel`'s platform pushes only to subscribed apps.
pub fn needs_subscription(accounts: &Accounts<'_>, channel: &Channel) -> bool {
    accounts.platforms.inbox(channel.platform).is_some_and(|client| client.subscribes_to_push())
}

/// Subscribes the app to `channel`'s pushes where its platform needs it, unless it already is,
/// and notes the outcome on the channel's inbox state.
pub async fn subscribe(accounts: &Accounts<'_>, connection: &Connection, channel: &Channel) -> Result<()> {
    if !needs_subscription(accounts, channel) {
        return Ok(());
    }
    let state = accounts.store.get_inbox_state(channel.workspace_id, channel.id).await?;
    if state.as_ref().and_then(|state| state.push.as_ref()).is_some_and(|push| push.subscribed) {
        return Ok(());
    }
    let outcome = call(accounts, connection, channel, Change::Subscribe).await?;
    let push = PushSubscription { subscribed: outcome.is_ok(), error: outcome.err(), at: accounts.clock.now() };
    if let Some(error) = &push.error {
        tracing::warn!(channel_id = %channel.id, %error, "subscribing to the channel's pushes failed");
    }
    note(accounts, channel, state, push).await
}

/// Unsubscribes the app from `channel`'s pushes where its platform needs it; what the platform
/// said when that failed.
pub async fn unsubscribe(
    accounts: &Accounts<'_>,
    connection: &Connection,
    channel: &Channel,
) -> Result<Option<String>> {
    if !needs_subscription(accounts, channel) {
        return Ok(None);
    }
    Ok(call(accounts, connection, channel, Change::Unsubscribe).await?.err())
}

enum Change {
    Subscribe,
    Unsubscribe,
}

/// The platform call, as the channel; a platform's refusal (or an ended connection) is the
/// message, a store failure the error.
async fn call(
    accounts: &Accounts<'_>,
    connection: &Connection,
    channel: &Channel,
    change: Change,
) -> Result<Result<(), String>> {
    let client = accounts.platforms.inbox(channel.platform).ok_or(Error::NotFound("inbox adapter"))?.clone();
    let change = &change;
    let outcome = with_fresh_token(accounts, connection, Some(channel), |auth| {
        let client = client.clone();
        async move {
            match change {
                Change::Subscribe => client.subscribe_push(&auth).await,
                Change::Unsubscribe => client.unsubscribe_push(&auth).await,
            }
        }
    })
    .await;
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(CallError::Internal(error)) => Err(error),
        Err(refused) => Ok(Err(PlatformError::from(refused).message)),
    }
}

/// Stores `push` on the channel's inbox state, creating the state (not polled) if it has none.
async fn note(
    accounts: &Accounts<'_>,
    channel: &Channel,
    state: Option<InboxState>,
    push: PushSubscription,
) -> Result<()> {
    match state {
        Some(mut state) => {
            let expected = state.version;
            state.version += 1;
            state.push = Some(push);
            accounts.store.update_inbox_state(&state, expected).await
        }
        None => {
            let mut state = InboxState::new(
                channel.workspace_id,
                channel.connection_id,
                channel.id,
                channel.platform,
                channel.created_at,
            );
            state.next_poll_at = None;
            state.push = Some(push);
            accounts.store.write(Write::Put(state.document()?, Condition::Absent)).await.map(drop)
        }
    }
}
