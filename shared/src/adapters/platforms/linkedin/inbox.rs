//! LinkedIn's inbox, for organization channels: the comments on the organization's recent posts
//! (<https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/comments-api>,
//! `GET /rest/socialActions/{post URN}/comments`, newest first, `start`/`count` paging). A
//! member's own posts have no comments an app may read (`r_member_social` is granted to select
//! developers only), so a person channel reads nothing. LinkedIn has no mentions or DMs API for
//! apps.
//!
//! LinkedIn has no "since" parameter: the cursor is the creation time of the newest comment read
//! (`read_since`), and each poll reads every recent post's newest comments back to [`OVERLAP`]
//! before it; a comment read twice is recognised by its URN and never fires twice. Replies to
//! comments are not read: each comment would cost a request.
//!
//! Answers are comments on the comment: `POST /rest/socialActions/{comment URN}/comments` with
//! the comment's `object` (the post's activity) and `parentComment`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Dialect, Elements, Linkedin, ORGANIZATION_URN, encode_urn, post_url};
use crate::adapters::platforms::http;
use crate::adapters::platforms::read_since::ReadSince;
use crate::model::inbox::{Author, Direction, InteractionKind};
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{
    ChannelAuth, InboxClient, InboxSource, PlatformError, PollFrom, Polled, Published, RemoteInteraction, ReplyTarget,
};

/// Comments read per request, and requests per post and poll at most.
const PAGE_SIZE: usize = 100;
const PAGES_PER_POST: usize = 5;
/// How far before the newest comment read each poll reads again.
const OVERLAP: time::Duration = time::Duration::minutes(10);

/// A request per recent post each time: read every ten minutes.
const SOURCES: [InboxSource; 1] =
    [InboxSource { name: "comments", min_interval: Duration::from_secs(10 * 60), dms: false }];

#[async_trait]
impl InboxClient for Linkedin {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    fn sources(&self) -> &'static [InboxSource] {
        &SOURCES
    }

    async fn poll(
        &self,
        auth: &ChannelAuth,
        _source: &InboxSource,
        from: &PollFrom,
        recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        let read = ReadSince::of(from, OVERLAP)?;
        if !auth.platform_channel_id.starts_with(ORGANIZATION_URN) {
            return Ok(Polled { items: Vec::new(), cursor: None, more: false });
        }
        let mut items = Vec::new();
        for post in recent_posts {
            for comment in self.comments_since(auth, post, read.after).await? {
                if comment.actor != auth.platform_channel_id {
                    items.push(comment.interaction(post)?);
                }
            }
        }
        Ok(Polled { cursor: read.cursor_after(&items), items, more: false })
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind == InteractionKind::Comment
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        let object = to
            .reply_handle
            .as_deref()
            .ok_or_else(|| PlatformError::new(ErrorCode::PlatformError, "the post this comment is on is not known"))?;
        let body = NewComment {
            actor: &auth.platform_channel_id,
            object,
            message: Message { text },
            parent_comment: &to.platform_id,
        };
        let path = format!("/rest/socialActions/{}/comments", encode_urn(&to.platform_id));
        let request = self.rest(auth, Method::POST, &path).await?.json(&body);
        let created: Comment = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Published { platform_post_id: created.comment_urn, url: None })
    }
}

impl Linkedin {
    /// The comments on `post` created after `after`, newest first.
    async fn comments_since(
        &self,
        auth: &ChannelAuth,
        post: &str,
        after: OffsetDateTime,
    ) -> Result<Vec<Comment>, PlatformError> {
        let after = after.unix_timestamp_nanos() / 1_000_000;
        let path = format!("/rest/socialActions/{}/comments", encode_urn(post));
        let mut found = Vec::new();
        for page in 0..PAGES_PER_POST {
            let (start, count) = ((page * PAGE_SIZE).to_string(), PAGE_SIZE.to_string());
            let request = self.rest(auth, Method::GET, &path).await?.query(&[("start", &start), ("count", &count)]);
            let comments: Elements<Comment> = http::send_json::<Dialect, _>(&self.http, request).await?;
            let full = comments.elements.len() == PAGE_SIZE;
            let before = found.len();
            found.extend(comments.elements.into_iter().filter(|comment| i128::from(comment.created.time) > after));
            if !full || found.len() - before < PAGE_SIZE {
                break;
            }
        }
        Ok(found)
    }
}

/// `{"actor", "commentUrn", "created": {"actor", "time"}, "id", "message": {"text"}, "object",
/// "parentComment"?, …}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    comment_urn: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    created: Created,
    #[serde(default)]
    message: Option<ReadMessage>,
}

#[derive(Default, Deserialize)]
struct Created {
    /// Epoch milliseconds.
    time: i64,
}

#[derive(Deserialize)]
struct ReadMessage {
    text: String,
}

impl Comment {
    fn interaction(self, post: &str) -> Result<RemoteInteraction, PlatformError> {
        let created_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.created.time) * 1_000_000)
            .map_err(|_| PlatformError::new(ErrorCode::PlatformError, "LinkedIn gave a comment an impossible time"))?;
        Ok(RemoteInteraction {
            kind: InteractionKind::Comment,
            direction: Direction::Inbound,
            platform_id: self.comment_urn,
            in_reply_to: Some(post.to_string()),
            author: Author { id: self.actor.clone(), name: self.actor, username: None, avatar_url: None },
            text: self.message.map(|message| message.text).unwrap_or_default(),
            media: Vec::new(),
            created_at,
            url: Some(post_url(post)),
            reply_handle: self.object,
            referral: None,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewComment<'a> {
    actor: &'a str,
    object: &'a str,
    message: Message<'a>,
    parent_comment: &'a str,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
}
