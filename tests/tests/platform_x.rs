//! The X adapter against a fake API v2 that reproduces the documented calls (media upload and
//! metadata, create, delete and look up posts with public metrics) and problem-style errors.
//! The fake's answers and the adapter's JSON requests are checked against X's OpenAPI document
//! (`x_contract`).

use std::time::Duration;

use posthorn::adapters::platforms::X;
use posthorn::model::platforms::{ErrorCode, Metrics};
use posthorn::ports::platforms::{PlatformClient, PlatformError, Published};
use posthorn_testkit::platforms::{
    BEARER, PNG, bytes_at, carries_png, channel, channel_at, closed_port_url, form_field, image_at, outbound,
    post_with_media, text_post,
};
use posthorn_testkit::x_contract::{
    answer, assert_requests_documented, multipart_problems, request_problems, response_problems,
};
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn created(id: &str) -> ResponseTemplate {
    answer("POST", "/2/tweets", 201, json!({ "data": { "id": id, "text": "Hello", "edit_history_tweet_ids": [id] } }))
}

fn problem(status: u16, title: &str, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "title": title, "detail": detail, "type": "about:blank", "status": status }))
}

#[tokio::test]
async fn publishes_text_with_the_users_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({ "text": "Hello, X" })))
        .respond_with(created("1445880548472328192"))
        .expect(1)
        .mount(&server)
        .await;

    let published = X::new(outbound()).publish(&channel(&server, ""), &text_post("Hello, X")).await.unwrap();

    let url = Some("https://x.com/i/web/status/1445880548472328192".to_string());
    assert_eq!(published, Published { platform_post_id: "1445880548472328192".into(), url });
    assert_requests_documented(&server).await;
}

#[tokio::test]
async fn publishes_images_uploaded_with_alt_text() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/cat.png", Some("A dancing cat")).await;
    Mock::given(method("POST"))
        .and(path("/2/media/upload"))
        .and(header("authorization", BEARER))
        .and(carries_png)
        .and(form_field("media_category", b"tweet_image"))
        .respond_with(answer(
            "POST",
            "/2/media/upload",
            200,
            json!({
                "data": { "id": "1880028106020515840", "media_key": "3_1880028106020515840", "size": 68,
                          "expires_after_secs": 86400, "image": { "image_type": "image/png", "w": 1, "h": 1 } }
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/media/metadata"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({ "id": "1880028106020515840", "metadata": { "alt_text": { "text": "A dancing cat" } } })))
        .respond_with(answer("POST", "/2/media/metadata", 200, json!({
            "data": { "id": "1880028106020515840", "associated_metadata": { "alt_text": { "text": "A dancing cat" } } }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(body_json(json!({ "text": "Cat", "media": { "media_ids": ["1880028106020515840"] } })))
        .respond_with(created("1445880548472328193"))
        .expect(1)
        .mount(&server)
        .await;

    let post = post_with_media("Cat", vec![image]);
    let published = X::new(outbound()).publish(&channel(&server, ""), &post).await.unwrap();

    assert_eq!(published.platform_post_id, "1445880548472328193");
    assert_requests_documented(&server).await;
}

#[tokio::test]
async fn deletes_and_reads_public_metrics() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1445880548472328192"))
        .and(header("authorization", BEARER))
        .respond_with(answer("DELETE", "/2/tweets/1445880548472328192", 200, json!({ "data": { "deleted": true } })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1445880548472328192"))
        .and(query_param("tweet.fields", "public_metrics"))
        .respond_with(answer("GET", "/2/tweets/1445880548472328192", 200, json!({
            "data": { "id": "1445880548472328192", "text": "Hello", "edit_history_tweet_ids": ["1445880548472328192"],
                      "public_metrics": { "repost_count": 5, "reply_count": 2, "like_count": 40, "quote_count": 1,
                                          "bookmark_count": 3, "impression_count": 1200 } }
        })))
        .mount(&server)
        .await;
    let x = X::new(outbound());
    let auth = channel(&server, "");

    x.delete(&auth, "1445880548472328192").await.unwrap();
    let metrics = x.metrics(&auth, "1445880548472328192").await.unwrap();

    assert_eq!(metrics, Metrics { views: Some(1200), likes: Some(40), comments: Some(2), shares: Some(6) });
}

#[tokio::test]
async fn a_post_that_is_gone_reports_the_lookup_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1"))
        .respond_with(answer(
            "GET",
            "/2/tweets/1",
            200,
            json!({
                "errors": [{ "value": "1", "detail": "Could not find tweet with id: [1].", "title": "Not Found Error",
                             "resource_type": "tweet", "parameter": "id", "resource_id": "1",
                             "type": "https://api.x.com/2/problems/resource-not-found" }]
            }),
        ))
        .mount(&server)
        .await;

    let error = X::new(outbound()).metrics(&channel(&server, ""), "1").await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformError);
    assert_eq!(error.message, "Could not find tweet with id: [1].");
}

async fn publish_answered(answer: ResponseTemplate) -> PlatformError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/2/tweets")).respond_with(answer).mount(&server).await;
    X::new(outbound()).publish(&channel(&server, ""), &text_post("Hello")).await.unwrap_err()
}

#[tokio::test]
async fn documented_errors_map_to_stable_codes_with_the_raw_message() {
    let duplicate = "You are not allowed to create a Tweet with duplicate content.";
    let too_long = ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{ "parameters": { "text": ["x"] }, "message": "Your Tweet text is too long." }],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"
    }));
    let cases = [
        (problem(401, "Unauthorized", "Unauthorized"), ErrorCode::AuthExpired, "Unauthorized"),
        (problem(403, "Forbidden", duplicate), ErrorCode::ContentRejected, duplicate),
        (
            problem(403, "Forbidden", "You are not permitted to perform this action."),
            ErrorCode::PlatformError,
            "You are not permitted to perform this action.",
        ),
        (too_long, ErrorCode::ContentTooLong, "Your Tweet text is too long."),
        (
            problem(503, "Service Unavailable", "Service Unavailable"),
            ErrorCode::PlatformUnavailable,
            "Service Unavailable",
        ),
        (problem(404, "Not Found", "Not Found"), ErrorCode::PlatformError, "Not Found"),
    ];
    for (answer, code, message) in cases {
        let error = publish_answered(answer).await;
        assert_eq!(error.code, code, "{error:?}");
        assert!(error.message.contains(message), "{error:?}");
    }
}

#[tokio::test]
async fn rate_limits_wait_until_x_rate_limit_reset() {
    let reset = (OffsetDateTime::now_utc().unix_timestamp() + 300).to_string();
    let answer = problem(429, "Too Many Requests", "Too Many Requests")
        .insert_header("x-rate-limit-limit", "100")
        .insert_header("x-rate-limit-remaining", "0")
        .insert_header("x-rate-limit-reset", reset.as_str());

    let error = publish_answered(answer).await;

    assert_eq!((error.code, error.message.as_str()), (ErrorCode::RateLimited, "Too Many Requests"));
    let wait = error.retry_after.unwrap();
    assert!(wait > Duration::from_secs(290) && wait <= Duration::from_secs(300), "{wait:?}");
}

#[tokio::test]
async fn uploads_x_refuses_are_invalid_media() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/cat.png", None).await;
    Mock::given(method("POST"))
        .and(path("/2/media/upload"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{ "message": "media type unrecognized." }],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        })))
        .mount(&server)
        .await;
    let missing = posthorn::model::platforms::MediaItem::new(format!("{}/missing.png", media_host.uri()), None);
    let x = X::new(outbound());
    let auth = channel(&server, "");

    let refused = x.publish(&auth, &post_with_media("x", vec![image])).await.unwrap_err();
    let not_found = x.publish(&auth, &post_with_media("x", vec![missing])).await.unwrap_err();

    assert_eq!(refused.code, ErrorCode::InvalidMedia);
    assert!(refused.message.contains("media type unrecognized."), "{refused:?}");
    assert_eq!(not_found.code, ErrorCode::InvalidMedia);
    assert!(not_found.message.contains("HTTP 404"), "{not_found:?}");
}

#[tokio::test]
async fn an_unreachable_api_is_unavailable() {
    let error = X::new(outbound()).delete(&channel_at(&closed_port_url(), ""), "1").await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformUnavailable, "{error:?}");
}

#[tokio::test]
async fn an_image_over_5_mb_is_refused_before_any_upload() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let mut large = PNG.to_vec();
    large.resize(5 * 1024 * 1024 + 1, 0);
    let image = bytes_at(&media_host, "/large.png", "image/png", large).await;

    let error =
        X::new(outbound()).publish(&channel(&server, ""), &post_with_media("Big", vec![image])).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::InvalidMedia, "{error:?}");
    assert!(error.message.contains("at most 5242880"), "{error:?}");
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "nothing was uploaded");
}

#[test]
fn the_contract_refuses_what_x_does_not_document() {
    let numeric_ids = json!({ "text": "Cat", "media": { "media_ids": [1880028106020515840_u64] } });
    assert!(!request_problems("POST", "/2/tweets", &numeric_ids).is_empty(), "media ids are strings");
    let unknown_field = json!({ "text": "Cat", "alt": "A cat" });
    assert!(!request_problems("POST", "/2/tweets", &unknown_field).is_empty(), "CreatePostsRequest is closed");
    let form = |fields: &str| {
        let body = fields.split(',').fold(String::new(), |body, field| {
            let (name, value) = field.split_once('=').unwrap();
            body + &format!("--b\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        });
        body + "--b--\r\n"
    };
    let upload = |fields: &str| {
        multipart_problems("POST", "/2/media/upload", "multipart/form-data; boundary=b", form(fields).as_bytes())
    };
    assert!(
        upload("media=x,media_category=tweet_image").is_empty(),
        "{:?}",
        upload("media=x,media_category=tweet_image")
    );
    assert!(!upload("media=x").is_empty(), "media_category is required");
    assert!(!upload("media=x,media_category=image").is_empty(), "media_category is one of X's");
    let numeric_id = json!({ "data": { "id": 1445880548472328192_u64, "text": "Hello" } });
    assert!(!response_problems("POST", "/2/tweets", 201, &numeric_id).is_empty(), "post ids are strings");
}
