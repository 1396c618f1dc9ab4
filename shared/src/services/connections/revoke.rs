//! What a platform says about its user's grant (SPEC §8): that they removed Posthorn's access
//! there (Meta's deauthorize callback) — every workspace's connection of that account is marked
//! revoked, its work stops and account.disconnected says `revoked_on_platform`, nothing is
//! deleted — or that they asked for their data to be deleted (the data-deletion callback).
//! A deletion removes the connections, their sealed tokens and channels at once and then the
//! interactions received on those channels, page by page within a deadline; a [`DataDeletion`]
//! record keeps what is left, so a deletion cut short resumes (`resume_data_deletions`), and its
//! code is what the platform shows its user to follow it. Both are idempotent: the platforms
//! retry their callbacks.

use tokio::time::Instant;

use crate::model::connections::{ChannelToPurge, Connection, ConnectionStatus, DataDeletion};
use crate::model::error::{Error, Result};
use crate::model::platforms::Platform;
use crate::model::webhooks::EventType;
use crate::ports::store::{Condition, InteractionFilter, PageRequest, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::disconnect::remove;
use crate::services::connections::events;
use crate::services::connections::record::update_committing;

/// Interactions deleted in one transaction (and read in one page).
const PURGE_PAGE: usize = 100;
/// Deletions resumed by one run.
const DELETIONS_PER_RUN: usize = 10;

/// Marks every workspace's connection of `platform`'s account `platform_user_id` revoked, firing
/// account.disconnected for each one this call revoked. Returns how many it revoked.
pub async fn revoke_on_platform(accounts: &Accounts<'_>, platform: Platform, platform_user_id: &str) -> Result<usize> {
    let detail = format!("the user removed the app on {}", platform.as_str());
    let mut revoked = 0;
    for connection in accounts.store.connections_of_account(platform, platform_user_id).await? {
        let revoke = |connection: &mut Connection| {
            let revoking = connection.status != ConnectionStatus::Revoked;
            connection.status = ConnectionStatus::Revoked;
            connection.refresh_lease_until = None;
            revoking
        };
        let announce = |connection: &Connection| {
            Some((EventType::AccountDisconnected, events::revoked_on_platform(connection, &detail)))
        };
        match update_committing(accounts, connection.workspace_id, connection.id, revoke, announce).await {
            Ok((_, true)) => revoked += 1,
            Ok((_, false)) | Err(Error::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(revoked)
}

/// Starts deleting what Posthorn keeps for `platform`'s account `platform_user_id` and goes on
/// until done or `deadline`. Returns the deletion, whose code the platform hands its user.
pub async fn delete_account_data(
    accounts: &Accounts<'_>,
    platform: Platform,
    platform_user_id: &str,
    deadline: Instant,
) -> Result<DataDeletion> {
    let deletion = DataDeletion {
        code: DataDeletion::new_code(),
        platform,
        platform_user_id: Some(platform_user_id.to_string()),
        connections_deleted: 0,
        interactions_deleted: 0,
        channels_to_purge: Vec::new(),
        requested_at: accounts.clock.now(),
        completed_at: None,
        version: 0,
    };
    accounts.store.create_data_deletion(&deletion).await?;
    advance(accounts, deletion, deadline).await
}

/// Goes on with deletions a deadline cut short, oldest first. Returns how many it completed.
pub async fn resume_data_deletions(accounts: &Accounts<'_>, deadline: Instant) -> Result<usize> {
    let pending = accounts.store.pending_data_deletions(accounts.clock.now(), DELETIONS_PER_RUN).await?;
    let mut completed = 0;
    for deletion in pending {
        if Instant::now() >= deadline {
            break;
        }
        completed += usize::from(advance(accounts, deletion, deadline).await?.completed_at.is_some());
    }
    Ok(completed)
}

/// The connections first (their channels noted for the purge before they go), then the
/// interactions of each noted channel; completed when none is left.
async fn advance(accounts: &Accounts<'_>, mut deletion: DataDeletion, deadline: Instant) -> Result<DataDeletion> {
    if let Some(user) = deletion.platform_user_id.clone() {
        for connection in accounts.store.connections_of_account(deletion.platform, &user).await? {
            delete_connection(accounts, &mut deletion, &connection).await?;
        }
    }
    while let Some(channel) = deletion.channels_to_purge.first().copied() {
        if Instant::now() >= deadline {
            return Ok(deletion);
        }
        let deleted = purge_page(accounts, channel).await?;
        deletion.interactions_deleted += deleted as u64;
        if deleted < PURGE_PAGE {
            deletion.channels_to_purge.remove(0);
            save(accounts, &mut deletion).await?;
        }
    }
    deletion.platform_user_id = None;
    deletion.completed_at = Some(accounts.clock.now());
    save(accounts, &mut deletion).await?;
    Ok(deletion)
}

/// Notes the connection's channels in the deletion (saved first, so a crash after it still
/// purges them), then deletes the channels and the connection with its tokens.
async fn delete_connection(
    accounts: &Accounts<'_>,
    deletion: &mut DataDeletion,
    connection: &Connection,
) -> Result<()> {
    let channels = accounts.store.connection_channels(connection.workspace_id, connection.id).await?;
    for channel in &channels {
        let noted = ChannelToPurge { workspace_id: channel.workspace_id, channel_id: channel.id };
        if !deletion.channels_to_purge.contains(&noted) {
            deletion.channels_to_purge.push(noted);
        }
    }
    deletion.connections_deleted += 1;
    save(accounts, deletion).await?;
    match remove(accounts, connection, &channels, events::data_deleted(connection)).await {
        Ok(()) | Err(Error::Conflict(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Deletes up to a page of the channel's interactions; returns how many.
async fn purge_page(accounts: &Accounts<'_>, channel: ChannelToPurge) -> Result<usize> {
    let filter = InteractionFilter { channel: Some(channel.channel_id), ..InteractionFilter::default() };
    let page = PageRequest { limit: PURGE_PAGE, cursor: None };
    let found = accounts.store.list_interactions(channel.workspace_id, filter, page).await?.items;
    let deletes: Vec<Write> =
        found.iter().map(|interaction| Write::Delete(interaction.key(), Condition::Always)).collect();
    if !deletes.is_empty() {
        accounts.store.transact(deletes).await?;
    }
    Ok(found.len())
}

async fn save(accounts: &Accounts<'_>, deletion: &mut DataDeletion) -> Result<()> {
    let expected = deletion.version;
    deletion.version += 1;
    accounts.store.update_data_deletion(deletion, expected).await
}
