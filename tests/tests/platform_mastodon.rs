//! The Mastodon adapter against a fake instance that reproduces the documented requests and
//! answers (media v2 with processing, statuses with an Idempotency-Key, delete, counts, errors),
//! and against an independent server, `mastodon_mock`.

use std::time::Duration;

use posthorn::adapters::platforms::Mastodon;
use posthorn::model::platforms::{ErrorCode, Metrics, Platform};
use posthorn::ports::platforms::{Connector, PlatformClient, PlatformError, Published};
use posthorn_testkit::mastodon_mock::{self, MastodonMock};
use posthorn_testkit::platforms::{
    BEARER, carries_png, channel, channel_at, closed_port_url, form_field, image_at, outbound, post_with_media,
    text_post,
};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use wiremock::matchers::{body_partial_json, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn status(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "url": format!("https://mastodon.example/@alice/{id}"),
        "content": "<p>Hello</p>",
        "favourites_count": 7,
        "reblogs_count": 3,
        "replies_count": 2,
        "media_attachments": []
    })
}

fn attachment(id: &str, url: Option<&str>) -> serde_json::Value {
    json!({ "id": id, "type": "image", "url": url, "preview_url": "https://files.example/small.png", "description": null })
}

#[tokio::test]
async fn publishes_text_with_a_stable_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(header("authorization", BEARER))
        .and(header_exists("idempotency-key"))
        .and(body_partial_json(json!({ "status": "Hello, fediverse" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(status("1101")))
        .expect(2)
        .mount(&server)
        .await;
    let mastodon = Mastodon::new(outbound());
    let auth = channel(&server, "");

    let post = text_post("Hello, fediverse");
    let published = mastodon.publish(&auth, &post).await.unwrap();
    mastodon.publish(&auth, &post).await.unwrap();

    let url = Some("https://mastodon.example/@alice/1101".to_string());
    assert_eq!(published, Published { platform_post_id: "1101".into(), url });
    let requests = server.received_requests().await.unwrap();
    let keys: Vec<_> = requests.iter().map(|request| request.headers["idempotency-key"].clone()).collect();
    assert_eq!(keys[0], keys[1], "a retried post must carry the same key");
}

#[tokio::test]
async fn publishes_images_with_alt_text_waiting_for_processing() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let first = image_at(&media_host, "/a.png", Some("A red fox")).await;
    let second = image_at(&media_host, "/b.png", None).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/media"))
        .and(header("authorization", BEARER))
        .and(carries_png)
        .and(form_field("description", b"A red fox"))
        .respond_with(ResponseTemplate::new(202).set_body_json(attachment("m1", None)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/media"))
        .and(carries_png)
        .respond_with(ResponseTemplate::new(200).set_body_json(attachment("m2", Some("https://files.example/m2.png"))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/m1"))
        .respond_with(ResponseTemplate::new(206).set_body_json(attachment("m1", None)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/m1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(attachment("m1", Some("https://files.example/m1.png"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(body_partial_json(json!({ "status": "Two foxes", "media_ids": ["m1", "m2"] })))
        .respond_with(ResponseTemplate::new(200).set_body_json(status("1102")))
        .expect(1)
        .mount(&server)
        .await;

    let post = post_with_media("Two foxes", vec![first, second]);
    let published = Mastodon::new(outbound()).publish(&channel(&server, ""), &post).await.unwrap();

    assert_eq!(published.platform_post_id, "1102");
}

#[tokio::test]
async fn deletes_and_reads_counts() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/statuses/1101"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(status("1101")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/statuses/1101"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(status("1101")))
        .mount(&server)
        .await;
    let mastodon = Mastodon::new(outbound());
    let auth = channel(&server, "");

    mastodon.delete(&auth, "1101").await.unwrap();
    let metrics = mastodon.metrics(&auth, "1101").await.unwrap();

    assert_eq!(metrics, Metrics { views: None, likes: Some(7), comments: Some(2), shares: Some(3) });
}

async fn publish_answered(answer: ResponseTemplate) -> PlatformError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/v1/statuses")).respond_with(answer).mount(&server).await;
    Mastodon::new(outbound()).publish(&channel(&server, ""), &text_post("Hello")).await.unwrap_err()
}

fn error_body(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": message }))
}

#[tokio::test]
async fn documented_errors_map_to_stable_codes_with_the_raw_message() {
    let cases = [
        (error_body(401, "The access token is invalid"), ErrorCode::AuthExpired, "The access token is invalid"),
        (
            error_body(403, "This action is outside the authorized scopes"),
            ErrorCode::PlatformError,
            "This action is outside the authorized scopes",
        ),
        (
            error_body(422, "Validation failed: Text character limit of 500 exceeded"),
            ErrorCode::ContentTooLong,
            "Validation failed: Text character limit of 500 exceeded",
        ),
        (
            error_body(422, "Validation failed: Text can't be blank"),
            ErrorCode::ContentRejected,
            "Validation failed: Text can't be blank",
        ),
        (ResponseTemplate::new(503).set_body_string("upstream down"), ErrorCode::PlatformUnavailable, "HTTP 503"),
        (error_body(404, "Record not found"), ErrorCode::PlatformError, "Record not found"),
    ];
    for (answer, code, message) in cases {
        let error = publish_answered(answer).await;
        assert_eq!(error.code, code, "{error:?}");
        assert!(error.message.contains(message), "{error:?}");
    }
}

#[tokio::test]
async fn rate_limits_wait_until_the_announced_reset() {
    let reset = (OffsetDateTime::now_utc() + Duration::from_secs(90)).format(&Rfc3339).unwrap();
    let answer = error_body(429, "Too many requests").insert_header("X-RateLimit-Reset", reset.as_str());

    let error = publish_answered(answer).await;

    assert_eq!((error.code, error.message.as_str()), (ErrorCode::RateLimited, "Too many requests"));
    let wait = error.retry_after.unwrap();
    assert!(wait > Duration::from_secs(80) && wait <= Duration::from_secs(90), "{wait:?}");
}

#[tokio::test]
async fn media_the_instance_or_the_download_refuses_is_invalid_media() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/a.png", None).await;
    Mock::given(method("GET"))
        .and(path("/page.html"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>", "text/html"))
        .mount(&media_host)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/media"))
        .respond_with(error_body(422, "Validation failed: File content type is invalid"))
        .mount(&server)
        .await;
    let mastodon = Mastodon::new(outbound());
    let auth = channel(&server, "");

    let refused = mastodon.publish(&auth, &post_with_media("x", vec![image])).await.unwrap_err();
    let html = posthorn::model::platforms::MediaItem::new(format!("{}/page.html", media_host.uri()), None);
    let not_an_image = mastodon.publish(&auth, &post_with_media("x", vec![html])).await.unwrap_err();

    assert_eq!(refused.code, ErrorCode::InvalidMedia);
    assert!(refused.message.contains("File content type is invalid"), "{refused:?}");
    assert_eq!(not_an_image.code, ErrorCode::InvalidMedia);
    assert!(not_an_image.message.contains("text/html"), "{not_an_image:?}");
}

#[tokio::test]
async fn an_unreachable_instance_is_unavailable() {
    let auth = channel_at(&closed_port_url(), "");

    let error = Mastodon::new(outbound()).delete(&auth, "1").await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformUnavailable, "{error:?}");
}

#[tokio::test]
async fn the_idempotency_key_is_the_target_so_equal_texts_are_two_statuses_on_mastodon_mock() {
    let server = MastodonMock::start().await;
    let mut auth = channel_at(&server.base_url, "");
    auth.access_token = mastodon_mock::TOKEN.to_string();
    let mastodon = Mastodon::new(outbound());

    let monday = text_post("Standup in 5 minutes");
    let first = mastodon.publish(&auth, &monday).await.unwrap();
    let retried = mastodon.publish(&auth, &monday).await.unwrap();
    let tuesday = mastodon.publish(&auth, &text_post("Standup in 5 minutes")).await.unwrap();

    assert_eq!(retried.platform_post_id, first.platform_post_id, "a retry of one target posts once");
    assert_ne!(tuesday.platform_post_id, first.platform_post_id, "another post with the same text is posted");
}

#[tokio::test]
async fn the_instance_sets_its_own_status_length_and_link_weight() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "domain": "mastodon.example",
            "configuration": { "statuses": {
                "max_characters": 5000, "max_media_attachments": 4, "characters_reserved_per_url": 30
            } }
        })))
        .mount(&server)
        .await;

    let instance = Mastodon::new(outbound()).instance_limits(&channel(&server, "")).await.unwrap();

    let limits = Platform::Mastodon.limits_on(instance);
    assert_eq!(limits.max_text, 5000);
    assert_eq!(limits.length("see https://example.com/some/long/path"), 4 + 30);
}

#[tokio::test]
async fn mastodon_mock_advertises_the_default_limits() {
    let server = MastodonMock::start().await;

    let instance = Mastodon::new(outbound()).instance_limits(&channel_at(&server.base_url, "")).await.unwrap();

    assert_eq!(Platform::Mastodon.limits_on(instance), Platform::Mastodon.limits());
}

#[tokio::test]
async fn publishes_reads_and_deletes_on_mastodon_mock() {
    let server = MastodonMock::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/fox.png", Some("A fox")).await;
    let mut auth = channel_at(&server.base_url, "");
    auth.access_token = mastodon_mock::TOKEN.to_string();
    let mastodon = Mastodon::new(outbound());

    let text = mastodon.publish(&auth, &text_post("Hello from Posthorn")).await.unwrap();
    let with_image = mastodon.publish(&auth, &post_with_media("A fox", vec![image])).await.unwrap();
    let metrics = mastodon.metrics(&auth, &text.platform_post_id).await.unwrap();
    mastodon.delete(&auth, &text.platform_post_id).await.unwrap();
    let gone = mastodon.metrics(&auth, &text.platform_post_id).await.unwrap_err();

    assert!(text.url.is_some_and(|url| url.contains(&text.platform_post_id)));
    assert_ne!(with_image.platform_post_id, text.platform_post_id);
    assert_eq!(metrics, Metrics { views: None, likes: Some(0), comments: Some(0), shares: Some(0) });
    assert_eq!(gone.code, ErrorCode::PlatformError, "{gone:?}");
}
