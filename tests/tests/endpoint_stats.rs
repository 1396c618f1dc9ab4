//! An endpoint's stats (GET /v1/webhooks/{id}) after real deliveries over HTTPS: they equal the
//! outcomes the receiver caused, also after a manual retry, on both stores.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::model::webhooks::EventType;
use posthorn::services::webhooks::outbox::emit;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::receiver::{Receiver, Reply};
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

posthorn_testkit::on_both_stores!(stats_equal_the_outcomes_of_the_deliveries);

/// Every delivery of `webhook`, once none is pending.
async fn settled_deliveries(app: &TestApp, webhook: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = app.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries?limit=100"), None).await;
        let listed = reply.body["data"].as_array().unwrap().clone();
        if listed.len() == expected && listed.iter().all(|delivery| delivery["status"] != "pending") {
            return listed;
        }
        assert!(Instant::now() < deadline, "deliveries not settled: {listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_status(deliveries: &[Value], status: &str) -> Vec<Value> {
    deliveries.iter().filter(|delivery| delivery["status"] == status).cloned().collect()
}

async fn stats(app: &TestApp, webhook: &str) -> Value {
    app.call(Method::GET, &format!("/v1/webhooks/{webhook}"), None).await.body["data"]["stats"].clone()
}

async fn stats_equal_the_outcomes_of_the_deliveries(kind: StoreKind) {
    // GIVEN an endpoint whose receiver fails 3 of 10 events (one attempt each)
    let options = TestOptions { store: store(kind, "endpoint-stats").await, ..TestOptions::receiving() };
    let app = TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await;
    app.start_worker();
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url("/hooks"), "events": ["*"]});
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let webhook = reply.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(stats(&app, &webhook).await["last_7d"], json!({"delivered": 0, "failed": 0}));
    receiver.script([200, 500, 200, 200, 503, 200, 200, 404, 200, 200].map(Reply::Status));

    // WHEN ten events are delivered, the worker settling them concurrently
    for _ in 0..10 {
        let data = json!({"post_id": "post_01JD8Z3QK5V7Y2W9X4T6R8P0MN", "status": "published"});
        emit(&app.state.outbox(), app.workspace_id, EventType::PostPublished, data).await.unwrap();
    }
    let deliveries = settled_deliveries(&app, &webhook, 10).await;

    // THEN the stats are the outcomes the deliveries list shows
    let (delivered, failed) = (by_status(&deliveries, "delivered"), by_status(&deliveries, "failed"));
    assert_eq!((delivered.len(), failed.len()), (7, 3));
    let shown = stats(&app, &webhook).await;
    assert_eq!(shown["last_24h"], json!({"delivered": 7, "failed": 3}));
    assert_eq!(shown["last_7d"], json!({"delivered": 7, "failed": 3}));

    // AND a failed delivery retried by hand moves from failed to delivered
    let retry = format!("/v1/webhooks/{webhook}/deliveries/{}/retry", failed[0]["id"].as_str().unwrap());
    assert_eq!(app.call(Method::POST, &retry, None).await.status, StatusCode::ACCEPTED);
    let deliveries = settled_deliveries(&app, &webhook, 10).await;
    assert_eq!(by_status(&deliveries, "delivered").len(), 8);
    let shown = stats(&app, &webhook).await;
    assert_eq!(shown["last_24h"], json!({"delivered": 8, "failed": 2}));
    assert_eq!(shown["last_7d"], json!({"delivered": 8, "failed": 2}));
}
