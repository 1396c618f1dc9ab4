//! Media read from their content, never downloaded whole: images by their signature and header,
//! videos by their container and `moov` box (found with range requests over a 300 MB file of
//! which a few kilobytes are read); each platform's image and video rules reported by
//! `POST /v1/posts/validate` with the target and the rule; the sandbox taking video and forcing
//! video failures.

use axum::http::{Method, StatusCode};
use posthorn::adapters::platforms::media::read_content;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::platforms::{MediaKind, Platform};
use posthorn_testkit::media_host::MediaHost;
use posthorn_testkit::platforms::{PNG, jpeg, outbound};
use posthorn_testkit::publishing::{PostsFixture as Fixture, ids};
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};

const MB: u64 = 1024 * 1024;

#[tokio::test]
async fn a_video_is_recognised_from_its_container_and_its_moov_box_read_by_ranges() {
    let host = MediaHost::start().await;
    let clip = host.mp4("/clip", 300 * MB, 1080, 1920, 42);

    let facts = read_content(&outbound(), &clip).await.unwrap();

    assert_eq!((facts.kind, facts.media_type.as_str()), (MediaKind::Video, "video/mp4"));
    assert_eq!(facts.bytes, Some(300 * MB));
    assert_eq!(facts.dimensions, Some((1080, 1920)));
    assert_eq!(facts.duration, Some(std::time::Duration::from_secs(42)));
    assert_eq!(facts.video_codec.as_deref(), Some("avc1"));
    assert!(host.bytes_sent() < 128 * 1024, "only the head and the boxes were read: {} bytes", host.bytes_sent());
}

#[tokio::test]
async fn images_and_other_containers_are_told_by_their_bytes_not_their_names() {
    let host = MediaHost::start().await;
    let outbound = outbound();
    let png_named_jpg = host.bytes("/photo.jpg", "image/jpeg", PNG.to_vec());
    let webm = host.bytes("/clip.bin", "application/octet-stream", [&[0x1a, 0x45, 0xdf, 0xa3][..], &[0; 60]].concat());
    let page = host.bytes("/clip.mp4", "video/mp4", b"<html>not a video</html>".to_vec());

    let png = read_content(&outbound, &png_named_jpg).await.unwrap();
    let webm = read_content(&outbound, &webm).await.unwrap();
    let page = read_content(&outbound, &page).await.unwrap_err();

    assert_eq!((png.kind, png.media_type.as_str(), png.dimensions), (MediaKind::Image, "image/png", Some((1, 1))));
    assert_eq!((webm.kind, webm.media_type.as_str()), (MediaKind::Video, "video/webm"));
    assert_eq!(page, "is neither an image nor a video Posthorn recognises");
}

fn rules(report: &Value, target: usize) -> Vec<(String, String)> {
    report["data"]["targets"][target]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| (problem["rule"].as_str().unwrap().into(), problem["message"].as_str().unwrap().into()))
        .collect()
}

async fn validate(fixture: &Fixture, body: Value) -> Value {
    let reply = fixture.app.call(Method::POST, "/v1/posts/validate", Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body
}

#[tokio::test]
async fn validate_reports_each_platforms_video_rules_with_the_target_and_the_rule() {
    let fixture = Fixture::start(StoreKind::Sqlite).await;
    let host = MediaHost::start().await;
    let sandbox = fixture.sandbox(1).await;
    let x = fixture.channel(Platform::X, "x-1", ConnectionStatus::Active).await;
    let long_clip = host.mp4("/long", 20 * MB, 1080, 1920, 200);
    let photo = host.bytes("/photo", "image/jpeg", jpeg(40, 30));

    let report = validate(
        &fixture,
        json!({"text": "clip", "targets": [sandbox[0].id, x.id], "media": [{"url": long_clip}, {"url": photo}]}),
    )
    .await;

    assert_eq!(rules(&report, 0), [], "the sandbox takes a long video beside an image");
    let x_rules = rules(&report, 1);
    assert_eq!(
        x_rules,
        [
            ("video_duration".into(), "media[0] lasts 200.0 seconds; x takes videos from 0.5 to 140 seconds".into()),
            ("mixed_media".into(), "x takes a video alone, never beside images; the post has both".into()),
        ]
    );
    let bluesky = fixture.channel(Platform::Bluesky, "did:plc:abc", ConnectionStatus::Active).await;
    let report =
        validate(&fixture, json!({"text": "clip", "targets": [bluesky.id], "media": [{"url": long_clip}]})).await;
    assert_eq!(
        rules(&report, 0),
        [("video_not_supported".into(), "media[0] is a video; Posthorn does not upload video to bluesky yet".into())]
    );
}

#[tokio::test]
async fn the_sandbox_publishes_video_and_forces_a_processing_timeout() {
    let fixture = Fixture::start(StoreKind::Sqlite).await;
    let channels = fixture.sandbox(2).await;
    let media = json!([{"url": "https://hooks.example.com/clip.mp4"}]);
    let post = fixture
        .create(json!({"text": "Reel #fail:processing_timeout:sandbox-2", "targets": ids(&channels), "media": media}))
        .await;
    assert_eq!(post["media"][0]["type"], "video");
    let id = post["id"].as_str().unwrap();

    fixture.run_process_queue().await;
    let paused = fixture.get(id).await;
    assert_eq!(paused["status"], "publishing");
    assert_eq!(paused["targets"][0]["status"], "published");
    assert_eq!(paused["targets"][1]["status"], "pending");
    assert!(paused["targets"][1]["error"]["message"].as_str().unwrap().contains("processing the video"));
    for _ in 0..2 {
        fixture.clock.advance(time::Duration::seconds(6));
        fixture.run_process_queue().await;
    }

    let settled = fixture.get(id).await;
    assert_eq!(settled["status"], "partial");
    assert_eq!(settled["targets"][1]["error"]["code"], "invalid_media");
    assert!(settled["targets"][1]["error"]["message"].as_str().unwrap().contains("still processing after 3 checks"));
}

#[tokio::test]
async fn a_platform_that_takes_no_video_yet_refuses_it_at_create_naming_the_target() {
    let fixture = Fixture::start(StoreKind::Sqlite).await;
    let instagram = fixture.channel(Platform::Instagram, "ig-1", ConnectionStatus::Active).await;
    let body = json!({"text": "Reel", "targets": [instagram.id], "media": [{"url": "https://hooks.example.com/v", "type": "video"}]});

    let reply = fixture.app.call(Method::POST, "/v1/posts", Some(body)).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let expected = format!(
        "targets[0] (instagram {}): media[0] is a video; Posthorn does not upload video to instagram yet",
        instagram.id
    );
    assert_eq!(reply.error(), expected);
}
