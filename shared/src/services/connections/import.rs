//! import-channels: the channels a connection can post to, as the platform lists them now,
//! upserted by their platform id — channel.created for new ones, channel.deleted for ones the
//! platform no longer lists. A call stops starting platform calls and channel writes after its
//! deadline and saves where it stands ([`ChannelImport`]); the next call resumes there, so a
//! long listing completes over several calls, each channel stored once per pass.
//! A channel of a platform whose inbox is polled is watched from the
//! moment it is stored: its inbox state is written with it (and removed with it), so sync-inbox
//! reads what arrives from then on; one of a platform that pushes only to subscribed apps is
//! subscribed (`push`).

use std::time::{Duration, Instant};

use crate::model::channels::{Channel, ChannelImport};
use crate::model::connections::Connection;
use crate::model::error::Result;
use crate::model::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::model::inbox::InboxState;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{Profile, RemoteChannel};
use crate::ports::store::{Condition, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::record::{connector, get};
use crate::services::connections::sync::with_fresh_token;
use crate::services::connections::{events, push};
use crate::services::webhooks::outbox::commit;

/// How long into a request import-channels starts platform calls and channel writes. What may
/// follow is the last page's calls (tests/tests/function_budgets.rs counts them against the
/// function's Timeout in template.yaml).
pub const IMPORT_RUN: Duration = Duration::from_secs(20);

/// What an import-channels call did.
#[derive(Debug)]
pub struct Imported {
    /// The channels this pass has stored so far, in the platform's order: once it is
    /// complete, every channel the platform lists.
    pub channels: Vec<Channel>,
    /// Whether the pass is complete: the whole listing read and the channels it no longer has
    /// deleted. When not, the next call continues it.
    pub complete: bool,
}

/// Lists the connection's channels at the platform page by page, stores them and returns them,
/// starting no page and no channel write after `deadline`.
pub async fn import_channels(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
    deadline: Instant,
) -> Result<Imported> {
    let connection = get(accounts, workspace, id).await?;
    let connector = connector(accounts, connection.platform)?;
    let profile = profile_of(&connection);
    let mut pass = accounts.store.get_channel_import(workspace, id).await?.unwrap_or(ChannelImport {
        workspace_id: workspace,
        connection_id: id,
        from: None,
        stored: Vec::new(),
    });
    let mut known = accounts.store.connection_channels(workspace, id).await?;
    loop {
        if Instant::now() >= deadline {
            return pause(accounts, &pass, known).await;
        }
        let page = with_fresh_token(accounts, &connection, None, |auth| {
            let (connector, profile, from) = (connector.clone(), &profile, pass.from.clone());
            async move { connector.list_channels(&auth, profile, from.as_deref()).await }
        })
        .await?;
        for listed in page.channels {
            if pass.stored.contains(&listed.platform_channel_id) {
                continue;
            }
            if Instant::now() >= deadline {
                return pause(accounts, &pass, known).await;
            }
            pass.stored.push(listed.platform_channel_id.clone());
            match known.iter().position(|c| c.platform_channel_id == listed.platform_channel_id) {
                Some(index) => {
                    known[index] = refresh_channel(accounts, &connection, known[index].clone(), listed).await?
                }
                None => known.push(create_channel(accounts, &connection, listed).await?),
            }
        }
        match page.next {
            Some(next) => pass.from = Some(next),
            None => break,
        }
    }
    let (channels, mut gone) = split_by_pass(&pass, known);
    while let Some(channel) = gone.last() {
        // Resumed, the pass reads its last page again (every channel on it already stored)
        // and goes on deleting.
        if Instant::now() >= deadline {
            return pause(accounts, &pass, [channels, gone].concat()).await;
        }
        delete_channel(accounts, channel).await?;
        gone.pop();
    }
    accounts.store.end_channel_import(workspace, id).await?;
    Ok(Imported { channels, complete: true })
}

/// Saves where an unfinished pass stands, for the next call.
async fn pause(accounts: &Accounts<'_>, pass: &ChannelImport, known: Vec<Channel>) -> Result<Imported> {
    accounts.store.save_channel_import(pass).await?;
    Ok(Imported { channels: split_by_pass(pass, known).0, complete: false })
}

/// The channels `pass` stored, in its order, and the others.
fn split_by_pass(pass: &ChannelImport, mut known: Vec<Channel>) -> (Vec<Channel>, Vec<Channel>) {
    let mut stored = Vec::with_capacity(pass.stored.len());
    for id in &pass.stored {
        if let Some(index) = known.iter().position(|c| &c.platform_channel_id == id) {
            stored.push(known.swap_remove(index));
        }
    }
    (stored, known)
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
    push::subscribe(accounts, connection, &channel).await?;
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
async fn refresh_channel(
    accounts: &Accounts<'_>,
    connection: &Connection,
    mut channel: Channel,
    listed: RemoteChannel,
) -> Result<Channel> {
    channel.name = listed.name;
    channel.kind = listed.kind;
    if let Some(token) = listed.channel_token {
        channel.channel_token = Some(accounts.secrets.seal(&token));
    }
    accounts.store.update_channel(&channel).await?;
    watch_existing(accounts, &channel).await?;
    push::subscribe(accounts, connection, &channel).await?;
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
