//! text-assist and media-assist over HTTP, against a local server reproducing the OpenAI API
//! (answers, error bodies, rate limits, slow answers) and with the built-in offline provider:
//! the prompts sent, fitting to a platform's limit, and provider failures as 502/503, never a
//! hang.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::model::platforms::Platform;
use posthorn::ports::ai::AiProvider;
use posthorn_testkit::app::{Reply, TestApp, TestOptions};
use posthorn_testkit::openai_fake::{API_KEY, Answer, OpenAiFake};
use serde_json::{Value, json};

async fn app_with(ai: Arc<dyn AiProvider>) -> TestApp {
    let options = TestOptions { ai: Some(ai), ..TestOptions::default() };
    TestApp::with_options(
        || vec![posthorn::api::assist::text_assist_routes(), posthorn::api::assist::media_assist_routes()],
        options,
    )
    .await
}

async fn app() -> (TestApp, OpenAiFake) {
    let fake = OpenAiFake::start().await;
    (app_with(fake.provider()).await, fake)
}

async fn assist(app: &TestApp, body: Value) -> Reply {
    app.call(Method::POST, "/functions/v1/text-assist", Some(body)).await
}

#[tokio::test]
async fn improve_sends_the_text_to_the_model_and_returns_its_answer() {
    let (app, fake) = app().await;
    fake.script([Answer::text("  Launch day! Our new app is here.  ")]);
    let reply = assist(&app, json!({"text": "we launched an app today", "action": "improve"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["text"], "Launch day! Our new app is here.");
    assert_eq!(reply.body["data"]["provider"], "openai");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].authorization, format!("Bearer {API_KEY}"));
    assert_eq!(requests[0].body["model"], "gpt-test");
    assert!(requests[0].system().starts_with("Improve"), "{}", requests[0].system());
    assert_eq!(requests[0].user(), "we launched an app today");
}

#[tokio::test]
async fn translate_and_tone_put_their_option_in_the_prompt() {
    let (app, fake) = app().await;
    let reply = assist(&app, json!({"text": "Hello", "action": "translate", "language": "German"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let reply = assist(&app, json!({"text": "Hello", "action": "tone", "tone": "playful"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let requests = fake.requests();
    assert!(requests[0].system().contains("into German"), "{}", requests[0].system());
    assert!(requests[1].system().contains("a playful tone"), "{}", requests[1].system());
}

#[tokio::test]
async fn bad_actions_and_options_are_400s_naming_what_is_wrong() {
    let (app, fake) = app().await;
    let reply = assist(&app, json!({"text": "Hello", "action": "summarize"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    for valid in ["improve", "shorten", "expand", "fix_grammar", "hashtags", "translate", "tone", "fit"] {
        assert!(reply.error().contains(valid), "{} should list {valid}", reply.error());
    }
    let cases = [
        (json!({"text": "Hello", "action": "translate"}), "language"),
        (json!({"text": "Hello", "action": "tone", "tone": " "}), "tone"),
        (json!({"text": "Hello", "action": "fit"}), "platform"),
        (json!({"text": "Hello", "action": "fit", "platform": "myspace"}), "platform"),
        (json!({"text": "Hello", "action": "improve", "language": "German"}), "language"),
        (json!({"text": "", "action": "improve"}), "text"),
        (json!({"text": "x".repeat(10_001), "action": "improve"}), "text"),
    ];
    for (body, field) in cases {
        let reply = assist(&app, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error().contains(field), "{body}: {}", reply.error());
    }
    assert!(fake.requests().is_empty());
    let unauthenticated = app.send(Method::POST, "/functions/v1/text-assist", None, None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn fit_asks_within_the_limit_then_shortens_then_cuts_at_a_word() {
    let (app, fake) = app().await;
    let too_long = "word ".repeat(100);
    fake.script([Answer::text(too_long.clone()), Answer::text(too_long)]);
    let reply = assist(&app, json!({"text": "A long post", "action": "fit", "platform": "bluesky"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let data = &reply.body["data"];
    let text = data["text"].as_str().unwrap();
    assert!(Platform::Bluesky.limits().length(text) <= 300);
    assert!(text.ends_with("word…"), "{text}");
    assert_eq!(data["fit"]["limit"], 300);
    assert_eq!(data["fit"]["unit"], "graphemes");
    assert_eq!(data["fit"]["truncated"], true);
    assert_eq!(data["fit"]["length"], Platform::Bluesky.limits().length(text));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].system().contains("at most 300 graphemes"), "{}", requests[0].system());
    assert!(requests[1].system().starts_with("Shorten"), "{}", requests[1].system());
    assert!(requests[1].system().contains("It is 499 graphemes now"), "{}", requests[1].system());
}

#[tokio::test]
async fn fit_keeps_a_second_answer_that_fits() {
    let (app, fake) = app().await;
    fake.script([Answer::text("x".repeat(290)), Answer::text("Short and sweet.")]);
    let reply = assist(&app, json!({"text": "A long post", "action": "fit", "platform": "x"})).await;
    assert_eq!(reply.body["data"]["text"], "Short and sweet.");
    assert_eq!(reply.body["data"]["fit"]["truncated"], false);
    assert!(fake.requests()[0].system().contains("at most 280 weighted characters"), "X counts twitter-text weights");
}

#[tokio::test]
async fn a_rate_limit_is_retried_and_then_succeeds() {
    let (app, fake) = app().await;
    fake.script([
        Answer::Error { status: 429, message: "Rate limit reached".into(), kind: "requests", retry_after: Some(0) },
        Answer::error(503, "The server is overloaded"),
        Answer::text("Third time lucky."),
    ]);
    let reply = assist(&app, json!({"text": "Hello", "action": "shorten"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["data"]["text"], "Third time lucky.");
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn no_retry_outlasts_the_calls_timeout() {
    let (app, fake) = app().await;
    let busy =
        || Answer::Error { status: 429, message: "Rate limit reached".into(), kind: "requests", retry_after: Some(1) };
    fake.script([busy(), busy(), Answer::text("Too late.")]);
    let started = Instant::now();
    let reply = assist(&app, json!({"text": "Hello", "action": "shorten"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(fake.requests().len(), 1, "waiting 1 s to retry would pass the 1 s timeout");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_provider_still_failing_after_retries_is_a_503_with_its_message() {
    let (app, fake) = app().await;
    fake.script((0..3).map(|_| Answer::error(500, "The server had an error while processing your request.")));
    let reply = assist(&app, json!({"text": "Hello", "action": "expand"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.error().contains("HTTP 500") && reply.error().contains("The server had an error"), "{reply:?}");
    assert_eq!(fake.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_refused_request_is_a_502_without_the_api_key() {
    let (app, fake) = app().await;
    fake.script([Answer::error(401, &format!("Incorrect API key provided: {API_KEY}."))]);
    let reply = assist(&app, json!({"text": "Hello", "action": "hashtags"})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.error().contains("HTTP 401") && reply.error().contains("Incorrect API key"), "{reply:?}");
    assert!(!reply.error().contains(API_KEY));
    assert_eq!(fake.requests().len(), 1, "a 4xx is not retried");
}

#[tokio::test]
async fn an_unreadable_answer_is_a_502() {
    let (app, fake) = app().await;
    fake.script([Answer::Garbage(200)]);
    let reply = assist(&app, json!({"text": "Hello", "action": "fix_grammar"})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.error().contains("not JSON"), "{reply:?}");
}

#[tokio::test]
async fn a_slow_provider_is_a_503_after_the_timeout_not_a_hang() {
    let (app, fake) = app().await;
    fake.script([Answer::Slow(Duration::from_secs(30))]);
    let started = Instant::now();
    let reply = assist(&app, json!({"text": "Hello", "action": "improve"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.error().contains("did not answer within 1 s"), "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_503() {
    let (app, fake) = app().await;
    fake.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reply = assist(&app, json!({"text": "Hello", "action": "improve"})).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert!(reply.error().contains("AI provider"), "{reply:?}");
}

#[tokio::test]
async fn media_assist_returns_the_images_and_prompt_as_the_provider_gave_them() {
    let (app, fake) = app().await;
    fake.script([Answer::Images(vec![
        json!({"url": "https://images.example.com/a.png", "revised_prompt": "A red fox, studio light"}),
        json!({"b64_json": "iVBORw0KGgo="}),
    ])]);
    let body = json!({"prompt": "A red fox", "size": "512x512", "n": 2});
    let reply = app.call(Method::POST, "/functions/v1/media-assist", Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let data = &reply.body["data"];
    assert_eq!(data["prompt"], "A red fox");
    assert_eq!(data["size"], "512x512");
    assert_eq!(data["images"][0]["url"], "https://images.example.com/a.png");
    assert_eq!(data["images"][0]["revised_prompt"], "A red fox, studio light");
    assert_eq!(data["images"][1]["b64_json"], "iVBORw0KGgo=");
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/v1/images/generations");
    assert_eq!(request.body, json!({"model": "image-test", "prompt": "A red fox", "n": 2, "size": "512x512"}));
}

#[tokio::test]
async fn media_assist_limits_n_size_and_prompt() {
    let (app, fake) = app().await;
    for (body, field) in [
        (json!({"prompt": "A fox", "n": 5}), "n must"),
        (json!({"prompt": "A fox", "n": 0}), "n must"),
        (json!({"prompt": "A fox", "size": "4096x4096"}), "size must"),
        (json!({"prompt": " "}), "prompt must"),
        (json!({"prompt": "A fox", "style": "vivid"}), "style"),
    ] {
        let reply = app.call(Method::POST, "/functions/v1/media-assist", Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.error().contains(field), "{body}: {}", reply.error());
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_offline_provider_says_so_and_still_fits_the_limit() {
    let app = app_with(Arc::new(posthorn::adapters::ai::OfflineProvider)).await;
    let long = "Offline drafting works without any account. ".repeat(20);
    let reply = assist(&app, json!({"text": long, "action": "fit", "platform": "bluesky"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let text = reply.body["data"]["text"].as_str().unwrap();
    assert!(text.starts_with("[offline] Offline drafting"), "{text}");
    assert!(Platform::Bluesky.limits().length(text) <= 300);
    assert_eq!(reply.body["data"]["provider"], "offline");

    let reply = app.call(Method::POST, "/functions/v1/media-assist", Some(json!({"prompt": "A fox"}))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["data"]["images"][0]["url"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    assert_eq!(reply.body["data"]["images"][0]["revised_prompt"], "[offline] A fox");
}
