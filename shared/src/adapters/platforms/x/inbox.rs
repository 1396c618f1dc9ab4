//! X's inbox: the account's mentions timeline
//! (<https://docs.x.com/x-api/posts/timelines/get-mentions>, `GET /2/users/:id/mentions`) and
//! its DM events (<https://docs.x.com/x-api/direct-messages/lookup/get-dm-events>,
//! `GET /2/dm_events`). A mention that answers one of the account's posts — it replies to one
//! of them, to the account, or belongs to a conversation one of them started — is a comment.
//!
//! Both read newest first. Mentions are asked for `since_id` the newest one read; DM events
//! have no such parameter, so they are paged until an event at or before the newest one read
//! (or, on a first poll, one older than the start) — never further than the 30 days of events
//! X keeps. While a catch-up spans several pages, the cursor keeps the page token with the
//! bound and the newest id of its first page, so an interrupted catch-up resumes where it was.
//!
//! Answers: a post `reply.in_reply_to_tweet_id` the comment or mention
//! (`POST /2/tweets`), or a message in the DM's conversation
//! (`POST /2/dm_conversations/:dm_conversation_id/messages`; the conversation is the DM's
//! reply handle).

use std::cmp::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Data, Dialect, InReplyTo, NewTweet, User, X};
use crate::adapters::platforms::http;
use crate::model::inbox::{AttachedMedia, Author, Direction, InteractionKind};
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{
    ChannelAuth, InboxClient, InboxSource, PlatformError, PollFrom, Polled, Published, RemoteInteraction, ReplyTarget,
};

/// X's largest page of mentions and of DM events.
const PAGE_SIZE: &str = "100";
const TWEET_FIELDS: &str = "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id,attachments";
const DM_EVENT_FIELDS: &str = "id,text,event_type,created_at,dm_conversation_id,sender_id,attachments";
const USER_FIELDS: &str = "name,username,profile_image_url";
const MEDIA_FIELDS: &str = "url,type,preview_image_url";

const MENTIONS: InboxSource = InboxSource { name: "mentions", min_interval: Duration::from_secs(60), dms: false };
/// X allows 15 reads of `GET /2/dm_events` per 15 minutes per user.
const DMS: InboxSource = InboxSource { name: "dms", min_interval: Duration::from_secs(60), dms: true };
const SOURCES: [InboxSource; 2] = [MENTIONS, DMS];

#[async_trait]
impl InboxClient for X {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn sources(&self) -> &'static [InboxSource] {
        &SOURCES
    }

    async fn poll(
        &self,
        auth: &ChannelAuth,
        source: &InboxSource,
        from: &PollFrom,
        recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        let position = Position::of(from)?;
        if source.dms {
            self.dm_events(auth, position).await
        } else {
            self.mentions(auth, position, recent_posts).await
        }
    }

    fn replies_to(&self, _kind: InteractionKind) -> bool {
        true
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        if to.kind != InteractionKind::Dm {
            let reply = Some(InReplyTo { in_reply_to_tweet_id: &to.platform_id });
            return self.create_tweet(auth, &NewTweet { text, media: None, reply }).await;
        }
        let conversation = to.reply_handle.as_deref().ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, "the DM's conversation is not known, so it cannot be answered")
        })?;
        let url = http::node_url(&auth.base_url, &["2", "dm_conversations", conversation, "messages"])?;
        let request =
            http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.json(&json!({ "text": text }));
        let sent: Data<SentMessage> = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Published { platform_post_id: sent.data.dm_event_id, url: None })
    }
}

impl X {
    async fn mentions(
        &self,
        auth: &ChannelAuth,
        position: Position,
        recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        let us = auth.platform_channel_id.as_str();
        let url = http::node_url(&auth.base_url, &["2", "users", us, "mentions"])?;
        let mut query = vec![
            ("max_results", PAGE_SIZE.to_string()),
            ("tweet.fields", TWEET_FIELDS.to_string()),
            ("expansions", "author_id,attachments.media_keys".to_string()),
            ("user.fields", USER_FIELDS.to_string()),
            ("media.fields", MEDIA_FIELDS.to_string()),
        ];
        query.extend(position.since.clone().map(|id| ("since_id", id)));
        query.extend(position.start_time().map(|start| ("start_time", start)));
        query.extend(position.page.as_ref().map(|page| ("pagination_token", page.token.clone())));
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?.query(&query);
        let page: Page<Tweet> = http::send_json::<Dialect, _>(&self.http, request).await?;
        let newest = page.meta.newest_id.clone().or_else(|| newest_of(page.data.iter().map(|tweet| &tweet.id)));
        let (cursor, more) = position.after_page(newest, page.meta.next_token.clone());
        let items = page
            .data
            .iter()
            .filter(|tweet| tweet.author_id.as_deref() != Some(us))
            .map(|tweet| mention_of(tweet, &page.includes, us, recent_posts))
            .collect();
        Ok(Polled { items, cursor, more })
    }

    async fn dm_events(&self, auth: &ChannelAuth, position: Position) -> Result<Polled, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/2/dm_events");
        let mut query = vec![
            ("max_results", PAGE_SIZE.to_string()),
            ("event_types", "MessageCreate".to_string()),
            ("dm_event.fields", DM_EVENT_FIELDS.to_string()),
            ("expansions", "sender_id,attachments.media_keys".to_string()),
            ("user.fields", USER_FIELDS.to_string()),
            ("media.fields", MEDIA_FIELDS.to_string()),
        ];
        query.extend(position.page.as_ref().map(|page| ("pagination_token", page.token.clone())));
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?.query(&query);
        let page: Page<DmEvent> = http::send_json::<Dialect, _>(&self.http, request).await?;
        let newest = newest_of(page.data.iter().map(|event| &event.id));
        let is_new = |event: &DmEvent| match (&position.since, position.start) {
            (Some(since), _) => by_id(&event.id, since) == Ordering::Greater,
            (None, Some(start)) => event.created_at.unix_timestamp() >= start,
            (None, None) => true,
        };
        let reached_the_bound = page.data.iter().any(|event| !is_new(event));
        let us = auth.platform_channel_id.as_str();
        let items =
            page.data.iter().filter(|event| is_new(event)).map(|event| dm_of(event, &page.includes, us)).collect();
        let next = page.meta.next_token.filter(|_| !reached_the_bound);
        let (cursor, more) = position.after_page(newest, next);
        Ok(Polled { items, cursor, more })
    }
}

/// Where a source stands, kept as the cursor: the bound of the next read (the newest id read,
/// or the start of a first poll) and, during a catch-up of several pages, the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// Items at or before this id were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    /// A first poll's start, in Unix seconds: nothing older is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<NextPage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NextPage {
    token: String,
    /// The newest id of the catch-up's first page: the bound once it ends.
    newest: Option<String>,
}

impl Position {
    fn of(from: &PollFrom) -> Result<Self, PlatformError> {
        match from {
            PollFrom::Start { since } => Ok(Self { start: Some(since.unix_timestamp()), ..Self::default() }),
            PollFrom::Cursor(stored) => serde_json::from_str(stored).map_err(|_| {
                PlatformError::new(ErrorCode::PlatformError, "the stored X inbox cursor is not one Posthorn wrote")
            }),
        }
    }

    /// X wants `YYYY-MM-DDTHH:mm:ssZ`.
    fn start_time(&self) -> Option<String> {
        let start = OffsetDateTime::from_unix_timestamp(self.start?).ok()?;
        start.format(&Rfc3339).ok()
    }

    /// The cursor after a page whose newest id is `newest`, and whether more pages follow
    /// (`next`, X's token for the page after it).
    fn after_page(self, newest: Option<String>, next: Option<String>) -> (Option<String>, bool) {
        let newest = match self.page {
            Some(page) => page.newest.or(newest),
            None => newest,
        };
        let position = match next {
            Some(token) => Self { page: Some(NextPage { token, newest }), ..self },
            None => match newest {
                Some(newest) => Self { since: Some(newest), start: None, page: None },
                None => return (None, false),
            },
        };
        let more = position.page.is_some();
        (serde_json::to_string(&position).ok(), more)
    }
}

/// X ids are numbers written as text, of growing length: the longer is the later.
fn by_id(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn newest_of<'a>(ids: impl Iterator<Item = &'a String>) -> Option<String> {
    ids.max_by(|a, b| by_id(a, b)).cloned()
}

fn mention_of(tweet: &Tweet, includes: &Includes, us: &str, recent_posts: &[String]) -> RemoteInteraction {
    let replied_to = tweet.referenced_tweets.iter().find(|reference| reference.kind == "replied_to");
    let ours = |id: &Option<String>| id.as_ref().is_some_and(|id| recent_posts.contains(id));
    let answers_us = ours(&replied_to.map(|reference| reference.id.clone()))
        || ours(&tweet.conversation_id)
        || tweet.in_reply_to_user_id.as_deref() == Some(us);
    let author = includes.author(tweet.author_id.as_deref().unwrap_or_default());
    let url = match &author.username {
        Some(username) => format!("https://x.com/{username}/status/{}", tweet.id),
        None => format!("https://x.com/i/web/status/{}", tweet.id),
    };
    RemoteInteraction {
        kind: if answers_us { InteractionKind::Comment } else { InteractionKind::Mention },
        direction: Direction::Inbound,
        platform_id: tweet.id.clone(),
        in_reply_to: replied_to.filter(|_| answers_us).map(|reference| reference.id.clone()),
        author,
        text: tweet.text.clone(),
        media: includes.media_of(tweet.attachments.as_ref()),
        created_at: tweet.created_at,
        url: Some(url),
        reply_handle: None,
        referral: None,
    }
}

fn dm_of(event: &DmEvent, includes: &Includes, us: &str) -> RemoteInteraction {
    RemoteInteraction {
        kind: InteractionKind::Dm,
        direction: if event.sender_id == us { Direction::Outbound } else { Direction::Inbound },
        platform_id: event.id.clone(),
        in_reply_to: None,
        author: includes.author(&event.sender_id),
        text: event.text.clone(),
        media: includes.media_of(event.attachments.as_ref()),
        created_at: event.created_at,
        url: None,
        reply_handle: Some(event.dm_conversation_id.clone()),
        referral: None,
    }
}

/// One page of a v2 timeline: its items, the objects its expansions brought, and where it ends.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
}

#[derive(Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    media: Vec<Media>,
}

impl Includes {
    fn author(&self, id: &str) -> Author {
        match self.users.iter().find(|user| user.id == id) {
            Some(user) => Author {
                id: user.id.clone(),
                name: user.name.clone().filter(|name| !name.is_empty()).unwrap_or_else(|| user.username.clone()),
                username: Some(user.username.clone()),
                avatar_url: user.profile_image_url.clone(),
            },
            None => Author { id: id.to_string(), name: id.to_string(), username: None, avatar_url: None },
        }
    }

    fn media_of(&self, attachments: Option<&Attachments>) -> Vec<AttachedMedia> {
        let keys = attachments.map(|attachments| attachments.media_keys.as_slice()).unwrap_or_default();
        keys.iter()
            .filter_map(|key| self.media.iter().find(|media| &media.media_key == key))
            .filter_map(|media| {
                let url = media.url.clone().or_else(|| media.preview_image_url.clone())?;
                let kind = if media.kind == "photo" { "image" } else { "video" };
                Some(AttachedMedia { url, kind: kind.to_string() })
            })
            .collect()
    }
}

#[derive(Default, Deserialize)]
struct Meta {
    newest_id: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    text: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    author_id: Option<String>,
    conversation_id: Option<String>,
    in_reply_to_user_id: Option<String>,
    /// `referenced_posts` in X's newer OpenAPI document.
    #[serde(default, alias = "referenced_posts")]
    referenced_tweets: Vec<Reference>,
    attachments: Option<Attachments>,
}

#[derive(Deserialize)]
struct Reference {
    /// `replied_to`, `quoted` or `retweeted`.
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize)]
struct Attachments {
    #[serde(default)]
    media_keys: Vec<String>,
}

/// `photo`, `video` or `animated_gif`; a video's `url` is absent, its `preview_image_url` not.
#[derive(Deserialize)]
struct Media {
    media_key: String,
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    preview_image_url: Option<String>,
}

#[derive(Deserialize)]
struct DmEvent {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    dm_conversation_id: String,
    sender_id: String,
    attachments: Option<Attachments>,
}

#[derive(Deserialize)]
struct SentMessage {
    dm_event_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catch_up_keeps_its_first_pages_newest_until_the_last_page() {
        let start = Position { since: Some("100".into()), ..Position::default() };
        let (cursor, more) = start.after_page(Some("180".into()), Some("token-2".into()));
        assert!(more);
        let paging: Position = serde_json::from_str(&cursor.unwrap()).unwrap();
        assert_eq!(paging.since.as_deref(), Some("100"), "the bound stays while paging");
        let (cursor, more) = paging.after_page(Some("140".into()), None);
        assert!(!more);
        let done: Position = serde_json::from_str(&cursor.unwrap()).unwrap();
        assert_eq!(done, Position { since: Some("180".into()), ..Position::default() });
    }

    #[test]
    fn an_empty_first_poll_keeps_no_cursor() {
        let first = Position { start: Some(1_790_000_000), ..Position::default() };
        assert_eq!(first.start_time().as_deref(), Some("2026-09-21T14:13:20Z"));
        assert_eq!(first.after_page(None, None), (None, false));
    }
}
