//! The inbox (SPEC §8): the comments, mentions and DMs that arrive on connected accounts, kept
//! as interactions (one id per platform item, so each is stored once and fires its event once),
//! and what sync-inbox keeps per channel to poll them: a cursor per source, when to poll next.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::model::ids::{ChannelId, ConnectionId, InteractionId, PostId, WorkspaceId};
use crate::model::platforms::Platform;
use crate::model::times::rfc3339;
use crate::model::webhooks::EventType;

/// How long interactions are kept unless configured otherwise.
pub const DEFAULT_RETENTION: time::Duration = time::Duration::days(90);
/// The longest text an interaction keeps; a longer one is cut (platforms' own limits are far
/// below it, so this only bounds what a misbehaving API or a sandbox call can store).
pub const MAX_TEXT_CHARS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// A reply to one of the account's posts or comments.
    Comment,
    /// The account named in someone else's post.
    Mention,
    /// A direct message.
    Dm,
}

impl InteractionKind {
    pub const ALL: [Self; 3] = [Self::Comment, Self::Mention, Self::Dm];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Comment => "comment",
            Self::Mention => "mention",
            Self::Dm => "dm",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Someone else wrote it to the account.
    Inbound,
    /// The account wrote it (a reply sent through Posthorn, or one the platform echoes).
    Outbound,
}

/// Who wrote an interaction, as the platform names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Author {
    /// The platform's id of the author.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// A picture, video or file attached to an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachedMedia {
    pub url: String,
    /// `image`, `video`, `audio` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Content {
    pub text: String,
    #[serde(default)]
    pub media: Vec<AttachedMedia>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InteractionMetadata {
    /// The ad or link a DM conversation started from, as the platform describes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Value>,
}

/// A comment, mention or DM as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub workspace_id: WorkspaceId,
    #[serde(rename = "type")]
    pub kind: InteractionKind,
    pub platform: Platform,
    pub account_id: ConnectionId,
    pub channel_id: ChannelId,
    /// The Posthorn post it answers, when it answers one this account published.
    #[serde(default)]
    pub post_id: Option<PostId>,
    /// The interaction it answers, when it answers another comment or message.
    #[serde(default)]
    pub parent_id: Option<InteractionId>,
    pub author: Author,
    pub content: Content,
    pub direction: Direction,
    /// When the platform says it was written.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(default)]
    pub platform_url: Option<String>,
    #[serde(default)]
    pub metadata: InteractionMetadata,
    /// The platform's own id of the item.
    pub platform_id: String,
    /// What answering it takes beyond its id (a Bluesky thread root, an X conversation), as the
    /// platform's adapter wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_handle: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
    /// When the store may forget it.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Interaction {
    /// The event its arrival fires: none for a comment the account itself wrote.
    pub fn event_type(&self) -> Option<EventType> {
        match (self.direction, self.kind) {
            (Direction::Inbound, InteractionKind::Comment) => Some(EventType::CommentReceived),
            (Direction::Inbound, InteractionKind::Mention) => Some(EventType::MentionReceived),
            (Direction::Inbound, InteractionKind::Dm) if self.is_referral() => Some(EventType::DmReferral),
            (Direction::Inbound, InteractionKind::Dm) => Some(EventType::DmReceived),
            (Direction::Outbound, InteractionKind::Dm) => Some(EventType::DmSent),
            (Direction::Outbound, _) => None,
        }
    }

    /// A referral without a message: someone opened a conversation from an ad or a link.
    fn is_referral(&self) -> bool {
        self.metadata.referral.is_some() && self.content.text.is_empty() && self.content.media.is_empty()
    }
}

/// An interaction as the API shows it and as its event carries it (SPEC §8).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InteractionView {
    pub id: InteractionId,
    #[serde(rename = "type")]
    pub kind: InteractionKind,
    pub platform: Platform,
    pub account_id: ConnectionId,
    pub channel_id: ChannelId,
    pub post_id: Option<PostId>,
    pub parent_id: Option<InteractionId>,
    pub author: Author,
    pub content: Content,
    pub direction: Direction,
    /// RFC 3339.
    pub received_at: String,
    pub platform_url: Option<String>,
    /// The platform's own id of the item.
    pub platform_id: String,
    pub metadata: InteractionMetadata,
}

impl From<&Interaction> for InteractionView {
    fn from(interaction: &Interaction) -> Self {
        Self {
            id: interaction.id,
            kind: interaction.kind,
            platform: interaction.platform,
            account_id: interaction.account_id,
            channel_id: interaction.channel_id,
            post_id: interaction.post_id,
            parent_id: interaction.parent_id,
            author: interaction.author.clone(),
            content: interaction.content.clone(),
            direction: interaction.direction,
            received_at: rfc3339(interaction.received_at),
            platform_url: interaction.platform_url.clone(),
            platform_id: interaction.platform_id.clone(),
            metadata: interaction.metadata.clone(),
        }
    }
}

/// The most characters of an author's name, username or id, or a URL, an interaction keeps.
pub const MAX_FIELD_CHARS: usize = 2_048;
/// The most attachments an interaction keeps.
pub const MAX_MEDIA: usize = 20;

/// `text` cut to [`MAX_TEXT_CHARS`].
pub fn bounded_text(text: &str) -> String {
    cut(text, MAX_TEXT_CHARS)
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

impl Interaction {
    /// The interaction cut to the bounds above, whatever the platform (or a caller) sent: with
    /// them an item stays far below DynamoDB's 400 KB.
    pub fn bounded(mut self) -> Self {
        let field = |text: &mut String| *text = cut(text, MAX_FIELD_CHARS);
        let optional = |text: &mut Option<String>| {
            if let Some(text) = text {
                *text = cut(text, MAX_FIELD_CHARS);
            }
        };
        self.content.text = bounded_text(&self.content.text);
        self.content.media.truncate(MAX_MEDIA);
        for media in &mut self.content.media {
            field(&mut media.url);
            field(&mut media.kind);
        }
        field(&mut self.platform_id);
        field(&mut self.author.id);
        field(&mut self.author.name);
        optional(&mut self.author.username);
        optional(&mut self.author.avatar_url);
        optional(&mut self.platform_url);
        optional(&mut self.reply_handle);
        self
    }
}

/// Where polling one source of a channel stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCursor {
    /// The platform's position after the newest item seen; `None` before the first poll.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Not polled again before this (the platform's rate limit, or the source's own interval).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_at: Option<OffsetDateTime>,
}

/// What sync-inbox keeps for one channel of a polled platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxState {
    pub channel_id: ChannelId,
    pub workspace_id: WorkspaceId,
    pub connection_id: ConnectionId,
    pub platform: Platform,
    /// By source name (`notifications`, `mentions`, `dms`…).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceCursor>,
    /// What a source's first poll reads back to: items written earlier are history, not news.
    #[serde(with = "time::serde::rfc3339")]
    pub start_at: OffsetDateTime,
    /// When sync-inbox next polls the channel; `None` while it is not polled (expired account).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_poll_at: Option<OffsetDateTime>,
    /// Whether the account's grant lets Posthorn read its DMs, once a poll found out.
    #[serde(default)]
    pub dms_granted: Option<bool>,
    /// What the last poll that failed said.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_polled_at: Option<OffsetDateTime>,
    /// Where the platform pushes only to subscribed apps: whether subscribing worked.
    #[serde(default)]
    pub push: Option<PushSubscription>,
    pub version: u64,
}

/// Whether the app is subscribed to an account's pushes, and what the platform said if not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    pub subscribed: bool,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl InboxState {
    /// A channel to poll from now on (or from `start_at`, for a backfill).
    pub fn new(
        workspace_id: WorkspaceId,
        connection_id: ConnectionId,
        channel_id: ChannelId,
        platform: Platform,
        start_at: OffsetDateTime,
    ) -> Self {
        Self {
            channel_id,
            workspace_id,
            connection_id,
            platform,
            sources: BTreeMap::new(),
            start_at,
            next_poll_at: Some(start_at),
            dms_granted: None,
            last_error: None,
            last_polled_at: None,
            push: None,
            version: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        assert_eq!(bounded_text(&long).chars().count(), MAX_TEXT_CHARS);
        assert_eq!(bounded_text("short"), "short");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in InteractionKind::ALL {
            assert_eq!(InteractionKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}

/// That `dm.status.<status>` was announced for a DM the account sent: written with the event only
/// if absent, so a status the platform pushes again (Meta retries for 36 hours) fires nothing
/// more. Kept as long as the interactions are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmStatusMark {
    pub workspace_id: WorkspaceId,
    pub interaction_id: InteractionId,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl DmStatusMark {
    /// Its id within the workspace: one per interaction and status.
    pub fn id(&self) -> String {
        format!("{}#{}", self.interaction_id, self.status)
    }
}
