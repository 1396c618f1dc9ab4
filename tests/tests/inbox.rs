//! The inbox (issue 15, SPEC §8) on both stores: comments, mentions and DMs arrive — simulated on
//! the sandbox, polled from a Mastodon instance that answers as Mastodon documents — stored once
//! each under a stable id, delivered as signed `inbox` events that the standardwebhooks crate
//! verifies, listed and read through the API, and answered through the platform. A notification
//! seen twice fires once; a new account brings no history; a rate-limited source backs off alone;
//! an instance that hangs holds up no other account's events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::model::channels::Channel;
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn::services::connections::create_sandbox_channels;
use posthorn::services::inbox::{InboxSettings, sync_inbox};
use posthorn_testkit::app::Reply;
use posthorn_testkit::inbox::{InboxApp, WAIT};
use posthorn_testkit::mastodon_mock::MastodonMock;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The Mastodon account the connected channel is.
const OUR_ACCOUNT: &str = "109876";

struct Fixture(InboxApp);

impl std::ops::Deref for Fixture {
    type Target = InboxApp;

    fn deref(&self) -> &InboxApp {
        &self.0
    }
}

async fn fixture(kind: StoreKind) -> Fixture {
    Fixture(InboxApp::start(kind, "posthorn-inbox").await)
}

impl Fixture {
    async fn sandbox(&self) -> Channel {
        let now = self.clock.now();
        let state = &self.app.state;
        create_sandbox_channels(self.app.store(), &state.secrets, self.app.workspace_id, 1, now)
            .await
            .unwrap()
            .remove(0)
    }

    /// A Mastodon channel on `instance`, watched from now on as import-channels watches one.
    async fn mastodon(&self, instance: &MockServer) -> Channel {
        self.watch(Platform::Mastodon, &instance.uri(), OUR_ACCOUNT, "posthorn", "token").await
    }

    async fn simulate(&self, body: Value) -> Reply {
        self.app.call(Method::POST, "/v1/sandbox/interactions", Some(body)).await
    }
}

on_both_stores!(
    a_simulated_comment_on_a_published_post_is_delivered_signed_listed_and_answerable,
    a_dm_answer_is_recorded_and_fires_dm_sent,
    an_oversized_interaction_is_cut_to_fit_one_item,
    bad_inbox_requests_get_clear_errors,
    mastodon_mentions_arrive_once_linked_to_the_post_they_answer,
    a_new_account_brings_no_history_until_asked_to_backfill,
    a_rate_limited_instance_backs_off_alone,
    a_hanging_instance_holds_up_no_other_account,
    a_run_past_its_deadline_leaves_the_channels_to_the_next,
    replies_and_mentions_on_mastodon_mock_arrive_as_signed_events,
);

async fn a_simulated_comment_on_a_published_post_is_delivered_signed_listed_and_answerable(kind: StoreKind) {
    let f = fixture(kind).await;
    let channel = f.sandbox().await;
    let post = f.app.call(Method::POST, "/v1/posts", Some(json!({"text": "Launch!", "targets": [channel.id]}))).await;
    let post_id = post.body["data"]["id"].as_str().unwrap().to_string();
    posthorn::jobs::process_queue(&f.app.state).await.unwrap();

    let author = json!({"id": "42", "name": "Ada", "username": "ada"});
    let body = json!({"channel_id": channel.id, "type": "comment", "text": "Congratulations!", "author": author,
        "post_id": post_id});
    let simulated = f.simulate(body).await;
    assert_eq!(simulated.status, StatusCode::CREATED, "{simulated:?}");
    let interaction = simulated.body["data"].clone();
    let id = interaction["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("int_"), "{id}");

    let events = f.verified("comment.received", 1).await;
    let data = &events[0]["data"];
    assert_eq!(data, &interaction, "the event carries the interaction as the API shows it");
    assert_eq!(data["type"], "comment");
    assert_eq!(data["platform"], "sandbox");
    assert_eq!(data["account_id"], channel.connection_id.to_string());
    assert_eq!(data["channel_id"], channel.id.to_string());
    assert_eq!(data["post_id"], post_id);
    assert_eq!(data["author"], author);
    assert_eq!(data["content"], json!({"text": "Congratulations!", "media": []}));
    assert_eq!(data["direction"], "inbound");

    let listed = f.get("/v1/interactions?type=comment").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(f.get(&format!("/v1/interactions?post_id={post_id}")).await["data"][0]["id"], id);
    assert_eq!(f.get(&format!("/v1/interactions/{id}")).await["data"], interaction);
    let account = channel.connection_id;
    assert_eq!(f.get(&format!("/v1/accounts/{account}/comments")).await["data"][0]["id"], id);
    assert!(f.get(&format!("/v1/accounts/{account}/mentions")).await["data"].as_array().unwrap().is_empty());
    assert!(f.get("/v1/interactions?type=dm").await["data"].as_array().unwrap().is_empty());

    let answer =
        f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": "Thanks!"}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let answer = &answer.body["data"];
    assert_eq!(answer["direction"], "outbound");
    assert_eq!(answer["type"], "comment");
    assert_eq!(answer["parent_id"], id);
    assert_eq!(answer["post_id"], post_id);
    assert_eq!(answer["content"]["text"], "Thanks!");
    let both = f.get(&format!("/v1/interactions?post_id={post_id}")).await;
    assert_eq!(both["data"].as_array().unwrap().len(), 2, "the answer is listed with the comment: {both}");
}

async fn a_dm_answer_is_recorded_and_fires_dm_sent(kind: StoreKind) {
    let f = fixture(kind).await;
    let channel = f.sandbox().await;
    let dm = f.simulate(json!({"channel_id": channel.id, "type": "dm", "text": "Is the beta open?"})).await;
    assert_eq!(dm.status, StatusCode::CREATED, "{dm:?}");
    let id = dm.body["data"]["id"].as_str().unwrap().to_string();
    f.verified("dm.received", 1).await;

    // The manual clock stands still otherwise: the answer would tie with the DM for newest.
    f.clock.advance(time::Duration::seconds(1));
    let answer = f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": "Yes!"}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let sent = f.verified("dm.sent", 1).await.remove(0);
    assert_eq!(sent["data"]["direction"], "outbound");
    assert_eq!(sent["data"]["parent_id"], id);
    let dms = f.get(&format!("/v1/accounts/{}/dms", channel.connection_id)).await;
    assert_eq!(dms["data"].as_array().unwrap().len(), 2, "both directions: {dms}");
    assert_eq!(dms["data"][0]["content"]["text"], "Yes!", "newest first");

    let failing = f
        .app
        .call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": "#fail:rate_limited"})))
        .await;
    assert_eq!(failing.status, StatusCode::UNPROCESSABLE_ENTITY, "{failing:?}");
    assert_eq!(
        f.get(&format!("/v1/accounts/{}/dms", channel.connection_id)).await["data"].as_array().unwrap().len(),
        2
    );
}

/// DynamoDB refuses items over 400 KB: whatever arrives is cut to bounds far below it.
async fn an_oversized_interaction_is_cut_to_fit_one_item(kind: StoreKind) {
    let f = fixture(kind).await;
    let channel = f.sandbox().await;
    let media: Vec<Value> =
        (0..60).map(|n| json!({"url": format!("https://cdn.example/{n}.png"), "type": "image"})).collect();
    let body = json!({"channel_id": channel.id, "type": "dm", "text": "é".repeat(400_000),
        "author": {"id": "1", "name": "N".repeat(50_000)}, "media": media});
    let reply = f.simulate(body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.error());
    let stored = f.get(&format!("/v1/interactions/{}", reply.body["data"]["id"].as_str().unwrap())).await;
    assert_eq!(stored["data"]["content"]["text"].as_str().unwrap().chars().count(), 10_000);
    assert_eq!(stored["data"]["content"]["media"].as_array().unwrap().len(), 20);
    assert_eq!(stored["data"]["author"]["name"].as_str().unwrap().len(), 2_048);
    assert_eq!(f.verified("dm.received", 1).await[0]["data"], stored["data"]);
}

async fn bad_inbox_requests_get_clear_errors(kind: StoreKind) {
    let f = fixture(kind).await;
    let channel = f.sandbox().await;
    let instance = MockServer::start().await;
    let mastodon = f.mastodon(&instance).await;
    let cases = [
        ("/v1/interactions?type=review", StatusCode::BAD_REQUEST, "type must be one of"),
        ("/v1/interactions?since=yesterday", StatusCode::BAD_REQUEST, "RFC 3339"),
        ("/v1/interactions?limit=0", StatusCode::BAD_REQUEST, "limit"),
        ("/v1/interactions?cursor=int_01JD8Z3QK5V7Y2W9X4T6R8P0MG", StatusCode::BAD_REQUEST, "cursor"),
        ("/v1/interactions?colour=red", StatusCode::BAD_REQUEST, "colour"),
        ("/v1/interactions/int_01JD8Z3QK5V7Y2W9X4T6R8P0MG", StatusCode::NOT_FOUND, "interaction"),
        ("/v1/interactions/post_01JD8Z3QK5V7Y2W9X4T6R8P0MG", StatusCode::BAD_REQUEST, "interaction id"),
        ("/v1/accounts/acc_01JD8Z3QK5V7Y2W9X4T6R8P0MG/comments", StatusCode::NOT_FOUND, "connection"),
    ];
    for (path, status, says) in cases {
        let reply = f.app.call(Method::GET, path, None).await;
        assert_eq!(reply.status, status, "{path}: {reply:?}");
        assert!(reply.error().contains(says), "{path}: {}", reply.error());
    }

    let simulations = [
        (json!({"channel_id": channel.id, "type": "comment", "text": "  "}), StatusCode::BAD_REQUEST, "text"),
        (json!({"channel_id": channel.id, "type": "review", "text": "5 stars"}), StatusCode::BAD_REQUEST, "review"),
        (
            json!({"channel_id": mastodon.id, "type": "comment", "text": "Hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "mastodon",
        ),
        (
            json!({"channel_id": channel.id, "type": "comment", "text": "Hi", "post_id": "post_01JD8Z3QK5V7Y2W9X4T6R8P0MG"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not exist",
        ),
    ];
    for (body, status, says) in simulations {
        let reply = f.simulate(body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {reply:?}");
        assert!(reply.error().contains(says), "{body}: {}", reply.error());
    }

    let dm = f.simulate(json!({"channel_id": channel.id, "type": "dm", "text": "Hello"})).await;
    let id = dm.body["data"]["id"].as_str().unwrap();
    let empty = f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": ""}))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{empty:?}");
    let long = "a".repeat(10_001);
    let too_long = f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": long}))).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{too_long:?}");
    let stray = f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"txt": "Hi"}))).await;
    assert_eq!(stray.status, StatusCode::BAD_REQUEST, "{stray:?}");

    let other = f.app.other_workspace_key().await;
    let foreign = f.app.send(Method::GET, &format!("/v1/interactions/{id}"), Some(&other), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another workspace's interaction is not found");
}

/// A Mastodon instance's notifications, answering `GET /api/v1/notifications` as documented:
/// the mentions after `min_id` (oldest first within the page limit), newest first.
#[derive(Clone, Default)]
struct Notifications(Arc<std::sync::Mutex<Vec<Value>>>);

impl Notifications {
    fn push(&self, notification: Value) {
        self.0.lock().unwrap().push(notification);
    }
}

impl Respond for Notifications {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        assert_eq!(query.get("types[]").map(String::as_str), Some("mention"));
        let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(40);
        let id = |n: &Value| n["id"].as_str().unwrap().parse::<u64>().unwrap();
        let all = self.0.lock().unwrap().clone();
        let mut page: Vec<Value> = match query.get("min_id") {
            Some(min_id) => {
                let min_id: u64 = min_id.parse().unwrap();
                let mut newer: Vec<Value> = all.into_iter().filter(|n| id(n) > min_id).collect();
                newer.sort_by_key(id);
                newer.into_iter().take(limit).collect()
            }
            None => {
                let mut newest = all;
                newest.sort_by_key(|n| std::cmp::Reverse(id(n)));
                newest.into_iter().take(limit).collect()
            }
        };
        page.sort_by_key(|n| std::cmp::Reverse(id(n)));
        ResponseTemplate::new(200).set_body_json(page)
    }
}

/// A `mention` notification of `OUR_ACCOUNT`, written `at`.
fn mention(id: u64, status: &str, at: OffsetDateTime, reply_to: Option<&str>, visibility: &str, text: &str) -> Value {
    let at = at.format(&time::format_description::well_known::Rfc3339).unwrap();
    json!({
        "id": id.to_string(), "type": "mention", "created_at": at,
        "account": {"id": "109999", "username": "ada", "acct": "ada@mastodon.social", "display_name": "Ada",
            "avatar": "https://files.mastodon.social/avatars/ada.png"},
        "status": {"id": status, "created_at": at, "in_reply_to_id": reply_to,
            "in_reply_to_account_id": reply_to.map(|_| OUR_ACCOUNT), "visibility": visibility,
            "content": format!("<p><span class=\"h-card\"><a href=\"https://social.example/@posthorn\" class=\"u-url mention\">@<span>posthorn</span></a></span> {text}</p>"),
            "url": format!("https://mastodon.social/@ada/{status}"),
            "media_attachments": [{"id": "1", "type": "image", "url": "https://files.mastodon.social/a.png"}]}
    })
}

async fn serve_notifications(instance: &MockServer) -> Notifications {
    let notifications = Notifications::default();
    Mock::given(method("GET"))
        .and(path("/api/v1/notifications"))
        .respond_with(notifications.clone())
        .mount(instance)
        .await;
    notifications
}

async fn mastodon_mentions_arrive_once_linked_to_the_post_they_answer(kind: StoreKind) {
    let f = fixture(kind).await;
    let instance = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "113245", "url": "https://social.example/@posthorn/113245"})),
        )
        .mount(&instance)
        .await;
    let notifications = serve_notifications(&instance).await;
    let channel = f.mastodon(&instance).await;
    let post = f.app.call(Method::POST, "/v1/posts", Some(json!({"text": "Launch!", "targets": [channel.id]}))).await;
    let post_id = post.body["data"]["id"].as_str().unwrap().to_string();
    posthorn::jobs::process_queue(&f.app.state).await.unwrap();

    let first = f.sync().await;
    assert_eq!((first.channels, first.interactions), (1, 0), "nothing yet: {first:?}");
    let now = f.clock.now();
    notifications.push(mention(1001, "113250", now, Some("113245"), "public", "Congratulations!"));
    notifications.push(mention(1002, "113251", now, None, "public", "have you seen this?"));
    notifications.push(mention(1003, "113252", now, None, "direct", "is the beta open?"));
    let second = f.sync().await;
    assert_eq!((second.interactions, second.duplicates), (3, 0), "{second:?}");

    let comment = &f.verified("comment.received", 1).await[0]["data"];
    assert_eq!(comment["post_id"], post_id, "the reply to our status is linked to its post");
    assert_eq!(comment["platform_id"], "113250");
    assert_eq!(comment["content"]["text"], "@posthorn Congratulations!");
    assert_eq!(comment["content"]["media"], json!([{"url": "https://files.mastodon.social/a.png", "type": "image"}]));
    assert_eq!(comment["author"]["username"], "ada@mastodon.social");
    assert_eq!(comment["platform_url"], "https://mastodon.social/@ada/113250");
    assert_eq!(f.verified("mention.received", 1).await[0]["data"]["platform_id"], "113251");
    assert_eq!(f.verified("dm.received", 1).await[0]["data"]["platform_id"], "113252");

    // The same notifications read again (a backfill) are recognised: stored once, no event.
    let account = channel.connection_id;
    let since = (now - time::Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let backfill = f
        .app
        .call(Method::POST, &format!("/v1/accounts/{account}/inbox/backfill"), Some(json!({"since": since})))
        .await;
    assert_eq!(backfill.status, StatusCode::ACCEPTED, "{backfill:?}");
    let again = f.sync().await;
    assert_eq!((again.interactions, again.duplicates), (0, 3), "{again:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.receiver.count(), 3, "no event fired twice");
    assert_eq!(f.get("/v1/interactions").await["data"].as_array().unwrap().len(), 3);

    // An answer goes out as a status in reply to the comment, mentioning its author.
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            body["in_reply_to_id"] == "113250" && body["status"] == "@ada@mastodon.social Thank you!"
        })
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "113260", "url": "https://social.example/@posthorn/113260"})),
        )
        .with_priority(1)
        .mount(&instance)
        .await;
    let id = comment["id"].as_str().unwrap();
    let answer =
        f.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": "Thank you!"}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.body["data"]["platform_id"], "113260");
    assert_eq!(answer.body["data"]["platform_url"], "https://social.example/@posthorn/113260");
}

async fn a_new_account_brings_no_history_until_asked_to_backfill(kind: StoreKind) {
    let f = fixture(kind).await;
    let instance = MockServer::start().await;
    let notifications = serve_notifications(&instance).await;
    let an_hour_ago = f.clock.now() - time::Duration::hours(1);
    notifications.push(mention(2001, "200", an_hour_ago, None, "public", "old news"));
    let channel = f.mastodon(&instance).await;

    let first = f.sync().await;
    assert_eq!(first.interactions, 0, "history is not news: {first:?}");
    notifications.push(mention(2002, "201", f.clock.now(), None, "public", "fresh"));
    let second = f.sync().await;
    assert_eq!(second.interactions, 1, "{second:?}");
    assert_eq!(f.verified("mention.received", 1).await[0]["data"]["platform_id"], "201");

    let since =
        (an_hour_ago - time::Duration::minutes(5)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let path = format!("/v1/accounts/{}/inbox/backfill", channel.connection_id);
    let backfill = f.app.call(Method::POST, &path, Some(json!({"since": since}))).await;
    assert_eq!(backfill.status, StatusCode::ACCEPTED, "{backfill:?}");
    assert_eq!(backfill.body["data"]["channel_ids"], json!([channel.id]));
    let refilled = f.sync().await;
    assert_eq!((refilled.interactions, refilled.duplicates), (1, 1), "{refilled:?}");
    let listed = f.get("/v1/interactions?type=mention").await;
    let texts: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|i| i["platform_id"].as_str().unwrap()).collect();
    assert_eq!(texts, ["201", "200"], "newest first");

    let too_far =
        (f.clock.now() - time::Duration::days(31)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let refused = f.app.call(Method::POST, &path, Some(json!({"since": too_far}))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
}

async fn a_rate_limited_instance_backs_off_alone(kind: StoreKind) {
    let f = fixture(kind).await;
    let limited = MockServer::start().await;
    let retry_at =
        (f.clock.now() + time::Duration::minutes(10)).format(&time::format_description::well_known::Rfc3339).unwrap();
    Mock::given(path("/api/v1/notifications"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-reset", retry_at.as_str())
                .set_body_json(json!({"error": "Too many requests"})),
        )
        .mount(&limited)
        .await;
    let healthy = MockServer::start().await;
    let notifications = serve_notifications(&healthy).await;
    f.mastodon(&limited).await;
    f.mastodon(&healthy).await;

    let first = f.sync().await;
    assert_eq!((first.channels, first.rate_limited), (2, 1), "{first:?}");
    notifications.push(mention(3001, "300", f.clock.now(), None, "public", "hello"));
    let second = f.sync().await;
    assert_eq!(
        (second.channels, second.interactions, second.rate_limited),
        (1, 1, 0),
        "only the healthy one: {second:?}"
    );
    assert_eq!(limited.received_requests().await.unwrap().len(), 1, "the limited instance was left alone");
    f.clock.advance(time::Duration::minutes(10));
    let later = f.sync().await;
    assert_eq!(later.rate_limited, 1, "asked again once its limit reset: {later:?}");
}

async fn a_hanging_instance_holds_up_no_other_account(kind: StoreKind) {
    let f = fixture(kind).await;
    let hanging = MockServer::start().await;
    Mock::given(path("/api/v1/notifications"))
        .and(query_param("types[]", "mention"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])).set_delay(Duration::from_secs(60)))
        .mount(&hanging)
        .await;
    let healthy = MockServer::start().await;
    let notifications = serve_notifications(&healthy).await;
    f.mastodon(&hanging).await;
    f.mastodon(&healthy).await;
    notifications.push(mention(4001, "400", f.clock.now() + time::Duration::seconds(30), None, "public", "quick"));

    f.clock.advance(time::Duration::minutes(1));
    let accounts_state = f.app.state.clone();
    let run = tokio::spawn(async move {
        sync_inbox(&accounts_state.accounts(), &InboxSettings::default(), Instant::now() + WAIT).await.unwrap()
    });
    let started = Instant::now();
    f.verified("mention.received", 1).await;
    assert!(started.elapsed() < Duration::from_secs(8), "the healthy account's event waited {:?}", started.elapsed());
    let report = run.await.unwrap();
    assert_eq!((report.interactions, report.failed), (1, 1), "the hanging one timed out: {report:?}");
}

async fn a_run_past_its_deadline_leaves_the_channels_to_the_next(kind: StoreKind) {
    let f = fixture(kind).await;
    let instance = MockServer::start().await;
    let notifications = serve_notifications(&instance).await;
    f.mastodon(&instance).await;
    f.mastodon(&instance).await;
    f.clock.advance(time::Duration::minutes(1));
    notifications.push(mention(5001, "500", f.clock.now(), None, "public", "late"));

    let accounts = f.app.state.accounts();
    let late = sync_inbox(&accounts, &InboxSettings::default(), Instant::now()).await.unwrap();
    assert!(late.out_of_time, "{late:?}");
    assert_eq!((late.channels, late.interactions), (0, 0), "nothing taken up after the deadline: {late:?}");
    assert!(instance.received_requests().await.unwrap().is_empty());

    let next = sync_inbox(&accounts, &InboxSettings::default(), Instant::now() + WAIT).await.unwrap();
    assert_eq!((next.channels, next.interactions), (2, 2), "the next run polls both: {next:?}");
}

/// Against an independent Mastodon server (mastodon-mock): another user replies to the status
/// Posthorn published and mentions the account; sync-inbox turns both into verified events.
async fn replies_and_mentions_on_mastodon_mock_arrive_as_signed_events(kind: StoreKind) {
    let mock = MastodonMock::with_accounts(&[("posthorn", "posthorn-token"), ("ada", "ada-token")]).await;
    let f = fixture(kind).await;
    let http = reqwest::Client::new();
    let me: Value = http
        .get(format!("{}/api/v1/accounts/verify_credentials", mock.base_url))
        .bearer_auth("posthorn-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let our_id = me["id"].as_str().unwrap();
    let channel = f.watch(Platform::Mastodon, &mock.base_url, our_id, "posthorn", "posthorn-token").await;
    let post = f.app.call(Method::POST, "/v1/posts", Some(json!({"text": "Launch!", "targets": [channel.id]}))).await;
    let post_id = post.body["data"]["id"].as_str().unwrap().to_string();
    posthorn::jobs::process_queue(&f.app.state).await.unwrap();
    let published = f.app.call(Method::GET, &format!("/v1/posts/{post_id}"), None).await;
    let status_id = published.body["data"]["targets"][0]["platform_post_id"].as_str().unwrap().to_string();

    let says = |body: Value| {
        let http = http.clone();
        let url = format!("{}/api/v1/statuses", mock.base_url);
        async move {
            let reply = http.post(url).bearer_auth("ada-token").json(&body).send().await.unwrap();
            assert!(reply.status().is_success(), "{}", reply.text().await.unwrap_or_default());
        }
    };
    says(json!({"status": "@posthorn congratulations!", "in_reply_to_id": status_id})).await;
    says(json!({"status": "@posthorn have you seen this?"})).await;

    let report = f.sync().await;
    assert_eq!(report.interactions, 2, "{report:?}");
    let comment = &f.verified("comment.received", 1).await[0]["data"];
    assert_eq!(comment["post_id"], post_id, "the reply to the published status is linked to its post");
    assert!(comment["content"]["text"].as_str().unwrap().contains("congratulations!"), "{comment}");
    assert_eq!(comment["author"]["username"], "ada");
    let mention = &f.verified("mention.received", 1).await[0]["data"];
    assert!(mention["content"]["text"].as_str().unwrap().contains("have you seen this?"), "{mention}");
    assert_eq!(f.sync().await.interactions, 0, "nothing new on the next poll");
}
