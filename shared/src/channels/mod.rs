//! Connections and their channels: the accounts a workspace connected, with their tokens sealed,
//! and the profiles, pages and organizations those accounts can post to.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::Sealed;
use crate::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::platforms::Platform;

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
    pub access_token: Sealed,
    pub refresh_token: Option<Sealed>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub status: ConnectionStatus,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
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
