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
