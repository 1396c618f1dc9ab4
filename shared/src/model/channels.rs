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

/// An import of a connection's channels that ran out of time, kept so that the next
/// import-channels call resumes it: the page of the platform's listing to read (again) and the
/// platform ids of the channels this pass has already stored. Channels the platform no longer
/// lists are deleted only once a pass completes, and the record with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelImport {
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    /// The cursor of the page to read; `None`: the first.
    pub from: Option<String>,
    pub stored: Vec<String>,
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
