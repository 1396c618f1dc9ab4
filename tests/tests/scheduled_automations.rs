//! process-queue's feed and automation steps end to end: a loopback feed host, a source fetched
//! with a conditional GET, an automation on an every-minute schedule publishing at once to two
//! sandbox channels, and the webhooks that follow. A new entry in the feed leads, within two
//! ticks, to published posts — once, with no duplicates, also when two runs race for one slot;
//! a failing feed is recorded on its source and never stops the run. On SQLite and DynamoDB.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use posthorn::adapters::clock::ManualClock;
use posthorn::adapters::platforms::{PlatformRegistry, Sandbox};
use posthorn::jobs::{ProcessQueueReport, process_queue};
use posthorn::ports::clock::Clock;
use posthorn::services::connections::create_sandbox_channels;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::feed_server::{ETAG, FeedServer};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::receiver::Receiver;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const WAIT: Duration = Duration::from_secs(30);

struct Fixture {
    app: TestApp,
    clock: Arc<ManualClock>,
    receiver: Receiver,
    feeds: FeedServer,
    channels: Vec<String>,
}

/// An RSS 2.0 document with one item per title, newest first.
fn rss(titles: &[&str]) -> Vec<u8> {
    let items: String = titles
        .iter()
        .enumerate()
        .map(|(n, title)| {
            format!(
                "<item><title>{title}</title><link>https://blog.example/{n}-{}</link>\
                 <guid>https://blog.example/{title}</guid><description>All about {title}.</description>\
                 <pubDate>Mon, 23 Nov 2026 0{}:00:00 GMT</pubDate></item>",
                title.len(),
                9 - n.min(9)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Blog</title>\
         <link>https://blog.example/</link><description>News</description>{items}</channel></rss>"
    )
    .into_bytes()
}

async fn fixture(kind: StoreKind) -> Fixture {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let options = TestOptions {
        store: store(kind, "posthorn-scheduled").await,
        clock: Some(clock.clone()),
        platforms: Some(PlatformRegistry::new(vec![Arc::new(Sandbox)])),
        ..TestOptions::receiving()
    };
    let app = TestApp::with_options(posthorn::dev::http_functions, options).await;
    let receiver = app.watched().await;
    let now = clock.now();
    let channels = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 2, now).await.unwrap();
    let channels = channels.iter().map(|channel| channel.id.to_string()).collect();
    let feeds = FeedServer::start(rss(&["Launch", "Beta"])).await;
    Fixture { app, clock, receiver, feeds, channels }
}

impl Fixture {
    async fn create(&self, path: &str, body: Value) -> String {
        let reply = self.app.call(Method::POST, path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"]["id"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str) -> Value {
        let reply = self.app.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["data"].clone()
    }

    /// A source on the feed host's `path`, and an automation over it publishing at once to both
    /// channels every minute.
    async fn automation(&self, path: &str) -> (String, String) {
        let source = self.create("/v1/sources", json!({"url": self.feeds.url(path)})).await;
        let body = json!({
            "name": "Blog to socials",
            "instructions": "Tell our followers about the newest post.",
            "targets": self.channels,
            "sources": [source],
            "schedule": {"cron": "* * * * *", "timezone": "Europe/Berlin"},
            "publish": {"mode": "immediate"},
        });
        (source, self.create("/v1/automations", body).await)
    }

    /// Moves the clock on by `minutes` and runs process-queue once.
    async fn tick(&self, minutes: i64) -> ProcessQueueReport {
        self.clock.advance(time::Duration::minutes(minutes));
        process_queue(&self.app.state).await.unwrap()
    }

    async fn posts(&self) -> Vec<Value> {
        self.get("/v1/posts?limit=100").await.as_array().unwrap().clone()
    }
}

async fn a_new_feed_entry_is_published_within_two_ticks_once(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let (_, automation) = fixture.automation("/feed").await;

    let first = fixture.tick(1).await;
    assert_eq!((first.feeds.fetched, first.feeds.new_entries), (1, 2), "{first:?}");
    assert_eq!(first.automations.completed, 1, "{first:?}");
    assert_eq!(first.published_posts, 2, "{first:?}");
    let posts = fixture.posts().await;
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|post| post["status"] == "published"), "{posts:?}");
    assert!(posts.iter().all(|post| post["text"].as_str().unwrap().contains("Launch")), "newest entry: {posts:?}");
    fixture.receiver.events("post.published", 2, WAIT).await;
    let completed = fixture.receiver.events("automation.run.completed", 1, WAIT).await;
    assert_eq!(completed[0]["data"]["automation_id"], automation.as_str());

    let quiet = fixture.tick(1).await;
    assert_eq!(quiet.feeds.fetched, 0, "the feed is not due again yet: {quiet:?}");
    assert_eq!((quiet.automations.completed, quiet.automations.nothing_new), (0, 1), "{quiet:?}");
    assert_eq!(fixture.posts().await.len(), 2, "nothing new, nothing posted");

    fixture.feeds.replace_feed(rss(&["Release 2.0", "Launch", "Beta"]));
    let fetched = fixture.tick(15).await;
    assert_eq!((fetched.feeds.fetched, fetched.feeds.new_entries), (1, 1), "{fetched:?}");
    let conditional = fixture.feeds.requests("/feed");
    assert_eq!(conditional.last().unwrap()[header::IF_NONE_MATCH], ETAG, "the second fetch is conditional");
    assert_eq!(fetched.automations.completed, 1, "{fetched:?}");
    let posts = fixture.posts().await;
    assert_eq!(posts.len(), 4, "{posts:?}");
    let newest: Vec<&Value> =
        posts.iter().filter(|post| post["text"].as_str().unwrap().contains("Release 2.0")).collect();
    assert_eq!(newest.len(), 2, "one post per channel about the new entry: {posts:?}");
    fixture.receiver.events("post.published", 4, WAIT).await;

    let unchanged = fixture.tick(15).await;
    assert_eq!((unchanged.feeds.fetched, unchanged.feeds.new_entries), (1, 0), "{unchanged:?}");
    assert_eq!(fixture.posts().await.len(), 4, "a 304 brings nothing new");
}

async fn racing_runs_take_one_slot_once(kind: StoreKind) {
    let fixture = fixture(kind).await;
    fixture.automation("/feed").await;
    fixture.clock.advance(time::Duration::minutes(1));
    let (one, other) = tokio::join!(process_queue(&fixture.app.state), process_queue(&fixture.app.state));
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one.automations.completed + other.automations.completed, 1, "{one:?} {other:?}");
    assert_eq!(fixture.posts().await.len(), 2, "one run, one post per channel");
}

async fn a_failing_feed_is_recorded_and_the_run_goes_on(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let (source, _) = fixture.automation("/error").await;
    let (good, _) = fixture.automation("/feed").await;

    let report = fixture.tick(1).await;
    assert_eq!((report.feeds.fetched, report.feeds.failed), (2, 1), "{report:?}");
    assert_eq!(report.automations.completed, 1, "the good feed's automation ran: {report:?}");
    assert_eq!(report.automations.nothing_new, 1, "{report:?}");
    let failing = fixture.get(&format!("/v1/sources/{source}")).await;
    assert!(failing["last_error"].as_str().unwrap().contains("500"), "{failing}");
    assert_eq!(failing["consecutive_failures"], 1);
    assert!(failing["last_fetched_at"].is_string());
    let next = OffsetDateTime::parse(failing["next_fetch_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(next >= fixture.clock.now() + time::Duration::minutes(30), "backed off: {failing}");
    let fine = fixture.get(&format!("/v1/sources/{good}")).await;
    assert!(fine["last_error"].is_null() && fine["etag"] == ETAG, "{fine}");
}

on_both_stores!(
    a_new_feed_entry_is_published_within_two_ticks_once,
    racing_runs_take_one_slot_once,
    a_failing_feed_is_recorded_and_the_run_goes_on,
);
