//! The built-in sandbox connection the dev server and tests start with.

use time::OffsetDateTime;

use crate::adapters::platforms::sandbox;
use crate::model::channels::{Channel, ChannelKind};
use crate::model::connections::Connection;
use crate::model::crypto::SecretBox;
use crate::model::error::Result;
use crate::model::ids::{ChannelId, WorkspaceId};
use crate::model::platforms::Platform;
use crate::ports::store::Store;

/// Connects the built-in sandbox platform with `count` channels (`sandbox-1`, `sandbox-2`, …),
/// so the whole flow can be tried with no account, not even the connect flow. Returns the
/// channels.
pub async fn create_sandbox_channels(
    store: &dyn Store,
    secrets: &SecretBox,
    workspace_id: WorkspaceId,
    count: usize,
    now: OffsetDateTime,
) -> Result<Vec<Channel>> {
    let connection = Connection {
        base_url: sandbox::BASE_URL.into(),
        platform_user_id: sandbox::USER_ID.into(),
        username: "sandbox".into(),
        display_name: Some("Sandbox".into()),
        ..Connection::new(workspace_id, Platform::Sandbox, secrets.seal("sandbox-token"), now)
    };
    store.create_connection(&connection).await?;
    let mut channels = Vec::with_capacity(count);
    for number in 1..=count {
        let channel = Channel {
            id: ChannelId::new(),
            workspace_id,
            connection_id: connection.id,
            platform: Platform::Sandbox,
            platform_channel_id: format!("sandbox-{number}"),
            name: format!("Sandbox {number}"),
            kind: ChannelKind::Account,
            channel_token: None,
            created_at: now,
        };
        store.create_channel(&channel).await?;
        channels.push(channel);
    }
    Ok(channels)
}
