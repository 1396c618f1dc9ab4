//! Meta's Graph webhooks (<https://developers.facebook.com/docs/graph-api/webhooks>): objects
//! `page` (Facebook Pages) and `instagram`, each `entry` for one page or account (`entry.id`).
//! `messaging` events: `message` (a DM; `is_echo` when the account sent it), `delivery` and
//! `read` (with the messages' ids), `referral` (a conversation opened from an ad or link).
//! `changes`: Facebook's `feed` comments (`item: comment`, `verb: add`) and `mention`, Instagram's
//! `comments` and `mentions`. Anything else is counted as ignored. A Facebook `read` carries only
//! a watermark, no message id: every message sent to that reader up to it was read.
//!
//! Threads webhooks (<https://developers.facebook.com/docs/threads/webhooks>) come to the same
//! callback in their own shape: `{app_id, topic, target_id, time, values}`, `values` being one
//! `{field, value}` as documented or a list of them as delivered. `replies` become comments for
//! the account owning the thread's root post; a `mentions` value does not name the account
//! mentioned, so mentions stay polled and are counted as ignored here.

use serde_json::Value;
use time::OffsetDateTime;

use crate::adapters::platforms::threads::pushed_reply;
use crate::model::inbox::{AttachedMedia, Author, Direction, InteractionKind};
use crate::model::platforms::Platform;
use crate::ports::platforms::{DmStatus, PushBatch, Pushed, PushedItem, RemoteInteraction};

/// The items of one webhook body; `None` if it is not JSON of Meta's shape.
pub fn parse(body: &[u8]) -> Option<PushBatch> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    if payload.get("topic").is_some() {
        return threads(&payload);
    }
    let entries = payload.get("entry")?.as_array()?;
    let platform = match payload.get("object")?.as_str()? {
        "page" => Some(Platform::Facebook),
        "instagram" => Some(Platform::Instagram),
        _ => None,
    };
    let mut batch = PushBatch::default();
    for entry in entries {
        let Some(platform) = platform else {
            batch.ignored += 1;
            continue;
        };
        let to = text(entry, "id");
        for event in entry.get("messaging").and_then(Value::as_array).into_iter().flatten() {
            push(&mut batch, platform, &to, messaging(event, &to));
        }
        for change in entry.get("changes").and_then(Value::as_array).into_iter().flatten() {
            let at = entry.get("time").and_then(Value::as_i64).map(from_unix);
            push(&mut batch, platform, &to, self::change(platform, change, &to, at));
        }
    }
    Some(batch)
}

fn threads(payload: &Value) -> Option<PushBatch> {
    let changes = match payload.get("values")? {
        Value::Array(changes) => changes.clone(),
        change => vec![change.clone()],
    };
    let mut batch = PushBatch::default();
    for change in &changes {
        let reply = match change.get("field").and_then(Value::as_str) {
            Some("replies") => change.get("value").and_then(pushed_reply),
            _ => None,
        };
        match reply {
            Some((to, reply)) => batch.items.push(Pushed {
                platform: Platform::Threads,
                to,
                what: PushedItem::Interaction(Box::new(reply)),
            }),
            None => batch.ignored += 1,
        }
    }
    Some(batch)
}

fn push(batch: &mut PushBatch, platform: Platform, to: &str, items: Vec<PushedItem>) {
    if items.is_empty() {
        batch.ignored += 1;
    }
    batch.items.extend(items.into_iter().map(|what| Pushed { platform, to: to.to_string(), what }));
}

fn text(value: &Value, field: &str) -> String {
    match value.get(field) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

/// Meta's times: milliseconds in messaging, seconds elsewhere.
fn from_unix(value: i64) -> OffsetDateTime {
    let seconds = if value > 100_000_000_000 { value / 1000 } else { value };
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn messaging(event: &Value, to: &str) -> Vec<PushedItem> {
    let at = from_unix(event.get("timestamp").and_then(Value::as_i64).unwrap_or_default());
    let sender = event.get("sender").map(|sender| text(sender, "id")).unwrap_or_default();
    if let Some(message) = event.get("message") {
        let echo = message.get("is_echo").and_then(Value::as_bool).unwrap_or(false) || sender == to;
        let referral = message.get("referral").or_else(|| event.get("referral")).cloned();
        return vec![PushedItem::Interaction(Box::new(RemoteInteraction {
            kind: InteractionKind::Dm,
            direction: if echo { Direction::Outbound } else { Direction::Inbound },
            platform_id: text(message, "mid"),
            in_reply_to: message.get("reply_to").map(|reply| text(reply, "mid")),
            author: Author { id: sender.clone(), name: sender.clone(), username: None, avatar_url: None },
            text: text(message, "text"),
            media: attachments(message),
            created_at: at,
            url: None,
            reply_handle: Some(if echo { recipient(event) } else { sender }),
            referral,
        }))];
    }
    if let Some(delivery) = event.get("delivery") {
        let mids = delivery.get("mids").and_then(Value::as_array).into_iter().flatten();
        return mids
            .filter_map(Value::as_str)
            .map(|mid| PushedItem::Status { platform_id: mid.to_string(), status: DmStatus::Delivered, at })
            .collect();
    }
    if let Some(read) = event.get("read") {
        if read.get("mid").is_some() {
            return vec![PushedItem::Status { platform_id: text(read, "mid"), status: DmStatus::Read, at }];
        }
        if let Some(watermark) = read.get("watermark").and_then(Value::as_i64) {
            return vec![PushedItem::ReadUpTo { reader: sender, watermark: from_unix(watermark) }];
        }
    }
    if let Some(referral) = event.get("referral") {
        let millis = event.get("timestamp").and_then(Value::as_i64).unwrap_or_default();
        return vec![PushedItem::Interaction(Box::new(RemoteInteraction {
            kind: InteractionKind::Dm,
            direction: Direction::Inbound,
            platform_id: format!("referral:{sender}:{millis}"),
            in_reply_to: None,
            author: Author { id: sender.clone(), name: sender.clone(), username: None, avatar_url: None },
            text: String::new(),
            media: Vec::new(),
            created_at: at,
            url: None,
            reply_handle: Some(sender),
            referral: Some(referral.clone()),
        }))];
    }
    Vec::new()
}

fn recipient(event: &Value) -> String {
    event.get("recipient").map(|recipient| text(recipient, "id")).unwrap_or_default()
}

fn attachments(message: &Value) -> Vec<AttachedMedia> {
    let attachments = message.get("attachments").and_then(Value::as_array).into_iter().flatten();
    attachments
        .filter_map(|attachment| {
            let url = attachment.get("payload")?.get("url")?.as_str()?.to_string();
            let kind = match attachment.get("type").and_then(Value::as_str) {
                Some("image") => "image",
                Some("video") => "video",
                Some("audio") => "audio",
                _ => "file",
            };
            Some(AttachedMedia { url, kind: kind.to_string() })
        })
        .collect()
}

fn change(platform: Platform, change: &Value, to: &str, entry_time: Option<OffsetDateTime>) -> Vec<PushedItem> {
    let Some(value) = change.get("value") else { return Vec::new() };
    let field = change.get("field").and_then(Value::as_str).unwrap_or_default();
    let at = value.get("created_time").and_then(Value::as_i64).map(from_unix).or(entry_time);
    let at = at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let item = match (platform, field) {
        (Platform::Facebook, "feed") => facebook_comment(value, to, at),
        (Platform::Facebook, "mention") => facebook_mention(value, at),
        (Platform::Instagram, "comments") => instagram_comment(value, to, at),
        (Platform::Instagram, "mentions") => instagram_mention(value, at),
        _ => None,
    };
    item.map(|item| PushedItem::Interaction(Box::new(item))).into_iter().collect()
}

fn facebook_comment(value: &Value, page: &str, at: OffsetDateTime) -> Option<RemoteInteraction> {
    let is_new_comment = value.get("item")?.as_str()? == "comment" && value.get("verb")?.as_str()? == "add";
    if !is_new_comment {
        return None;
    }
    let from = value.get("from");
    let author_id = from.map(|from| text(from, "id")).unwrap_or_default();
    let parent = Some(text(value, "parent_id")).filter(|id| !id.is_empty()).unwrap_or_else(|| text(value, "post_id"));
    Some(RemoteInteraction {
        kind: InteractionKind::Comment,
        direction: if author_id == page { Direction::Outbound } else { Direction::Inbound },
        platform_id: text(value, "comment_id"),
        in_reply_to: Some(parent),
        author: Author {
            name: from.map(|from| text(from, "name")).filter(|name| !name.is_empty()).unwrap_or(author_id.clone()),
            id: author_id,
            username: None,
            avatar_url: None,
        },
        text: text(value, "message"),
        media: value
            .get("photo")
            .and_then(Value::as_str)
            .map(|url| vec![AttachedMedia { url: url.to_string(), kind: "image".into() }])
            .unwrap_or_default(),
        created_at: at,
        url: None,
        reply_handle: None,
        referral: None,
    })
}

fn facebook_mention(value: &Value, at: OffsetDateTime) -> Option<RemoteInteraction> {
    if value.get("verb").and_then(Value::as_str) != Some("add") {
        return None;
    }
    let id = Some(text(value, "comment_id")).filter(|id| !id.is_empty()).unwrap_or_else(|| text(value, "post_id"));
    let sender = text(value, "sender_id");
    Some(RemoteInteraction {
        kind: InteractionKind::Mention,
        direction: Direction::Inbound,
        platform_id: id,
        in_reply_to: None,
        author: Author {
            name: Some(text(value, "sender_name")).filter(|name| !name.is_empty()).unwrap_or(sender.clone()),
            id: sender,
            username: None,
            avatar_url: None,
        },
        text: text(value, "message"),
        media: Vec::new(),
        created_at: at,
        url: None,
        reply_handle: None,
        referral: None,
    })
}

fn instagram_comment(value: &Value, account: &str, at: OffsetDateTime) -> Option<RemoteInteraction> {
    let from = value.get("from")?;
    let author_id = text(from, "id");
    let media = value.get("media").map(|media| text(media, "id"));
    let parent = Some(text(value, "parent_id")).filter(|id| !id.is_empty()).or(media);
    Some(RemoteInteraction {
        kind: InteractionKind::Comment,
        direction: if author_id == account { Direction::Outbound } else { Direction::Inbound },
        platform_id: text(value, "id"),
        in_reply_to: parent,
        author: Author {
            id: author_id,
            name: text(from, "username"),
            username: Some(text(from, "username")),
            avatar_url: None,
        },
        text: text(value, "text"),
        media: Vec::new(),
        created_at: at,
        url: None,
        reply_handle: None,
        referral: None,
    })
}

/// An Instagram mention says only where: the media and, in a comment, the comment.
fn instagram_mention(value: &Value, at: OffsetDateTime) -> Option<RemoteInteraction> {
    let id = Some(text(value, "comment_id")).filter(|id| !id.is_empty()).unwrap_or_else(|| text(value, "media_id"));
    if id.is_empty() {
        return None;
    }
    Some(RemoteInteraction {
        kind: InteractionKind::Mention,
        direction: Direction::Inbound,
        platform_id: id,
        in_reply_to: None,
        author: Author { id: String::new(), name: String::new(), username: None, avatar_url: None },
        text: String::new(),
        media: Vec::new(),
        created_at: at,
        url: None,
        reply_handle: None,
        referral: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn interaction(item: &PushedItem) -> &RemoteInteraction {
        match item {
            PushedItem::Interaction(interaction) => interaction,
            other => panic!("not an interaction: {other:?}"),
        }
    }

    #[test]
    fn page_messaging_and_feed_become_interactions_and_statuses() {
        let body = json!({"object": "page", "entry": [{"id": "104857", "time": 1458692752478_i64,
            "messaging": [
                {"sender": {"id": "2401"}, "recipient": {"id": "104857"}, "timestamp": 1458692752478_i64,
                 "message": {"mid": "m_1", "text": "hello, world!",
                    "attachments": [{"type": "image", "payload": {"url": "https://cdn.example/a.png"}}]}},
                {"sender": {"id": "104857"}, "recipient": {"id": "2401"}, "timestamp": 1458692752478_i64,
                 "message": {"mid": "m_2", "text": "hi!", "is_echo": true}},
                {"sender": {"id": "2401"}, "recipient": {"id": "104857"}, "timestamp": 1458692752478_i64,
                 "delivery": {"mids": ["m_2"], "watermark": 1458668856253_i64}},
                {"sender": {"id": "2401"}, "recipient": {"id": "104857"}, "timestamp": 1458692752478_i64,
                 "read": {"watermark": 1458668856253_i64}},
                {"sender": {"id": "2402"}, "recipient": {"id": "104857"}, "timestamp": 1458692752479_i64,
                 "referral": {"ref": "spring", "source": "ADS", "type": "OPEN_THREAD", "ad_id": "1202"}}],
            "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "104857_9_1",
                "post_id": "104857_9", "parent_id": "104857_9", "from": {"id": "77", "name": "Ada"},
                "message": "Nice!", "created_time": 1458692752}},
                {"field": "ratings", "value": {}}]}]});
        let batch = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(batch.items.len(), 6, "{batch:?}");
        assert_eq!(batch.ignored, 1, "the ratings change");
        let dm = interaction(&batch.items[0].what);
        assert_eq!(
            (dm.kind, dm.direction, dm.text.as_str()),
            (InteractionKind::Dm, Direction::Inbound, "hello, world!")
        );
        assert_eq!(dm.media[0].url, "https://cdn.example/a.png");
        assert_eq!(interaction(&batch.items[1].what).direction, Direction::Outbound);
        assert_eq!(
            batch.items[2].what,
            PushedItem::Status { platform_id: "m_2".into(), status: DmStatus::Delivered, at: from_unix(1458692752478) }
        );
        let read_up_to = PushedItem::ReadUpTo { reader: "2401".into(), watermark: from_unix(1458668856253) };
        assert_eq!(batch.items[3].what, read_up_to);
        let referral = interaction(&batch.items[4].what);
        assert!(referral.text.is_empty() && referral.referral.is_some());
        let comment = interaction(&batch.items[5].what);
        assert_eq!((comment.kind, comment.in_reply_to.as_deref()), (InteractionKind::Comment, Some("104857_9")));
        assert!(batch.items.iter().all(|item| item.platform == Platform::Facebook && item.to == "104857"));
    }

    #[test]
    fn threads_replies_are_comments_for_the_root_posts_owner_in_either_values_shape() {
        let reply = json!({"id": "17800000000000002", "username": "ada", "text": "Great post!",
            "media_type": "TEXT_POST", "permalink": "https://www.threads.com/@ada/post/ABC",
            "replied_to": {"id": "17841400000000001"},
            "root_post": {"id": "17841400000000001", "owner_id": "20000000000000003", "username": "posthorn"},
            "shortcode": "ABC", "timestamp": "2026-09-01T08:06:09+0000"});
        let own = json!({"id": "17800000000000003", "username": "posthorn", "text": "Thanks!",
            "replied_to": {"id": "17800000000000002"},
            "root_post": {"id": "17841400000000001", "owner_id": "20000000000000003", "username": "posthorn"},
            "timestamp": "2026-09-01T08:07:09+0000"});
        let documented = json!({"app_id": "123456", "topic": "moderate", "target_id": "17841400000000001",
            "time": 1788249976, "subscription_id": "234567", "has_uid_field": false,
            "values": {"value": reply, "field": "replies"}});
        let batch = parse(documented.to_string().as_bytes()).unwrap();
        assert_eq!((batch.items.len(), batch.ignored), (1, 0));
        assert_eq!((batch.items[0].platform, batch.items[0].to.as_str()), (Platform::Threads, "20000000000000003"));
        let comment = interaction(&batch.items[0].what);
        assert_eq!((comment.kind, comment.text.as_str()), (InteractionKind::Comment, "Great post!"));
        assert_eq!(comment.in_reply_to.as_deref(), Some("17841400000000001"));

        let delivered = json!({"app_id": "123456", "topic": "moderate", "target_id": "17841400000000001",
            "time": 1788249976, "values": [{"value": reply, "field": "replies"}, {"value": own, "field": "replies"},
                {"value": {"id": "1", "username": "bob"}, "field": "mentions"}]});
        let batch = parse(delivered.to_string().as_bytes()).unwrap();
        assert_eq!((batch.items.len(), batch.ignored), (1, 2), "the account's own reply and the mention");
    }

    #[test]
    fn instagram_comments_and_mentions_and_unknown_objects() {
        let body = json!({"object": "instagram", "entry": [{"id": "17841400", "time": 1569262486,
            "changes": [{"field": "comments", "value": {"id": "17865799348089039", "text": "This is an example.",
                "from": {"id": "232323232", "username": "ada"}, "media": {"id": "123123123"}}},
                {"field": "mentions", "value": {"media_id": "17887498072083520", "comment_id": "17887498072083521"}}]}]});
        let batch = parse(body.to_string().as_bytes()).unwrap();
        let comment = interaction(&batch.items[0].what);
        assert_eq!(comment.in_reply_to.as_deref(), Some("123123123"));
        assert_eq!(comment.author.username.as_deref(), Some("ada"));
        assert_eq!(interaction(&batch.items[1].what).kind, InteractionKind::Mention);
        let other = json!({"object": "permissions", "entry": [{"id": "1"}]});
        assert_eq!(parse(other.to_string().as_bytes()).unwrap().ignored, 1);
        assert!(parse(b"not json").is_none());
    }
}
