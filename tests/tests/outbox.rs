//! The outbox at the limits of the store underneath (issue 13, items 1 and 2), on both stores:
//! one event to 1,000 endpoints — ten times what one DynamoDB transaction holds — is delivered to
//! each exactly once; a fan-out cut short by a crash is completed by the sweep without a second
//! delivery; a workspace cannot have more endpoints than its configured limit; and a state change
//! and its event are committed together, so a store failure between them leaves neither.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::{DeliveryId, EventId, WebhookId};
use posthorn::model::platforms::Platform;
use posthorn::model::webhooks::{
    DeliveryStatus, EventFilter, EventType, NewEndpoint, WebhookEndpoint, WebhookLimits, WebhookSecret,
};
use posthorn::ports::clock::Clock;
use posthorn::ports::store::{Condition, MAX_ITEMS_PER_TRANSACTION, Outcome, Record, Store, Write};
use posthorn::services::publish::PUBLISH_LEASE;
use posthorn::services::webhooks::outbox::{SWEEP_GRACE, emit, new_delivery, new_event, sweep};
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::failing_store::FailingStore;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::publishing::PostsFixture;
use posthorn_testkit::receiver::Receiver;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(180);

on_both_stores!(
    one_event_reaches_a_thousand_endpoints_each_exactly_once,
    a_fan_out_cut_short_is_completed_by_the_sweep_without_a_second_delivery,
    a_workspace_has_at_most_its_configured_number_of_endpoints,
    a_post_and_its_event_are_written_together_or_not_at_all,
);

async fn app(kind: StoreKind, options: TestOptions) -> TestApp {
    let options = TestOptions { store: store(kind, "posthorn-outbox").await, ..options };
    TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await
}

/// `count` active endpoints for every event, each at its own path of `receiver`, written to
/// the store as `POST /v1/webhooks` would, a transaction's worth at a time.
async fn endpoints(app: &TestApp, receiver: &Receiver, count: usize) -> Vec<WebhookId> {
    let secret = WebhookSecret::generate();
    let endpoints: Vec<WebhookEndpoint> = (0..count)
        .map(|index| {
            let new = NewEndpoint {
                workspace_id: app.workspace_id,
                name: None,
                url: receiver.url(&format!("/hooks/{index}")),
                events: EventFilter::from_names(&["*".to_string()]).unwrap(),
                secret: &secret,
            };
            WebhookEndpoint::new(new, &app.state.secrets, app.state.clock.now())
        })
        .collect();
    for chunk in endpoints.chunks(MAX_ITEMS_PER_TRANSACTION) {
        let writes = chunk.iter().map(|endpoint| Write::Put(endpoint.document().unwrap(), Condition::Absent)).collect();
        assert_eq!(app.store().transact(writes).await.unwrap(), Outcome::Written);
    }
    endpoints.iter().map(|endpoint| endpoint.id).collect()
}

/// The receiver got exactly one request for each of the event's deliveries — the delivery of
/// the event to each endpoint (its id is derived from both) — and then no more.
async fn received_once_each(receiver: &Receiver, event: EventId, endpoints: &[WebhookId]) {
    receiver.wait_for(endpoints.len(), WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut received: Vec<String> =
        receiver.received().iter().map(|request| request.header("x-posthorn-delivery").to_string()).collect();
    received.sort_unstable();
    let mut expected: Vec<String> =
        endpoints.iter().map(|webhook| DeliveryId::of(event, *webhook).to_string()).collect();
    expected.sort_unstable();
    assert_eq!(received.len(), expected.len(), "no delivery arrived twice");
    assert!(received == expected, "one delivery for each endpoint");
}

async fn one_event_reaches_a_thousand_endpoints_each_exactly_once(kind: StoreKind) {
    let app = app(kind, TestOptions { retries: None, ..TestOptions::receiving() }).await;
    let receiver = Receiver::start().await;
    let ids = endpoints(&app, &receiver, 1_000).await;
    app.start_worker();

    let event =
        emit(&app.state.outbox(), app.workspace_id, EventType::PostPublished, json!({"total": 1})).await.unwrap();

    received_once_each(&receiver, event.id, &ids).await;
    assert!(receiver.received().iter().all(|request| request.header("webhook-id") == event.id.to_string()));
    let stored = app.store().get_event(app.workspace_id, event.id).await.unwrap().unwrap();
    assert!(stored.fanout.is_empty(), "the fan-out is marked finished");
    let last = app.store().get_delivery(app.workspace_id, DeliveryId::of(event.id, ids[999])).await.unwrap();
    assert_eq!(last.unwrap().status, DeliveryStatus::Delivered);
}

async fn a_fan_out_cut_short_is_completed_by_the_sweep_without_a_second_delivery(kind: StoreKind) {
    let clock = Arc::new(posthorn::adapters::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let app = app(kind, TestOptions { clock: Some(clock.clone()), ..TestOptions::receiving() }).await;
    let receiver = Receiver::start().await;
    let ids = endpoints(&app, &receiver, 250).await;
    app.start_worker();

    // A writer stored the event with its endpoints and the first 120 deliveries, then died.
    let mut event = new_event(app.workspace_id, EventType::PostFailed, json!({"total": 1}), clock.now());
    event.fanout = ids.clone();
    app.store().write(Write::Put(event.document().unwrap(), Condition::Absent)).await.unwrap();
    for webhook in &ids[..120] {
        let delivery = new_delivery(&event, *webhook, event.created_at);
        app.store().write(Write::Put(delivery.document().unwrap(), Condition::Absent)).await.unwrap();
    }

    assert_eq!(sweep(&app.state.outbox()).await.unwrap(), 0, "a fan-out in progress is left to its writer");
    clock.advance(SWEEP_GRACE + time::Duration::seconds(1));
    sweep(&app.state.outbox()).await.unwrap();
    sweep(&app.state.outbox()).await.unwrap();

    // The 120 written before the crash were never queued; the sweep queued all 250, once.
    received_once_each(&receiver, event.id, &ids).await;
    let stored = app.store().get_event(app.workspace_id, event.id).await.unwrap().unwrap();
    assert!(stored.fanout.is_empty());
}

async fn a_workspace_has_at_most_its_configured_number_of_endpoints(kind: StoreKind) {
    let limits = WebhookLimits { max_endpoints_per_workspace: 3, ..WebhookLimits::default() };
    let app = app(kind, TestOptions { webhook_limits: Some(limits), ..TestOptions::receiving() }).await;
    let receiver = Receiver::start().await;
    let create = || {
        let body = json!({"url": receiver.url("/hooks"), "events": ["*"], "skip_verification": true});
        app.call(Method::POST, "/v1/webhooks", Some(body))
    };
    for _ in 0..3 {
        assert_eq!(create().await.status, StatusCode::CREATED);
    }

    let refused = create().await;

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
    assert!(refused.error().contains("3 webhook endpoints, the most it may have"), "{refused:?}");
    assert!(refused.error().contains("POSTHORN_MAX_ENDPOINTS_PER_WORKSPACE"), "{refused:?}");
    let listed = app.call(Method::GET, "/v1/webhooks", None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 3);
}

async fn a_post_and_its_event_are_written_together_or_not_at_all(kind: StoreKind) {
    let inner = match store(kind, "posthorn-units").await {
        Some(store) => store,
        None => Arc::new(SqliteStore::in_memory().unwrap()) as Arc<dyn Store>,
    };
    let failing = Arc::new(FailingStore::new(inner));
    let fixture = PostsFixture::with_store(failing.clone()).await;
    let channel = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    let published = fixture.create(json!({"text": "Hello", "targets": [channel.id]})).await;
    let id = published["id"].as_str().unwrap();

    // Published on the platform, then the store fails as the post and post.published commit.
    failing.fail_transactions(true);
    fixture.run_process_queue().await;
    assert_eq!(fixture.get(id).await["status"], "publishing", "not settled without its event");
    assert_eq!(fixture.recording.calls().len(), 1);

    failing.fail_transactions(false);
    fixture.clock.advance(PUBLISH_LEASE + time::Duration::seconds(1));
    fixture.run_process_queue().await;
    assert_eq!(fixture.get(id).await["status"], "published");
    assert_eq!(fixture.recording.calls().len(), 1, "the published target is not posted again");
    assert_eq!(fixture.events("post.published", 1).await.len(), 1);

    // A delete while the store fails answers 503 and deletes nothing; then it works, once.
    let later = fixture.clock.now() + time::Duration::hours(1);
    let scheduled = fixture
        .create(json!({"text": "Later", "targets": [channel.id], "scheduled_at": later.format(&time::format_description::well_known::Rfc3339).unwrap()}))
        .await;
    let path = format!("/v1/posts/{}", scheduled["id"].as_str().unwrap());
    failing.fail_transactions(true);
    let refused = fixture.app.call(Method::DELETE, &path, None).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{refused:?}");
    assert_eq!(fixture.app.call(Method::GET, &path, None).await.status, StatusCode::OK, "still there");
    failing.fail_transactions(false);
    assert_eq!(fixture.app.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(fixture.app.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fixture.events("post.deleted", 1).await.len(), 1, "post.deleted fired once");
    assert_eq!(fixture.events("post.published", 1).await.len(), 1, "post.published fired once");
}
