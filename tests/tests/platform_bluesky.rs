//! The Bluesky adapter against a fake PDS that reproduces the documented XRPC calls (uploadBlob,
//! createRecord with facets and an images embed, deleteRecord, getPosts) and error bodies.
//! The independent PDS (`@atproto/dev-env`) is in platform_bluesky_pds.rs.

use std::time::Duration;

use posthorn::adapters::platforms::Bluesky;
use posthorn::model::platforms::{ErrorCode, Metrics};
use posthorn::ports::platforms::{PlatformClient, PlatformError, Published};
use posthorn_testkit::platforms::{
    BEARER, PNG, channel, closed_port_url, image_at, outbound, post_with_media, text_post,
};
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{body_bytes, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const URI: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g";

fn created() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "uri": URI,
        "cid": "bafyreibjifzpqj6o6wcq3hejh7y4z4z2vmiklkvykc57tw3pcbx3kxifpm",
        "commit": { "cid": "bafyreid", "rev": "3k43tv4rpa22g" },
        "validationStatus": "valid"
    }))
}

fn blob(link: &str) -> serde_json::Value {
    json!({ "$type": "blob", "ref": { "$link": link }, "mimeType": "image/png", "size": PNG.len() })
}

fn xrpc_error(status: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": name, "message": message }))
}

#[tokio::test]
async fn publishes_text_with_link_facets_at_byte_offsets_after_an_emoji() {
    let server = MockServer::start().await;
    let text = "🦋👨‍👩‍👧 read https://example.com/ünï?x=1. now";
    let start = "🦋👨‍👩‍👧 read ".len();
    let end = start + "https://example.com/ünï?x=1".len();
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(header("authorization", BEARER))
        .and(body_partial_json(json!({
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "facets": [{
                    "index": { "byteStart": start, "byteEnd": end },
                    "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/ünï?x=1" }]
                }]
            }
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let published = Bluesky::new(outbound()).publish(&channel(&server, DID), &text_post(text)).await.unwrap();

    let url = format!("https://bsky.app/profile/{DID}/post/3k43tv4rft22g");
    assert_eq!(published, Published { platform_post_id: URI.into(), url: Some(url) });
    let request = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = request.body_json().unwrap();
    let created_at = body["record"]["createdAt"].as_str().unwrap();
    assert!(OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339).is_ok());
    assert_eq!(start, 28, "the two emoji are 22 bytes of UTF-8, not 2 graphemes");
}

#[tokio::test]
async fn mentions_tags_and_links_without_a_scheme_become_facets_as_the_official_clients_make_them() {
    let server = MockServer::start().await;
    let text = "Thanks @alice.bsky.social and @nobody.example.com! #Rust2026 at posthorn.dev/docs.";
    let at = |part: &str| text.find(part).unwrap();
    let facet = |part: &str, feature: serde_json::Value| json!({ "index": { "byteStart": at(part), "byteEnd": at(part) + part.len() }, "features": [feature] });
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.identity.resolveHandle"))
        .and(query_param("handle", "alice.bsky.social"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "did": "did:plc:alice" })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/com.atproto.identity.resolveHandle"))
        .respond_with(xrpc_error(400, "InvalidRequest", "Unable to resolve handle"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(body_partial_json(json!({ "record": { "facets": [
            facet("@alice.bsky.social", json!({ "$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice" })),
            facet("#Rust2026", json!({ "$type": "app.bsky.richtext.facet#tag", "tag": "Rust2026" })),
            facet("posthorn.dev/docs", json!({ "$type": "app.bsky.richtext.facet#link", "uri": "https://posthorn.dev/docs" })),
        ] } })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    Bluesky::new(outbound()).publish(&channel(&server, DID), &text_post(text)).await.unwrap();
}

#[tokio::test]
async fn publishes_images_as_blobs_embedded_with_alt_text() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/sky.png", Some("A blue sky")).await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.uploadBlob"))
        .and(header("authorization", BEARER))
        .and(header("content-type", "image/png"))
        .and(body_bytes(PNG))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "blob": blob("bafkreiblob") })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(body_partial_json(json!({
            "record": {
                "text": "Look up",
                "embed": {
                    "$type": "app.bsky.embed.images",
                    "images": [{ "alt": "A blue sky", "image": blob("bafkreiblob") }]
                }
            }
        })))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let post = post_with_media("Look up", vec![image]);
    let published = Bluesky::new(outbound()).publish(&channel(&server, DID), &post).await.unwrap();

    assert_eq!(published.platform_post_id, URI);
}

#[tokio::test]
async fn deletes_by_rkey_and_reads_counts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.deleteRecord"))
        .and(header("authorization", BEARER))
        .and(body_partial_json(json!({ "repo": DID, "collection": "app.bsky.feed.post", "rkey": "3k43tv4rft22g" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "commit": { "cid": "bafy", "rev": "3k" } })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/xrpc/app.bsky.feed.getPosts"))
        .and(query_param("uris", URI))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "posts": [{
                "uri": URI, "cid": "bafy", "author": { "did": DID, "handle": "alice.bsky.social" },
                "record": {}, "indexedAt": "2024-01-01T00:00:00.000Z",
                "likeCount": 11, "repostCount": 4, "quoteCount": 1, "replyCount": 3
            }]
        })))
        .mount(&server)
        .await;
    let bluesky = Bluesky::new(outbound());
    let auth = channel(&server, DID);

    bluesky.delete(&auth, URI).await.unwrap();
    let metrics = bluesky.metrics(&auth, URI).await.unwrap();

    assert_eq!(metrics, Metrics { views: None, likes: Some(11), comments: Some(3), shares: Some(5) });
}

async fn publish_answered(answer: ResponseTemplate) -> PlatformError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .respond_with(answer)
        .mount(&server)
        .await;
    Bluesky::new(outbound()).publish(&channel(&server, DID), &text_post("Hello")).await.unwrap_err()
}

#[tokio::test]
async fn documented_errors_map_to_stable_codes_with_the_raw_message() {
    let too_long = "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes";
    let cases = [
        (xrpc_error(400, "ExpiredToken", "Token has expired"), ErrorCode::AuthExpired, "Token has expired"),
        (xrpc_error(401, "AuthMissing", "Authentication Required"), ErrorCode::AuthExpired, "Authentication Required"),
        (xrpc_error(400, "InvalidRequest", too_long), ErrorCode::ContentTooLong, too_long),
        (
            xrpc_error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record must have the property \"text\"",
            ),
            ErrorCode::ContentRejected,
            "Record must have the property",
        ),
        (xrpc_error(502, "UpstreamFailure", "Upstream Failure"), ErrorCode::PlatformUnavailable, "Upstream Failure"),
        (xrpc_error(400, "RepoNotFound", "Could not find repo"), ErrorCode::PlatformError, "Could not find repo"),
    ];
    for (answer, code, message) in cases {
        let error = publish_answered(answer).await;
        assert_eq!(error.code, code, "{error:?}");
        assert!(error.message.contains(message), "{error:?}");
    }
}

#[tokio::test]
async fn rate_limits_wait_until_ratelimit_reset() {
    let reset = (OffsetDateTime::now_utc().unix_timestamp() + 120).to_string();
    let answer = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
        .insert_header("ratelimit-limit", "5000")
        .insert_header("ratelimit-remaining", "0")
        .insert_header("ratelimit-reset", reset.as_str())
        .insert_header("ratelimit-policy", "5000;w=3600");

    let error = publish_answered(answer).await;

    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.message.contains("Rate Limit Exceeded"), "{error:?}");
    let wait = error.retry_after.unwrap();
    assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120), "{wait:?}");
}

#[tokio::test]
async fn blobs_the_pds_refuses_are_invalid_media() {
    let server = MockServer::start().await;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/big.png", None).await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.uploadBlob"))
        .respond_with(xrpc_error(
            400,
            "BlobTooLarge",
            "This file is too large. It is 2.5MB but the maximum size is 1MB.",
        ))
        .mount(&server)
        .await;

    let post = post_with_media("x", vec![image]);
    let error = Bluesky::new(outbound()).publish(&channel(&server, DID), &post).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.contains("maximum size is 1MB"), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_pds_is_unavailable() {
    let auth = posthorn_testkit::platforms::channel_at(&closed_port_url(), DID);

    let error = Bluesky::new(outbound()).metrics(&auth, URI).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::PlatformUnavailable, "{error:?}");
}
