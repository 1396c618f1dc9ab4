//! Threads' inbox: the replies to the account's recent posts
//! (<https://developers.facebook.com/docs/threads/reply-management>, `GET /{media-id}/replies`,
//! `threads_read_replies`) and the posts mentioning it
//! (<https://developers.facebook.com/docs/threads/threads-mentions>,
//! `GET /{threads-user-id}/mentions` with `since`, `threads_manage_mentions`), each paged with
//! its `after` cursor. Neither reads "after this item": both keep the newest creation time read
//! (`read_since`). The account's own replies are left out. Threads has no DMs API.
//!
//! Answers are replies: a TEXT container with `reply_to_id`, published as any post
//! (`container`).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{CONTAINERS, Threads};
use crate::adapters::platforms::graph::Graph;
use crate::adapters::platforms::read_since::ReadSince;
use crate::model::inbox::{AttachedMedia, Author, Direction, InteractionKind};
use crate::model::platforms::Platform;
use crate::ports::platforms::{
    ChannelAuth, InboxClient, InboxSource, PlatformError, PollFrom, Polled, Published, RemoteInteraction, ReplyTarget,
};

const FIELDS: &str =
    "id,text,username,timestamp,permalink,media_type,media_url,replied_to,root_post,is_reply_owned_by_me";
/// Items per page, and pages per post (replies) or per poll (mentions) at most.
const PAGE_SIZE: &str = "100";
const PAGES: usize = 5;
/// How far before the newest item read each poll reads again.
const OVERLAP: time::Duration = time::Duration::minutes(10);

/// Replies cost a request per recent post.
const REPLIES: InboxSource = InboxSource { name: "replies", min_interval: Duration::from_secs(5 * 60), dms: false };
const MENTIONS: InboxSource = InboxSource { name: "mentions", min_interval: Duration::from_secs(60), dms: false };
const SOURCES: [InboxSource; 2] = [REPLIES, MENTIONS];

#[async_trait]
impl InboxClient for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
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
        let read = ReadSince::of(from, OVERLAP)?;
        let graph = Graph::new(&self.http, auth);
        let mut items = Vec::new();
        if source.name == REPLIES.name {
            for post in recent_posts {
                let replies = read_pages(&graph, post, "replies", &[], read.after).await?;
                items.extend(replies.into_iter().map(|reply| reply.interaction(recent_posts)));
            }
        } else {
            let since = read.after.unix_timestamp().to_string();
            let mentions = read_pages(&graph, graph.channel(), "mentions", &[("since", &since)], read.after).await?;
            items.extend(mentions.into_iter().map(|mention| mention.interaction(recent_posts)));
        }
        Ok(Polled { cursor: read.cursor_after(&items), items, more: false })
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind != InteractionKind::Dm
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        CONTAINERS.publish_reply(&Graph::new(&self.http, auth), text, &to.platform_id).await
    }
}

/// The items of `node`'s `edge` created after `after`, leaving out the account's own, page by
/// page up to [`PAGES`].
async fn read_pages(
    graph: &Graph<'_>,
    node: &str,
    edge: &str,
    extra: &[(&str, &str)],
    after: OffsetDateTime,
) -> Result<Vec<Media>, PlatformError> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..PAGES {
        let mut query = vec![("fields", FIELDS), ("limit", PAGE_SIZE)];
        query.extend_from_slice(extra);
        if let Some(cursor) = &cursor {
            query.push(("after", cursor.as_str()));
        }
        let page: Page = graph.get(&[node, edge], &query).await?;
        let full = page.data.len().to_string() == PAGE_SIZE;
        found.extend(page.data.into_iter().filter(|media| media.timestamp > after && !media.is_reply_owned_by_me));
        cursor = page.paging.and_then(|paging| paging.cursors).and_then(|cursors| cursors.after);
        if !full || cursor.is_none() {
            break;
        }
    }
    Ok(found)
}

/// One page of an edge: Threads gives `before`/`after` cursors but no `next` URL.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Media>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

/// A Threads media object as the replies and mentions edges describe it.
#[derive(Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    username: String,
    /// ISO 8601 with a `+0000` offset, as Meta writes it.
    #[serde(with = "meta_time")]
    timestamp: OffsetDateTime,
    permalink: Option<String>,
    media_type: Option<String>,
    media_url: Option<String>,
    replied_to: Option<Reference>,
    root_post: Option<Reference>,
    #[serde(default)]
    is_reply_owned_by_me: bool,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
    /// Pushed replies name their thread's root post with its owner.
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// A reply Threads pushed (the `replies` webhook field: a reply in the thread of one of the
/// account's posts) as a comment, with the account it is for (the root post's owner). `None`
/// when it is not of that shape, or is the account's own reply (left out as polling does).
pub(crate) fn pushed_reply(value: &serde_json::Value) -> Option<(String, RemoteInteraction)> {
    let media: Media = serde_json::from_value(value.clone()).ok()?;
    let root = media.root_post.as_ref()?;
    let owner = root.owner_id.clone()?;
    if root.username.as_deref() == Some(media.username.as_str()) {
        return None;
    }
    let root_id = root.id.clone();
    Some((owner, media.interaction(&[root_id])))
}

impl Media {
    /// A reply in the thread of one of the account's posts is a comment; any other, a mention.
    fn interaction(self, recent_posts: &[String]) -> RemoteInteraction {
        let ours =
            |reference: &Option<Reference>| reference.as_ref().is_some_and(|post| recent_posts.contains(&post.id));
        let kind = match ours(&self.replied_to) || ours(&self.root_post) {
            true => InteractionKind::Comment,
            false => InteractionKind::Mention,
        };
        let media_kind = match self.media_type.as_deref() {
            Some("IMAGE") => Some("image"),
            Some("VIDEO") => Some("video"),
            _ => None,
        };
        let media = match (media_kind, self.media_url) {
            (Some(kind), Some(url)) => vec![AttachedMedia { url, kind: kind.to_string() }],
            _ => Vec::new(),
        };
        RemoteInteraction {
            kind,
            direction: Direction::Inbound,
            platform_id: self.id,
            in_reply_to: self.replied_to.map(|post| post.id),
            author: Author {
                id: self.username.clone(),
                name: self.username.clone(),
                username: Some(self.username),
                avatar_url: None,
            },
            text: self.text,
            media,
            created_at: self.timestamp,
            url: self.permalink,
            reply_handle: None,
            referral: None,
        }
    }
}

/// Meta's `2025-03-01T12:00:00+0000`: RFC 3339 but for the offset's missing colon.
mod meta_time {
    use serde::{Deserialize, Deserializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Iso8601;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        OffsetDateTime::parse(&text, &Iso8601::DEFAULT).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metas_timestamps() {
        let media: Media = serde_json::from_value(serde_json::json!({
            "id": "1", "timestamp": "2026-03-01T12:00:00+0000", "replied_to": {"id": "9"}
        }))
        .unwrap();
        assert_eq!(media.timestamp, OffsetDateTime::from_unix_timestamp(1_772_366_400).unwrap());
        assert_eq!(media.interaction(&["9".to_string()]).kind, InteractionKind::Comment);
    }
}
