//! Automations end to end over HTTP: sources and automations (validation, schedules), and
//! generate-content runs against a local OpenAI-compatible fake — one post per channel fitted to
//! each platform (a 5000-character sandbox channel and a 300-grapheme Bluesky one), the prompts
//! sent, entries used once, the publish modes, failed runs and their webhook events. The main
//! scenarios run on the SQLite store and on DynamoDB (moto).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use posthorn::adapters::platforms::{PlatformRegistry, Sandbox};
use posthorn::model::automations::FeedEntry;
use posthorn::model::channels::Channel;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::{ChannelId, SourceId};
use posthorn::model::platforms::{InstanceLimits, Platform};
use posthorn::services::connections::create_sandbox_channels;
use posthorn_testkit::app::{PUBLIC_HOST, Reply, TestApp, TestOptions};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::openai_fake::{Answer, OpenAiFake};
use posthorn_testkit::receiver::Receiver;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};
use time::OffsetDateTime;

const WAIT: Duration = Duration::from_secs(30);
const INSTRUCTIONS: &str = "Share the newest release note with our developer audience.";

struct Fixture {
    app: TestApp,
    fake: OpenAiFake,
    receiver: Receiver,
    sandbox: Channel,
    bluesky: Channel,
}

async fn fixture(kind: StoreKind) -> Fixture {
    let fake = OpenAiFake::start().await;
    let options = TestOptions {
        store: store(kind, "posthorn-automations").await,
        platforms: Some(PlatformRegistry::new(vec![Arc::new(Sandbox)])),
        ai: Some(fake.provider()),
        ..TestOptions::receiving()
    };
    let app = TestApp::with_options(posthorn::dev::http_functions, options).await;
    let receiver = app.watched().await;
    let now = app.state.clock.now();
    let sandbox = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
    let bluesky = app.channel_on(Platform::Bluesky, "did:plc:posthorn", ConnectionStatus::Active).await;
    Fixture { app, fake, receiver, sandbox: sandbox[0].clone(), bluesky }
}

impl Fixture {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.app.call(method, path, body).await
    }

    async fn source(&self) -> SourceId {
        let body = json!({"url": format!("https://{PUBLIC_HOST}/releases.xml"), "name": "Release notes"});
        let reply = self.call(Method::POST, "/v1/sources", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// Stores entries as the feed fetcher would: `(title, minutes ago)`.
    async fn entries(&self, source: SourceId, items: &[(&str, i64)]) {
        let now = self.app.state.clock.now();
        let entries: Vec<FeedEntry> = items
            .iter()
            .map(|(title, minutes_ago)| FeedEntry {
                workspace_id: self.app.workspace_id,
                source_id: source,
                key: format!("https://example.com/{}", slug(title)),
                title: Some((*title).into()),
                link: Some(format!("https://example.com/{}", slug(title))),
                summary: Some(format!("All about {title}.")),
                published_at: Some(now - time::Duration::minutes(*minutes_ago)),
                first_seen_at: now,
                used_by_run: None,
                used_at: None,
            })
            .collect();
        self.app.store().upsert_feed_entries(&entries).await.unwrap();
    }

    async fn automation(&self, body: Value) -> String {
        let reply = self.call(Method::POST, "/v1/automations", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"]["id"].as_str().unwrap().to_string()
    }

    async fn generate(&self, automation: &str) -> Reply {
        self.call(Method::POST, "/functions/v1/generate-content", Some(json!({"automation_id": automation}))).await
    }
}

fn slug(title: &str) -> String {
    title.to_lowercase().replace(' ', "-")
}

on_both_stores!(
    a_run_writes_one_fitted_post_per_channel_from_the_newest_entries,
    entries_are_used_once_and_a_run_without_new_ones_fails_with_the_reason,
    a_provider_failure_fails_the_run_and_leaves_the_entries_for_the_next,
    scheduled_and_immediate_publish_modes,
    the_channels_texts_are_written_at_once_within_a_bound,
);

async fn a_run_writes_one_fitted_post_per_channel_from_the_newest_entries(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let source = fixture.source().await;
    fixture.entries(source, &[("Version 2.0", 10), ("Version 1.9", 60 * 24)]).await;
    let automation = fixture
        .automation(json!({
            "name": "Release notes", "instructions": INSTRUCTIONS, "tone": "enthusiastic",
            "targets": [fixture.sandbox.id, fixture.bluesky.id], "sources": [source],
        }))
        .await;
    let too_long_for_bluesky = "Version 2.0 is out with faster builds. ".repeat(10);
    fixture.fake.script_when("Shorten", [Answer::text("v2.0 is out! https://example.com/version-2.0")]);
    fixture
        .fake
        .script_when("at most 5000 characters", [Answer::text("Version 2.0 is out: https://example.com/version-2.0")]);
    fixture.fake.script_when("at most 300 graphemes", [Answer::text(too_long_for_bluesky.clone())]);

    let reply = fixture.generate(&automation).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let run = &reply.body["data"];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["entries"].as_array().unwrap().len(), 2);
    assert_eq!(run["entries"][0]["title"], "Version 2.0");
    let posts = run["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0]["text"], "Version 2.0 is out: https://example.com/version-2.0");
    assert_eq!(posts[0]["targets"][0]["channel_id"], fixture.sandbox.id.to_string());
    assert_eq!(posts[1]["text"], "v2.0 is out! https://example.com/version-2.0");
    assert_eq!(posts[1]["targets"][0]["platform"], "bluesky");
    assert!(posts.iter().all(|post| post["status"] == "draft"));

    // The prompts carry the instructions, the entries newest first, the tone and each limit.
    let requests = fixture.fake.requests();
    assert_eq!(requests.len(), 3);
    let asking = |needle: &str| requests.iter().find(|request| request.system().contains(needle)).unwrap();
    let (for_sandbox, for_bluesky) = (asking("at most 5000 characters"), asking("at most 300 graphemes"));
    let user = for_sandbox.user();
    assert!(user.contains(INSTRUCTIONS), "{user}");
    let (newer, older) = (user.find("Version 2.0").unwrap(), user.find("Version 1.9").unwrap());
    assert!(newer < older, "{user}");
    assert!(user.contains("https://example.com/version-2.0") && user.contains("All about Version 2.0."), "{user}");
    assert!(for_sandbox.system().contains("enthusiastic tone"), "{}", for_sandbox.system());
    assert_eq!(for_bluesky.user(), user, "both channels are written from the same material");
    assert_eq!(asking("Shorten").user(), too_long_for_bluesky.trim());

    // The posts are ordinary posts, and the run can be read again.
    let listed = fixture.call(Method::GET, "/v1/posts?status=draft", None).await;
    let listed_ids: Vec<&Value> = listed.body["data"].as_array().unwrap().iter().map(|post| &post["id"]).collect();
    assert!(posts.iter().all(|post| listed_ids.contains(&&post["id"])), "{listed:?}");
    let read = fixture.call(Method::GET, &format!("/v1/runs/{}", run["id"].as_str().unwrap()), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["data"]["posts"], run["posts"]);

    let completed = &fixture.receiver.events("automation.run.completed", 1, WAIT).await[0]["data"];
    assert_eq!(completed["run_id"], run["id"]);
    assert_eq!(completed["automation_id"], automation.as_str());
    assert_eq!(completed["post_ids"], json!([posts[0]["id"], posts[1]["id"]]));
    let automation = fixture.call(Method::GET, &format!("/v1/automations/{automation}"), None).await;
    assert_eq!(automation.body["data"]["last_run_id"], run["id"]);
}

async fn entries_are_used_once_and_a_run_without_new_ones_fails_with_the_reason(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let source = fixture.source().await;
    fixture.entries(source, &[("Version 1.0", 30)]).await;
    let body =
        json!({"name": "Notes", "instructions": INSTRUCTIONS, "targets": [fixture.sandbox.id], "sources": [source]});
    let automation = fixture.automation(body).await;
    assert_eq!(fixture.generate(&automation).await.status, StatusCode::CREATED);
    assert!(fixture.app.store().unused_feed_entries(fixture.app.workspace_id, source, 10).await.unwrap().is_empty());

    let reply = fixture.generate(&automation).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.error().contains("no new entries"), "{reply:?}");
    let failed = &fixture.receiver.events("automation.run.failed", 1, WAIT).await[0]["data"];
    assert!(failed["reason"].as_str().unwrap().contains("no new entries"), "{failed}");
    let run = fixture.call(Method::GET, &format!("/v1/runs/{}", failed["run_id"].as_str().unwrap()), None).await;
    assert_eq!(run.body["data"]["status"], "failed");
    assert_eq!(run.body["data"]["posts"], json!([]));
    assert!(reply.error().contains(failed["run_id"].as_str().unwrap()), "the error names the run");

    // Re-storing the same entry changes nothing; a new one is used by the next run alone.
    fixture.entries(source, &[("Version 1.0", 30), ("Version 1.1", 5)]).await;
    let reply = fixture.generate(&automation).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["data"]["entries"].as_array().unwrap().len(), 1);
    let last_prompt = fixture.fake.requests().last().unwrap().user().to_string();
    assert!(last_prompt.contains("Version 1.1") && !last_prompt.contains("Version 1.0"), "{last_prompt}");
}

async fn a_provider_failure_fails_the_run_and_leaves_the_entries_for_the_next(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let source = fixture.source().await;
    fixture.entries(source, &[("Version 3.0", 1)]).await;
    let body =
        json!({"name": "Notes", "instructions": INSTRUCTIONS, "targets": [fixture.sandbox.id], "sources": [source]});
    let automation = fixture.automation(body).await;
    fixture.fake.script((0..3).map(|_| Answer::error(503, "The engine is currently overloaded")));

    let reply = fixture.generate(&automation).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.error().contains("overloaded"), "{reply:?}");
    let failed = &fixture.receiver.events("automation.run.failed", 1, WAIT).await[0]["data"];
    assert!(failed["reason"].as_str().unwrap().contains("HTTP 503"), "{failed}");
    let unused = fixture.app.store().unused_feed_entries(fixture.app.workspace_id, source, 10).await.unwrap();
    assert_eq!(unused.len(), 1, "the entry is kept for the next run");

    assert_eq!(fixture.generate(&automation).await.status, StatusCode::CREATED);
}

async fn scheduled_and_immediate_publish_modes(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let scheduled = fixture
        .automation(json!({
            "name": "Later", "instructions": "Remind people about the meetup.", "targets": [fixture.sandbox.id],
            "publish": {"mode": "scheduled", "offset_minutes": 90},
        }))
        .await;
    let before = OffsetDateTime::now_utc();
    let reply = fixture.generate(&scheduled).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let post = &reply.body["data"]["posts"][0];
    assert_eq!(post["status"], "scheduled");
    let at =
        OffsetDateTime::parse(post["scheduled_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!((at - before - time::Duration::minutes(90)).abs() < time::Duration::minutes(1), "{at}");
    assert!(fixture.fake.requests()[0].user().contains("Remind people about the meetup."));

    let immediate = fixture
        .automation(json!({
            "name": "Now", "instructions": "Say hello.", "targets": [fixture.sandbox.id],
            "publish": {"mode": "immediate"},
        }))
        .await;
    let reply = fixture.generate(&immediate).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let id = reply.body["data"]["posts"][0]["id"].as_str().unwrap().to_string();
    posthorn::jobs::process_queue(&fixture.app.state).await.unwrap();
    let post = fixture.call(Method::GET, &format!("/v1/posts/{id}"), None).await;
    assert_eq!(post.body["data"]["status"], "published", "{post:?}");
}

#[tokio::test]
async fn the_offline_provider_writes_labelled_posts_that_fit_each_platform() {
    let options = TestOptions { ai: Some(Arc::new(posthorn::adapters::ai::OfflineProvider)), ..TestOptions::default() };
    let app = TestApp::with_options(posthorn::dev::http_functions, options).await;
    let now = app.state.clock.now();
    let sandbox = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
    let bluesky = app.channel_on(Platform::Bluesky, "did:plc:posthorn", ConnectionStatus::Active).await;
    let body = json!({"name": "Offline", "instructions": "Tell everyone about our long and detailed roadmap. ".repeat(20),
        "targets": [sandbox[0].id, bluesky.id]});
    let reply = app.call(Method::POST, "/v1/automations", Some(body)).await;
    let automation = reply.body["data"]["id"].clone();
    let reply =
        app.call(Method::POST, "/functions/v1/generate-content", Some(json!({"automation_id": automation}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let posts = reply.body["data"]["posts"].as_array().unwrap();
    for (post, platform) in posts.iter().zip([Platform::Sandbox, Platform::Bluesky]) {
        let text = post["text"].as_str().unwrap();
        assert!(text.starts_with("[offline] Instructions: Tell everyone"), "{text}");
        assert!(platform.limits().length(text) <= platform.limits().max_text, "{platform:?}: {text}");
    }
    assert!(posts[1]["text"].as_str().unwrap().ends_with('…'));
}

#[tokio::test]
async fn a_mastodon_channel_is_written_for_its_instances_own_limit() {
    let fixture = fixture(StoreKind::Sqlite).await;
    let mastodon = fixture.app.channel_on(Platform::Mastodon, "109", ConnectionStatus::Active).await;
    let store = fixture.app.store();
    let mut connection = store.get_connection(fixture.app.workspace_id, mastodon.connection_id).await.unwrap().unwrap();
    connection.instance_limits = Some(InstanceLimits { max_characters: 1000, characters_reserved_per_url: 23 });
    connection.version += 1;
    store.update_connection(&connection, connection.version - 1).await.unwrap();
    let automation =
        fixture.automation(json!({"name": "Long form", "instructions": INSTRUCTIONS, "targets": [mastodon.id]})).await;
    let longer_than_500 = "Version 2.0 is out with faster builds. ".repeat(20).trim().to_string();
    fixture.fake.script_when("at most 1000 graphemes", [Answer::text(longer_than_500.clone())]);

    let reply = fixture.generate(&automation).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["data"]["posts"][0]["text"], longer_than_500.as_str(), "kept whole, not cut to 500");
    assert_eq!(fixture.fake.requests().len(), 1, "no request to shorten it");
}

#[tokio::test]
async fn automations_are_validated_and_edited() {
    let app = TestApp::new(posthorn::dev::http_functions).await;
    let now = app.state.clock.now();
    let channel =
        create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap()[0].id;
    let valid = json!({"name": "Daily", "instructions": "Post a tip.", "targets": [channel],
        "schedule": {"cron": "0 9 * * *", "timezone": "Europe/Berlin"}});
    let cases = [
        (json!({"schedule": {"cron": "every morning", "timezone": "UTC"}}), "schedule.cron"),
        (json!({"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}}), "schedule.timezone"),
        (json!({"targets": [ChannelId::new()]}), "targets[0]"),
        (json!({"targets": []}), "targets"),
        (json!({"sources": [SourceId::new()]}), "sources[0]"),
        (json!({"instructions": ""}), "instructions"),
        (json!({"publish": {"mode": "scheduled", "offset_minutes": 0}}), "offset_minutes"),
        (json!({"publish": {"mode": "later"}}), "publish"),
        (json!({"colour": "blue"}), "colour"),
    ];
    for (change, field) in cases {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let reply = app.call(Method::POST, "/v1/automations", Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error().contains(field), "{body}: {}", reply.error());
    }

    let reply = app.call(Method::POST, "/v1/automations", Some(valid)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let data = &reply.body["data"];
    assert_eq!(data["publish"], json!({"mode": "draft"}));
    let next =
        OffsetDateTime::parse(data["next_run_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let berlin = next.to_offset(time::UtcOffset::from_hms(if is_summer(next) { 2 } else { 1 }, 0, 0).unwrap());
    assert_eq!((berlin.hour(), berlin.minute()), (9, 0), "{next}");
    let path = format!("/v1/automations/{}", data["id"].as_str().unwrap());

    let reply = app.call(Method::PATCH, &path, Some(json!({"schedule": null, "tone": "calm"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["schedule"], Value::Null);
    assert_eq!(reply.body["data"]["next_run_at"], Value::Null);
    assert_eq!(reply.body["data"]["tone"], "calm");
    assert_eq!(app.call(Method::PATCH, &path, Some(json!({}))).await.status, StatusCode::BAD_REQUEST);

    let other = app.other_workspace_key().await;
    let foreign = app.send(Method::GET, &path, Some(&other), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let listed = app.call(Method::GET, "/v1/automations", None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
}

/// Whether Europe/Berlin is on summer time at `at` (last Sunday of March to last Sunday of
/// October, 01:00 UTC).
fn is_summer(at: OffsetDateTime) -> bool {
    let last_sunday = |month: time::Month| {
        let mut day = time::Date::from_calendar_date(at.year(), month, 31).unwrap();
        while day.weekday() != time::Weekday::Sunday {
            day = day.previous_day().unwrap();
        }
        day.with_hms(1, 0, 0).unwrap().assume_utc()
    };
    at >= last_sunday(time::Month::March) && at < last_sunday(time::Month::October)
}

#[tokio::test]
async fn sources_pass_the_ssrf_guard_and_show_their_fetch_state() {
    let app = TestApp::new(posthorn::dev::http_functions).await;
    app.resolver.set("internal.example.com", &["10.0.0.7".parse().unwrap()]);
    for url in
        ["http://feeds.example.com/rss", "https://127.0.0.1/rss", "https://internal.example.com/rss", "not a url"]
    {
        let reply = app.call(Method::POST, "/v1/sources", Some(json!({"url": url}))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(reply.error().starts_with("url "), "{url}: {}", reply.error());
    }
    let reply = app.call(Method::POST, "/v1/sources", Some(json!({"url": format!("https://{PUBLIC_HOST}/rss")}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let source = reply.body["data"].clone();
    assert_eq!(source["consecutive_failures"], 0);
    assert_eq!(source["last_error"], Value::Null);
    assert!(source["next_fetch_at"].is_string(), "a new source is fetched at once");
    let path = format!("/v1/sources/{}", source["id"].as_str().unwrap());

    let reply = app.call(Method::PATCH, &path, Some(json!({"consecutive_failures": 0}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "fetch state is read-only");
    let reply = app.call(Method::PATCH, &path, Some(json!({"url": "https://internal.example.com/rss"}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app.call(Method::PATCH, &path, Some(json!({"name": "Blog"}))).await;
    assert_eq!(reply.body["data"]["name"], "Blog");
    assert_eq!(app.call(Method::GET, "/v1/sources", None).await.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn generate_content_needs_an_automation_of_the_callers_workspace() {
    let app = TestApp::new(posthorn::dev::http_functions).await;
    let reply = app
        .call(
            Method::POST,
            "/functions/v1/generate-content",
            Some(json!({"automation_id": "aut_01JD8Z3QK5V7Y2W9X4T6R8P0MN"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app.call(Method::POST, "/functions/v1/generate-content", Some(json!({"automation_id": 1}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.call(Method::GET, &format!("/v1/runs/{}", posthorn::model::ids::RunId::new()), None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn the_channels_texts_are_written_at_once_within_a_bound(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let now = fixture.app.state.clock.now();
    let channels =
        create_sandbox_channels(fixture.app.store(), &fixture.app.state.secrets, fixture.app.workspace_id, 10, now)
            .await
            .unwrap();
    let targets: Vec<String> = channels.iter().map(|channel| channel.id.to_string()).collect();
    let automation =
        fixture.automation(json!({"name": "Many", "instructions": INSTRUCTIONS, "targets": targets})).await;
    fixture.fake.script((0..10).map(|_| Answer::Slow(Duration::from_millis(200))));

    let reply = fixture.generate(&automation).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["data"]["posts"].as_array().unwrap().len(), 10);
    assert_eq!(fixture.fake.max_in_flight(), posthorn::services::automations::CONCURRENT_AI_CALLS);
}
