//! Mastodon's inbox (<https://docs.joinmastodon.org/methods/notifications/>): `mention`
//! notifications of the account, read with `GET /api/v1/notifications?types[]=mention` from
//! `min_id` (the page of notifications right after the cursor). A mention whose status answers
//! one of the account's statuses is a comment, one with `direct` visibility a DM, any other a
//! mention. Answers are statuses `in_reply_to_id` the one answered, mentioning its author (a DM
//! answer keeps `direct` visibility, as Mastodon's private mentions work).

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Dialect, Mastodon, Status};
use crate::adapters::platforms::http;
use crate::model::feeds::html_to_text;
use crate::model::inbox::{AttachedMedia, Author, Direction, InteractionKind};
use crate::model::platforms::Platform;
use crate::ports::platforms::{
    ChannelAuth, InboxClient, InboxSource, PlatformError, PollFrom, Polled, Published, RemoteInteraction, ReplyTarget,
};

/// Mastodon's largest notifications page.
const PAGE_SIZE: usize = 40;

const SOURCES: [InboxSource; 1] =
    [InboxSource { name: "notifications", min_interval: std::time::Duration::from_secs(30), dms: false }];

#[async_trait]
impl InboxClient for Mastodon {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    fn sources(&self) -> &'static [InboxSource] {
        &SOURCES
    }

    async fn poll(
        &self,
        auth: &ChannelAuth,
        _source: &InboxSource,
        from: &PollFrom,
        _recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        let mut url = http::endpoint(&auth.base_url, "/api/v1/notifications");
        url.push_str(&format!("?types[]=mention&limit={PAGE_SIZE}"));
        if let PollFrom::Cursor(min_id) = from {
            url.push_str(&format!("&min_id={}", urlencoding(min_id)));
        }
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?;
        let mut notifications: Vec<Notification> = http::send_json::<Dialect, _>(&self.http, request).await?;
        notifications.sort_by(|a, b| by_id(&a.id, &b.id));
        let more = matches!(from, PollFrom::Cursor(_)) && notifications.len() >= PAGE_SIZE;
        let cursor = notifications.last().map(|newest| newest.id.clone());
        let items = notifications
            .into_iter()
            .filter_map(|notification| interaction_of(notification, &auth.platform_channel_id))
            .collect();
        Ok(Polled { items, cursor, more })
    }

    fn replies_to(&self, _kind: InteractionKind) -> bool {
        true
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        let handle = to.author.username.as_deref().unwrap_or(&to.author.id);
        let status = if text.contains(&format!("@{handle}")) { text.to_string() } else { format!("@{handle} {text}") };
        let visibility = match to.kind {
            InteractionKind::Dm => "direct",
            _ => "public",
        };
        let body = Reply { status: &status, in_reply_to_id: &to.platform_id, visibility };
        let url = http::endpoint(&auth.base_url, "/api/v1/statuses");
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.json(&body);
        let sent: Status = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Published { platform_post_id: sent.id, url: sent.url })
    }
}

/// Mastodon ids are numbers written as text, of growing length: the longer is the later.
fn by_id(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The interaction a mention notification is; `None` for one without its status (deleted).
fn interaction_of(notification: Notification, account_id: &str) -> Option<RemoteInteraction> {
    let status = notification.status?;
    let kind = match (status.visibility.as_str(), status.in_reply_to_account_id.as_deref()) {
        ("direct", _) => InteractionKind::Dm,
        (_, Some(answered)) if answered == account_id => InteractionKind::Comment,
        _ => InteractionKind::Mention,
    };
    let account = notification.account;
    Some(RemoteInteraction {
        kind,
        direction: Direction::Inbound,
        platform_id: status.id,
        in_reply_to: status.in_reply_to_id,
        author: Author {
            id: account.id,
            name: account.display_name.filter(|name| !name.is_empty()).unwrap_or_else(|| account.username.clone()),
            username: Some(account.acct),
            avatar_url: account.avatar,
        },
        text: html_to_text(&status.content),
        media: status
            .media_attachments
            .into_iter()
            .filter_map(|media| media.url.map(|url| AttachedMedia { url, kind: media_kind(&media.kind) }))
            .collect(),
        created_at: status.created_at,
        url: status.url,
        reply_handle: None,
        referral: None,
    })
}

/// Mastodon's attachment types (`image`, `gifv`, `video`, `audio`, `unknown`) as the inbox's.
fn media_kind(kind: &str) -> String {
    match kind {
        "image" => "image",
        "gifv" | "video" => "video",
        "audio" => "audio",
        _ => "file",
    }
    .to_string()
}

#[derive(Deserialize)]
struct Notification {
    id: String,
    account: NotifyingAccount,
    status: Option<MentionStatus>,
}

#[derive(Deserialize)]
struct NotifyingAccount {
    id: String,
    username: String,
    /// `user` on the account's own instance, `user@domain` elsewhere.
    acct: String,
    display_name: Option<String>,
    avatar: Option<String>,
}

#[derive(Deserialize)]
struct MentionStatus {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    in_reply_to_id: Option<String>,
    in_reply_to_account_id: Option<String>,
    visibility: String,
    /// HTML.
    content: String,
    url: Option<String>,
    #[serde(default)]
    media_attachments: Vec<MediaAttachment>,
}

#[derive(Deserialize)]
struct MediaAttachment {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
}

#[derive(Serialize)]
struct Reply<'a> {
    status: &'a str,
    in_reply_to_id: &'a str,
    visibility: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_ids_are_longer_or_greater() {
        assert_eq!(by_id("109", "1000"), std::cmp::Ordering::Less);
        assert_eq!(by_id("113245", "113244"), std::cmp::Ordering::Greater);
    }
}
