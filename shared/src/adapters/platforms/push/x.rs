//! X's Account Activity events
//! (<https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity>): for the
//! subscribed user `for_user_id`, `tweet_create_events` (a reply to the user is a comment, any
//! other tweet naming them a mention; the user's own tweets are not interactions) and
//! `direct_message_events` (`message_create`, outbound when the user sent it). Other events
//! (likes, follows…) are counted as ignored.

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::model::inbox::{Author, Direction, InteractionKind};
use crate::model::platforms::Platform;
use crate::ports::platforms::{PushBatch, Pushed, PushedItem, RemoteInteraction};

const TWEET_EVENTS: &str = "tweet_create_events";
const DM_EVENTS: &str = "direct_message_events";

/// The items of one event body; `None` if it is not JSON of X's shape.
pub fn parse(body: &[u8]) -> Option<PushBatch> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    let user = payload.get("for_user_id")?.as_str()?.to_string();
    let mut batch = PushBatch::default();
    for (name, events) in payload.as_object()? {
        let Some(events) = events.as_array() else { continue };
        for event in events {
            let item = match name.as_str() {
                TWEET_EVENTS => tweet(event, &user),
                DM_EVENTS => direct_message(event, &user, payload.get("users")),
                _ => None,
            };
            match item {
                Some(item) => batch.items.push(Pushed {
                    platform: Platform::X,
                    to: user.clone(),
                    what: PushedItem::Interaction(Box::new(item)),
                }),
                None => batch.ignored += 1,
            }
        }
    }
    Some(batch)
}

fn text(value: &Value, field: &str) -> Option<String> {
    value.get(field)?.as_str().map(str::to_string)
}

fn tweet(tweet: &Value, user: &str) -> Option<RemoteInteraction> {
    let author = tweet.get("user")?;
    let author_id = text(author, "id_str")?;
    if author_id == user {
        return None;
    }
    let answers_user = text(tweet, "in_reply_to_user_id_str").as_deref() == Some(user);
    let full_text = tweet.get("extended_tweet").and_then(|extended| text(extended, "full_text"));
    let id = text(tweet, "id_str")?;
    let screen_name = text(author, "screen_name");
    Some(RemoteInteraction {
        kind: if answers_user { InteractionKind::Comment } else { InteractionKind::Mention },
        direction: Direction::Inbound,
        url: screen_name.as_ref().map(|name| format!("https://x.com/{name}/status/{id}")),
        platform_id: id,
        in_reply_to: text(tweet, "in_reply_to_status_id_str"),
        author: Author {
            name: text(author, "name").unwrap_or_else(|| author_id.clone()),
            id: author_id,
            username: screen_name,
            avatar_url: text(author, "profile_image_url_https"),
        },
        text: full_text.or_else(|| text(tweet, "text")).unwrap_or_default(),
        media: Vec::new(),
        created_at: text(tweet, "created_at").and_then(|at| created_at(&at)).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        reply_handle: None,
        referral: None,
    })
}

/// v1.1's `Wed Oct 10 20:19:24 +0000 2018`.
fn created_at(text: &str) -> Option<OffsetDateTime> {
    let format = format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute] [year]"
    );
    OffsetDateTime::parse(text, format).ok()
}

fn direct_message(event: &Value, user: &str, users: Option<&Value>) -> Option<RemoteInteraction> {
    if event.get("type")?.as_str()? != "message_create" {
        return None;
    }
    let message = event.get("message_create")?;
    let sender = text(message, "sender_id")?;
    let recipient = message.get("target").and_then(|target| text(target, "recipient_id"))?;
    let outbound = sender == user;
    let other = if outbound { &recipient } else { &sender };
    let profile = users.and_then(|users| users.get(&sender));
    let millis: i64 = text(event, "created_timestamp")?.parse().ok()?;
    Some(RemoteInteraction {
        kind: InteractionKind::Dm,
        direction: if outbound { Direction::Outbound } else { Direction::Inbound },
        platform_id: text(event, "id")?,
        in_reply_to: None,
        author: Author {
            name: profile.and_then(|profile| text(profile, "name")).unwrap_or_else(|| sender.clone()),
            username: profile.and_then(|profile| text(profile, "screen_name")),
            avatar_url: profile.and_then(|profile| text(profile, "profile_image_url_https")),
            id: sender.clone(),
        },
        text: message.get("message_data").and_then(|data| text(data, "text")).unwrap_or_default(),
        media: Vec::new(),
        created_at: OffsetDateTime::from_unix_timestamp(millis / 1000).ok()?,
        url: None,
        reply_handle: Some(conversation_id(user, other)),
        referral: None,
    })
}

/// A one-to-one conversation's id on X: the two user ids, lower first.
fn conversation_id(a: &str, b: &str) -> String {
    let (a_number, b_number) = (a.parse::<u128>().unwrap_or(0), b.parse::<u128>().unwrap_or(0));
    if a_number <= b_number { format!("{a}-{b}") } else { format!("{b}-{a}") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replies_mentions_and_direct_messages() {
        let body = json!({
            "for_user_id": "2244994945",
            "tweet_create_events": [
                {"id_str": "1050118621198921728", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                 "text": "@XDevelopers thanks!", "in_reply_to_status_id_str": "1050118621198921700",
                 "in_reply_to_user_id_str": "2244994945",
                 "user": {"id_str": "6253282", "name": "Ada", "screen_name": "ada", "profile_image_url_https": "https://pbs.twimg.com/a.png"}},
                {"id_str": "1050118621198921729", "created_at": "Wed Oct 10 20:20:24 +0000 2018",
                 "text": "Look at @XDevelopers", "user": {"id_str": "6253283", "name": "Bob", "screen_name": "bob"}},
                {"id_str": "1050118621198921730", "created_at": "Wed Oct 10 20:21:24 +0000 2018",
                 "text": "our own", "user": {"id_str": "2244994945", "name": "X Devs", "screen_name": "XDevelopers"}}],
            "direct_message_events": [{"type": "message_create", "id": "954491830116155396",
                "created_timestamp": "1516403560557",
                "message_create": {"target": {"recipient_id": "2244994945"}, "sender_id": "3001969357",
                    "message_data": {"text": "Hello World!"}}}],
            "users": {"3001969357": {"id": "3001969357", "name": "Jordan", "screen_name": "jordan"}},
            "favorite_events": [{"id": "a7ba59eab0bfcba386f7acedac279542"}]
        });
        let batch = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(batch.items.len(), 3, "{batch:?}");
        assert_eq!(batch.ignored, 2, "our own tweet and the like");
        let kinds: Vec<InteractionKind> = batch
            .items
            .iter()
            .map(|item| match &item.what {
                PushedItem::Interaction(interaction) => interaction.kind,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, [InteractionKind::Dm, InteractionKind::Comment, InteractionKind::Mention]);
        let PushedItem::Interaction(dm) = &batch.items[0].what else { unreachable!() };
        assert_eq!(dm.author.username.as_deref(), Some("jordan"));
        assert_eq!(dm.reply_handle.as_deref(), Some("2244994945-3001969357"));
        assert_eq!(dm.created_at.unix_timestamp(), 1516403560);
        let PushedItem::Interaction(reply) = &batch.items[1].what else { unreachable!() };
        assert_eq!(reply.created_at.unix_timestamp(), 1539202764);
        assert_eq!(reply.url.as_deref(), Some("https://x.com/ada/status/1050118621198921728"));
    }
}
