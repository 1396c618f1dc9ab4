//! Connections: the accounts a workspace connected, with their tokens sealed; the single-use
//! OAuth `state` of a consent in progress; the OAuth clients registered on instances
//! (Mastodon); and the data deletions a platform asked for on behalf of its user.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::model::crypto::Sealed;
use crate::model::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::model::platforms::{InstanceLimits, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// A refresh failed for good; the user must reconnect.
    Expired,
    /// The user removed Posthorn's access on the platform (its deauthorize callback, or a token
    /// the platform says was revoked); the user must reconnect.
    Revoked,
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

/// A consent in progress: what `GET /functions/v1/connect` handed out, taken (and so used up)
/// by the callback. Bound to its workspace; refused after `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthState {
    /// The random `state` value sent to the platform.
    pub state: String,
    pub workspace_id: WorkspaceId,
    pub platform: Platform,
    pub redirect_uri: String,
    /// The API the code is exchanged at (the platform's, or the chosen Mastodon instance).
    pub base_url: String,
    /// The PKCE verifier, sealed; `None` where the platform takes no PKCE.
    pub pkce_verifier: Option<Sealed>,
    /// Epoch seconds: DynamoDB's TTL attribute, so abandoned states are deleted.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// Posthorn's OAuth client on one instance for one redirect URI (Mastodon registers apps per
/// instance, with their redirect URIs fixed at registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceApp {
    pub workspace_id: WorkspaceId,
    pub platform: Platform,
    pub base_url: String,
    pub redirect_uri: String,
    pub app: SealedApp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl InstanceApp {
    /// The key an instance app is stored under: a hash of platform, instance and redirect URI,
    /// so that URLs of any length and alphabet make a bounded key.
    pub fn key(platform: Platform, base_url: &str, redirect_uri: &str) -> String {
        let mut hash = Sha256::new();
        for part in [platform.as_str(), base_url, redirect_uri] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hex::encode(hash.finalize())
    }

    pub fn own_key(&self) -> String {
        Self::key(self.platform, &self.base_url, &self.redirect_uri)
    }
}

/// A deletion of everything Posthorn kept for one platform account, asked for by the platform on
/// its user's behalf (Meta's data-deletion callback). The connections, their tokens and channels
/// go at once; the interactions received on those channels are deleted channel by channel, and
/// `channels_to_purge` holds those still to do, so a deletion cut short by its deadline resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataDeletion {
    /// The confirmation code handed to the platform, and the key of the status page.
    pub code: String,
    pub platform: Platform,
    /// Whose data: kept only until the deletion completes.
    pub platform_user_id: Option<String>,
    pub connections_deleted: u32,
    pub interactions_deleted: u64,
    pub channels_to_purge: Vec<ChannelToPurge>,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
}

/// A deleted channel whose received interactions are still to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelToPurge {
    pub workspace_id: WorkspaceId,
    pub channel_id: ChannelId,
}

impl DataDeletion {
    /// A new confirmation code: random, unguessable, and safe in a URL path.
    pub fn new_code() -> String {
        format!("del_{}", ulid::Ulid::new().to_string().to_lowercase())
    }
}
