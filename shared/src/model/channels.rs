//! Channels: the profiles, pages and organizations a connected account can post to.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::crypto::Sealed;
use crate::model::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::model::platforms::Platform;

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
