//! The LinkedIn adapter against a fake `/rest` Posts API that reproduces the documented calls
//! (image upload initialization and PUT, create with `x-restli-id` and little-text commentary,
//! delete, social metadata) with the version headers, and LinkedIn's error bodies.

use posthorn::adapters::platforms::Linkedin;
use posthorn::adapters::platforms::versions::LINKEDIN;
use posthorn::model::platforms::{ErrorCode, Metrics};
use posthorn::ports::platforms::{PlatformClient, PlatformError, Published};
use posthorn_testkit::platforms::{
    BEARER, PNG, channel, channel_at, closed_port_url, image_at, outbound, post_with_media, text_post,
};
use serde_json::json;
use wiremock::matchers::{body_bytes, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTHOR: &str = "urn:li:person:8675309";
const ORGANIZATION: &str = "urn:li:organization:2414183";
const URN: &str = "urn:li:share:6844785523593134080";
const ENCODED_URN: &str = "urn%3Ali%3Ashare%3A6844785523593134080";

fn linkedin() -> Linkedin {
    Linkedin::new(outbound())
}

fn rest(verb: &str, route: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb))
        .and(path(route))
        .and(header("authorization", BEARER))
        .and(header("linkedin-version", LINKEDIN.version))
        .and(header("x-restli-protocol-version", "2.0.0"))
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201).insert_header("x-restli-id", URN)
}

fn linkedin_error(status: u16, message: &str, code: Option<&str>) -> ResponseTemplate {
    let mut body = json!({ "message": message, "status": status, "serviceErrorCode": 100 });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    ResponseTemplate::new(status).set_body_json(body)
}

async fn image_upload(server: &MockServer, image_urn: &str, upload_route: &str) {
    rest("POST", "/rest/images")
        .and(query_param("action", "initializeUpload"))
        .and(body_partial_json(json!({ "initializeUploadRequest": { "owner": AUTHOR } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": { "uploadUrlExpiresAt": 1650567510704_u64, "uploadUrl": format!("{}{upload_route}", server.uri()),
                       "image": image_urn }
        })))
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path(upload_route))
        .and(header("authorization", BEARER))
        .and(body_bytes(PNG))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn publishes_text_as_the_channels_urn() {
    let server = MockServer::start().await;
    rest("POST", "/rest/posts")
        .and(body_partial_json(json!({
            "author": AUTHOR, "commentary": "Hello, LinkedIn", "visibility": "PUBLIC",
            "distribution": { "feedDistribution": "MAIN_FEED" }, "lifecycleState": "PUBLISHED"
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let published = linkedin().publish(&channel(&server, AUTHOR), &text_post("Hello, LinkedIn")).await.unwrap();

    let url = Some(format!("https://www.linkedin.com/feed/update/{URN}"));
    assert_eq!(published, Published { platform_post_id: URN.into(), url });
}

#[tokio::test]
async fn publishes_one_image_as_media_with_alt_text() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/chart.png", Some("Quarterly chart")).await;
    image_upload(&server, "urn:li:image:C4E10AQFoyyAjHPMQuQ", "/dms-uploads/one").await;
    rest("POST", "/rest/posts")
        .and(body_partial_json(json!({
            "content": { "media": { "id": "urn:li:image:C4E10AQFoyyAjHPMQuQ", "altText": "Quarterly chart" } }
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let post = post_with_media("Results", vec![image]);
    let published = linkedin().publish(&channel(&server, AUTHOR), &post).await.unwrap();

    assert_eq!(published.platform_post_id, URN);
}

#[tokio::test]
async fn publishes_several_images_as_multi_image() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let first = image_at(&media_host, "/1.png", Some("First")).await;
    let second = image_at(&media_host, "/2.png", Some("Second")).await;
    image_upload(&server, "urn:li:image:one", "/dms-uploads/1").await;
    image_upload(&server, "urn:li:image:two", "/dms-uploads/2").await;
    rest("POST", "/rest/posts")
        .and(body_partial_json(json!({
            "content": { "multiImage": { "images": [
                { "id": "urn:li:image:one", "altText": "First" },
                { "id": "urn:li:image:two", "altText": "Second" }
            ] } }
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let post = post_with_media("Two", vec![first, second]);
    linkedin().publish(&channel(&server, AUTHOR), &post).await.unwrap();
}

#[tokio::test]
async fn commentary_is_little_text_so_reserved_characters_survive() {
    let server = MockServer::start().await;
    let text = r"Q&A (live) [today] @10 <3 *new* _v2_ ~1h {x|y} back\slash #1 and #Rust";
    let little = r"Q&A \(live\) \[today\] \@10 \<3 \*new\* \_v2\_ \~1h \{x\|y\} back\\slash \#1 and {hashtag|\#|Rust}";
    rest("POST", "/rest/posts")
        .and(body_partial_json(json!({ "commentary": little })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    linkedin().publish(&channel(&server, AUTHOR), &text_post(text)).await.unwrap();
}

#[tokio::test]
async fn deletes_a_post() {
    let server = MockServer::start().await;
    rest("DELETE", &format!("/rest/posts/{ENCODED_URN}"))
        .and(header("x-restli-method", "DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    linkedin().delete(&channel(&server, AUTHOR), URN).await.unwrap();
}

#[tokio::test]
async fn an_organization_posts_figures_come_from_social_metadata() {
    let server = MockServer::start().await;
    rest("GET", &format!("/rest/socialMetadata/{ENCODED_URN}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "reactionSummaries": {
                "LIKE": { "reactionType": "LIKE", "count": 7 },
                "PRAISE": { "reactionType": "PRAISE", "count": 2 }
            },
            "commentsState": "OPEN",
            "commentSummary": { "count": 4, "topLevelCount": 3 },
            "entity": URN
        })))
        .expect(1)
        .mount(&server)
        .await;

    let metrics = linkedin().metrics(&channel(&server, ORGANIZATION), URN).await.unwrap();

    assert_eq!(metrics, Metrics { views: None, likes: Some(9), comments: Some(4), shares: None });
}

#[tokio::test]
async fn a_members_post_has_no_figures_posthorn_may_read() {
    let server = MockServer::start().await;

    let metrics = linkedin().metrics(&channel(&server, AUTHOR), URN).await.unwrap();

    assert_eq!(metrics, Metrics::default());
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "r_member_social is not requested");
}

#[tokio::test]
async fn a_missing_permission_is_not_an_expired_connection() {
    let server = MockServer::start().await;
    let denied = "Not enough permissions to access: socialMetadata.GET.NO_VERSION";
    Mock::given(method("GET")).respond_with(linkedin_error(403, denied, Some("ACCESS_DENIED"))).mount(&server).await;

    let error = linkedin().metrics(&channel(&server, ORGANIZATION), URN).await.unwrap_err();

    assert_eq!((error.code, error.message.contains(denied)), (ErrorCode::PlatformError, true), "{error:?}");
}

async fn publish_answered(answer: ResponseTemplate) -> PlatformError {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/rest/posts")).respond_with(answer).mount(&server).await;
    linkedin().publish(&channel(&server, AUTHOR), &text_post("Hello")).await.unwrap_err()
}

#[tokio::test]
async fn documented_errors_map_to_stable_codes_with_the_raw_message() {
    let revoked = "The token used in the request has been revoked by the user";
    let denied = "Not enough permissions to access: partnerApiPostsExternal.CREATE.20251001";
    let duplicate = "Content is a duplicate of urn:li:share:6844785523593134080";
    let too_long = "/commentary :: length of 3001 exceeds the maximum allowed length of 3000";
    let cases = [
        (linkedin_error(401, revoked, Some("REVOKED_ACCESS_TOKEN")), ErrorCode::AuthRevoked, revoked),
        (linkedin_error(403, denied, Some("ACCESS_DENIED")), ErrorCode::PlatformError, denied),
        (linkedin_error(422, duplicate, Some("DUPLICATE_POST")), ErrorCode::ContentRejected, duplicate),
        (linkedin_error(422, too_long, None), ErrorCode::ContentTooLong, too_long),
        (linkedin_error(504, "Gateway timeout", None), ErrorCode::PlatformUnavailable, "Gateway timeout"),
        (linkedin_error(404, "Not Found", None), ErrorCode::PlatformError, "Not Found"),
    ];
    for (answer, code, message) in cases {
        let error = publish_answered(answer).await;
        assert_eq!(error.code, code, "{error:?}");
        assert!(error.message.contains(message), "{error:?}");
    }
}

#[tokio::test]
async fn rate_limits_keep_retry_after() {
    let answer = linkedin_error(
        429,
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        None,
    )
    .insert_header("retry-after", "3600");

    let error = publish_answered(answer).await;

    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.message.contains("APPLICATION DAY limit"), "{error:?}");
    assert_eq!(error.retry_after, Some(std::time::Duration::from_secs(3600)));
}

#[tokio::test]
async fn uploads_linkedin_refuses_are_invalid_media() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/chart.png", None).await;
    Mock::given(method("POST"))
        .and(path("/rest/images"))
        .respond_with(linkedin_error(400, "Invalid owner for image upload", None))
        .mount(&server)
        .await;

    let error = linkedin().publish(&channel(&server, AUTHOR), &post_with_media("x", vec![image])).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.contains("Invalid owner for image upload"), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_api_is_unavailable() {
    let error = linkedin().metrics(&channel_at(&closed_port_url(), ORGANIZATION), URN).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformUnavailable, "{error:?}");
}
