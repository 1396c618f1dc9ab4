//! Bluesky's inbox on both stores, against a PDS fake that answers as the PDS, its AppView and the
//! chat service document (`posthorn_testkit::bluesky_fake`): replies, quotes and mentions of the
//! account arrive once each with their kinds, linked to the post they are about, delivered as
//! signed events that the standardwebhooks crate verifies; a poll walks back through older pages
//! only as far as what it read before; DMs arrive from the chat log and are answered through it;
//! an app password without DM access leaves the account connected, with DMs marked not granted.
//!
//! Then against a real PDS with its AppView (`@atproto/dev-env`, see `atproto_pds`): a second
//! account replies to and mentions a post the app published there, and sync-inbox turns what the
//! AppView notifies into signed comment.received and mention.received deliveries.

use std::time::{Duration, Instant};

use posthorn::model::channels::Channel;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::inbox::InboxState;
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn_testkit::atproto_pds::{AtprotoPds, get_record};
use posthorn_testkit::bluesky_fake::{self, BlueskyFake};
use posthorn_testkit::inbox::InboxApp;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long the AppView may take to index the PDS's firehose.
const INDEXING_TIMEOUT: Duration = Duration::from_secs(90);
const ADA: &str = "did:plc:ada0000000000000000000";

/// The app, with the fake's account connected and watched.
struct Faked {
    f: InboxApp,
    pds: BlueskyFake,
    channel: Channel,
}

impl std::ops::Deref for Faked {
    type Target = InboxApp;

    fn deref(&self) -> &InboxApp {
        &self.f
    }
}

async fn fixture(kind: StoreKind) -> InboxApp {
    InboxApp::start(kind, "posthorn-inbox-bsky").await
}

async fn faked(kind: StoreKind) -> Faked {
    let f = fixture(kind).await;
    let pds = BlueskyFake::start(Duration::from_secs(3600)).await;
    let channel =
        f.watch(Platform::Bluesky, &pds.base_url, bluesky_fake::DID, bluesky_fake::HANDLE, &pds.sign_in()).await;
    Faked { f, pds, channel }
}

/// `seconds` after the app's clock, as listNotifications writes `indexedAt`.
fn at(f: &InboxApp, seconds: i64) -> String {
    (f.clock.now() + time::Duration::seconds(seconds)).format(&Rfc3339).unwrap()
}

impl Faked {
    async fn inbox_state(&self) -> InboxState {
        self.app.store().get_inbox_state(self.app.workspace_id, self.channel.id).await.unwrap().unwrap()
    }
}

/// A notification as listNotifications returns it: by Ada, of `reason`, about `subject`.
fn notification(reason: &str, rkey: &str, indexed_at: &str, record: Value, subject: Option<&str>) -> Value {
    let mut notification = json!({
        "uri": format!("at://{ADA}/app.bsky.feed.post/{rkey}"), "cid": format!("bafyrei{rkey}"),
        "author": {"did": ADA, "handle": "ada.bsky.social", "displayName": "Ada",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/ada.jpg"},
        "reason": reason, "record": record, "isRead": false, "indexedAt": indexed_at, "labels": []
    });
    if let Some(subject) = subject {
        notification["reasonSubject"] = json!(subject);
    }
    notification
}

fn post(text: &str, reply_to: Option<&str>) -> Value {
    let mut record = json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"});
    if let Some(uri) = reply_to {
        let parent = json!({"uri": uri, "cid": "bafyreiparent"});
        record["reply"] = json!({"root": parent, "parent": parent});
    }
    record
}

fn like(subject: &str) -> Value {
    json!({"$type": "app.bsky.feed.like", "subject": {"uri": subject, "cid": "bafyreiparent"},
        "createdAt": "2026-01-01T00:00:00.000Z"})
}

on_both_stores!(
    replies_quotes_and_mentions_arrive_once_linked_to_their_post,
    a_poll_walks_back_only_to_what_it_read_before,
    dms_arrive_from_the_chat_log_and_are_answered_through_it,
    an_app_password_without_dm_access_leaves_the_account_connected,
);

async fn replies_quotes_and_mentions_arrive_once_linked_to_their_post(kind: StoreKind) {
    let f = faked(kind).await;
    let (post_id, uri) = f.publish(&f.channel, "Launch day!").await;
    assert_eq!(uri, format!("at://{}/app.bsky.feed.post/3lrecord1", bluesky_fake::DID));
    let first = f.sync().await;
    assert_eq!((first.channels, first.interactions, first.failed), (1, 0, 0), "{first:?}");

    f.pds.notify(notification("reply", "3lreply", &at(&f, 1), post("Congratulations!", Some(&uri)), Some(&uri)));
    let mut quoted = post("Look at this", None);
    quoted["embed"] = json!({"$type": "app.bsky.embed.record", "record": {"uri": uri, "cid": "bafyreiparent"}});
    f.pds.notify(notification("quote", "3lquote", &at(&f, 2), quoted, Some(&uri)));
    f.pds.notify(notification("mention", "3lmention", &at(&f, 3), post("@alice.test have you seen?", None), None));
    f.pds.notify(notification("like", "3llike", &at(&f, 4), like(&uri), Some(&uri)));
    let second = f.sync().await;
    assert_eq!((second.interactions, second.duplicates, second.failed), (3, 0, 0), "{second:?}");

    let comments = f.verified("comment.received", 2).await;
    let reply = comments.iter().map(|event| &event["data"]).find(|data| data["content"]["text"] == "Congratulations!");
    let reply = reply.expect("the reply is a comment");
    assert_eq!(reply["post_id"], post_id, "the reply links to the post it answers");
    assert_eq!(reply["platform_id"], format!("at://{ADA}/app.bsky.feed.post/3lreply"));
    assert_eq!(reply["platform_url"], format!("https://bsky.app/profile/{ADA}/post/3lreply"));
    assert_eq!(
        reply["author"],
        json!({"id": ADA, "name": "Ada", "username": "ada.bsky.social",
            "avatar_url": "https://cdn.bsky.app/img/avatar/plain/ada.jpg"})
    );
    let quote = comments.iter().map(|event| &event["data"]).find(|data| data["content"]["text"] == "Look at this");
    assert_eq!(quote.expect("the quote is a comment")["post_id"], post_id, "the quote links to the quoted post");
    let mention = &f.verified("mention.received", 1).await[0]["data"];
    assert_eq!(mention["content"]["text"], "@alice.test have you seen?");
    assert_eq!(mention["post_id"], Value::Null);

    let third = f.sync().await;
    assert_eq!((third.interactions, third.duplicates), (0, 0), "nothing read twice: {third:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.receiver.count(), 3, "no event fired twice");

    // The answer is a post in the reply's thread: rooted at our post, answering the reply.
    let answer = f.reply(reply["id"].as_str().unwrap(), "Thank you!").await;
    let sent = f.pds.records().pop().unwrap();
    assert_eq!(sent["record"]["text"], "Thank you!");
    assert_eq!(
        sent["record"]["reply"],
        json!({"root": {"uri": uri, "cid": "bafyreiparent"},
            "parent": {"uri": format!("at://{ADA}/app.bsky.feed.post/3lreply"), "cid": "bafyrei3lreply"}})
    );
    assert_eq!(answer["platform_id"], format!("at://{}/app.bsky.feed.post/3lrecord2", bluesky_fake::DID));
    assert_eq!(answer["post_id"], post_id);
    let quote_id = quote.unwrap()["id"].as_str().unwrap();
    f.reply(quote_id, "Thanks for sharing").await;
    let quote_thread = &f.pds.records().pop().unwrap()["record"]["reply"];
    let itself = json!({"uri": format!("at://{ADA}/app.bsky.feed.post/3lquote"), "cid": "bafyrei3lquote"});
    assert_eq!(quote_thread, &json!({"root": itself, "parent": itself}), "a quote starts its own thread");
}

async fn a_poll_walks_back_only_to_what_it_read_before(kind: StoreKind) {
    let f = faked(kind).await;
    f.sync().await;
    // Older than a page's worth of likes: only the second page has it.
    f.pds.notify(notification("mention", "3lolder", &at(&f, 1), post("first!", None), None));
    for n in 0..150 {
        let subject = format!("at://{}/app.bsky.feed.post/3lpost", bluesky_fake::DID);
        f.pds.notify(notification("like", &format!("3llike{n}"), &at(&f, 2 + n), like(&subject), Some(&subject)));
    }
    f.pds.notify(notification("mention", "3lnewer", &at(&f, 200), post("second!", None), None));
    let reads = f.pds.notification_reads();
    let walked = f.sync().await;
    assert_eq!(walked.interactions, 2, "{walked:?}");
    assert_eq!(f.pds.notification_reads() - reads, 2, "both pages");
    let texts: Vec<Value> =
        f.verified("mention.received", 2).await.iter().map(|event| event["data"]["content"]["text"].clone()).collect();
    assert!(texts.contains(&json!("first!")) && texts.contains(&json!("second!")), "{texts:?}");

    f.pds.notify(notification("mention", "3lnewest", &at(&f, 300), post("third!", None), None));
    let reads = f.pds.notification_reads();
    let caught_up = f.sync().await;
    assert_eq!((caught_up.interactions, caught_up.duplicates), (1, 0), "{caught_up:?}");
    assert_eq!(f.pds.notification_reads() - reads, 1, "the newest page reaches what was read");
    assert_eq!(f.verified("mention.received", 3).await.len(), 3);
}

async fn dms_arrive_from_the_chat_log_and_are_answered_through_it(kind: StoreKind) {
    let f = faked(kind).await;
    f.sync().await;
    let id = f.pds.message("convo1", ADA, "Is the beta open?");
    let polled = f.sync().await;
    assert_eq!(polled.interactions, 1, "{polled:?}");
    let dm = f.verified("dm.received", 1).await.remove(0)["data"].clone();
    assert_eq!((&dm["platform_id"], &dm["content"]["text"]), (&json!(id), &json!("Is the beta open?")));
    assert_eq!((&dm["direction"], &dm["author"]["id"]), (&json!("inbound"), &json!(ADA)));
    assert_eq!(f.inbox_state().await.dms_granted, Some(true));

    let answer = f.reply(dm["id"].as_str().unwrap(), "Yes, from today!").await;
    let sent = f.pds.messages().pop().unwrap();
    assert_eq!((&sent["text"], &sent["sender"]["did"]), (&json!("Yes, from today!"), &json!(bluesky_fake::DID)));
    assert_eq!(answer["platform_id"], sent["id"]);
    assert_eq!(f.verified("dm.sent", 1).await[0]["data"]["parent_id"], dm["id"]);

    // The answer comes back in the log as the account's own message: the same one, not a new one.
    let again = f.sync().await;
    assert_eq!((again.interactions, again.duplicates), (0, 1), "{again:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.receiver.count(), 2);
}

async fn an_app_password_without_dm_access_leaves_the_account_connected(kind: StoreKind) {
    let f = faked(kind).await;
    f.pds.deny_dms();
    f.pds.notify(notification("mention", "3lhello", &at(&f, 30), post("hello", None), None));
    let polled = f.sync().await;
    assert_eq!((polled.interactions, polled.failed), (1, 1), "notifications read, DMs refused: {polled:?}");

    let state = f.inbox_state().await;
    assert_eq!(state.dms_granted, Some(false));
    assert!(state.last_error.as_deref().unwrap_or_default().contains("Bad token method"), "{:?}", state.last_error);
    let connection = f.app.store().get_connection(f.app.workspace_id, f.channel.connection_id).await.unwrap().unwrap();
    assert_eq!(connection.status, ConnectionStatus::Active, "a grant without DMs is no expired session");
    let shown = f.get(&format!("/v1/connections/{}", f.channel.connection_id)).await;
    assert_eq!(shown["data"]["status"], "active");
    assert_eq!(shown["data"]["inbox"][0]["channel_id"], f.channel.id.to_string());
    assert_eq!(shown["data"]["inbox"][0]["dms_granted"], false, "the connection says DMs are not granted: {shown}");
    let mentions = f.get("/v1/interactions?type=mention").await;
    assert_eq!(mentions["data"].as_array().unwrap().len(), 1);
}

/// A real PDS answers one XRPC procedure: its JSON answer, or a panic with its error.
async fn procedure(pds: &str, method: &str, token: Option<&str>, body: Value) -> Value {
    posthorn::adapters::https::install_crypto_provider();
    let mut request = reqwest::Client::new().post(format!("{pds}/xrpc/{method}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{method}: {status} {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_pds_notifies_replies_and_mentions_that_arrive_as_signed_events() {
    let server = AtprotoPds::start().await;
    let ours = &server.account;
    assert!(ours.appview.is_some(), "listNotifications needs the AppView, which needs PostgreSQL's server programs");
    let f = fixture(StoreKind::Sqlite).await;
    let channel = f.watch(Platform::Bluesky, &ours.pds, &ours.did, &ours.handle, &ours.access_jwt).await;
    let (post_id, uri) = f.publish(&channel, "Launch day on a real PDS!").await;
    let (_, record) = get_record(&ours.pds, &uri).await;
    let first = f.sync().await;
    assert_eq!((first.channels, first.interactions), (1, 0), "{first:?}");

    let ada = procedure(
        &ours.pds,
        "com.atproto.server.createAccount",
        None,
        json!({"handle": "ada.test", "email": "ada@posthorn.test", "password": "ada-password"}),
    )
    .await;
    let (ada_did, ada_jwt) = (ada["did"].as_str().unwrap(), ada["accessJwt"].as_str().unwrap());
    // The AppView skips the commits of a repository it has not indexed yet: write once it knows Ada.
    let started = Instant::now();
    loop {
        let profile = reqwest::Client::new()
            .get(format!("{}/xrpc/app.bsky.actor.getProfile?actor={ada_did}", ours.pds))
            .bearer_auth(&ours.access_jwt)
            .send()
            .await
            .unwrap();
        if profile.status().is_success() {
            break;
        }
        assert!(started.elapsed() < INDEXING_TIMEOUT, "the AppView never indexed Ada's account");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    let ours_ref = json!({"uri": uri, "cid": record["cid"]});
    let reply = json!({"$type": "app.bsky.feed.post", "text": "Congratulations!", "createdAt": now,
        "reply": {"root": ours_ref, "parent": ours_ref}});
    let mention_text = format!("@{} have you seen this?", ours.handle);
    let mention = json!({"$type": "app.bsky.feed.post", "text": mention_text, "createdAt": now,
        "facets": [{"index": {"byteStart": 0, "byteEnd": ours.handle.len() + 1},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": ours.did}]}]});
    let mut written = Vec::new();
    for record in [reply, mention] {
        let body = json!({"repo": ada_did, "collection": "app.bsky.feed.post", "record": record});
        written.push(procedure(&ours.pds, "com.atproto.repo.createRecord", Some(ada_jwt), body).await);
    }

    // The AppView indexes the two records in parallel, and the one it lists second may carry the
    // earlier `indexedAt`: wait until it lists both, then poll once.
    let started = Instant::now();
    loop {
        let listed: Value = reqwest::Client::new()
            .get(format!("{}/xrpc/app.bsky.notification.listNotifications", ours.pds))
            .bearer_auth(&ours.access_jwt)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["notifications"].as_array().is_some_and(|all| all.len() >= 2) {
            break;
        }
        assert!(started.elapsed() < INDEXING_TIMEOUT, "the AppView never listed both notifications: {listed}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let report = f.sync().await;
    assert_eq!((report.interactions, report.duplicates), (2, 0), "{report:?}");

    let comment = &f.verified("comment.received", 1).await[0]["data"];
    assert_eq!(comment["platform_id"], written[0]["uri"]);
    assert_eq!(comment["post_id"], post_id, "the reply links to the post it answers");
    assert_eq!(comment["content"]["text"], "Congratulations!");
    assert_eq!((&comment["author"]["id"], &comment["author"]["username"]), (&json!(ada_did), &json!("ada.test")));
    let mention = &f.verified("mention.received", 1).await[0]["data"];
    assert_eq!(mention["platform_id"], written[1]["uri"]);
    assert_eq!(mention["content"]["text"], mention_text);
    assert_eq!(f.sync().await.interactions, 0, "read once");

    // The answer is a reply in Ada's thread that the PDS accepts and stores.
    let answer = f.reply(comment["id"].as_str().unwrap(), "Thank you!").await;
    let (_, stored) = get_record(&ours.pds, answer["platform_id"].as_str().unwrap()).await;
    assert_eq!(stored["value"]["reply"]["root"], ours_ref, "{stored}");
    assert_eq!(stored["value"]["reply"]["parent"], json!({"uri": written[0]["uri"], "cid": written[0]["cid"]}));
}
