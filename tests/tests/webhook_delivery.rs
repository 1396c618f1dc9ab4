//! Webhook delivery end to end, over real HTTPS receivers on loopback: the verification ping,
//! signatures checked by verifiers we did not write, retries and their schedule, failures of
//! every kind recorded in the attempt log, auto-disable, rotation, the deliveries API, and the
//! outbox surviving a lost enqueue. Each scenario runs on the SQLite queue and on SQS (moto).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::adapters::sqs::SqsQueue;
use posthorn::model::webhooks::{EventType, RetrySchedule};
use posthorn::ports::queue::Queue;
use posthorn::services::webhooks::outbox::emit;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::aws;
use posthorn_testkit::receiver::{Receiver, Reply};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
enum QueueKind {
    Sqlite,
    Sqs,
}

async fn queue(kind: QueueKind) -> Option<Arc<dyn Queue>> {
    match kind {
        QueueKind::Sqlite => None,
        QueueKind::Sqs => {
            let queue =
                SqsQueue::ensure(aws::sqs().await, &aws::unique_name("deliveries"), 5).await.expect("SQS queue");
            Some(Arc::new(queue))
        }
    }
}

async fn app_with(kind: QueueKind, schedule: &str) -> TestApp {
    let options = TestOptions {
        retries: Some(RetrySchedule::parse(schedule).unwrap()),
        queue: queue(kind).await,
        ..TestOptions::receiving()
    };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    app.start_worker();
    app
}

/// Registers `receiver` (answering its verification ping) and returns the endpoint's id and secret.
async fn register(app: &TestApp, receiver: &Receiver, events: Value) -> (String, String) {
    let reply =
        app.call(Method::POST, "/v1/webhooks", Some(json!({"url": receiver.url("/hooks"), "events": events}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let data = &reply.body["data"];
    (data["id"].as_str().unwrap().to_string(), data["secret"].as_str().unwrap().to_string())
}

async fn publish(app: &TestApp) -> String {
    let data = json!({"post_id": "post_01JD8Z3QK5V7Y2W9X4T6R8P0MN", "status": "published", "published": 1, "failed": 0, "total": 1});
    emit(&app.state.outbox(), app.workspace_id, EventType::PostPublished, data).await.unwrap().id.to_string()
}

async fn deliveries(app: &TestApp, webhook: &str, query: &str) -> Vec<Value> {
    let reply = app.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries?{query}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["data"].as_array().unwrap().clone()
}

/// Waits until the endpoint's newest delivery is no longer pending and returns it in full.
async fn settled_delivery(app: &TestApp, webhook: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = deliveries(app, webhook, "limit=1").await;
        if let Some(newest) = listed.first().filter(|delivery| delivery["status"] != "pending") {
            let path = format!("/v1/webhooks/{webhook}/deliveries/{}", newest["id"].as_str().unwrap());
            return app.call(Method::GET, &path, None).await.body["data"].clone();
        }
        assert!(Instant::now() < deadline, "delivery still pending: {listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

macro_rules! on_both_queues {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name(super::QueueKind::Sqlite).await })*
        }
        mod sqs {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name(super::QueueKind::Sqs).await })*
        }
    };
}

on_both_queues!(
    delivers_signed_events_that_independent_verifiers_accept,
    retries_after_a_server_error_then_succeeds,
    records_every_kind_of_failure_and_fails_after_the_schedule,
    honours_retry_after_up_to_twice_the_scheduled_delay,
    a_deleted_endpoint_gets_no_further_attempts,
    rotation_signs_with_both_secrets,
    deliveries_can_be_listed_read_and_retried,
    the_outbox_sweep_recovers_an_event_whose_enqueue_was_lost,
);

async fn delivers_signed_events_that_independent_verifiers_accept(kind: QueueKind) {
    let app = app_with(kind, "0").await;
    let receiver = Receiver::start().await;
    let (webhook, secret) = register(&app, &receiver, json!(["post.published"])).await;
    let ping = &receiver.received()[0];
    assert_eq!(ping.header("x-posthorn-event"), "webhook.ping");

    let event_id = publish(&app).await;
    let received = receiver.wait_for(2, WAIT).await;
    let delivery = &received[1];

    assert_eq!(delivery.header("content-type"), "application/json");
    assert_eq!(delivery.header("x-posthorn-event"), "post.published");
    assert_eq!(delivery.header("webhook-id"), event_id);
    assert!(delivery.header("x-posthorn-delivery").starts_with("dlv_"));
    assert_eq!(delivery.header("x-posthorn-timestamp"), delivery.header("webhook-timestamp"));
    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(body["id"], event_id);
    assert_eq!(body["event"], "post.published");
    assert_eq!(body["workspace_id"], app.workspace_id.to_string());
    assert_eq!(body["data"]["total"], 1);

    standardwebhooks::Webhook::new(&secret).unwrap().verify(&delivery.body, &delivery.headers).unwrap();
    assert!(seed_node_verifier(&secret, delivery.header("x-posthorn-signature"), &delivery.body).await);
    assert!(!seed_node_verifier("whsec_wrong", delivery.header("x-posthorn-signature"), &delivery.body).await);

    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "delivered");
    assert_eq!(settled["payload"], body);
}

/// Runs the seeds' Node.js snippet on a delivery, as a receiver would.
async fn seed_node_verifier(secret: &str, signature: &str, body: &[u8]) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/verifiers/seed-signature.mjs");
    let mut node = tokio::process::Command::new("node")
        .args([script, secret, signature])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node must be installed to run the seeds' verifier");
    node.stdin.take().unwrap().write_all(body).await.unwrap();
    node.wait().await.unwrap().success()
}

async fn retries_after_a_server_error_then_succeeds(kind: QueueKind) {
    let app = app_with(kind, "0,1").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([Reply::Status(500)]);
    let event_id = publish(&app).await;

    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received[1].header("webhook-id"), event_id);
    assert_eq!(received[2].header("webhook-id"), event_id, "the event id is the same on every attempt");
    assert_eq!(received[1].body, received[2].body, "the body is fixed when the event is emitted");

    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "delivered");
    let attempts = settled["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["error"], "endpoint answered 500");
    assert_eq!(attempts[0]["response_body"], "answered 500");
    assert_eq!(attempts[1]["status_code"], 200);
}

async fn records_every_kind_of_failure_and_fails_after_the_schedule(kind: QueueKind) {
    let app = app_with(kind, "0,0,0,0").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([
        Reply::Redirect("https://example.com/elsewhere".into()),
        Reply::Hang(Duration::from_secs(12)),
        Reply::SlowBody { bytes: 30, interval: Duration::from_millis(500) },
        Reply::Status(410),
    ]);
    publish(&app).await;

    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "failed");
    let attempts = settled["attempts"].as_array().unwrap();
    let errors: Vec<&str> = attempts.iter().map(|attempt| attempt["error"].as_str().unwrap()).collect();
    assert_eq!(attempts.len(), 4, "{errors:?}");
    assert_eq!(errors[0], "endpoint answered 302 (redirects are not followed)");
    assert_eq!(errors[1], "timed out after 10s");
    assert!(errors[2].contains("timed out") || errors[2].contains("request failed"), "{}", errors[2]);
    assert_eq!(errors[3], "endpoint answered 410");
    assert!(attempts[1]["duration_ms"].as_u64().unwrap() >= 9_000);
    assert_eq!(receiver.received().len(), 5, "the redirect was not followed");
}

async fn honours_retry_after_up_to_twice_the_scheduled_delay(kind: QueueKind) {
    let app = app_with(kind, "0,30").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([Reply::RetryAfter(429, 1)]);
    let started = Instant::now();
    publish(&app).await;

    receiver.wait_for(3, WAIT).await;
    assert!(started.elapsed() < Duration::from_secs(15), "the 1 s Retry-After replaced the 30 s delay");
    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "delivered");
    assert_eq!(settled["attempts"][0]["status_code"], 429);
}

async fn a_deleted_endpoint_gets_no_further_attempts(kind: QueueKind) {
    let app = app_with(kind, "0,2").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([Reply::Status(500)]);
    publish(&app).await;
    receiver.wait_for(2, WAIT).await;

    let delivery_id = deliveries(&app, &webhook, "").await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(app.call(Method::DELETE, &format!("/v1/webhooks/{webhook}"), None).await.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(receiver.received().len(), 2, "no attempt after the endpoint was deleted");

    let id = delivery_id.parse().unwrap();
    let stored = app.store().get_delivery(app.workspace_id, id).await.unwrap().unwrap();
    assert_eq!(stored.status, posthorn::model::webhooks::DeliveryStatus::Failed);
    assert_eq!(stored.attempts.last().unwrap().error.as_deref(), Some("not sent: the endpoint was deleted"));
}

async fn rotation_signs_with_both_secrets(kind: QueueKind) {
    let app = app_with(kind, "0").await;
    let receiver = Receiver::start().await;
    let (webhook, old_secret) = register(&app, &receiver, json!(["*"])).await;
    let rotated = app.call(Method::POST, &format!("/v1/webhooks/{webhook}/rotate-secret"), None).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.body["data"]["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    let read = app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await;
    assert_eq!(read.body["data"]["secret_hint"], new_secret[new_secret.len() - 4..]);

    publish(&app).await;
    let delivery = receiver.wait_for(2, WAIT).await[1].clone();
    assert_eq!(delivery.header("webhook-signature").split(' ').count(), 2);
    for secret in [&old_secret, &new_secret] {
        standardwebhooks::Webhook::new(secret).unwrap().verify(&delivery.body, &delivery.headers).unwrap();
    }
    let posthorn_signatures: Vec<&str> = delivery.header("x-posthorn-signature").split(' ').collect();
    assert!(seed_node_verifier(&new_secret, posthorn_signatures[0], &delivery.body).await);
    assert!(seed_node_verifier(&old_secret, posthorn_signatures[1], &delivery.body).await);
}

async fn deliveries_can_be_listed_read_and_retried(kind: QueueKind) {
    let app = app_with(kind, "0").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([Reply::Status(500)]);
    publish(&app).await;
    let failed = settled_delivery(&app, &webhook).await;
    assert_eq!(failed["status"], "failed");

    let test = app.call(Method::POST, &format!("/v1/webhooks/{webhook}/test"), None).await;
    assert_eq!(test.status, StatusCode::ACCEPTED);
    let received = receiver.wait_for(3, WAIT).await;
    assert_eq!(received[2].header("x-posthorn-event"), "webhook.test");

    let failed_only = deliveries(&app, &webhook, "status=failed").await;
    assert_eq!(failed_only.len(), 1);
    assert_eq!(failed_only[0]["id"], failed["id"]);
    let tests_only = deliveries(&app, &webhook, "event_type=webhook.test").await;
    assert_eq!(tests_only.len(), 1);
    assert_eq!(tests_only[0]["id"], test.body["data"]["delivery_id"]);
    let bad = app.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries?status=lost"), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let retry_path = format!("/v1/webhooks/{webhook}/deliveries/{}/retry", failed["id"].as_str().unwrap());
    let retried = app.call(Method::POST, &retry_path, None).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{retried:?}");
    let received = receiver.wait_for(4, WAIT).await;
    assert_eq!(received[3].header("webhook-id"), failed["event_id"].as_str().unwrap(), "a retry keeps the event id");
    let deadline = Instant::now() + WAIT;
    let read_path = format!("/v1/webhooks/{webhook}/deliveries/{}", failed["id"].as_str().unwrap());
    loop {
        let read = app.call(Method::GET, &read_path, None).await;
        if read.body["data"]["status"] == "delivered" {
            assert_eq!(read.body["data"]["attempts"].as_array().unwrap().len(), 2);
            break;
        }
        assert!(Instant::now() < deadline, "retry not delivered: {:?}", read.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.call(Method::POST, &retry_path, None).await.status, StatusCode::CONFLICT, "only failed ones retry");

    let stats = app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await.body["data"]["stats"].clone();
    assert_eq!(stats["last_24h"], json!({"delivered": 2, "failed": 0}));
    assert_eq!(stats["last_7d"], json!({"delivered": 2, "failed": 0}));
}

async fn the_outbox_sweep_recovers_an_event_whose_enqueue_was_lost(kind: QueueKind) {
    let clock = Arc::new(posthorn::adapters::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let options = TestOptions { queue: queue(kind).await, clock: Some(clock.clone()), ..TestOptions::receiving() };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    app.start_worker();
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;

    // GIVEN an event and its delivery written to the store, and the process dying before the
    // enqueue (the first outbox step without the second)
    let endpoint = app.store().get_webhook(app.workspace_id, webhook.parse().unwrap()).await.unwrap().unwrap();
    let now = app.state.clock.now();
    let event = posthorn::services::webhooks::outbox::new_event(
        app.workspace_id,
        EventType::PostFailed,
        json!({"total": 1}),
        now,
    );
    let delivery = posthorn::services::webhooks::outbox::new_delivery(&event, endpoint.id, now);
    app.store().create_event(&event, std::slice::from_ref(&delivery)).await.unwrap();

    // WHEN process-queue runs before the grace period, nothing is re-sent; after it, the sweep re-enqueues
    assert_eq!(posthorn::jobs::process_queue(&app.state).await.unwrap().requeued_deliveries, 0);
    clock.advance(time::Duration::minutes(3));
    assert_eq!(posthorn::jobs::process_queue(&app.state).await.unwrap().requeued_deliveries, 1);

    // THEN the receiver gets the event, once
    let received = receiver.wait_for(2, WAIT).await;
    assert_eq!(received[1].header("webhook-id"), event.id.to_string());
    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "delivered");
    assert_eq!(posthorn::jobs::process_queue(&app.state).await.unwrap().requeued_deliveries, 0);
}

#[tokio::test]
async fn a_failed_verification_ping_saves_nothing() {
    let app = app_with(QueueKind::Sqlite, "0").await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(503)]);
    let reply =
        app.call(Method::POST, "/v1/webhooks", Some(json!({"url": receiver.url("/hooks"), "events": ["*"]}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("verification ping failed (endpoint answered 503)"), "{}", reply.error());
    assert_eq!(app.call(Method::GET, "/v1/webhooks", None).await.body["data"], json!([]));

    let gone = Receiver::start().await;
    gone.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reply = app.call(Method::POST, "/v1/webhooks", Some(json!({"url": gone.url("/hooks"), "events": ["*"]}))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("could not connect"), "{}", reply.error());
}

#[tokio::test]
async fn a_host_that_turns_private_after_registration_gets_nothing() {
    // GIVEN the SSRF guard on, and a host that resolves to a public address at registration
    let options = TestOptions { retries: Some(RetrySchedule::parse("0").unwrap()), ..TestOptions::default() };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    app.start_worker();
    app.resolver.set("rebind.example.com", &["93.184.216.34".parse().unwrap()]);
    let body = json!({"url": "https://rebind.example.com/hooks", "events": ["*"], "skip_verification": true});
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let webhook = reply.body["data"]["id"].as_str().unwrap().to_string();

    // WHEN it resolves to loopback by the time an event is delivered
    app.resolver.set("rebind.example.com", &["127.0.0.1".parse().unwrap()]);
    publish(&app).await;

    // THEN the attempt is refused by the guard, and the attempt log says why
    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "failed");
    let error = settled["attempts"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("refused by the SSRF guard"), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");
}

#[tokio::test]
async fn huge_response_bodies_are_read_only_in_part() {
    let app = app_with(QueueKind::Sqlite, "0").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script([Reply::HugeBody(20 * 1024 * 1024)]);
    publish(&app).await;
    let settled = settled_delivery(&app, &webhook).await;
    assert_eq!(settled["status"], "delivered");
    assert_eq!(settled["attempts"][0]["response_body"].as_str().unwrap().len(), 1024);
}

#[tokio::test]
async fn an_endpoint_failing_twenty_deliveries_in_a_row_is_disabled() {
    let app = app_with(QueueKind::Sqlite, "0").await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["*"])).await;
    receiver.script(std::iter::repeat_n(Reply::Status(500), 20));
    for _ in 0..20 {
        publish(&app).await;
    }
    receiver.wait_for(21, WAIT).await;

    let path = format!("/v1/webhooks/{webhook}");
    let deadline = Instant::now() + WAIT;
    let endpoint = loop {
        let endpoint = app.call(Method::GET, &path, None).await.body["data"].clone();
        if endpoint["active"] == false {
            break endpoint;
        }
        assert!(Instant::now() < deadline, "not disabled: {endpoint}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("20 consecutive failed deliveries"), "{endpoint}");
    assert_eq!(endpoint["stats"]["last_24h"], json!({"delivered": 0, "failed": 20}));

    publish(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 21, "a disabled endpoint gets nothing");

    let enabled = app.call(Method::PATCH, &path, Some(json!({"active": true}))).await;
    assert_eq!(enabled.body["data"]["active"], true);
    assert!(enabled.body["data"].get("disabled_reason").is_none());
    publish(&app).await;
    receiver.wait_for(22, WAIT).await;
}
