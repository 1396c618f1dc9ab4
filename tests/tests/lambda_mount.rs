//! A function's Lambda router answers under its API Gateway path and at the root of its
//! function URL, with the same handlers.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use posthorn_testkit::app::TestApp;
use tower::ServiceExt;

#[tokio::test]
async fn the_webhooks_function_answers_under_its_prefix_and_at_its_root() {
    let app = TestApp::new(|| vec![posthorn::api::webhooks::routes()]).await;
    let router = posthorn::api::webhooks::routes().into_lambda_router(app.state.clone());
    for path in ["/v1/webhooks", "/", "/v1/webhooks/events", "/events", "/v1/openapi.json"] {
        let request =
            Request::get(path).header("authorization", format!("Bearer {}", app.api_key)).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_api_keys_function_serves_the_whole_apis_document() {
    let app = TestApp::new(|| vec![posthorn::api::keys::routes()]).await;
    let router = posthorn::api::keys::routes().into_lambda_router_with_whole_document(app.state.clone());
    let response = router.oneshot(Request::get("/v1/openapi.json").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let document: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for path in ["/v1/posts", "/v1/webhooks", "/v1/api-keys", "/functions/v1/text-assist"] {
        assert!(document["paths"][path].is_object(), "{path} is in the document");
    }
}

#[tokio::test]
async fn a_function_url_checks_the_scope_at_its_root_too() {
    let app = TestApp::new(|| vec![posthorn::api::webhooks::routes()]).await;
    let router = posthorn::api::webhooks::routes().into_lambda_router(app.state.clone());
    let key = posthorn::services::workspaces::create_key(
        app.store(),
        app.workspace_id,
        None,
        [posthorn::model::workspaces::Scope::PostsRead].into(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap()
    .plaintext;
    for path in ["/v1/webhooks", "/"] {
        let request = Request::get(path).header("authorization", format!("Bearer {key}")).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
}
