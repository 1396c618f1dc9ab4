//! Every sample event in `events/<function>/` goes through its function's handler as
//! `sam local invoke` or `cargo lambda invoke --data-file` would deliver it: HTTP events are
//! parsed as lambda_http parses API Gateway v2 and function URL payloads and sent to the
//! function's Lambda router; the SQS batch goes to the delivery worker's batch handler; the
//! scheduled events to process-queue and sync-post-metrics.
//!
//! The events carry placeholders a real invocation would replace too (the API key, record ids);
//! each case gets a fresh app seeded with those records, and the placeholders are swapped for
//! their ids before the event is parsed.
//!
//! Coverage is enforced: an events/ file with no case below fails the suite, as does a
//! function of template.yaml with no events.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use axum::http::{Method, StatusCode};
use posthorn::api::FunctionRoutes;
use posthorn::model::automations::FeedEntry;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::{DeliveryId, PostId, SourceId};
use posthorn::model::inbox::InboxState;
use posthorn::model::webhooks::{DeliveryStatus, EventType};
use posthorn::ports::store::{Condition, Record, Write};
use posthorn::services::connections::create_sandbox_channels;
use posthorn::services::inbox::InboxSettings;
use posthorn::services::metrics::MetricsSettings;
use posthorn::services::webhooks::outbox::{DeliveryMessage, emit};
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::receiver::Receiver;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Functions whose events exist but whose crate is not on this branch yet (see the module doc).
/// The placeholders in events/ files, as a user would find them before invoking.
const API_KEY: &str = "phk_replace_with_your_api_key";
const WORKSPACE: &str = "ws_01JD8Z3QK5V7Y2W9X4T6R8P0WS";
const WEBHOOK: &str = "wh_01JD8Z3QK5V7Y2W9X4T6R8P0WH";
const DELIVERY: &str = "dlv_01JD8Z3QK5V7Y2W9X4T6R8P0DV";
const CHANNEL: &str = "ch_01JD8Z3QK5V7Y2W9X4T6R8P0CH";
const SCHEDULED_POST: &str = "post_01JD8Z3QK5V7Y2W9X4T6R8P0SC";
const FAILED_POST: &str = "post_01JD8Z3QK5V7Y2W9X4T6R8P0FA";
const RECEIPT: &str = "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...";
const SOURCE: &str = "src_01JD8Z3QK5V7Y2W9X4T6R8P0SR";
const AUTOMATION: &str = "aut_01JD8Z3QK5V7Y2W9X4T6R8P0AT";
const RUN: &str = "run_01JD8Z3QK5V7Y2W9X4T6R8P0RN";
/// The host of the feed in automations/create-source.json.
const FEED_HOST: &str = "blog.example.com";

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `{"data": {…}}`
    One,
    /// `{"data": [...]}`
    Many,
    /// `{"data": [...], "next_cursor": …}`
    Page,
    /// No body.
    Empty,
    /// Anything but JSON's `{"data": …}`: a platform's challenge echoed.
    Echo,
}

struct HttpCase {
    file: &'static str,
    status: StatusCode,
    shape: Shape,
}

const fn case(file: &'static str, status: u16, shape: Shape) -> HttpCase {
    match StatusCode::from_u16(status) {
        Ok(status) => HttpCase { file, status, shape },
        Err(_) => panic!("not a status code"),
    }
}

const WEBHOOKS: &[HttpCase] = &[
    case("create.json", 201, Shape::One),
    case("list.json", 200, Shape::Page),
    case("get.json", 200, Shape::One),
    case("update.json", 200, Shape::One),
    case("delete.json", 204, Shape::Empty),
    case("events-catalog.json", 200, Shape::Many),
    case("rotate-secret.json", 200, Shape::One),
    case("test.json", 202, Shape::One),
    case("list-deliveries.json", 200, Shape::Page),
    case("get-delivery.json", 200, Shape::One),
    case("retry-delivery.json", 202, Shape::One),
    case("function-url-list.json", 200, Shape::Page),
    case("function-url-create.json", 201, Shape::One),
];

const POSTS: &[HttpCase] = &[
    case("create.json", 201, Shape::One),
    case("create-scheduled.json", 201, Shape::One),
    case("validate.json", 200, Shape::One),
    case("list.json", 200, Shape::Page),
    case("get.json", 200, Shape::One),
    case("update.json", 200, Shape::One),
    case("delete.json", 204, Shape::Empty),
    case("cancel.json", 200, Shape::One),
    case("retry.json", 202, Shape::One),
    case("function-url-get.json", 200, Shape::One),
];

const AUTOMATIONS: &[HttpCase] = &[
    case("create.json", 201, Shape::One),
    case("list.json", 200, Shape::Page),
    case("get.json", 200, Shape::One),
    case("update.json", 200, Shape::One),
    case("delete.json", 204, Shape::Empty),
    case("create-source.json", 201, Shape::One),
    case("list-sources.json", 200, Shape::Page),
    case("get-source.json", 200, Shape::One),
    case("delete-source.json", 204, Shape::Empty),
    case("get-run.json", 200, Shape::One),
    case("function-url-list.json", 200, Shape::Page),
];

const GENERATE_CONTENT: &[HttpCase] =
    &[case("generate.json", 201, Shape::One), case("function-url.json", 201, Shape::One)];

const TEXT_ASSIST: &[HttpCase] = &[
    case("improve.json", 200, Shape::One),
    case("translate.json", 200, Shape::One),
    case("fit.json", 200, Shape::One),
    case("function-url.json", 200, Shape::One),
];

const MEDIA_ASSIST: &[HttpCase] = &[case("generate.json", 200, Shape::One), case("function-url.json", 200, Shape::One)];

const DELIVER_WEBHOOKS: &[&str] = &["batch.json"];
/// A batch whose first record is a delivery and whose others the worker cannot read.
const DELIVER_WEBHOOKS_UNREADABLE: &[&str] = &["unreadable.json"];
const PROCESS_QUEUE: &[&str] = &["schedule.json"];
const SYNC_POST_METRICS: &[&str] = &["schedule.json"];
const SYNC_INBOX: &[&str] = &["schedule.json"];

const PLATFORM_WEBHOOKS: &[HttpCase] = &[
    case("meta-verify.json", 200, Shape::Echo),
    case("meta-push.json", 200, Shape::One),
    case("meta-deauthorize.json", 200, Shape::One),
    case("meta-data-deletion.json", 200, Shape::Echo),
    case("x-crc.json", 200, Shape::Echo),
];

/// The placeholder of the interaction the inbox events read and answer.
const INTERACTION: &str = "int_01JD8Z3QK5V7Y2W9X4T6R8P0IN";

const INBOX: &[HttpCase] = &[
    case("list.json", 200, Shape::Page),
    case("get.json", 200, Shape::One),
    case("reply.json", 201, Shape::One),
    case("account-comments.json", 200, Shape::Page),
    case("simulate.json", 201, Shape::One),
    case("function-url-list.json", 200, Shape::Page),
];

/// The placeholders of the connection events.
const CONNECTION: &str = "acc_01JD8Z3QK5V7Y2W9X4T6R8P0AC";
const CONSENT_CODE: &str = "code-from-the-redirect";
const CONSENT_STATE: &str = "state-from-the-authorize-url";

const CONNECT: &[HttpCase] = &[
    case("authorize-url.json", 200, Shape::One),
    case("function-url-authorize-url.json", 200, Shape::One),
    case("callback.json", 201, Shape::One),
];

const SYNC: &[HttpCase] = &[case("sync.json", 200, Shape::One), case("function-url.json", 200, Shape::One)];

const IMPORT_CHANNELS: &[HttpCase] =
    &[case("import.json", 200, Shape::Many), case("function-url.json", 200, Shape::Many)];

const CONNECTIONS: &[HttpCase] = &[
    case("list.json", 200, Shape::Page),
    case("get.json", 200, Shape::One),
    case("delete.json", 204, Shape::Empty),
    case("function-url-list.json", 200, Shape::Page),
];

/// The placeholder of the key the delete event revokes.
const KEY_ID: &str = "key_01JD8Z3QK5V7Y2W9X4T6R8P0KY";

const API_KEYS: &[HttpCase] = &[
    case("create.json", 201, Shape::One),
    case("list.json", 200, Shape::Page),
    case("delete.json", 204, Shape::Empty),
    case("openapi.json", 200, Shape::Echo),
    case("function-url-list.json", 200, Shape::Page),
];

/// Every (function, file) a test below invokes.
fn covered() -> BTreeSet<(String, String)> {
    let http = [
        ("webhooks", WEBHOOKS),
        ("posts", POSTS),
        ("automations", AUTOMATIONS),
        ("generate-content", GENERATE_CONTENT),
        ("text-assist", TEXT_ASSIST),
        ("media-assist", MEDIA_ASSIST),
        ("connect", CONNECT),
        ("sync", SYNC),
        ("import-channels", IMPORT_CHANNELS),
        ("connections", CONNECTIONS),
        ("inbox", INBOX),
        ("platform-webhooks", PLATFORM_WEBHOOKS),
        ("api-keys", API_KEYS),
    ]
    .into_iter()
    .flat_map(|(function, cases)| cases.iter().map(move |case| (function, case.file)));
    let events = [
        ("deliver-webhooks", DELIVER_WEBHOOKS),
        ("deliver-webhooks", DELIVER_WEBHOOKS_UNREADABLE),
        ("process-queue", PROCESS_QUEUE),
        ("sync-post-metrics", SYNC_POST_METRICS),
        ("sync-inbox", SYNC_INBOX),
    ]
    .into_iter()
    .flat_map(|(function, files)| files.iter().map(move |file| (function, *file)));
    http.chain(events).map(|(function, file)| (function.to_string(), file.to_string())).collect()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// Every (function, file) under events/.
fn event_files() -> BTreeSet<(String, String)> {
    let mut files = BTreeSet::new();
    for function in std::fs::read_dir(repository().join("events")).expect("events/") {
        let function = function.unwrap().path();
        let name = function.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&function).unwrap() {
            files.insert((name.clone(), file.unwrap().file_name().to_string_lossy().to_string()));
        }
    }
    files
}

/// The `Binary:` of every function in template.yaml.
fn template_functions() -> BTreeSet<String> {
    let template = std::fs::read_to_string(repository().join("template.yaml")).expect("template.yaml");
    template.lines().filter_map(|line| line.trim().strip_prefix("Binary: ")).map(str::to_string).collect()
}

#[test]
fn every_event_file_is_invoked() {
    let covered = covered();
    let uncovered: Vec<_> = event_files().difference(&covered).cloned().collect();
    assert!(uncovered.is_empty(), "events with no case in lambda_events.rs: {uncovered:?}");
    let missing: Vec<_> = covered.difference(&event_files()).cloned().collect();
    assert!(missing.is_empty(), "cases whose events/ file does not exist: {missing:?}");
}

#[test]
fn every_function_of_the_template_has_events() {
    let with_events: BTreeSet<String> = event_files().into_iter().map(|(function, _)| function).collect();
    let functions = template_functions();
    let expected = "SPEC §1's twelve functions, connections, inbox, sync-inbox, platform-webhooks and api-keys";
    assert_eq!(functions.len(), 17, "{expected}: {functions:?}");
    assert_eq!(functions, with_events);
}

/// An events/ file with its placeholders replaced.
fn event_text(function: &str, file: &str, substitutions: &[(&str, String)]) -> String {
    let path = repository().join("events").join(function).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    substitutions.iter().fold(text, |text, (placeholder, value)| text.replace(placeholder, value))
}

/// Sends an HTTP event to the function's Lambda router; the status and JSON body it answered.
async fn invoke_http(routes: FunctionRoutes, app: &TestApp, text: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(text).expect("an API Gateway v2 or function URL request");
    let response = routes.into_lambda_router(app.state.clone()).oneshot(request).await.expect("infallible router");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
    (status, body)
}

fn assert_answer(function: &str, case: &HttpCase, status: StatusCode, body: &Value) {
    let file = case.file;
    assert_eq!(status, case.status, "{function}/{file}: {body}");
    match case.shape {
        Shape::One => assert!(body["data"].is_object(), "{function}/{file}: {body}"),
        Shape::Many => {
            assert!(body["data"].as_array().is_some_and(|data| !data.is_empty()), "{function}/{file}: {body}")
        }
        Shape::Page => {
            assert!(body["data"].as_array().is_some_and(|data| !data.is_empty()), "{function}/{file}: {body}");
            assert!(body.get("next_cursor").is_some(), "{function}/{file}: {body}");
        }
        Shape::Empty => assert_eq!(body, &Value::Null, "{function}/{file}"),
        Shape::Echo => assert!(!body.is_null() && body.get("error").is_none(), "{function}/{file}: {body}"),
    }
}

fn id(reply: &posthorn_testkit::app::Reply, field: &str) -> String {
    reply.body["data"][field].as_str().unwrap_or_else(|| panic!("no data.{field} in {}", reply.body)).to_string()
}

/// An app with one webhook endpoint and one failed delivery to it.
async fn webhooks_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(|| vec![posthorn::api::webhooks::routes()]).await;
    let body = json!({"url": "https://hooks.example.com/seed", "events": ["*"], "skip_verification": true});
    let webhook = id(&app.call(Method::POST, "/v1/webhooks", Some(body)).await, "id");
    let sent = app.call(Method::POST, &format!("/v1/webhooks/{webhook}/test"), None).await;
    let delivery_id: DeliveryId = id(&sent, "delivery_id").parse().unwrap();
    let mut delivery = app.store().get_delivery(app.workspace_id, delivery_id).await.unwrap().unwrap();
    let version = delivery.version;
    delivery.version += 1;
    delivery.status = DeliveryStatus::Failed;
    delivery.next_attempt_at = None;
    app.store().update_delivery(&delivery, version, DeliveryStatus::Pending).await.unwrap();
    let substitutions = vec![(API_KEY, app.api_key.clone()), (WEBHOOK, webhook), (DELIVERY, delivery_id.to_string())];
    (app, substitutions)
}

/// An app with a sandbox channel, a post scheduled far ahead, and a post that failed.
async fn posts_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(|| vec![posthorn::api::posts::routes()]).await;
    let now = app.state.clock.now();
    let channels = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
    let channel = channels[0].id.to_string();
    let scheduled = json!({"text": "Seeded", "targets": [channel], "scheduled_at": "2099-01-01T00:00:00Z"});
    let scheduled = id(&app.call(Method::POST, "/v1/posts", Some(scheduled)).await, "id");
    let doomed = json!({"text": "Seeded #fail:rate_limited", "targets": [channel]});
    let failed = id(&app.call(Method::POST, "/v1/posts", Some(doomed)).await, "id");
    posthorn::jobs::process_queue(&app.state).await.unwrap();
    let post = app.store().get_post(app.workspace_id, failed.parse::<PostId>().unwrap()).await.unwrap().unwrap();
    assert_eq!(post.status.as_str(), "failed", "the seeded post to retry");
    let substitutions =
        vec![(API_KEY, app.api_key.clone()), (CHANNEL, channel), (SCHEDULED_POST, scheduled), (FAILED_POST, failed)];
    (app, substitutions)
}

/// An app with a feed source holding one unused entry, and an automation drawing from it for
/// two sandbox channels.
async fn automation_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(|| {
        vec![posthorn::api::automations::routes(), posthorn::api::automations::generate_content_routes()]
    })
    .await;
    // A public address, so that the SSRF guard lets the feed be added.
    app.resolver.set(FEED_HOST, &["93.184.216.34".parse().unwrap()]);
    let now = app.state.clock.now();
    let channels = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 2, now).await.unwrap();
    let source = json!({"url": format!("https://{FEED_HOST}/feed.xml"), "name": "Seeded blog"});
    let source = id(&app.call(Method::POST, "/v1/sources", Some(source)).await, "id");
    app.store().upsert_feed_entries(&[feed_entry(&app, source.parse().unwrap())]).await.unwrap();
    let automation = json!({
        "name": "Seeded digest", "instructions": "Announce the newest post.",
        "targets": [channels[0].id, channels[1].id], "sources": [source],
    });
    let automation = id(&app.call(Method::POST, "/v1/automations", Some(automation)).await, "id");
    let substitutions = vec![
        (API_KEY, app.api_key.clone()),
        (CHANNEL, channels[0].id.to_string()),
        (SOURCE, source),
        (AUTOMATION, automation),
    ];
    (app, substitutions)
}

/// An unused entry of `source`, as the feed fetcher stores one.
fn feed_entry(app: &TestApp, source: SourceId) -> FeedEntry {
    let now = app.state.clock.now();
    FeedEntry {
        workspace_id: app.workspace_id,
        source_id: source,
        key: format!("https://{FEED_HOST}/seeded"),
        title: Some("Seeded entry".into()),
        link: Some(format!("https://{FEED_HOST}/seeded")),
        summary: Some("What the seeded entry is about.".into()),
        published_at: Some(now),
        first_seen_at: now,
        used_by_run: None,
        used_at: None,
    }
}

/// [`automation_app`] after one generate-content run of its automation.
async fn automations_app() -> (TestApp, Vec<(&'static str, String)>) {
    let (app, mut substitutions) = automation_app().await;
    let automation = substitutions.iter().find(|(placeholder, _)| *placeholder == AUTOMATION).unwrap().1.clone();
    let body = json!({"automation_id": automation});
    let run = app.call(Method::POST, "/functions/v1/generate-content", Some(body)).await;
    assert_eq!(run.status, StatusCode::CREATED, "the seeded run: {}", run.body);
    substitutions.push((RUN, id(&run, "id")));
    (app, substitutions)
}

/// An app for the AI functions, which read nothing but the API key's workspace.
async fn ai_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(Vec::new).await;
    let substitutions = vec![(API_KEY, app.api_key.clone())];
    (app, substitutions)
}

/// Invokes each case's event on a freshly `seeded` app and checks the answer.
async fn invoke_every_case(
    function: &str,
    cases: &[HttpCase],
    routes: fn() -> FunctionRoutes,
    seeded: impl AsyncFn() -> (TestApp, Vec<(&'static str, String)>),
) {
    for case in cases {
        let (app, substitutions) = seeded().await;
        let text = event_text(function, case.file, &substitutions);
        let (status, body) = invoke_http(routes(), &app, &text).await;
        assert_answer(function, case, status, &body);
    }
}

#[tokio::test]
async fn every_webhooks_event_gets_its_answer() {
    invoke_every_case("webhooks", WEBHOOKS, posthorn::api::webhooks::routes, webhooks_app).await;
}

#[tokio::test]
async fn every_posts_event_gets_its_answer() {
    invoke_every_case("posts", POSTS, posthorn::api::posts::routes, posts_app).await;
}

#[tokio::test]
async fn every_automations_event_gets_its_answer() {
    invoke_every_case("automations", AUTOMATIONS, posthorn::api::automations::routes, automations_app).await;
}

#[tokio::test]
async fn every_generate_content_event_gets_its_answer() {
    let routes = posthorn::api::automations::generate_content_routes;
    invoke_every_case("generate-content", GENERATE_CONTENT, routes, automation_app).await;
}

#[tokio::test]
async fn every_text_assist_event_gets_its_answer() {
    invoke_every_case("text-assist", TEXT_ASSIST, posthorn::api::assist::text_assist_routes, ai_app).await;
}

#[tokio::test]
async fn every_media_assist_event_gets_its_answer() {
    invoke_every_case("media-assist", MEDIA_ASSIST, posthorn::api::assist::media_assist_routes, ai_app).await;
}

#[tokio::test]
async fn an_http_event_without_the_api_key_is_refused() {
    let (app, _) = webhooks_app().await;
    let text = event_text("webhooks", "list.json", &[]);
    let (status, body) = invoke_http(posthorn::api::webhooks::routes(), &app, &text).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn the_sqs_batch_is_delivered_and_reports_no_failures() {
    for file in DELIVER_WEBHOOKS {
        let (app, receiver, message, event) = queued_delivery_event(file).await;
        let response = posthorn::lambda::deliver_batch(app.state.clone(), event).await;

        assert!(response.batch_item_failures.is_empty(), "deliver-webhooks/{file}");
        let received = receiver.received();
        assert_eq!(received.len(), 1, "deliver-webhooks/{file}");
        assert_eq!(received[0].headers["x-posthorn-delivery"], message.delivery_id.to_string());
    }
}

#[tokio::test]
async fn unreadable_sqs_records_are_reported_as_failures_not_deleted() {
    for file in DELIVER_WEBHOOKS_UNREADABLE {
        let (app, receiver, message, event) = queued_delivery_event(file).await;
        let unreadable: Vec<String> =
            event.records[1..].iter().map(|record| record.message_id.clone().unwrap()).collect();
        let response = posthorn::lambda::deliver_batch(app.state.clone(), event).await;

        let mut reported: Vec<String> =
            response.batch_item_failures.iter().map(|failure| failure.item_identifier.clone()).collect();
        reported.sort();
        assert_eq!(reported, unreadable, "deliver-webhooks/{file}: every unreadable record, and only those");
        let received = receiver.received();
        assert_eq!(received.len(), 1, "deliver-webhooks/{file}: the readable record was still delivered");
        assert_eq!(received[0].headers["x-posthorn-delivery"], message.delivery_id.to_string());
    }
}

/// An app whose one endpoint has a queued delivery, a receiver for it, the delivery's message,
/// and the events/ file `file` with its placeholders replaced by that message.
async fn queued_delivery_event(file: &str) -> (TestApp, Receiver, DeliveryMessage, SqsEvent) {
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], TestOptions::receiving()).await;
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url("/hooks"), "events": ["*"], "skip_verification": true});
    assert_eq!(app.call(Method::POST, "/v1/webhooks", Some(body)).await.status, StatusCode::CREATED);
    emit(&app.state.outbox(), app.workspace_id, EventType::PostPublished, json!({"total": 1})).await.unwrap();
    let queued = app.state.queue.receive(1, Duration::from_secs(60), Duration::ZERO).await.unwrap().remove(0);
    let message: DeliveryMessage = serde_json::from_str(&queued.body).unwrap();

    let substitutions = [
        (WORKSPACE, message.workspace_id.to_string()),
        (DELIVERY, message.delivery_id.to_string()),
        (RECEIPT, queued.receipt.0.clone()),
    ];
    let event: SqsEvent = serde_json::from_str(&event_text("deliver-webhooks", file, &substitutions)).unwrap();
    (app, receiver, message, event)
}

#[tokio::test]
async fn the_scheduled_event_publishes_the_due_post() {
    for file in PROCESS_QUEUE {
        let app = TestApp::new(|| vec![posthorn::api::posts::routes()]).await;
        let now = app.state.clock.now();
        let channels =
            create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
        let post = json!({"text": "Due now", "targets": [channels[0].id]});
        assert_eq!(app.call(Method::POST, "/v1/posts", Some(post)).await.status, StatusCode::CREATED);

        let event: EventBridgeEvent = serde_json::from_str(&event_text("process-queue", file, &[])).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
        let report = posthorn::lambda::run_process_queue(&app.state, event, deadline()).await.unwrap();

        assert_eq!(report.published_posts, 1, "process-queue/{file}");
    }
}

#[tokio::test]
async fn the_scheduled_event_reads_the_published_posts_figures() {
    for file in SYNC_POST_METRICS {
        let app = TestApp::new(|| vec![posthorn::api::posts::routes()]).await;
        let now = app.state.clock.now();
        let channels =
            create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 2, now).await.unwrap();
        let post = json!({"text": "Published", "targets": [channels[0].id, channels[1].id]});
        let post = id(&app.call(Method::POST, "/v1/posts", Some(post)).await, "id");
        assert_eq!(posthorn::jobs::process_queue(&app.state).await.unwrap().published_posts, 1);

        let event: EventBridgeEvent = serde_json::from_str(&event_text("sync-post-metrics", file, &[])).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
        let settings = MetricsSettings::default();
        let report = posthorn::lambda::run_sync_post_metrics(&app.state, event, &settings, deadline()).await.unwrap();

        assert_eq!((report.posts, report.targets_read, report.posts_changed), (1, 2, 1), "{file}: {report:?}");
        let read = app.call(Method::GET, &format!("/v1/posts/{post}"), None).await;
        assert!(read.body["data"]["metrics"]["views"].as_u64().is_some(), "{file}: {}", read.body);
    }
}

#[tokio::test]
async fn the_scheduled_event_polls_the_due_inboxes() {
    for file in SYNC_INBOX {
        let mastodon = wiremock::MockServer::start().await;
        let app = TestApp::with_options(
            Vec::new,
            TestOptions {
                platforms: Some(posthorn::adapters::platforms::PlatformRegistry::standard(
                    &posthorn_testkit::platforms::outbound(),
                )),
                ..TestOptions::default()
            },
        )
        .await;
        let channel =
            app.channel_on(posthorn::model::platforms::Platform::Mastodon, "109876", ConnectionStatus::Active).await;
        watch_from(&app, &channel, "2026-01-01T00:00:00Z").await;
        let connection = app.store().get_connection(app.workspace_id, channel.connection_id).await.unwrap().unwrap();
        point_at(&app, connection, &mastodon.uri()).await;
        wiremock::Mock::given(wiremock::matchers::path("/api/v1/notifications"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!([mention_notification()])))
            .mount(&mastodon)
            .await;

        let event: EventBridgeEvent = serde_json::from_str(&event_text("sync-inbox", file, &[])).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
        let settings = InboxSettings::default();
        let report = posthorn::lambda::run_sync_inbox(&app.state, event, &settings, deadline()).await.unwrap();

        assert_eq!((report.channels, report.interactions), (1, 1), "sync-inbox/{file}: {report:?}");
    }
}

/// Watches `channel`'s inbox from `start_at`, as import-channels does when it stores one.
async fn watch_from(app: &TestApp, channel: &posthorn::model::channels::Channel, start_at: &str) {
    let start_at = time::OffsetDateTime::parse(start_at, &time::format_description::well_known::Rfc3339).unwrap();
    let state = InboxState::new(app.workspace_id, channel.connection_id, channel.id, channel.platform, start_at);
    app.store().write(Write::Put(state.document().unwrap(), Condition::Absent)).await.unwrap();
}

/// Points a connection at a local fake of its platform.
async fn point_at(app: &TestApp, mut connection: posthorn::model::connections::Connection, base_url: &str) {
    let version = connection.version;
    connection.version += 1;
    connection.base_url = base_url.to_string();
    app.store().update_connection(&connection, version).await.unwrap();
}

/// A Mastodon mention notification, as `GET /api/v1/notifications` lists one.
fn mention_notification() -> Value {
    json!({
        "id": "34975861", "type": "mention", "created_at": "2026-03-23T18:04:00.000Z",
        "account": {"id": "109999", "username": "ada", "acct": "ada@mastodon.social", "display_name": "Ada",
            "avatar": "https://files.mastodon.social/avatars/ada.png"},
        "status": {"id": "113250", "created_at": "2026-03-23T18:04:00.000Z", "in_reply_to_id": null,
            "in_reply_to_account_id": null, "visibility": "public",
            "content": "<p>Have you seen what <span class=\"h-card\"><a href=\"https://mastodon.social/@posthorn\" class=\"u-url mention\">@<span>posthorn</span></a></span> shipped?</p>",
            "url": "https://mastodon.social/@ada/113250", "media_attachments": []}
    })
}

/// An app with a sandbox channel and one comment simulated on it.
async fn inbox_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(|| vec![posthorn::api::inbox::inbox_routes()]).await;
    let now = app.state.clock.now();
    let channels = create_sandbox_channels(app.store(), &app.state.secrets, app.workspace_id, 1, now).await.unwrap();
    let body = json!({"channel_id": channels[0].id, "type": "comment", "text": "Seeded comment"});
    let interaction = id(&app.call(Method::POST, "/v1/sandbox/interactions", Some(body)).await, "id");
    let substitutions = vec![
        (API_KEY, app.api_key.clone()),
        (CHANNEL, channels[0].id.to_string()),
        (CONNECTION, channels[0].connection_id.to_string()),
        (INTERACTION, interaction),
    ];
    (app, substitutions)
}

/// An app whose push secrets are the ones the platform-webhooks events were signed with, and a
/// Facebook Page channel the Meta push is for.
async fn platform_webhooks_app() -> (TestApp, Vec<(&'static str, String)>) {
    let push = posthorn::config::PushSecrets {
        meta_verify_token: Some("verify-token-from-your-meta-app".into()),
        meta_app_secrets: vec![posthorn::adapters::platforms::push::MetaAppSecret {
            platform: posthorn::model::platforms::Platform::Facebook,
            secret: "meta-app-secret".into(),
        }],
        x_consumer_secret: Some("x-consumer-secret".into()),
    };
    let options = TestOptions { push: Some(push), ..TestOptions::default() };
    let app =
        TestApp::with_options(|| vec![posthorn::api::platform_webhooks::platform_webhooks_routes()], options).await;
    app.channel_on(posthorn::model::platforms::Platform::Facebook, "104857", ConnectionStatus::Active).await;
    (app, Vec::new())
}

#[tokio::test]
async fn every_platform_webhooks_event_gets_its_answer() {
    let routes = posthorn::api::platform_webhooks::platform_webhooks_routes;
    invoke_every_case("platform-webhooks", PLATFORM_WEBHOOKS, routes, platform_webhooks_app).await;
}

#[tokio::test]
async fn every_inbox_event_gets_its_answer() {
    invoke_every_case("inbox", INBOX, posthorn::api::inbox::inbox_routes, inbox_app).await;
}

/// A deadline far enough away for any test run.
fn deadline() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(30)
}

/// An app with every connections route, on the sandbox platform.
async fn connections_test_app() -> TestApp {
    TestApp::new(|| {
        vec![
            posthorn::api::connections::connect_routes(),
            posthorn::api::connections::sync_routes(),
            posthorn::api::connections::import_routes(),
            posthorn::api::connections::connections_routes(),
        ]
    })
    .await
}

/// Asks for the sandbox's consent URL, which is the redirect itself: its `code` and `state`.
async fn sandbox_consent(app: &TestApp) -> (String, String) {
    let path = "/functions/v1/connect?platform=sandbox&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback";
    let reply = app.call(Method::GET, path, None).await;
    let redirect = url::Url::parse(&id(&reply, "authorization_url")).unwrap();
    let param = |name: &str| redirect.query_pairs().find(|(key, _)| key == name).unwrap().1.to_string();
    (param("code"), param("state"))
}

/// An app with a sandbox consent under way: the callback event's code and state are real.
async fn connect_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = connections_test_app().await;
    let (code, state) = sandbox_consent(&app).await;
    let substitutions = vec![(API_KEY, app.api_key.clone()), (CONSENT_CODE, code), (CONSENT_STATE, state)];
    (app, substitutions)
}

/// An app with a connected sandbox account.
async fn connection_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = connections_test_app().await;
    let (code, state) = sandbox_consent(&app).await;
    let body = json!({"platform": "sandbox", "code": code, "state": state});
    let connection = id(&app.call(Method::POST, "/functions/v1/connect", Some(body)).await, "id");
    let substitutions = vec![(API_KEY, app.api_key.clone()), (CONNECTION, connection)];
    (app, substitutions)
}

#[tokio::test]
async fn every_connect_event_gets_its_answer() {
    invoke_every_case("connect", CONNECT, posthorn::api::connections::connect_routes, connect_app).await;
}

#[tokio::test]
async fn every_sync_event_gets_its_answer() {
    invoke_every_case("sync", SYNC, posthorn::api::connections::sync_routes, connection_app).await;
}

#[tokio::test]
async fn every_import_channels_event_gets_its_answer() {
    invoke_every_case("import-channels", IMPORT_CHANNELS, posthorn::api::connections::import_routes, connection_app)
        .await;
}

#[tokio::test]
async fn every_connections_event_gets_its_answer() {
    invoke_every_case("connections", CONNECTIONS, posthorn::api::connections::connections_routes, connection_app).await;
}

/// An app with a second key, which the delete event revokes.
async fn keys_app() -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::new(|| vec![posthorn::api::keys::routes()]).await;
    let created = app.call(Method::POST, "/v1/api-keys", Some(json!({"name": "to revoke"}))).await;
    let substitutions = vec![(API_KEY, app.api_key.clone()), (KEY_ID, id(&created, "id"))];
    (app, substitutions)
}

#[tokio::test]
async fn every_api_keys_event_gets_its_answer() {
    invoke_every_case("api-keys", API_KEYS, posthorn::api::keys::routes, keys_app).await;
}
