//! The Instagram adapter against a fake of the Graph API content publishing flow as Meta
//! documents it: media containers (carousel children and the CAROUSEL container), status polling,
//! media_publish, the permalink, metrics and insights; the resume rule (a failure after the
//! container exists carries its id, and a retry from it creates no second container); and
//! Instagram's 2207xxx errors.

use std::time::Duration;

use posthorn::adapters::platforms::{Instagram, Polling};
use posthorn::model::platforms::ErrorCode;
use posthorn::ports::platforms::{ChannelAuth, PlatformClient, PublishRequest};
use posthorn_testkit::graph_fake::{
    TOKEN, auth, client, error_body, fast_polling, form, jpeg_url, media_url, no_form, post, step_container,
    step_created,
};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USER: &str = "17841400000000001";

async fn fake() -> (MockServer, ChannelAuth) {
    let server = MockServer::start().await;
    let auth = auth(&server, "v25.0", USER);
    (server, auth)
}

fn image() -> String {
    media_url("a.jpg")
}

fn instagram() -> Instagram {
    Instagram::new(client()).with_polling(fast_polling())
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// `POST /{ig-user-id}/media` for one image, answering `container`.
async fn mount_image_container(server: &MockServer, caption: &str, container: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media")))
        .and(form("image_url", &image()))
        .and(form("caption", caption))
        .and(form("access_token", TOKEN))
        .and(no_form("media_type"))
        .respond_with(ok(json!({ "id": container })))
        .expect(1)
        .named("create the container")
        .mount(server)
        .await;
}

async fn mount_status(server: &MockServer, container: &str, status: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{container}")))
        .and(query_param("fields", "status_code,status"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "status_code": status, "id": container })))
        .mount(server)
        .await;
}

async fn mount_publish(server: &MockServer, container: &str, media: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media_publish")))
        .and(form("creation_id", container))
        .and(form("access_token", TOKEN))
        .respond_with(ok(json!({ "id": media })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v25.0/{media}")))
        .and(query_param("fields", "permalink"))
        .respond_with(ok(json!({ "permalink": format!("https://www.instagram.com/p/{media}/"), "id": media })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn one_image_is_a_container_polled_then_published() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    mount_publish(&server, "c-1", "m-1").await;

    let published = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect("published");

    assert_eq!(published.platform_post_id, "m-1");
    assert_eq!(published.url.as_deref(), Some("https://www.instagram.com/p/m-1/"));
}

#[tokio::test]
async fn several_images_are_carousel_children_of_one_carousel_container() {
    let (server, auth) = fake().await;
    let (a, b) = (media_url("a.jpg"), media_url("b.jpg"));
    let images = [a.as_str(), b.as_str()];
    for (url, child) in images.iter().zip(["child-a", "child-b"]) {
        Mock::given(method("POST"))
            .and(path(format!("/v25.0/{USER}/media")))
            .and(form("image_url", url))
            .and(form("is_carousel_item", "true"))
            .respond_with(ok(json!({ "id": child })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media")))
        .and(form("media_type", "CAROUSEL"))
        .and(form("children", "child-a,child-b"))
        .and(form("caption", "Album"))
        .and(form("access_token", TOKEN))
        .respond_with(ok(json!({ "id": "carousel-1" })))
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, "carousel-1", "FINISHED").await;
    mount_publish(&server, "carousel-1", "m-2").await;

    let published = instagram().publish(&auth, &post("Album", &images)).await.expect("published");

    assert_eq!(published.platform_post_id, "m-2");
}

#[tokio::test]
async fn a_post_without_an_image_is_invalid_media_before_any_call() {
    let (server, auth) = fake().await;

    let error = instagram().publish(&auth, &post("Only words", &[])).await.expect_err("an image is required");

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn an_in_progress_container_pauses_the_publish_and_the_next_run_resumes_it() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    Mock::given(method("GET"))
        .and(path("/v25.0/c-1"))
        .respond_with(ok(json!({ "status_code": "IN_PROGRESS", "id": "c-1" })))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    mount_status(&server, "c-1", "FINISHED").await;
    mount_publish(&server, "c-1", "m-1").await;

    let first = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("still processing");
    assert_eq!(first.resumes_after(), Some(Duration::from_secs(60)), "Meta: at most one check a minute");
    assert_eq!(step_container(first.progress.as_deref()), Some("c-1"));
    let second = PublishRequest { resume_from: first.progress, ..post("Sunset", &[image().as_str()]) };
    let second = instagram().publish(&auth, &second).await.expect_err("still processing");
    let third = PublishRequest { resume_from: second.progress, ..post("Sunset", &[image().as_str()]) };
    let published = instagram().publish(&auth, &third).await.expect("published");

    assert_eq!(published.platform_post_id, "m-1");
    server.verify().await;
}

#[tokio::test]
async fn the_first_check_waits_as_meta_advises_without_holding_the_run() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    let patient = Instagram::new(client()).with_polling(Polling::default());

    let started = std::time::Instant::now();
    let error = patient.publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("too early to check");

    assert!(started.elapsed() < Duration::from_secs(5), "the run returned at once");
    let wait = error.resumes_after().expect("a pause");
    assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
    let checks = server.received_requests().await.unwrap_or_default();
    assert!(checks.iter().all(|request| request.url.path() != "/v25.0/c-1"), "no check before 30 s");
}

#[tokio::test]
async fn a_container_still_in_progress_after_five_minutes_is_given_up_and_not_resumed() {
    let (server, auth) = fake().await;
    mount_status(&server, "c-1", "IN_PROGRESS").await;

    let stale = PublishRequest { resume_from: Some(step_created("c-1", 301)), ..post("Sunset", &[image().as_str()]) };
    let error = instagram().publish(&auth, &stale).await.expect_err("given up");

    assert_eq!((error.code, error.resumes_after()), (ErrorCode::InvalidMedia, None));
    assert_eq!(error.progress, None, "the next try starts over");
}

#[tokio::test]
async fn a_container_in_error_is_invalid_media_and_not_resumed() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    Mock::given(method("GET"))
        .and(path("/v25.0/c-1"))
        .respond_with(ok(json!({
            "status_code": "ERROR",
            "status": "Error: Media download has failed. The media URI doesn't meet our requirements.",
            "id": "c-1"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media_publish")))
        .respond_with(ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;

    let error = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("processing failed");

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.contains("Media download has failed"), "{}", error.message);
    assert_eq!(error.progress, None);
}

#[tokio::test]
async fn a_failed_publish_carries_the_container_and_the_retry_creates_no_second_one() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media_publish")))
        .respond_with(ResponseTemplate::new(500).set_body_json(error_body(
            "An unexpected error has occurred. Please retry your request later.",
            "OAuthException",
            2,
            None,
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_publish(&server, "c-1", "m-1").await;

    let first = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("publish fails");
    assert_eq!(first.code, ErrorCode::PlatformUnavailable);
    assert_eq!(step_container(first.progress.as_deref()), Some("c-1"));

    let retry = PublishRequest { resume_from: first.progress, ..post("Sunset", &[image().as_str()]) };
    let published = instagram().publish(&auth, &retry).await.expect("the retry publishes");

    assert_eq!(published.platform_post_id, "m-1");
    server.verify().await;
}

#[tokio::test]
async fn the_daily_publishing_limit_is_rate_limited_and_resumable() {
    let (server, auth) = fake().await;
    mount_image_container(&server, "Sunset", "c-1").await;
    mount_status(&server, "c-1", "FINISHED").await;
    let message = "You reached maximum number of posts that is allowed to be published by Content Publishing API.";
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{USER}/media_publish")))
        .respond_with(ResponseTemplate::new(400).set_body_json(error_body(message, "OAuthException", 9, Some(2207042))))
        .mount(&server)
        .await;

    let error = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("limit reached");

    assert_eq!((error.code, error.message.as_str()), (ErrorCode::RateLimited, message));
    assert_eq!(step_container(error.progress.as_deref()), Some("c-1"));
}

#[tokio::test]
async fn container_creation_errors_map_to_stable_codes() {
    let cases = [
        (
            "Media download has failed. The media URI doesn't meet our requirements.",
            9004,
            Some(2207052),
            ErrorCode::InvalidMedia,
        ),
        ("The image size is too large.", 36000, Some(2207004), ErrorCode::InvalidMedia),
        ("The aspect ratio is not supported.", 36003, Some(2207009), ErrorCode::InvalidMedia),
        ("It takes too long to download the media.", -2, Some(2207003), ErrorCode::PlatformUnavailable),
        ("We restrict certain activity to protect our community.", 4, Some(2207051), ErrorCode::ContentRejected),
        ("Error validating access token: Session has expired.", 190, Some(463), ErrorCode::AuthExpired),
        ("Invalid OAuth access token - Cannot parse access token", 190, None, ErrorCode::AuthExpired),
    ];
    for (message, code, subcode, expected) in cases {
        let (server, auth) = fake().await;
        Mock::given(method("POST"))
            .and(path(format!("/v25.0/{USER}/media")))
            .respond_with(ResponseTemplate::new(400).set_body_json(error_body(
                message,
                "OAuthException",
                code,
                subcode,
            )))
            .mount(&server)
            .await;

        let error = instagram().publish(&auth, &post("Sunset", &[image().as_str()])).await.expect_err("creation fails");

        assert_eq!((error.code, error.message.as_str()), (expected, message));
        assert_eq!(error.progress, None, "no container exists yet");
    }
}

#[tokio::test]
async fn delete_is_refused_because_the_api_cannot_delete_media() {
    let (server, auth) = fake().await;

    let error = instagram().delete(&auth, "m-1").await.expect_err("unsupported");

    assert_eq!(error.code, ErrorCode::PlatformError);
    assert!(error.message.contains("does not support deleting"), "{}", error.message);
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn metrics_read_counts_and_insights() {
    let (server, auth) = fake().await;
    Mock::given(method("GET"))
        .and(path("/v25.0/m-1"))
        .and(query_param("fields", "like_count,comments_count"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "like_count": 120, "comments_count": 8, "id": "m-1" })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/m-1/insights"))
        .and(query_param("metric", "views,shares"))
        .and(query_param("access_token", TOKEN))
        .respond_with(ok(json!({ "data": [
            { "name": "views", "period": "lifetime", "values": [{ "value": 1500 }], "id": "m-1/insights/views/lifetime" },
            { "name": "shares", "period": "lifetime", "values": [{ "value": 11 }], "id": "m-1/insights/shares/lifetime" }
        ] })))
        .mount(&server)
        .await;

    let metrics = instagram().metrics(&auth, "m-1").await.expect("metrics");

    assert_eq!(
        (metrics.views, metrics.likes, metrics.comments, metrics.shares),
        (Some(1500), Some(120), Some(8), Some(11))
    );
}

#[tokio::test]
async fn images_outside_4_5_to_1_91_or_not_jpeg_are_refused_before_any_container() {
    let (server, auth) = fake().await;
    let tall = jpeg_url("tall.jpg", 400, 800);
    let square = media_url("ok.jpg");
    let host = MockServer::start().await;
    let png = posthorn_testkit::platforms::bytes_at(
        &host,
        "/labelled.jpg",
        "image/jpeg",
        posthorn_testkit::platforms::PNG.to_vec(),
    )
    .await;

    let error =
        instagram().publish(&auth, &post("Tall", &[square.as_str(), tall.as_str()])).await.expect_err("too tall");
    let not_jpeg = instagram().publish(&auth, &post("PNG", &[png.url.as_str()])).await.expect_err("a PNG");

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    let expected = "instagram (aspect_ratio): media[1] is 400x800 (aspect ratio 0.50:1); instagram takes aspect ratios from 4:5 to 1.91:1";
    assert_eq!(error.message, expected);
    assert_eq!(not_jpeg.code, ErrorCode::InvalidMedia);
    assert!(not_jpeg.message.contains("(unsupported_media_type): media[0] is image/png"), "{not_jpeg:?}");
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "no container was made");
}
