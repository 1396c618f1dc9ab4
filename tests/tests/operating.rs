//! Operating concerns of a running server (SPEC §9): CORS on the dev server for the configured
//! origins only, and the per-key limits on creating posts and AI calls (429 with `Retry-After`).

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use posthorn::adapters::clock::ManualClock;
use posthorn::dev::http_functions;
use posthorn::model::usage::RateLimits;
use posthorn_testkit::app::{TestApp, TestOptions};
use posthorn_testkit::dev_server::DevServer;
use posthorn_testkit::dev_server_binary;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::stores::{StoreKind, store};
use serde_json::json;

const ALLOWED: &str = "https://app.example.com";

async fn preflight(server: &DevServer, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, server.api.url("/v1/posts"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_server_answers_preflights_of_the_configured_origins_only() {
    let server = DevServer::start(
        dev_server_binary!(),
        &[("POSTHORN_CORS_ALLOWED_ORIGINS", "https://app.example.com,http://localhost:5173")],
    );
    let allowed = preflight(&server, ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ALLOWED);
    let methods = headers["access-control-allow-methods"].to_str().unwrap().to_string();
    assert!(methods.contains("POST") && methods.contains("DELETE"), "{methods}");
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("idempotency-key"));

    let other = preflight(&server, "https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let listed = reqwest::Client::new()
        .get(server.api.url("/v1/posts"))
        .bearer_auth(&server.api.api_key)
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.headers()["access-control-allow-origin"], ALLOWED);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configured_origins_no_cors_header_is_sent() {
    let server = DevServer::start(dev_server_binary!(), &[]);
    let preflight = preflight(&server, ALLOWED).await;
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
}

/// A clock at the start of a minute, so a test's requests all fall in one.
fn clock() -> Arc<ManualClock> {
    let now = time::OffsetDateTime::now_utc().replace_second(0).unwrap().replace_nanosecond(0).unwrap();
    Arc::new(ManualClock::new(now + time::Duration::minutes(1)))
}

async fn limited_app(kind: StoreKind, clock: Arc<ManualClock>) -> TestApp {
    let options = TestOptions {
        store: store(kind, "posthorn-limits").await,
        clock: Some(clock),
        rate_limits: Some(RateLimits { posts_per_minute: 2, ai_per_minute: 1 }),
        ..TestOptions::default()
    };
    TestApp::with_options(http_functions, options).await
}

on_both_stores!(creating_posts_is_limited_per_key_with_retry_after, ai_calls_are_limited_per_key);

async fn creating_posts_is_limited_per_key_with_retry_after(kind: StoreKind) {
    let clock = clock();
    let app = limited_app(kind, clock.clone()).await;
    let channel = posthorn::services::connections::create_sandbox_channels(
        app.store(),
        &app.state.secrets,
        app.workspace_id,
        1,
        app.state.clock.now(),
    )
    .await
    .unwrap()
    .remove(0);
    let post = json!({"text": "hello", "targets": [channel.id], "draft": true});
    for _ in 0..2 {
        let created = app.call(Method::POST, "/v1/posts", Some(post.clone())).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }
    let request = axum::http::Request::post("/v1/posts")
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(post.to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 60, "the whole minute is left");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("2 posts created per minute"));

    assert_eq!(app.call(Method::GET, "/v1/posts", None).await.status, StatusCode::OK, "reads are not limited");
    let other = app.other_workspace_key().await;
    let body = json!({"text": "hello", "targets": [channel.id], "draft": true}).to_string().into_bytes();
    let theirs = app.send(Method::POST, "/v1/posts", Some(&other), Some(body)).await;
    assert_ne!(theirs.status, StatusCode::TOO_MANY_REQUESTS, "another key has its own count");

    clock.advance(time::Duration::seconds(60));
    let next_minute = app.call(Method::POST, "/v1/posts", Some(post)).await;
    assert_eq!(next_minute.status, StatusCode::CREATED, "the next minute counts anew: {next_minute:?}");
}

async fn ai_calls_are_limited_per_key(kind: StoreKind) {
    let app = limited_app(kind, clock()).await;
    let body = json!({"text": "Make this better", "action": "improve"});
    let first = app.call(Method::POST, "/functions/v1/text-assist", Some(body.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let second = app.call(Method::POST, "/functions/v1/text-assist", Some(body)).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS, "{second:?}");
    assert!(second.error().contains("1 AI calls per minute"), "{}", second.error());
}

fn template() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")).unwrap()
}

#[test]
fn the_template_alarms_on_every_functions_errors_and_throttles_and_on_failed_deliveries() {
    let template = template();
    let functions: Vec<&str> = template
        .lines()
        .filter_map(|line| line.strip_prefix("  ")?.strip_suffix("Function:"))
        .filter(|name| !name.is_empty() && !name.starts_with(' '))
        .collect();
    assert_eq!(functions.len(), 17, "{functions:?}");
    for function in functions {
        for metric in ["Errors", "Throttles"] {
            assert!(template.contains(&format!("  {function}{metric}Alarm:\n")), "no {metric} alarm of {function}");
        }
    }
    for alarm in ["DeadLetterQueueAlarm", "FailedDeliveriesAlarm"] {
        assert!(template.contains(&format!("  {alarm}:\n")), "no {alarm}");
    }
    let worker = include_str!("../../shared/src/services/webhooks/worker.rs");
    assert!(worker.contains("\"delivery failed for good\""), "the line the metric filter counts is logged");
    assert!(template.contains(r#"FilterPattern: '{ $.fields.message = "delivery failed for good" }'"#));
}

#[test]
fn the_template_throttles_every_route_and_passes_the_per_key_limits() {
    let template = template();
    for setting in [
        "ThrottlingRateLimit: !Ref ApiThrottlingRateLimit",
        "ThrottlingBurstLimit: !Ref ApiThrottlingBurstLimit",
        "POSTHORN_POSTS_PER_MINUTE_PER_KEY: !Ref PostsPerMinutePerKey",
        "POSTHORN_AI_CALLS_PER_MINUTE_PER_KEY: !Ref AiCallsPerMinutePerKey",
        "AllowOrigins: !Ref CorsAllowedOrigins",
    ] {
        assert!(template.contains(setting), "{setting}");
    }
}
