//! The publishing API and pipeline: validation per target, drafts, schedules, idempotency,
//! edits, cancel, delete, retry, and process-queue publishing each target exactly once — also
//! under concurrent runs and after a crash — with the post events delivered to a real receiver.
//! Each scenario runs on the SQLite store and on DynamoDB (moto), each in a table of its own.

use axum::http::{Method, StatusCode};
use posthorn::adapters::clock::ManualClock;
use posthorn::jobs::process_queue;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::ChannelId;
use posthorn::model::platforms::{ErrorCode, Platform};
use posthorn::services::connections::create_sandbox_channels;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::graph_fake::jpeg_url;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::platforms::shared_media_host;
use posthorn_testkit::publishing::{PostsFixture as Fixture, ids};
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};
use time::OffsetDateTime;

fn in_seconds(clock: &ManualClock, seconds: i64) -> String {
    use posthorn::ports::clock::Clock;
    (clock.now() + time::Duration::seconds(seconds)).format(&time::format_description::well_known::Rfc3339).unwrap()
}

on_both_stores!(
    a_multi_step_publish_pauses_without_failing_and_the_next_run_resumes_from_its_step,
    a_scheduled_post_to_three_channels_ends_partial_with_each_targets_result,
    an_immediate_post_is_published_by_the_next_run_and_a_failure_has_no_published_count,
    every_target_is_checked_against_its_platform_before_saving,
    validate_reports_every_rule_per_target_and_saves_nothing,
    validate_reads_each_image_and_reports_its_format_and_aspect_ratio,
    an_idempotency_key_returns_the_same_post_and_refuses_another_body,
    edits_cancel_and_delete_fire_their_events,
    retry_publishes_only_the_failed_targets,
    a_crash_between_two_targets_then_a_new_run_posts_only_the_missing_one,
    ten_concurrent_runs_over_fifty_due_posts_publish_each_target_once,
    posts_are_listed_by_status_and_isolated_by_workspace,
    media_urls_pass_the_ssrf_guard,
);

async fn a_scheduled_post_to_three_channels_ends_partial_with_each_targets_result(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let channels = fixture.sandbox(3).await;
    let scheduled_at = in_seconds(&fixture.clock, 5);
    let post = fixture
        .create(json!({"text": "Launch day! #fail:rate_limited:sandbox-2", "targets": ids(&channels), "scheduled_at": scheduled_at}))
        .await;
    assert_eq!(post["status"], "scheduled");
    let scheduled = &fixture.events("post.scheduled", 1).await[0];
    assert_eq!(scheduled["data"]["post_id"], post["id"]);

    fixture.run_process_queue().await;
    assert_eq!(fixture.get(post["id"].as_str().unwrap()).await["status"], "scheduled", "not due yet");

    fixture.clock.advance(time::Duration::seconds(6));
    fixture.run_process_queue().await;
    let read = fixture.get(post["id"].as_str().unwrap()).await;
    assert_eq!(read["status"], "partial");
    let targets = read["targets"].as_array().unwrap();
    assert_eq!(targets[0]["status"], "published");
    assert!(targets[0]["platform_post_id"].as_str().unwrap().starts_with("sandbox-"));
    assert_eq!(targets[1]["status"], "failed");
    assert_eq!(targets[1]["error"]["code"], "rate_limited");
    assert!(targets[1]["error"]["message"].as_str().unwrap().contains("#fail:rate_limited"));
    assert_eq!(targets[2]["status"], "published");

    let partial = &fixture.events("post.partial", 1).await[0];
    assert_eq!(partial["data"]["post_id"], post["id"]);
    assert_eq!(partial["data"]["published"], 2);
    assert_eq!(partial["data"]["failed"], 1);
    assert_eq!(partial["data"]["total"], 3);
    let results = partial["data"]["results"].as_array().unwrap();
    assert_eq!(results[1]["channel_id"], channels[1].id.to_string());
    assert_eq!(results[1]["platform"], "sandbox");
    assert_eq!(results[1]["error"]["code"], "rate_limited");
    assert_eq!(results[0]["status"], "published");
}

async fn an_immediate_post_is_published_by_the_next_run_and_a_failure_has_no_published_count(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let channels = fixture.sandbox(2).await;
    let post = fixture.create(json!({"text": "Oops #fail:content_rejected", "targets": ids(&channels)})).await;
    assert_eq!(post["status"], "scheduled");
    fixture.run_process_queue().await;
    assert_eq!(fixture.get(post["id"].as_str().unwrap()).await["status"], "failed");
    let failed = &fixture.events("post.failed", 1).await[0];
    assert_eq!(failed["data"]["failed"], 2);
    assert!(failed["data"].get("published").is_none(), "published is absent on post.failed");
    assert!(fixture.events("post.scheduled", 0).await.is_empty(), "an immediate post is not announced as scheduled");
}

async fn every_target_is_checked_against_its_platform_before_saving(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let x = fixture.channel(Platform::X, "x-1", ConnectionStatus::Active).await;
    let bluesky = fixture.channel(Platform::Bluesky, "did:plc:abc", ConnectionStatus::Active).await;
    let instagram = fixture.channel(Platform::Instagram, "ig-1", ConnectionStatus::Active).await;
    let expired = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Expired).await;

    let cases = [
        (
            json!({"text": "日".repeat(141), "targets": [x.id]}),
            format!("targets[0] (x {}): text is 282 weighted characters; x allows 280", x.id),
        ),
        (
            json!({"text": "b".repeat(301), "targets": [bluesky.id]}),
            "text is 301 graphemes; bluesky allows 300".to_string(),
        ),
        (json!({"text": "no picture", "targets": [instagram.id]}), "instagram requires at least one image".to_string()),
        (json!({"text": "hi", "targets": [expired.id]}), "connection of this channel expired".to_string()),
        (
            json!({"text": "hi", "targets": [bluesky.id], "media": [{"url": "https://hooks.example.com/a.mp4"}]}),
            "media[0] is a video; Posthorn does not upload video to bluesky yet".to_string(),
        ),
        (json!({"text": "hi", "targets": [ChannelId::new()]}), "targets[0]: channel".to_string()),
        (json!({"text": "hi", "targets": [x.id, x.id]}), "listed twice".to_string()),
        (json!({"text": "hi", "targets": []}), "targets must list 1 to 20".to_string()),
        (json!({"text": "hi", "targets": [x.id], "colour": "red"}), "colour".to_string()),
        (json!({"text": 5, "targets": [x.id]}), "text".to_string()),
    ];
    for (body, message) in cases {
        let reply = fixture.app.call(Method::POST, "/v1/posts", Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error().contains(&message), "{body}: {}", reply.error());
    }
    let emoji = "👨‍👩‍👧‍👦".repeat(300);
    let fits = fixture
        .app
        .call(Method::POST, "/v1/posts", Some(json!({"text": emoji, "targets": [bluesky.id], "draft": true})))
        .await;
    assert_eq!(fits.status, StatusCode::CREATED, "300 graphemes fit Bluesky: {fits:?}");

    let past = json!({"text": "hi", "targets": [x.id], "scheduled_at": "2020-01-01T00:00:00Z"});
    assert_eq!(fixture.app.call(Method::POST, "/v1/posts", Some(past)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = fixture.app.call(Method::GET, "/v1/posts", None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "only the draft was saved");
}

async fn validate_reports_every_rule_per_target_and_saves_nothing(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let x = fixture.channel(Platform::X, "x-1", ConnectionStatus::Active).await;
    let instagram = fixture.channel(Platform::Instagram, "ig-1", ConnectionStatus::Expired).await;
    let body = json!({"text": "c".repeat(300), "targets": [x.id, instagram.id]});
    let reply = fixture.app.call(Method::POST, "/v1/posts/validate", Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["data"]["valid"], false);
    let targets = reply.body["data"]["targets"].as_array().unwrap();
    let rules = |index: usize| -> Vec<String> {
        targets[index]["problems"].as_array().unwrap().iter().map(|p| p["rule"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(rules(0), ["text_too_long"]);
    assert_eq!(rules(1), ["media_required", "connection_expired"]);
    assert_eq!(fixture.app.call(Method::GET, "/v1/posts", None).await.body["data"], json!([]));
}

async fn validate_reads_each_image_and_reports_its_format_and_aspect_ratio(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let instagram = fixture.channel(Platform::Instagram, "ig-1", ConnectionStatus::Active).await;
    let threads = fixture.channel(Platform::Threads, "th-1", ConnectionStatus::Active).await;
    let tall = jpeg_url("tall.jpg", 400, 800);
    let missing = format!("{}/missing.jpg", shared_media_host());
    let body = json!({"text": "hi", "targets": [instagram.id, threads.id], "media": [{"url": tall}, {"url": missing}]});
    let reply = fixture.app.call(Method::POST, "/v1/posts/validate", Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let targets = reply.body["data"]["targets"].as_array().unwrap();
    let problems = |index: usize| targets[index]["problems"].as_array().unwrap().clone();
    assert_eq!(problems(0)[0]["rule"], "aspect_ratio");
    assert_eq!(
        problems(0)[0]["message"],
        "media[0] is 400x800 (aspect ratio 0.50:1); instagram takes aspect ratios from 4:5 to 1.91:1"
    );
    assert_eq!(problems(0)[1]["rule"], "media_unreadable");
    assert_eq!(problems(0)[1]["message"], "media[1] answered HTTP 404");
    assert_eq!(problems(1).len(), 1, "Threads takes 1:2 and reports the unreadable item: {:?}", problems(1));
}

async fn an_idempotency_key_returns_the_same_post_and_refuses_another_body(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let channels = fixture.sandbox(1).await;
    let body = json!({"text": "once", "targets": ids(&channels), "draft": true});
    let send = |body: Value| {
        let app = &fixture.app;
        async move {
            let request = axum::http::Request::post("/v1/posts")
                .header("authorization", format!("Bearer {}", app.api_key))
                .header("idempotency-key", "order-42")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (first_status, first) = send(body.clone()).await;
    let (second_status, second) = send(body.clone()).await;
    assert_eq!((first_status, second_status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first["data"]["id"], second["data"]["id"]);
    assert_eq!(fixture.app.call(Method::GET, "/v1/posts", None).await.body["data"].as_array().unwrap().len(), 1);

    let (status, error) = send(json!({"text": "twice", "targets": ids(&channels), "draft": true})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error["error"].as_str().unwrap().contains("Idempotency-Key"));
}

async fn edits_cancel_and_delete_fire_their_events(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let channels = fixture.sandbox(2).await;
    let post = fixture
        .create(json!({"text": "draft", "targets": ids(&channels), "scheduled_at": in_seconds(&fixture.clock, 3600)}))
        .await;
    let path = format!("/v1/posts/{}", post["id"].as_str().unwrap());

    let edited = fixture
        .app
        .call(Method::PATCH, &path, Some(json!({"text": "better", "scheduled_at": in_seconds(&fixture.clock, 7200)})))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    assert_eq!(edited.body["data"]["text"], "better");
    let updated = &fixture.events("post.updated", 1).await[0];
    assert_eq!(updated["data"]["changed_fields"], json!(["text", "scheduled_at"]));

    let too_long = fixture.app.call(Method::PATCH, &path, Some(json!({"text": "x".repeat(5001)}))).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(fixture.get(post["id"].as_str().unwrap()).await["text"], "better", "a rejected edit changes nothing");

    let cancelled = fixture.app.call(Method::POST, &format!("{path}/cancel"), None).await;
    assert_eq!(cancelled.body["data"]["status"], "cancelled");
    assert_eq!(fixture.events("post.cancelled", 1).await[0]["data"]["post_id"], post["id"]);
    assert_eq!(fixture.app.call(Method::POST, &format!("{path}/cancel"), None).await.status, StatusCode::CONFLICT);
    assert_eq!(
        fixture.app.call(Method::PATCH, &path, Some(json!({"text": "late"}))).await.status,
        StatusCode::CONFLICT
    );

    assert_eq!(fixture.app.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    let deleted = &fixture.events("post.deleted", 1).await[0];
    assert_eq!(deleted["data"]["was_status"], "cancelled");
    assert_eq!(fixture.app.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
}

async fn retry_publishes_only_the_failed_targets(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let healthy = fixture.channel(Platform::Mastodon, "m-ok", ConnectionStatus::Active).await;
    let flaky = fixture.channel(Platform::Mastodon, "m-flaky", ConnectionStatus::Active).await;
    fixture.recording.fail("m-flaky", ErrorCode::PlatformUnavailable);
    let post = fixture.create(json!({"text": "hello", "targets": [healthy.id, flaky.id]})).await;
    fixture.run_process_queue().await;
    let id = post["id"].as_str().unwrap();
    assert_eq!(fixture.get(id).await["status"], "partial");

    fixture.recording.heal("m-flaky");
    let retried = fixture.app.call(Method::POST, &format!("/v1/posts/{id}/retry"), None).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED);
    assert_eq!(fixture.events("post.retried", 1).await[0]["data"]["retried_count"], 1);
    fixture.run_process_queue().await;

    assert_eq!(fixture.get(id).await["status"], "published");
    let channels: Vec<String> = fixture.recording.calls().into_iter().map(|call| call.channel).collect();
    assert_eq!(channels, ["m-ok", "m-flaky", "m-flaky"], "the target that succeeded was not posted again");
    assert_eq!(
        fixture.app.call(Method::POST, &format!("/v1/posts/{id}/retry"), None).await.status,
        StatusCode::CONFLICT
    );
}

async fn a_crash_between_two_targets_then_a_new_run_posts_only_the_missing_one(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let first = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    let second = fixture.channel(Platform::Mastodon, "m-2", ConnectionStatus::Active).await;
    let post = fixture.create(json!({"text": "crash", "targets": [first.id, second.id]})).await;
    let id: posthorn::model::ids::PostId = post["id"].as_str().unwrap().parse().unwrap();

    // GIVEN what a run that died after the first target leaves: the post claimed (publishing,
    // leased) with the first target recorded as published
    let mut stored = fixture.app.store().get_post(fixture.app.workspace_id, id).await.unwrap().unwrap();
    let expected_version = stored.version;
    stored.version += 1;
    stored.status = posthorn::model::posts::PostStatus::Publishing;
    stored.due_at = Some(OffsetDateTime::now_utc() + time::Duration::minutes(5));
    stored.targets[0].status = posthorn::model::posts::TargetStatus::Published;
    stored.targets[0].platform_post_id = Some("m-1-before-crash".into());
    fixture.app.store().update_post(&stored, expected_version).await.unwrap();

    // WHEN process-queue runs during the lease nothing happens; after it, the post is taken up again
    fixture.run_process_queue().await;
    assert!(fixture.recording.calls().is_empty());
    fixture.clock.advance(time::Duration::minutes(6));
    fixture.run_process_queue().await;

    // THEN only the second target was posted
    let channels: Vec<String> = fixture.recording.calls().into_iter().map(|call| call.channel).collect();
    assert_eq!(channels, ["m-2"]);
    let read = fixture.get(&id.to_string()).await;
    assert_eq!(read["status"], "published");
    assert_eq!(read["targets"][0]["platform_post_id"], "m-1-before-crash");
}

/// On DynamoDB this holds only because each claim is a conditional write, which the emulator must
/// apply atomically (see `scripts/moto_server.py`).
async fn ten_concurrent_runs_over_fifty_due_posts_publish_each_target_once(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let a = fixture.channel(Platform::Mastodon, "m-a", ConnectionStatus::Active).await;
    let b = fixture.channel(Platform::Mastodon, "m-b", ConnectionStatus::Active).await;
    for number in 0..50 {
        fixture.create(json!({"text": format!("post {number}"), "targets": [a.id, b.id]})).await;
    }
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let state = fixture.app.state.clone();
        runs.spawn(async move { process_queue(&state).await.unwrap().published_posts });
    }
    let claimed: usize = runs.join_all().await.into_iter().sum();
    assert_eq!(claimed, 50, "each post claimed by exactly one run");

    let mut calls: Vec<(String, String)> = fixture.recording.calls().into_iter().map(|c| (c.text, c.channel)).collect();
    assert_eq!(calls.len(), 100);
    calls.sort();
    calls.dedup();
    assert_eq!(calls.len(), 100, "no target was published twice");
    let published = fixture.app.call(Method::GET, "/v1/posts?status=published&limit=100", None).await;
    assert_eq!(published.body["data"].as_array().unwrap().len(), 50);
}

async fn posts_are_listed_by_status_and_isolated_by_workspace(kind: StoreKind) {
    let fixture = Fixture::start(kind).await;
    let channels = fixture.sandbox(1).await;
    for number in 0..3 {
        fixture.create(json!({"text": format!("draft {number}"), "targets": ids(&channels), "draft": true})).await;
    }
    let scheduled = fixture
        .create(json!({"text": "later", "targets": ids(&channels), "scheduled_at": in_seconds(&fixture.clock, 600)}))
        .await;

    let first = fixture.app.call(Method::GET, "/v1/posts?status=draft&limit=2", None).await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = fixture.app.call(Method::GET, &format!("/v1/posts?status=draft&limit=2&cursor={cursor}"), None).await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);
    assert!(second.body["next_cursor"].is_null());
    assert_eq!(fixture.app.call(Method::GET, "/v1/posts?status=lost", None).await.status, StatusCode::BAD_REQUEST);

    let other = fixture.app.other_workspace_key().await;
    let path = format!("/v1/posts/{}", scheduled["id"].as_str().unwrap());
    assert_eq!(fixture.app.send(Method::GET, &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(fixture.app.send(Method::DELETE, &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let body = Some(json!({"text": "x", "targets": ids(&channels)}).to_string().into_bytes());
    let foreign = fixture.app.send(Method::POST, "/v1/posts", Some(&other), body).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "another workspace's channel is not found");
}

async fn media_urls_pass_the_ssrf_guard(kind: StoreKind) {
    let options = TestOptions { store: store(kind, "posthorn-posts").await, ..TestOptions::default() };
    let app = TestApp::with_options(|| vec![posthorn::api::posts::routes()], options).await;
    let now = app.state.clock.now();
    let channels = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
    for url in ["https://10.0.0.1/a.png", "http://hooks.example.com/a.png", "https://[::1]/a.png"] {
        let body = json!({"text": "hi", "targets": ids(&channels), "media": [{"url": url}]});
        let reply = app.call(Method::POST, "/v1/posts", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(reply.error().starts_with("media[0].url "), "{}", reply.error());
    }
    let body = json!({"text": "hi", "targets": ids(&channels), "media": [{"url": "https://hooks.example.com/a.png"}], "draft": true});
    assert_eq!(app.call(Method::POST, "/v1/posts", Some(body)).await.status, StatusCode::CREATED);
}

/// A platform whose publishing takes two runs, like a Meta media container still processing:
/// the first try starts it and asks to come back in a minute, the next one finishes it.
#[derive(Clone, Default)]
struct TwoStepPlatform {
    resumed_from: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

#[async_trait::async_trait]
impl posthorn::ports::platforms::PlatformClient for TwoStepPlatform {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    async fn publish(
        &self,
        _: &posthorn::ports::platforms::ChannelAuth,
        post: &posthorn::ports::platforms::PublishRequest,
    ) -> Result<posthorn::ports::platforms::Published, posthorn::ports::platforms::PlatformError> {
        self.resumed_from.lock().unwrap().push(post.resume_from.clone());
        match &post.resume_from {
            None => Err(posthorn::ports::platforms::PlatformError::not_ready(
                "processing the media",
                "container-1@1790000000".into(),
                std::time::Duration::from_secs(60),
            )),
            Some(_) => Ok(posthorn::ports::platforms::Published { platform_post_id: "t-1".into(), url: None }),
        }
    }

    async fn delete(
        &self,
        _: &posthorn::ports::platforms::ChannelAuth,
        _: &str,
    ) -> Result<(), posthorn::ports::platforms::PlatformError> {
        Ok(())
    }

    async fn metrics(
        &self,
        _: &posthorn::ports::platforms::ChannelAuth,
        _: &str,
    ) -> Result<posthorn::model::platforms::Metrics, posthorn::ports::platforms::PlatformError> {
        Ok(posthorn::model::platforms::Metrics::default())
    }
}

async fn a_multi_step_publish_pauses_without_failing_and_the_next_run_resumes_from_its_step(kind: StoreKind) {
    let platform = TwoStepPlatform::default();
    let fixture = Fixture::with_platforms(kind, vec![std::sync::Arc::new(platform.clone())]).await;
    let channel = fixture.channel(Platform::Threads, "th-1", ConnectionStatus::Active).await;
    let post = fixture.create(json!({"text": "A picture", "targets": [channel.id]})).await;
    let id = post["id"].as_str().unwrap();

    fixture.run_process_queue().await;
    let paused = fixture.get(id).await;
    assert_eq!((&paused["status"], &paused["targets"][0]["status"]), (&json!("publishing"), &json!("pending")));
    fixture.run_process_queue().await;
    assert_eq!(platform.resumed_from.lock().unwrap().len(), 1, "not tried again before the minute is over");

    fixture.clock.advance(time::Duration::seconds(61));
    fixture.run_process_queue().await;

    assert_eq!(fixture.get(id).await["status"], "published");
    assert_eq!(*platform.resumed_from.lock().unwrap(), [None, Some("container-1@1790000000".to_string())]);
    fixture.events("post.published", 1).await;
}
