//! Disconnecting: the app is unsubscribed from the channels' pushes (Facebook Pages, Instagram),
//! the grant is revoked at the platform where it allows, the connection's channels are deleted
//! (channel.deleted each), the connection and its sealed tokens are deleted, and
//! account.disconnected says whether the platform confirmed the revocation and, in
//! `unsubscribe_errors`, which unsubscriptions it refused.

use serde_json::Value;

use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::error::Result;
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::webhooks::EventType;
use crate::ports::store::{Condition, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::import::delete_channel;
use crate::services::connections::record::{app_of, auth_of, connector, get, refresh_token_of};
use crate::services::connections::{events, push};
use crate::services::webhooks::outbox::commit;

/// Removes a connection. A revocation the platform refuses or cannot answer is logged and the
/// connection is removed all the same: the user asked for Posthorn to forget it.
pub async fn disconnect(accounts: &Accounts<'_>, workspace: WorkspaceId, id: ConnectionId) -> Result<()> {
    let connection = get(accounts, workspace, id).await?;
    let connector = connector(accounts, connection.platform)?;
    let app = app_of(accounts, connector.as_ref(), &connection)?;
    let refresh_token = refresh_token_of(accounts, &connection)?;
    let channels = accounts.store.connection_channels(workspace, id).await?;
    let mut unsubscribe_errors = Vec::new();
    for channel in &channels {
        if let Some(error) = push::unsubscribe(accounts, &connection, channel).await? {
            unsubscribe_errors.push(serde_json::json!({"channel_id": channel.id, "error": error}));
        }
    }
    let revoked = match connector.revoke(&app, &auth_of(accounts, &connection)?, refresh_token.as_deref()).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(connection_id = %id, code = ?error.code, message = %error.message, "revocation failed");
            false
        }
    };
    let mut data = events::disconnected(&connection, revoked);
    if !unsubscribe_errors.is_empty() {
        data["unsubscribe_errors"] = serde_json::Value::Array(unsubscribe_errors);
    }
    remove(accounts, &connection, &channels, data).await
}

/// Deletes the connection's `channels` (channel.deleted each), its unfinished channel import and
/// the connection with its sealed tokens, announced by account.disconnected with `data`: how a
/// disconnect ends, and a deletion the platform asked for. `Conflict` if the connection is gone.
pub async fn remove(accounts: &Accounts<'_>, connection: &Connection, channels: &[Channel], data: Value) -> Result<()> {
    for channel in channels {
        delete_channel(accounts, channel).await?;
    }
    accounts.store.end_channel_import(connection.workspace_id, connection.id).await?;
    let removal = Write::Delete(connection.key(), Condition::Present);
    commit(&accounts.outbox(), vec![removal], connection.workspace_id, EventType::AccountDisconnected, data)
        .await
        .map(drop)
}
