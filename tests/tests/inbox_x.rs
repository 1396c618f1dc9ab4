//! X's inbox on both stores, against the X fake (`x_fake`), whose JSON requests and answers are
//! checked against X's OpenAPI document: mentions and comments from the mentions timeline
//! (`since_id`, pages of 100 with `pagination_token`), DMs from the DM events (paged back to the
//! newest event read), each stored once and delivered signed; answers as a reply post or a
//! message in the DM's conversation; and a DM source out of its 15-reads-per-15-minutes
//! allowance backing off alone while mentions are still read.

use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::ids::InteractionId;
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::platform_inbox::{Account, ChannelOf, InboxFixture};
use posthorn_testkit::stores::StoreKind;
use posthorn_testkit::x_fake::{USER_ID, USERNAME, XFake};
use serde_json::json;

const ADA: &str = "1300000000000000001";
const GRACE: &str = "1300000000000000002";

on_both_stores!(
    mentions_and_comments_arrive_once_linked_to_the_post_they_answer,
    a_flood_of_mentions_is_read_page_by_page,
    dms_arrive_once_and_are_answered_in_their_conversation,
    out_of_dm_reads_the_dms_back_off_alone,
);

async fn x(f: &InboxFixture) -> (XFake, Channel) {
    let fake = XFake::start(f.clock.clone(), time::Duration::hours(2)).await;
    fake.user(ADA, "ada", "Ada Lovelace");
    fake.user(GRACE, "grace", "Grace Hopper");
    let tokens = fake.authorize();
    let account = Account {
        platform: Platform::X,
        base_url: &fake.base_url,
        platform_user_id: USER_ID,
        username: USERNAME,
        access_token: &tokens.access,
        expires_at: Some(tokens.expires_at),
    };
    let channel =
        f.connect(account, ChannelOf { platform_channel_id: USER_ID, kind: ChannelKind::Profile, token: None }).await;
    (fake, channel)
}

async fn mentions_and_comments_arrive_once_linked_to_the_post_they_answer(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let (fake, channel) = x(&f).await;
    let early = fake.mention(GRACE, "before we connected", None);
    let post_id = f.publish(&channel, "Launch!").await;
    let ours = f.get(&format!("/v1/posts/{post_id}")).await["data"]["targets"][0]["platform_post_id"]
        .as_str()
        .unwrap()
        .to_string();

    let first = f.sync().await;
    assert_eq!((first.channels, first.interactions), (1, 0), "history is not news: {first:?}");
    f.clock.advance(time::Duration::seconds(5));
    let comment = fake.mention(ADA, "Congratulations!", Some(&ours));
    let thread = fake.mention(GRACE, "agreed with Ada", Some(&comment));
    let mention = fake.mention(GRACE, "have you seen this?", None);
    let second = f.sync().await;
    assert_eq!((second.interactions, second.duplicates, second.failed), (3, 0, 0), "{second:?}");

    let comments = f.verified("comment.received", 2).await;
    let first_comment = comments.iter().find(|event| event["data"]["platform_id"] == comment.as_str()).unwrap();
    let data = &first_comment["data"];
    assert_eq!(data["post_id"], post_id, "a reply to our post is linked to it");
    assert_eq!(
        data["author"],
        json!({"id": ADA, "name": "Ada Lovelace", "username": "ada",
        "avatar_url": format!("https://pbs.twimg.com/profile_images/{ADA}/normal.jpg")})
    );
    assert_eq!(data["content"]["text"], format!("@{USERNAME} Congratulations!"));
    assert_eq!(data["platform_url"], format!("https://x.com/ada/status/{comment}"));
    let answer_to_comment = comments.iter().find(|event| event["data"]["platform_id"] == thread.as_str()).unwrap();
    assert_eq!(answer_to_comment["data"]["parent_id"], data["id"], "a reply in our post's thread answers its parent");
    assert_eq!(f.verified("mention.received", 1).await[0]["data"]["platform_id"], mention.as_str());

    // Read again from before the first mention: each is recognised, the one older than the
    // backfill's start is new.
    f.backfill(&channel, f.clock.now() - time::Duration::hours(1)).await;
    let again = f.sync().await;
    assert_eq!((again.interactions, again.duplicates), (1, 3), "{again:?}");
    assert_eq!(f.verified("mention.received", 2).await[1]["data"]["platform_id"], early.as_str());
    assert_eq!(f.get("/v1/interactions").await["data"].as_array().unwrap().len(), 4);

    let id = data["id"].as_str().unwrap();
    let answer = f.reply(id, "Thank you!").await;
    assert_eq!(answer.status, axum::http::StatusCode::CREATED, "{answer:?}");
    assert_eq!(fake.replies(), [json!({"text": "Thank you!", "reply": {"in_reply_to_tweet_id": comment}})]);
    let sent = answer.body["data"]["platform_id"].as_str().unwrap();
    assert_eq!(answer.body["data"]["platform_url"], format!("https://x.com/i/web/status/{sent}"));
}

async fn a_flood_of_mentions_is_read_page_by_page(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let (fake, channel) = x(&f).await;
    f.sync().await;
    f.clock.advance(time::Duration::seconds(5));
    let ids: Vec<String> = (0..130).map(|n| fake.mention(ADA, &format!("mention {n}"), None)).collect();

    let flood = f.sync_through().await;
    assert_eq!((flood.interactions, flood.failed), (130, 0), "two pages of 100 and 30: {flood:?}");
    let later = fake.mention(GRACE, "one more", None);
    let next = f.sync().await;
    assert_eq!((next.interactions, next.duplicates), (1, 0), "only what came after the newest read: {next:?}");
    let listed = f.get("/v1/interactions?type=mention&limit=1").await;
    assert_eq!(listed["data"][0]["platform_id"], later.as_str(), "newest first");
    let oldest = f.get(&format!("/v1/interactions/{}", InteractionId::of("x", channel.id, &ids[0]))).await;
    assert_eq!(oldest["data"]["content"]["text"], format!("@{USERNAME} mention 0"), "the last page was read too");
}

async fn dms_arrive_once_and_are_answered_in_their_conversation(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let (fake, _channel) = x(&f).await;
    let conversation = format!("{ADA}-{USER_ID}");
    fake.dm(ADA, &conversation, "an old message");
    f.sync().await;
    f.clock.advance(time::Duration::seconds(5));
    let question = fake.dm(ADA, &conversation, "Is the beta open?");
    fake.dm(GRACE, &format!("{GRACE}-{USER_ID}"), "Hello from Grace");

    let report = f.sync().await;
    assert_eq!((report.interactions, report.failed), (2, 0), "{report:?}");
    let dms = f.verified("dm.received", 2).await;
    let dm = dms.iter().find(|event| event["data"]["platform_id"] == question.as_str()).unwrap();
    assert_eq!(dm["data"]["author"]["username"], "ada");
    assert_eq!(dm["data"]["content"]["text"], "Is the beta open?");

    let id = dm["data"]["id"].as_str().unwrap();
    let answer = f.reply(id, "Yes, come in!").await;
    assert_eq!(answer.status, axum::http::StatusCode::CREATED, "{answer:?}");
    assert_eq!(fake.messages(), [(conversation.clone(), json!({"text": "Yes, come in!"}))]);
    assert_eq!(f.verified("dm.sent", 1).await[0]["data"]["parent_id"], id);

    // X lists the message sent among the DM events: it is the answer already recorded.
    let after = f.sync().await;
    assert_eq!((after.interactions, after.duplicates), (0, 1), "{after:?}");
    let both_ways = f.get("/v1/interactions?type=dm").await;
    assert_eq!(both_ways["data"].as_array().unwrap().len(), 3);
}

async fn out_of_dm_reads_the_dms_back_off_alone(kind: StoreKind) {
    let f = InboxFixture::start(kind).await;
    let (fake, _channel) = x(&f).await;
    f.sync().await;
    fake.spend_dm_reads(13);
    let first = f.sync().await;
    assert_eq!(first.rate_limited, 0, "the 15th read of the window is allowed: {first:?}");
    let requests = fake.dm_requests();

    let limited = f.sync().await;
    assert_eq!((limited.rate_limited, limited.failed), (1, 0), "{limited:?}");
    fake.dm(ADA, &format!("{ADA}-{USER_ID}"), "are you there?");
    let mention = fake.mention(GRACE, "still reading mentions?", None);
    for _ in 0..5 {
        let report = f.sync().await;
        assert_eq!(report.rate_limited, 0, "the DMs wait for the window's reset: {report:?}");
    }
    assert_eq!(fake.dm_requests(), requests + 1, "no DM read until the reset");
    assert_eq!(f.verified("mention.received", 1).await[0]["data"]["platform_id"], mention.as_str());

    f.clock.advance(time::Duration::minutes(15));
    let reset = f.sync().await;
    assert_eq!((reset.interactions, reset.rate_limited), (1, 0), "{reset:?}");
    f.verified("dm.received", 1).await;
}
