//! Endpoint recovery (issue 21) over real HTTPS receivers, on the embedded store and queue and on
//! DynamoDB and SQS (moto): a receiver down for a whole retry schedule gets every missed event
//! once it is recovered, exactly once and signed; a disabled endpoint is a 409 unless the call
//! enables it; a recovery cut short by a crash, and picked up by a restarted process, finishes
//! without repeating a delivery; a disabled endpoint is probed, re-enabled and recovered without
//! a call, and the workspace's other endpoints hear of it; recoveries keep to their rate.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::adapters::sqs::SqsQueue;
use posthorn::jobs::recover_endpoints;
use posthorn::model::crypto::EncryptionKey;
use posthorn::model::webhooks::{EventType, RecoverySettings, RetrySchedule};
use posthorn::ports::queue::Queue;
use posthorn::ports::store::{Kind, Store};
use posthorn::services::webhooks::outbox::emit;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::aws;
use posthorn_testkit::failing_store::FailingStore;
use posthorn_testkit::receiver::Receiver;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const WAIT: Duration = Duration::from_secs(90);
const RATE: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stack {
    /// The SQLite store and queue of the dev server.
    Embedded,
    /// DynamoDB and SQS, as deployed.
    Aws,
}

macro_rules! on_both_stacks {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Stack::Embedded).await })*
        }
        mod dynamodb_sqs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Stack::Aws).await })*
        }
    };
}

on_both_stacks!(
    a_recovery_sends_every_missed_event_exactly_once_with_valid_signatures,
    a_recovery_is_refused_on_a_disabled_endpoint_unless_it_enables_it,
    a_recovery_cut_short_by_a_crash_finishes_after_a_restart,
    a_disabled_endpoint_is_probed_re_enabled_and_recovered_without_a_call,
    a_recovery_keeps_to_its_rate,
);

/// What a scenario runs on: the store (which can be made to fail) and the queue, shared by every
/// process the scenario starts.
struct Backend {
    store: Arc<FailingStore>,
    queue: Option<Arc<dyn Queue>>,
}

async fn backend(stack: Stack) -> Backend {
    let (inner, queue): (Arc<dyn Store>, Option<Arc<dyn Queue>>) = match stack {
        Stack::Embedded => (Arc::new(SqliteStore::in_memory().unwrap()), None),
        Stack::Aws => {
            let store = store(StoreKind::DynamoDb, "posthorn-recovery").await.unwrap();
            let queue = SqsQueue::ensure(aws::sqs().await, &aws::unique_name("recovery"), 5).await.unwrap();
            (store, Some(Arc::new(queue)))
        }
    };
    Backend { store: Arc::new(FailingStore::new(inner)), queue }
}

/// A Posthorn process over `backend`: three attempts a delivery, 100 ms apart; recoveries at
/// [`RATE`] a second; probes from 300 ms on.
async fn process(backend: &Backend) -> TestApp {
    process_with_key(backend, None).await
}

/// A process over `backend` whose secrets are sealed with `key` (a restart of the one that had it).
async fn process_with_key(backend: &Backend, key: Option<EncryptionKey>) -> TestApp {
    let recovery = RecoverySettings {
        rate_per_second: RATE,
        probe_first: time::Duration::milliseconds(300),
        probe_max: time::Duration::seconds(1),
        probe_for: time::Duration::days(1),
    };
    let options = TestOptions {
        store: Some(backend.store.clone()),
        queue: backend.queue.clone(),
        retries: Some(RetrySchedule::parse("0,0.1,0.1").unwrap()),
        recovery: Some(recovery),
        encryption_key: key,
        ..TestOptions::receiving()
    };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    app.start_worker();
    app
}

/// Registers `receiver` for `events` (it answers the verification ping): the id and secret.
async fn register(app: &TestApp, receiver: &Receiver, events: Value) -> (String, String) {
    let body = json!({"url": receiver.url("/hooks"), "events": events});
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let data = &reply.body["data"];
    (data["id"].as_str().unwrap().to_string(), data["secret"].as_str().unwrap().to_string())
}

/// Emits `count` `post.published` events, each its own post; their ids, oldest first.
async fn publish(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for index in 0..count {
        let data =
            json!({"post_id": format!("post_{index}"), "status": "published", "published": 1, "failed": 0, "total": 1});
        ids.push(
            emit(&app.state.outbox(), app.workspace_id, EventType::PostPublished, data).await.unwrap().id.to_string(),
        );
    }
    ids
}

/// Waits until the endpoint has `count` failed deliveries.
async fn failed(app: &TestApp, webhook: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply =
            app.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries?status=failed&limit=100"), None).await;
        let failed = reply.body["data"].as_array().unwrap().len();
        if failed == count {
            return;
        }
        assert!(Instant::now() < deadline, "{failed} failed deliveries, expected {count}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_recovery(app: &TestApp, webhook: &str, body: Value) -> String {
    let reply = app.call(Method::POST, &format!("/v1/webhooks/{webhook}/recover"), Some(body)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.body["data"]["state"], "running");
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

async fn recovery(app: &TestApp, webhook: &str, id: &str) -> Value {
    let reply = app.call(Method::GET, &format!("/v1/webhooks/{webhook}/recoveries/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["data"].clone()
}

/// Runs the recovery job (process-queue's step) every 100 ms until `done` holds.
async fn recover_until(app: &TestApp, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "recovery did not finish in {WAIT:?}");
        recover_endpoints(&app.state, Instant::now() + Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn finished(app: &TestApp, webhook: &str, id: &str) -> Value {
    recover_until(app, async || recovery(app, webhook, id).await["state"] != "running").await;
    recovery(app, webhook, id).await
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

fn ids(bodies: &[Value]) -> Vec<String> {
    bodies.iter().map(|body| body["id"].as_str().unwrap().to_string()).collect()
}

async fn a_recovery_sends_every_missed_event_exactly_once_with_valid_signatures(stack: Stack) {
    let backend = backend(stack).await;
    let app = process(&backend).await;
    let started = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let mut receiver = Receiver::start().await;
    let (webhook, secret) = register(&app, &receiver, json!(["post.published"])).await;
    let delivered = publish(&app, 1).await;
    receiver.events("post.published", 1, WAIT).await;

    receiver.stop();
    let missed = publish(&app, 8).await;
    failed(&app, &webhook, 8).await;
    receiver.resume().await;

    let id = start_recovery(&app, &webhook, json!({"since": rfc3339(started)})).await;
    let busy = app
        .call(Method::POST, &format!("/v1/webhooks/{webhook}/recover"), Some(json!({"since": rfc3339(started)})))
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "one recovery of an endpoint at a time: {busy:?}");
    let done = finished(&app, &webhook, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(
        (done["total"].as_u64(), done["delivered"].as_u64(), done["failed"].as_u64()),
        (Some(8), Some(8), Some(0))
    );
    assert_eq!(done["scan_complete"], true);
    assert_eq!(done["trigger"], "manual");

    // More runs send nothing more: every missed event arrived once, signed, with its own id.
    for _ in 0..3 {
        recover_endpoints(&app.state, Instant::now() + Duration::from_secs(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = ids(&receiver.verified("post.published", 9, &secret, WAIT).await);
    assert_eq!(received[0], delivered[0], "the event delivered before the outage is not sent again");
    let replayed: HashSet<&String> = received[1..].iter().collect();
    assert_eq!(replayed, missed.iter().collect::<HashSet<_>>());
    if stack == Stack::Embedded {
        // Oldest first, to the millisecond of their ids' time (deliveries of one millisecond sort
        // by the rest of their id).
        let times: Vec<&str> = received[1..].iter().map(|id| &id[..14]).collect();
        assert!(times.is_sorted(), "oldest first: {received:?}");
    }
    failed(&app, &webhook, 0).await;
}

async fn a_recovery_is_refused_on_a_disabled_endpoint_unless_it_enables_it(stack: Stack) {
    let backend = backend(stack).await;
    let app = process(&backend).await;
    let mut receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["post.published"])).await;
    let since = rfc3339(OffsetDateTime::now_utc() - time::Duration::hours(1));
    receiver.stop();
    publish(&app, 2).await;
    failed(&app, &webhook, 2).await;
    receiver.resume().await;
    let patched = app.call(Method::PATCH, &format!("/v1/webhooks/{webhook}"), Some(json!({"active": false}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");

    let path = format!("/v1/webhooks/{webhook}/recover");
    let refused = app.call(Method::POST, &path, Some(json!({"since": since}))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert!(refused.error().contains("enable it first"), "{refused:?}");
    for (body, field) in [
        (json!({"since": rfc3339(OffsetDateTime::now_utc() + time::Duration::hours(1))}), "since"),
        (json!({"since": since, "until": since}), "since"),
        (json!({"since": "yesterday"}), "since"),
        (json!({"since": since, "speed": 3}), "speed"),
    ] {
        let reply = app.call(Method::POST, &path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
        assert!(reply.error().contains(field), "{reply:?}");
    }
    let unknown = format!("/v1/webhooks/{webhook}/recoveries/rcv_01JD8Z3QK5V7Y2W9X4T6R8P0MN");
    assert_eq!(app.call(Method::GET, &unknown, None).await.status, StatusCode::NOT_FOUND);

    let id = start_recovery(&app, &webhook, json!({"since": since, "enable": true})).await;
    let endpoint = app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await.body["data"].clone();
    assert_eq!((endpoint["active"].as_bool(), endpoint["enabled_reason"].as_str()), (Some(true), Some("manual")));
    let done = finished(&app, &webhook, &id).await;
    assert_eq!((done["state"].as_str(), done["delivered"].as_u64()), (Some("completed"), Some(2)), "{done}");
}

async fn a_recovery_cut_short_by_a_crash_finishes_after_a_restart(stack: Stack) {
    let backend = backend(stack).await;
    let first = process(&backend).await;
    let mut receiver = Receiver::start().await;
    let (webhook, secret) = register(&first, &receiver, json!(["post.published"])).await;
    let since = rfc3339(OffsetDateTime::now_utc() - time::Duration::seconds(1));
    receiver.stop();
    let missed = publish(&first, 6).await;
    failed(&first, &webhook, 6).await;
    receiver.resume().await;

    // The run saves what it took up, then dies before any delivery is handed to the queue.
    backend.store.fail_writes_of(Some(Kind::Delivery));
    let id = start_recovery(&first, &webhook, json!({"since": since})).await;
    recover_endpoints(&first.state, Instant::now() + Duration::from_secs(10)).await;
    let cut = recovery(&first, &webhook, &id).await;
    assert_eq!(
        (cut["state"].as_str(), cut["total"].as_u64(), cut["pending"].as_u64()),
        (Some("running"), Some(6), Some(6))
    );
    let (workspace, key) = (first.workspace_id, first.encryption_key.clone());
    drop(first);
    backend.store.fail_writes_of(None);

    let restarted = process_with_key(&backend, Some(key)).await;
    let rid = id.parse().unwrap();
    recover_until(&restarted, async || {
        restarted.store().get_recovery(workspace, rid).await.unwrap().unwrap().state
            != posthorn::model::webhooks::RecoveryState::Running
    })
    .await;
    let done = restarted.store().get_recovery(workspace, rid).await.unwrap().unwrap();
    assert_eq!((done.total, done.delivered, done.failed), (6, 6, 0), "{done:?}");
    for _ in 0..3 {
        recover_endpoints(&restarted.state, Instant::now() + Duration::from_secs(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = ids(&receiver.verified("post.published", 6, &secret, WAIT).await);
    assert_eq!(received.iter().collect::<HashSet<_>>(), missed.iter().collect::<HashSet<_>>());
}

async fn a_disabled_endpoint_is_probed_re_enabled_and_recovered_without_a_call(stack: Stack) {
    let backend = backend(stack).await;
    let app = process(&backend).await;
    let watcher = Receiver::start().await;
    let system = json!(["webhook.endpoint.disabled", "webhook.endpoint.enabled", "webhook.recovery.completed"]);
    register(&app, &watcher, system).await;
    let mut target = Receiver::start().await;
    let (webhook, secret) = register(&app, &target, json!(["post.published"])).await;

    target.stop();
    let mut missed = publish(&app, 20).await;
    let disabled = watcher.events("webhook.endpoint.disabled", 1, WAIT).await;
    assert_eq!(disabled[0]["data"]["webhook_id"], webhook.as_str());
    assert!(disabled[0]["data"]["reason"].as_str().unwrap().contains("20 consecutive failed deliveries"));
    let endpoint = app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await.body["data"].clone();
    assert_eq!(endpoint["active"], false);
    assert!(endpoint["next_probe_at"].is_string(), "{endpoint}");
    // Events while it is disabled are kept for it, failed at once, and recovered with the rest.
    missed.extend(publish(&app, 2).await);
    failed(&app, &webhook, 22).await;

    // While it is still down, probes fail and back off.
    let path = format!("/v1/webhooks/{webhook}");
    let first_probe = endpoint["next_probe_at"].clone();
    recover_until(&app, async || app.call(Method::GET, &path, None).await.body["data"]["next_probe_at"] != first_probe)
        .await;
    target.resume().await;
    let completions =
        || watcher.received().iter().filter(|r| r.header("x-posthorn-event") == "webhook.recovery.completed").count();
    recover_until(&app, async || completions() == 1).await;

    let endpoint = app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await.body["data"].clone();
    assert_eq!((endpoint["active"].as_bool(), endpoint["enabled_reason"].as_str()), (Some(true), Some("recovered")));
    assert!(endpoint.get("next_probe_at").is_none(), "{endpoint}");
    let enabled = watcher.events("webhook.endpoint.enabled", 1, WAIT).await;
    assert_eq!(enabled[0]["data"]["reason"], "recovered");
    let completed = watcher.events("webhook.recovery.completed", 1, WAIT).await;
    let data = &completed[0]["data"];
    assert_eq!((data["state"].as_str(), data["trigger"].as_str()), (Some("completed"), Some("automatic")), "{data}");
    assert_eq!((data["total"].as_u64(), data["delivered"].as_u64()), (Some(22), Some(22)), "{data}");
    assert_eq!(data["recovery_id"], enabled[0]["data"]["recovery_id"]);

    let received = ids(&target.verified("post.published", 22, &secret, WAIT).await);
    assert_eq!(received.iter().collect::<HashSet<_>>(), missed.iter().collect::<HashSet<_>>());
    let kinds: HashSet<String> = target.received().iter().map(|r| r.header("x-posthorn-event").to_string()).collect();
    assert_eq!(
        kinds,
        HashSet::from(["webhook.ping".to_string(), "post.published".to_string()]),
        "never told about itself"
    );
}

async fn a_recovery_keeps_to_its_rate(stack: Stack) {
    let backend = backend(stack).await;
    let app = process(&backend).await;
    let mut receiver = Receiver::start().await;
    let (webhook, _) = register(&app, &receiver, json!(["post.published"])).await;
    let since = rfc3339(OffsetDateTime::now_utc() - time::Duration::seconds(1));
    receiver.stop();
    publish(&app, 30).await;
    failed(&app, &webhook, 30).await;
    receiver.resume().await;
    let before = receiver.count();

    // Thirty failures in a row disable it: the recovery enables it again.
    let path = format!("/v1/webhooks/{webhook}");
    let deadline = Instant::now() + WAIT;
    while app.call(Method::GET, &path, None).await.body["data"]["active"] == true {
        assert!(Instant::now() < deadline, "not disabled after thirty failures");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = start_recovery(&app, &webhook, json!({"since": since, "enable": true})).await;
    let done = finished(&app, &webhook, &id).await;
    assert_eq!(done["delivered"], 30, "{done}");
    let times: Vec<Instant> = receiver.received()[before..].iter().map(|request| request.at).collect();
    let span = *times.last().unwrap() - times[0];
    let least = Duration::from_secs_f64(29.0 / f64::from(RATE)) - Duration::from_millis(200);
    assert!(span >= least, "30 deliveries at {RATE}/s took {span:?}");
    // SQS counts delays in whole seconds, so sends due within one second may arrive together.
    let busiest = times
        .iter()
        .map(|start| times.iter().filter(|at| **at >= *start && **at < *start + Duration::from_secs(1)).count())
        .max()
        .unwrap();
    assert!(busiest <= 2 * RATE as usize, "{busiest} deliveries within one second");
}
