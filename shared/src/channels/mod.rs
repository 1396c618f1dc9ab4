//! Connections and their channels: the accounts a workspace connected, with their tokens sealed,
//! and the profiles, pages and organizations those accounts can post to.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::Sealed;
use crate::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::platforms::{InstanceLimits, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// A refresh failed for good; the user must reconnect.
    Expired,
}

/// A connected account. Tokens are sealed (AES-256-GCM) and never leave the process in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub platform: Platform,
    /// The API base URL: a Mastodon instance, a Bluesky PDS, or the platform's default.
    pub base_url: String,
    pub platform_user_id: String,
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub profile_url: Option<String>,
    /// The scopes the platform granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub access_token: Sealed,
    pub refresh_token: Option<Sealed>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The OAuth client registered on the connection's instance (Mastodon); `None` where the
    /// client comes from configuration.
    #[serde(default)]
    pub app: Option<SealedApp>,
    pub status: ConnectionStatus,
    /// The text limits of the account's own instance (Mastodon), read at connect; `None`
    /// where the platform's hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_limits: Option<InstanceLimits>,
    /// While set and in the future, one sync holds the right to refresh the tokens: refreshes
    /// of one connection never run concurrently (single-use refresh tokens).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub refresh_lease_until: Option<OffsetDateTime>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Connection {
    /// A new active connection holding `access_token`, its profile still empty.
    pub fn new(workspace_id: WorkspaceId, platform: Platform, access_token: Sealed, now: OffsetDateTime) -> Self {
        Self {
            id: ConnectionId::new(),
            workspace_id,
            platform,
            base_url: String::new(),
            platform_user_id: String::new(),
            username: String::new(),
            display_name: None,
            avatar_url: None,
            profile_url: None,
            scopes: Vec::new(),
            access_token,
            refresh_token: None,
            expires_at: None,
            instance_limits: None,
            app: None,
            status: ConnectionStatus::Active,
            refresh_lease_until: None,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An OAuth client as stored: the secret sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedApp {
    pub client_id: String,
    pub client_secret: Option<Sealed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Profile,
    Page,
    Organization,
    Account,
}

/// Somewhere a post can go: one profile, page, organization or account of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub platform: Platform,
    /// The platform's id of the channel (page id, DID, organization URN…).
    pub platform_channel_id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// A token of the channel's own, where the platform has one (Facebook page tokens).
    pub channel_token: Option<Sealed>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Connects the built-in sandbox platform with `count` channels (`sandbox-1`, `sandbox-2`, …),
/// so the whole flow can be tried with no account, not even the connect flow. Returns the
/// channels.
pub async fn create_sandbox_channels(
    store: &dyn crate::store::Store,
    secrets: &crate::crypto::SecretBox,
    workspace_id: WorkspaceId,
    count: usize,
    now: OffsetDateTime,
) -> crate::Result<Vec<Channel>> {
    let connection = Connection {
        base_url: crate::platforms::sandbox::BASE_URL.into(),
        platform_user_id: crate::platforms::sandbox::USER_ID.into(),
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
