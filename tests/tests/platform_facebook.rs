//! The Facebook Pages adapter against a fake of the Graph API reproducing Meta's documented
//! requests (page feed, photos, unpublished photos attached to a feed post, delete, engagement
//! fields) and answers, including its error bodies and their mapping to stable codes.

use std::time::Duration;

use posthorn::adapters::platforms::Facebook;
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{ChannelAuth, PlatformClient};
use posthorn_testkit::graph_fake::{TOKEN, auth, client, closed_url, error_body, form, post};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE: &str = "1029384756";

/// Meta's business use case usage header, with minutes until the page may call again.
const USAGE: &str = r#"{"1029384756":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":5}]}"#;

async fn fake() -> (MockServer, ChannelAuth) {
    let server = MockServer::start().await;
    let auth = auth(&server, "v25.0", PAGE);
    (server, auth)
}

fn facebook() -> Facebook {
    Facebook::new(client())
}

#[tokio::test]
async fn text_is_posted_to_the_page_feed_with_the_page_token() {
    let (server, auth) = fake().await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{PAGE}/feed")))
        .and(form("message", "Hello from Posthorn"))
        .and(form("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": format!("{PAGE}_555") })))
        .expect(1)
        .mount(&server)
        .await;

    let published = facebook().publish(&auth, &post("Hello from Posthorn", &[])).await.expect("published");

    assert_eq!(published.platform_post_id, format!("{PAGE}_555"));
    assert_eq!(published.url.as_deref(), Some(format!("https://www.facebook.com/{PAGE}_555").as_str()));
}

#[tokio::test]
async fn a_connection_made_at_an_older_graph_version_calls_the_configured_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v26.0/{PAGE}/feed")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": format!("{PAGE}_556") })))
        .expect(1)
        .mount(&server)
        .await;
    let connected_in_2024 = auth(&server, "v21.0", PAGE);

    let facebook = Facebook::new(client()).with_graph_version("v26.0");
    let published = facebook.publish(&connected_in_2024, &post("Hello", &[])).await.expect("published");

    assert_eq!(published.platform_post_id, format!("{PAGE}_556"));
}

#[tokio::test]
async fn one_image_is_a_photo_post_with_a_caption() {
    let (server, auth) = fake().await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{PAGE}/photos")))
        .and(form("url", "https://cdn.example.com/a.jpg"))
        .and(form("caption", "A photo"))
        .and(form("access_token", TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "id": "7001", "post_id": format!("{PAGE}_7002") })),
        )
        .expect(1)
        .mount(&server)
        .await;

    let published =
        facebook().publish(&auth, &post("A photo", &["https://cdn.example.com/a.jpg"])).await.expect("published");

    assert_eq!(published.platform_post_id, format!("{PAGE}_7002"));
}

#[tokio::test]
async fn several_images_are_uploaded_unpublished_and_attached_to_one_feed_post() {
    let (server, auth) = fake().await;
    for (url, id) in [("https://cdn.example.com/a.jpg", "8001"), ("https://cdn.example.com/b.jpg", "8002")] {
        Mock::given(method("POST"))
            .and(path(format!("/v25.0/{PAGE}/photos")))
            .and(form("url", url))
            .and(form("published", "false"))
            .and(form("access_token", TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": id })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{PAGE}/feed")))
        .and(form("message", "Two photos"))
        .and(form("attached_media[0]", r#"{"media_fbid":"8001"}"#))
        .and(form("attached_media[1]", r#"{"media_fbid":"8002"}"#))
        .and(form("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": format!("{PAGE}_8003") })))
        .expect(1)
        .mount(&server)
        .await;

    let images = ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"];
    let published = facebook().publish(&auth, &post("Two photos", &images)).await.expect("published");

    assert_eq!(published.platform_post_id, format!("{PAGE}_8003"));
}

#[tokio::test]
async fn a_text_over_the_limit_is_refused_before_any_call() {
    let (server, auth) = fake().await;

    let error = facebook().publish(&auth, &post(&"a".repeat(63_207), &[])).await.expect_err("too long");

    assert_eq!(error.code, ErrorCode::ContentTooLong);
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn delete_removes_the_post() {
    let (server, auth) = fake().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v25.0/{PAGE}_555")))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true })))
        .expect(1)
        .mount(&server)
        .await;

    facebook().delete(&auth, &format!("{PAGE}_555")).await.expect("deleted");
}

#[tokio::test]
async fn metrics_read_reactions_comments_and_shares() {
    let (server, auth) = fake().await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{PAGE}_555")))
        .and(query_param("fields", "reactions.summary(total_count),comments.summary(total_count),shares"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "reactions": { "data": [], "summary": { "total_count": 42 } },
            "comments": { "data": [], "summary": { "total_count": 7 } },
            "shares": { "count": 3 },
            "id": format!("{PAGE}_555")
        })))
        .mount(&server)
        .await;

    let metrics = facebook().metrics(&auth, &format!("{PAGE}_555")).await.expect("metrics");

    assert_eq!((metrics.views, metrics.likes, metrics.comments, metrics.shares), (None, Some(42), Some(7), Some(3)));
}

/// One documented error answer and what it must map to.
struct ErrorCase {
    status: u16,
    body: serde_json::Value,
    headers: &'static [(&'static str, &'static str)],
    code: ErrorCode,
    retry_after: Option<Duration>,
}

fn case(status: u16, message: &str, kind: &str, code: i64, subcode: Option<i64>, expected: ErrorCode) -> ErrorCase {
    ErrorCase {
        status,
        body: error_body(message, kind, code, subcode),
        headers: &[],
        code: expected,
        retry_after: None,
    }
}

async fn publish_error(case: &ErrorCase) -> posthorn::ports::platforms::PlatformError {
    let (server, auth) = fake().await;
    let mut response = ResponseTemplate::new(case.status).set_body_json(&case.body);
    for (name, value) in case.headers {
        response = response.insert_header(*name, *value);
    }
    Mock::given(method("POST")).and(path(format!("/v25.0/{PAGE}/feed"))).respond_with(response).mount(&server).await;
    facebook().publish(&auth, &post("Hello", &[])).await.expect_err("the fake fails")
}

#[tokio::test]
async fn meta_errors_map_to_stable_codes_and_keep_the_raw_message() {
    let cases = [
        case(
            400,
            "Error validating access token: Session has expired.",
            "OAuthException",
            190,
            Some(463),
            ErrorCode::AuthExpired,
        ),
        case(
            400,
            "Error validating access token: The session is invalid.",
            "OAuthException",
            190,
            Some(467),
            ErrorCode::AuthExpired,
        ),
        case(400, "An API session error occurred.", "OAuthException", 102, None, ErrorCode::AuthExpired),
        case(
            403,
            "(#10) Application does not have permission for this action",
            "OAuthException",
            10,
            None,
            ErrorCode::PlatformError,
        ),
        case(
            403,
            "(#200) Requires pages_manage_posts permission to manage the object",
            "OAuthException",
            200,
            None,
            ErrorCode::PlatformError,
        ),
        case(400, "(#4) Application request limit reached", "OAuthException", 4, None, ErrorCode::RateLimited),
        case(400, "(#17) User request limit reached", "OAuthException", 17, None, ErrorCode::RateLimited),
        ErrorCase {
            headers: &[("x-business-use-case-usage", USAGE)],
            retry_after: Some(Duration::from_secs(300)),
            ..case(400, "(#32) Page request limit reached", "OAuthException", 32, None, ErrorCode::RateLimited)
        },
        ErrorCase {
            headers: &[("retry-after", "120")],
            retry_after: Some(Duration::from_secs(120)),
            ..case(
                429,
                "(#80001) There have been too many calls to this Page account.",
                "OAuthException",
                80001,
                None,
                ErrorCode::RateLimited,
            )
        },
        case(500, "An unknown error has occurred.", "OAuthException", 1, None, ErrorCode::PlatformUnavailable),
        case(503, "(#2) Service temporarily unavailable", "OAuthException", 2, None, ErrorCode::PlatformUnavailable),
        case(
            400,
            "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
            "OAuthException",
            368,
            Some(1390008),
            ErrorCode::ContentRejected,
        ),
        case(400, "(#506) Duplicate status message", "OAuthException", 506, None, ErrorCode::ContentRejected),
        case(400, "(#324) Missing or invalid image file", "OAuthException", 324, None, ErrorCode::InvalidMedia),
        case(400, "(#100) The message is too long", "OAuthException", 100, None, ErrorCode::ContentTooLong),
        case(400, "(#100) Invalid parameter", "OAuthException", 100, None, ErrorCode::PlatformError),
    ];
    for case in &cases {
        let error = publish_error(case).await;
        let raw = case.body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!((error.code, error.message.as_str(), error.retry_after), (case.code, raw, case.retry_after));
        assert_eq!(error.progress, None);
    }
}

#[tokio::test]
async fn an_answer_that_is_not_meta_json_keeps_the_status_and_never_its_body() {
    let (server, auth) = fake().await;
    let leaked = "EAAG-leaked-user-token";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string(format!("<html>Bad Gateway access_token={leaked}")))
        .mount(&server)
        .await;

    let error = facebook().publish(&auth, &post("Hello", &[])).await.expect_err("bad gateway");

    assert_eq!(error.code, ErrorCode::PlatformUnavailable);
    assert!(error.message.starts_with("HTTP 502"), "{}", error.message);
    assert!(!error.message.contains(leaked), "{}", error.message);
}

#[tokio::test]
async fn a_success_answer_holding_a_token_in_an_undocumented_shape_is_not_echoed() {
    let (server, auth) = fake().await;
    let leaked = "EAAG-leaked-page-token";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": { "access_token": leaked } })))
        .mount(&server)
        .await;

    let error = facebook().publish(&auth, &post("Hello", &[])).await.expect_err("an id that is no id");

    assert_eq!(error.code, ErrorCode::PlatformError);
    assert!(!error.message.contains(leaked), "{}", error.message);
}

#[tokio::test]
async fn an_unreachable_api_is_unavailable() {
    let auth =
        ChannelAuth { base_url: closed_url().await, access_token: TOKEN.into(), platform_channel_id: PAGE.into() };

    let error = facebook().publish(&auth, &post("Hello", &[])).await.expect_err("nothing listens");

    assert_eq!(error.code, ErrorCode::PlatformUnavailable);
}
