//! Bluesky's inbox, through the channel's PDS.
//!
//! `notifications`: `app.bsky.notification.listNotifications` (which the PDS serves from its
//! AppView), newest first, older pages by `cursor`. Reason `reply` is a comment on the post it
//! answers; `quote` is a comment too (SPEC §8 reads quotes with replies: a quote is about the
//! quoted post, which it links to); `mention` is a mention. The API takes no "since", so the
//! cursor kept is the newest notification read (its `indexedAt` and URI), and a poll walks back
//! page by page until it meets it — at most [`MAX_WALK_PAGES`] pages, older ones are skipped
//! as a first poll skips history. A first poll reads the newest page only.
//!
//! `dms`: `chat.bsky.convo.getLog` from the log's own cursor, through the PDS to Bluesky's chat
//! service (`atproto-proxy` header). Each new message is a DM, outbound when the account sent
//! it. An app password made without DM access is refused there (see `is_outside_the_grant`),
//! which the service records as DMs not granted.
//!
//! Answers: a comment or mention gets an `app.bsky.feed.post` in its thread (`reply.root` and
//! `reply.parent` from the reply handle kept at arrival), a DM a `chat.bsky.convo.sendMessage`
//! in its conversation.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AtUri, Bluesky, Dialect, ReplyRef, StrongRef};
use crate::adapters::platforms::bluesky_richtext::Facet;
use crate::adapters::platforms::http;
use crate::model::inbox::{Author, Direction, InteractionKind};
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{
    ChannelAuth, InboxClient, InboxSource, PlatformError, PollFrom, Polled, Published, RemoteInteraction, ReplyTarget,
};

/// listNotifications' largest page.
const PAGE_SIZE: &str = "100";
/// How far back one catching-up walk goes.
const MAX_WALK_PAGES: u32 = 20;
/// Bluesky's chat service, as the PDS is told to proxy to it.
const CHAT_SERVICE: &str = "did:web:api.bsky.chat#bsky_chat";

const NOTIFICATIONS: &str = "notifications";
const SOURCES: [InboxSource; 2] = [
    InboxSource { name: NOTIFICATIONS, min_interval: Duration::from_secs(30), dms: false },
    InboxSource { name: "dms", min_interval: Duration::from_secs(30), dms: true },
];

#[async_trait]
impl InboxClient for Bluesky {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn sources(&self) -> &'static [InboxSource] {
        &SOURCES
    }

    async fn poll(
        &self,
        auth: &ChannelAuth,
        source: &InboxSource,
        from: &PollFrom,
        _recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        match source.name {
            NOTIFICATIONS => self.poll_notifications(auth, from).await,
            _ => self.poll_chat(auth, from).await,
        }
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        match kind {
            InteractionKind::Comment | InteractionKind::Mention | InteractionKind::Dm => true,
        }
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        let handle = to.reply_handle.as_deref().ok_or_else(|| {
            PlatformError::new(
                ErrorCode::PlatformError,
                "the interaction has no Bluesky thread or conversation to answer",
            )
        })?;
        if to.kind == InteractionKind::Dm {
            let message = MessageInput { text, facets: self.facets(auth, text).await };
            let body = SendMessage { convo_id: handle, message };
            let request = self.chat(auth, Method::POST, "chat.bsky.convo.sendMessage").await?.json(&body);
            let sent: MessageView = http::send_json::<Dialect, _>(&self.http, request).await?;
            return Ok(Published { platform_post_id: sent.id, url: None });
        }
        let thread: ReplyRef = serde_json::from_str(handle)
            .map_err(|_| PlatformError::new(ErrorCode::PlatformError, "the interaction's thread is unreadable"))?;
        self.create_post(auth, text, None, Some(thread)).await
    }
}

impl Bluesky {
    /// A call of a `chat.bsky.*` method, which the PDS passes on to the chat service.
    async fn chat(
        &self,
        auth: &ChannelAuth,
        verb: Method,
        method: &str,
    ) -> Result<reqwest::RequestBuilder, PlatformError> {
        Ok(self.xrpc(auth, verb, method).await?.header("atproto-proxy", CHAT_SERVICE))
    }

    async fn poll_notifications(&self, auth: &ChannelAuth, from: &PollFrom) -> Result<Polled, PlatformError> {
        let (seen, walk) = match from {
            PollFrom::Start { since } => (Seen { at: *since, uri: None }, None),
            PollFrom::Cursor(cursor) => {
                let position: Position = serde_json::from_str(cursor).map_err(|_| {
                    PlatformError::new(ErrorCode::PlatformError, "the notifications cursor kept is unreadable")
                })?;
                (position.seen, position.walk)
            }
        };
        let mut request = self
            .xrpc(auth, Method::GET, "app.bsky.notification.listNotifications")
            .await?
            .query(&[("limit", PAGE_SIZE)]);
        if let Some(walk) = &walk {
            request = request.query(&[("cursor", &walk.page)]);
        }
        let page: NotificationPage = http::send_json::<Dialect, _>(&self.http, request).await?;
        let newest = match &walk {
            Some(walk) => walk.newest.clone(),
            None => page.notifications.first().map_or(seen.clone(), Notification::seen),
        };
        let reached = page.notifications.iter().any(|notification| !seen.is_before(notification));
        let pages = walk.map_or(1, |walk| walk.pages + 1);
        let walk_on = match page.cursor {
            Some(next) if !reached && matches!(from, PollFrom::Cursor(_)) && pages < MAX_WALK_PAGES => {
                Some(Walk { page: next, newest: newest.clone(), pages })
            }
            _ => None,
        };
        let more = walk_on.is_some();
        let position = match walk_on {
            Some(walk) => Position { seen: seen.clone(), walk: Some(walk) },
            None => Position { seen: newest.max_with(seen.clone()), walk: None },
        };
        let items = page
            .notifications
            .into_iter()
            .filter(|notification| seen.is_before(notification))
            .filter_map(|notification| notification.interaction())
            .collect();
        let cursor = serde_json::to_string(&position)
            .map_err(|e| PlatformError::new(ErrorCode::PlatformError, format!("writing the cursor: {e}")))?;
        Ok(Polled { items, cursor: Some(cursor), more })
    }

    async fn poll_chat(&self, auth: &ChannelAuth, from: &PollFrom) -> Result<Polled, PlatformError> {
        let mut request = self.chat(auth, Method::GET, "chat.bsky.convo.getLog").await?;
        if let PollFrom::Cursor(cursor) = from {
            request = request.query(&[("cursor", cursor)]);
        }
        let log: ChatLog = http::send_json::<Dialect, _>(&self.http, request).await?;
        // The log has no page size: an answer with entries may have more behind it, an empty
        // one has not.
        let more = matches!(from, PollFrom::Cursor(_)) && !log.logs.is_empty();
        let items = log.logs.into_iter().filter_map(|entry| entry.message(&auth.platform_channel_id)).collect();
        Ok(Polled { items, cursor: log.cursor, more })
    }
}

/// The newest notification read: its `indexedAt`, and its URI (`None` for the start of a first
/// poll), so one indexed the same instant as it is not taken for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    uri: Option<String>,
}

impl Seen {
    /// Whether `notification` came after this one.
    fn is_before(&self, notification: &Notification) -> bool {
        notification.indexed_at > self.at
            || (notification.indexed_at == self.at && self.uri.as_deref() != Some(notification.uri.as_str()))
    }

    fn max_with(self, other: Self) -> Self {
        if other.at > self.at { other } else { self }
    }
}

/// The notifications cursor: what was read, and while walking back to it, where the walk is.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    seen: Seen,
    walk: Option<Walk>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Walk {
    /// listNotifications' cursor of the next older page.
    page: String,
    /// The newest notification of the walk, which becomes what was read once it is over.
    newest: Seen,
    pages: u32,
}

#[derive(Deserialize)]
struct NotificationPage {
    cursor: Option<String>,
    notifications: Vec<Notification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    uri: String,
    cid: String,
    author: Actor,
    reason: String,
    /// For a reply or a quote, the account's post it is about.
    reason_subject: Option<String>,
    record: NotifiedPost,
    #[serde(with = "time::serde::rfc3339")]
    indexed_at: OffsetDateTime,
}

impl Notification {
    fn seen(&self) -> Seen {
        Seen { at: self.indexed_at, uri: Some(self.uri.clone()) }
    }

    /// The interaction the notification is; `None` for reasons that are none (likes, follows,
    /// reposts…).
    fn interaction(self) -> Option<RemoteInteraction> {
        let answered = self.record.reply.as_ref().map(|thread| thread.parent.uri.clone());
        let (kind, in_reply_to) = match self.reason.as_str() {
            "reply" => (InteractionKind::Comment, answered),
            "quote" => (InteractionKind::Comment, self.reason_subject.clone()),
            "mention" => (InteractionKind::Mention, answered),
            _ => return None,
        };
        let this = StrongRef { uri: self.uri.clone(), cid: self.cid };
        let root = self.record.reply.map_or_else(|| this.clone(), |thread| thread.root);
        let thread = ReplyRef { root, parent: this };
        let author = self.author;
        Some(RemoteInteraction {
            kind,
            direction: Direction::Inbound,
            url: AtUri::parse(&self.uri).ok().map(|uri| uri.web_url()),
            platform_id: self.uri,
            in_reply_to,
            author: Author {
                name: author.display_name.filter(|name| !name.is_empty()).unwrap_or_else(|| author.handle.clone()),
                id: author.did,
                username: Some(author.handle),
                avatar_url: author.avatar,
            },
            text: self.record.text,
            media: Vec::new(),
            created_at: self.indexed_at,
            reply_handle: serde_json::to_string(&thread).ok(),
            referral: None,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Actor {
    did: String,
    handle: String,
    display_name: Option<String>,
    avatar: Option<String>,
}

/// The notification's record, read as a post: other reasons' records (a like, a follow) have
/// neither field.
#[derive(Default, Deserialize)]
#[serde(default)]
struct NotifiedPost {
    text: String,
    reply: Option<ReplyRef>,
}

#[derive(Deserialize)]
struct ChatLog {
    cursor: Option<String>,
    logs: Vec<LogEntry>,
}

/// An entry of the chat log: only new messages matter here (conversations begun, left, read,
/// reacted to are not interactions).
#[derive(Deserialize)]
#[serde(tag = "$type")]
enum LogEntry {
    #[serde(rename = "chat.bsky.convo.defs#logCreateMessage", rename_all = "camelCase")]
    CreateMessage { convo_id: String, message: LoggedMessage },
    #[serde(other)]
    Other,
}

impl LogEntry {
    fn message(self, own_did: &str) -> Option<RemoteInteraction> {
        let Self::CreateMessage { convo_id, message: LoggedMessage::View(message) } = self else {
            return None;
        };
        let direction = if message.sender.did == own_did { Direction::Outbound } else { Direction::Inbound };
        Some(RemoteInteraction {
            kind: InteractionKind::Dm,
            direction,
            platform_id: message.id,
            in_reply_to: None,
            author: Author {
                name: message.sender.did.clone(),
                id: message.sender.did,
                username: None,
                avatar_url: None,
            },
            text: message.text,
            media: Vec::new(),
            created_at: message.sent_at,
            url: None,
            reply_handle: Some(convo_id),
            referral: None,
        })
    }
}

/// A logged message, or what is left of one its sender deleted.
#[derive(Deserialize)]
#[serde(tag = "$type")]
enum LoggedMessage {
    #[serde(rename = "chat.bsky.convo.defs#messageView")]
    View(MessageView),
    #[serde(other)]
    Deleted,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageView {
    id: String,
    #[serde(default)]
    text: String,
    sender: Sender,
    #[serde(with = "time::serde::rfc3339")]
    sent_at: OffsetDateTime,
}

#[derive(Deserialize)]
struct Sender {
    did: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendMessage<'a> {
    convo_id: &'a str,
    message: MessageInput<'a>,
}

#[derive(Serialize)]
struct MessageInput<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    facets: Vec<Facet>,
}
