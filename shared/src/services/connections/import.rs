//! import-channels: the channels a connection can post to, as the platform lists them now,
//! upserted by their platform id — channel.created for new ones, channel.deleted for ones the
//! platform no longer lists. A channel of a platform whose inbox is polled is watched from the
//! moment it is stored: its inbox state is written with it (and removed with it), so sync-inbox
//! reads what arrives from then on.

use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::error::Result;
use crate::model::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::model::inbox::InboxState;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{Profile, RemoteChannel};
use crate::ports::store::{Condition, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::events;
use crate::services::connections::record::{connector, get};
use crate::services::connections::sync::with_fresh_token;
use crate::services::webhooks::outbox::commit;

/// Lists the connection's channels at the platform, stores them and returns them.
pub async fn import_channels(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
) -> Result<Vec<Channel>> {
    let connection = get(accounts, workspace, id).await?;
    let connector = connector(accounts, connection.platform)?;
    let profile = profile_of(&connection);
    let remote = with_fresh_token(accounts, &connection, None, |auth| {
        let (connector, profile) = (connector.clone(), &profile);
        async move { connector.list_channels(&auth, profile).await }
    })
    .await?;
    let mut stored = accounts.store.connection_channels(workspace, id).await?;
    let mut channels = Vec::with_capacity(remote.len());
    for listed in remote {
        let channel = match stored.iter().position(|c| c.platform_channel_id == listed.platform_channel_id) {
            Some(index) => refresh_channel(accounts, stored.swap_remove(index), listed).await?,
            None => create_channel(accounts, &connection, listed).await?,
        };
        channels.push(channel);
    }
    for gone in stored {
        delete_channel(accounts, &gone).await?;
    }
    Ok(channels)
}

/// Deletes a channel and emits channel.deleted. Posts already targeting it fail that target
/// with a clear error when they publish.
pub async fn delete_channel(accounts: &Accounts<'_>, channel: &Channel) -> Result<()> {
    let removal = Write::Delete(channel.key(), Condition::Present);
    let unwatch = Write::Delete(inbox_state(channel).key(), Condition::Always);
    let data = events::channel(channel);
    commit(&accounts.outbox(), vec![removal, unwatch], channel.workspace_id, EventType::ChannelDeleted, data)
        .await
        .map(drop)
}

async fn create_channel(accounts: &Accounts<'_>, connection: &Connection, listed: RemoteChannel) -> Result<Channel> {
    let channel = Channel {
        id: ChannelId::new(),
        workspace_id: connection.workspace_id,
        connection_id: connection.id,
        platform: connection.platform,
        platform_channel_id: listed.platform_channel_id,
        name: listed.name,
        kind: listed.kind,
        channel_token: listed.channel_token.as_deref().map(|token| accounts.secrets.seal(token)),
        created_at: accounts.clock.now(),
    };
    let mut writes = vec![Write::Put(channel.document()?, Condition::Absent)];
    if accounts.platforms.polls_inbox(channel.platform) {
        writes.push(Write::Put(inbox_state(&channel).document()?, Condition::Absent));
    }
    let data = events::channel(&channel);
    commit(&accounts.outbox(), writes, channel.workspace_id, EventType::ChannelCreated, data).await?;
    Ok(channel)
}

/// The inbox state of a channel watched from its creation on.
fn inbox_state(channel: &Channel) -> InboxState {
    InboxState::new(channel.workspace_id, channel.connection_id, channel.id, channel.platform, channel.created_at)
}

/// Watches a channel stored before its platform's inbox was polled (a deployment that predates
/// the inbox), from now on; a channel already watched is left as it is.
async fn watch_existing(accounts: &Accounts<'_>, channel: &Channel) -> Result<()> {
    if !accounts.platforms.polls_inbox(channel.platform) {
        return Ok(());
    }
    let state = InboxState::new(
        channel.workspace_id,
        channel.connection_id,
        channel.id,
        channel.platform,
        accounts.clock.now(),
    );
    accounts.store.write(Write::Put(state.document()?, Condition::Absent)).await.map(drop)
}

/// Brings a known channel up to date: its name and kind, and its own token if it has one.
async fn refresh_channel(accounts: &Accounts<'_>, mut channel: Channel, listed: RemoteChannel) -> Result<Channel> {
    channel.name = listed.name;
    channel.kind = listed.kind;
    if let Some(token) = listed.channel_token {
        channel.channel_token = Some(accounts.secrets.seal(&token));
    }
    accounts.store.update_channel(&channel).await?;
    watch_existing(accounts, &channel).await?;
    Ok(channel)
}

fn profile_of(connection: &Connection) -> Profile {
    Profile {
        platform_user_id: connection.platform_user_id.clone(),
        username: connection.username.clone(),
        display_name: connection.display_name.clone(),
        avatar_url: connection.avatar_url.clone(),
        profile_url: connection.profile_url.clone(),
    }
}
