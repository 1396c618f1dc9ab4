//! No lost update on webhook endpoints (issue 13, item 4), on both stores: endpoints carry a
//! version, and rotate-secret, PATCH and the worker's auto-disable are writes conditional on it
//! that re-apply their change to a fresh read when another write came first. Raced a hundred
//! times, the secret rotate-secret returns is the one stored (and so the one that signs), and
//! the disable holds too.

use axum::http::{Method, StatusCode};
use posthorn::model::ids::WebhookId;
use posthorn::services::webhooks::worker::disable_endpoint;
use posthorn_testkit::app::{PUBLIC_HOST, TestApp, TestOptions};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::json;

on_both_stores!(a_rotated_secret_survives_a_concurrent_disable, an_edit_survives_a_concurrent_disable);

async fn app(kind: StoreKind) -> TestApp {
    let options = TestOptions { store: store(kind, "posthorn-endpoints").await, ..TestOptions::default() };
    TestApp::with_options(|| vec![posthorn::api::webhooks::routes()], options).await
}

/// An endpoint for one event: not for every one, or each disable would be told to every endpoint
/// created before it (`webhook.endpoint.disabled`), which is not what this suite measures.
async fn create(app: &TestApp) -> WebhookId {
    let body =
        json!({"url": format!("https://{PUBLIC_HOST}/hooks"), "events": ["post.published"], "skip_verification": true});
    let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["data"]["id"].as_str().unwrap().parse().unwrap()
}

async fn a_rotated_secret_survives_a_concurrent_disable(kind: StoreKind) {
    let app = app(kind).await;
    for round in 0..100 {
        let id = create(&app).await;
        let path = format!("/v1/webhooks/{id}/rotate-secret");
        let rotate = app.call(Method::POST, &path, None);
        let worker = app.state.worker();
        let disable =
            disable_endpoint(&worker, app.workspace_id, id, "failing", app.state.clock.now(), app.state.clock.now());

        let (rotated, disabled) = tokio::join!(rotate, disable);

        assert_eq!(rotated.status, StatusCode::OK, "round {round}: {rotated:?}");
        assert!(disabled.is_ok(), "round {round}: {disabled:?}");
        let stored = app.store().get_webhook(app.workspace_id, id).await.unwrap().unwrap();
        let signing = app.state.secrets.open(&stored.secret).unwrap();
        assert_eq!(
            signing,
            rotated.body["data"]["secret"].as_str().unwrap(),
            "round {round}: the secret returned signs"
        );
        assert!(!stored.active, "round {round}: the disable holds too");
    }
}

async fn an_edit_survives_a_concurrent_disable(kind: StoreKind) {
    let app = app(kind).await;
    for round in 0..30 {
        let id = create(&app).await;
        let path = format!("/v1/webhooks/{id}");
        let edit = app.call(Method::PATCH, &path, Some(json!({"name": format!("Edit {round}")})));
        let worker = app.state.worker();
        let disable =
            disable_endpoint(&worker, app.workspace_id, id, "failing", app.state.clock.now(), app.state.clock.now());

        let (edited, disabled) = tokio::join!(edit, disable);

        assert_eq!(edited.status, StatusCode::OK, "round {round}: {edited:?}");
        assert!(disabled.is_ok(), "round {round}: {disabled:?}");
        let stored = app.store().get_webhook(app.workspace_id, id).await.unwrap().unwrap();
        assert_eq!(stored.name.as_deref(), Some(format!("Edit {round}").as_str()), "round {round}");
        assert!(!stored.active, "round {round}");
    }
}
