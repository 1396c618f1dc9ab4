//! The Threads adapter against a fake of the Threads API as Meta documents it: TEXT, IMAGE and
//! CAROUSEL media containers, the container status check, threads_publish, the permalink,
//! delete and media insights; the resume rule (a failure after the container exists carries its
//! id, and a retry from it creates no second container); and error mapping.

use std::time::Duration;

use posthorn::adapters::platforms::Threads;
use posthorn::model::platforms::{ErrorCode, MediaItem};
use posthorn::ports::platforms::{ChannelAuth, PlatformClient, PublishRequest};
use posthorn_testkit::graph_fake::{
    TOKEN, auth, client, error_body, fast_polling, form, jpeg_url, media_url, post, step_container,
};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "25000000000000001";

async fn fake() -> (MockServer, ChannelAuth) {
    let server = MockServer::start().await;
    let auth = auth(&server, "v1.0", USER);
    (server, auth)
}

fn threads() -> Threads {
    Threads::new(client()).with_polling(fast_polling())
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn mount_text_container(server: &MockServer, text: &str, container: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads")))
        .and(form("media_type", "TEXT"))
        .and(form("text", text))
        .and(form("access_token", TOKEN))
        .respond_with(ok(json!({ "id": container })))
        .expect(1)
        .named("create the container")
        .mount(server)
        .await;
}

async fn mount_status(server: &MockServer, container: &str, status: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{container}")))
        .and(query_param("fields", "status,error_message"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "status": status, "id": container })))
        .mount(server)
        .await;
}

async fn mount_publish(server: &MockServer, container: &str, media: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads_publish")))
        .and(form("creation_id", container))
        .and(form("access_token", TOKEN))
        .respond_with(ok(json!({ "id": media })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{media}")))
        .and(query_param("fields", "permalink"))
        .respond_with(ok(
            json!({ "permalink": format!("https://www.threads.net/@posthorn/post/{media}"), "id": media }),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn text_is_a_text_container_then_published() {
    let (server, auth) = fake().await;
    mount_text_container(&server, "Hello Threads", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    mount_publish(&server, "c-1", "t-1").await;

    let published = threads().publish(&auth, &post("Hello Threads", &[])).await.expect("published");

    assert_eq!(published.platform_post_id, "t-1");
    assert_eq!(published.url.as_deref(), Some("https://www.threads.net/@posthorn/post/t-1"));
}

#[tokio::test]
async fn one_image_is_an_image_container_with_its_alt_text() {
    let (server, auth) = fake().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads")))
        .and(form("media_type", "IMAGE"))
        .and(form("image_url", &media_url("a.jpg")))
        .and(form("alt_text", "A red bicycle"))
        .and(form("text", "My bike"))
        .respond_with(ok(json!({ "id": "c-2" })))
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, "c-2", "FINISHED").await;
    mount_publish(&server, "c-2", "t-2").await;
    let image = MediaItem::new(media_url("a.jpg"), Some("A red bicycle".into()));
    let request = PublishRequest { media: vec![image], ..post("My bike", &[]) };

    let published = threads().publish(&auth, &request).await.expect("published");

    assert_eq!(published.platform_post_id, "t-2");
}

#[tokio::test]
async fn several_images_are_items_of_one_carousel_container() {
    let (server, auth) = fake().await;
    let (a, b) = (media_url("a.jpg"), media_url("b.jpg"));
    let images = [a.as_str(), b.as_str()];
    for (url, item) in images.iter().zip(["item-a", "item-b"]) {
        Mock::given(method("POST"))
            .and(path(format!("/v1.0/{USER}/threads")))
            .and(form("media_type", "IMAGE"))
            .and(form("image_url", url))
            .and(form("is_carousel_item", "true"))
            .respond_with(ok(json!({ "id": item })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads")))
        .and(form("media_type", "CAROUSEL"))
        .and(form("children", "item-a,item-b"))
        .and(form("text", "Two pictures"))
        .respond_with(ok(json!({ "id": "carousel-1" })))
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, "carousel-1", "FINISHED").await;
    mount_publish(&server, "carousel-1", "t-3").await;

    let published = threads().publish(&auth, &post("Two pictures", &images)).await.expect("published");

    assert_eq!(published.platform_post_id, "t-3");
}

#[tokio::test]
async fn a_text_over_500_characters_is_refused_before_any_call() {
    let (server, auth) = fake().await;

    let error = threads().publish(&auth, &post(&"é".repeat(501), &[])).await.expect_err("too long");

    assert_eq!(error.code, ErrorCode::ContentTooLong);
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn an_in_progress_container_pauses_the_publish_and_the_next_run_resumes_it() {
    let (server, auth) = fake().await;
    mount_text_container(&server, "Hello", "c-1").await;
    Mock::given(method("GET"))
        .and(path("/v1.0/c-1"))
        .respond_with(ok(json!({ "status": "IN_PROGRESS", "id": "c-1" })))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, "c-1", "FINISHED").await;
    mount_publish(&server, "c-1", "t-1").await;

    let first = threads().publish(&auth, &post("Hello", &[])).await.expect_err("still processing");
    assert_eq!(first.resumes_after(), Some(Duration::from_secs(60)));
    let retry = PublishRequest { resume_from: first.progress, ..post("Hello", &[]) };
    let published = threads().publish(&auth, &retry).await.expect("published");

    assert_eq!(published.platform_post_id, "t-1");
    server.verify().await;
}

#[tokio::test]
async fn a_container_in_error_is_invalid_media_with_meta_s_reason() {
    let (server, auth) = fake().await;
    mount_text_container(&server, "Hello", "c-1").await;
    Mock::given(method("GET"))
        .and(path("/v1.0/c-1"))
        .respond_with(ok(json!({ "status": "ERROR", "error_message": "UNKNOWN", "id": "c-1" })))
        .mount(&server)
        .await;

    let error = threads().publish(&auth, &post("Hello", &[])).await.expect_err("processing failed");

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.ends_with("UNKNOWN"), "{}", error.message);
    assert_eq!(error.progress, None);
}

#[tokio::test]
async fn a_failed_publish_carries_the_container_and_the_retry_creates_no_second_one() {
    let (server, auth) = fake().await;
    mount_text_container(&server, "Hello", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    let message = "(#4) Application request limit reached";
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads_publish")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60").set_body_json(error_body(
            message,
            "OAuthException",
            4,
            None,
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_publish(&server, "c-1", "t-1").await;

    let first = threads().publish(&auth, &post("Hello", &[])).await.expect_err("rate limited");
    assert_eq!((first.code, first.message.as_str()), (ErrorCode::RateLimited, message));
    assert_eq!(first.retry_after, Some(Duration::from_secs(60)));
    assert_eq!(step_container(first.progress.as_deref()), Some("c-1"));

    let retry = PublishRequest { resume_from: first.progress, ..post("Hello", &[]) };
    let published = threads().publish(&auth, &retry).await.expect("the retry publishes");

    assert_eq!(published.platform_post_id, "t-1");
    server.verify().await;
}

#[tokio::test]
async fn an_expired_token_is_auth_expired() {
    let (server, auth) = fake().await;
    let message = "Error validating access token: Session has expired on Friday, 01-Aug-25 10:00:00 PDT.";
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{USER}/threads")))
        .respond_with(ResponseTemplate::new(400).set_body_json(error_body(message, "OAuthException", 190, Some(463))))
        .mount(&server)
        .await;

    let error = threads().publish(&auth, &post("Hello", &[])).await.expect_err("expired");

    assert_eq!((error.code, error.message.as_str()), (ErrorCode::AuthExpired, message));
}

#[tokio::test]
async fn a_server_error_is_unavailable() {
    let (server, auth) = fake().await;
    let message = "An unknown error has occurred.";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(error_body(message, "OAuthException", 1, None)))
        .mount(&server)
        .await;

    let error = threads().publish(&auth, &post("Hello", &[])).await.expect_err("server error");

    assert_eq!((error.code, error.message.as_str()), (ErrorCode::PlatformUnavailable, message));
}

#[tokio::test]
async fn delete_removes_the_post() {
    let (server, auth) = fake().await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/t-1"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "success": true, "deleted_id": "t-1" })))
        .expect(1)
        .mount(&server)
        .await;

    threads().delete(&auth, "t-1").await.expect("deleted");
}

#[tokio::test]
async fn metrics_read_media_insights() {
    let (server, auth) = fake().await;
    let metric = |name: &str, value: u64| json!({ "name": name, "period": "lifetime", "values": [{ "value": value }], "id": format!("t-1/insights/{name}/lifetime") });
    Mock::given(method("GET"))
        .and(path("/v1.0/t-1/insights"))
        .and(query_param("metric", "views,likes,replies,reposts,quotes"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "data": [
            metric("views", 4523), metric("likes", 187), metric("replies", 42), metric("reposts", 23), metric("quotes", 8)
        ] })))
        .mount(&server)
        .await;

    let metrics = threads().metrics(&auth, "t-1").await.expect("metrics");

    assert_eq!(
        (metrics.views, metrics.likes, metrics.comments, metrics.shares),
        (Some(4523), Some(187), Some(42), Some(31))
    );
}

#[tokio::test]
async fn an_image_beyond_10_to_1_is_refused_before_any_container() {
    let (server, auth) = fake().await;
    let banner = jpeg_url("banner.jpg", 1100, 100);

    let error = threads().publish(&auth, &post("Wide", &[banner.as_str()])).await.expect_err("too wide");

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.contains("threads (aspect_ratio): media[0] is 1100x100"), "{error:?}");
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "no container was made");
}
