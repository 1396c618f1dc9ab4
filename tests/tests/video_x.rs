//! A video on X through the chunked upload against the stateful X fake (every JSON and multipart
//! body and every answer checked against X's OpenAPI document): streamed from its host a segment
//! at a time, a bounded number of segments per try, each try resuming from the step the last one
//! kept — also after a run that died, and after a failed segment — then processing polled until
//! X has finished, and one post carrying the media id.

use std::sync::Arc;

use posthorn::adapters::clock::ManualClock;
use posthorn::adapters::platforms::X;
use posthorn::adapters::platforms::x::VideoUpload;
use posthorn::model::platforms::{ErrorCode, MediaItem};
use posthorn::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};
use posthorn_testkit::media_host::MediaHost;
use posthorn_testkit::platforms::{new_target_key, outbound};
use posthorn_testkit::x_fake::XFake;
use time::OffsetDateTime;

const MB: u64 = 1024 * 1024;

async fn fake() -> (XFake, ChannelAuth) {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let fake = XFake::start(clock, time::Duration::hours(2)).await;
    let tokens = fake.authorize();
    let auth = ChannelAuth {
        base_url: fake.base_url.clone(),
        access_token: tokens.access,
        platform_channel_id: posthorn_testkit::x_fake::USER_ID.into(),
    };
    (fake, auth)
}

fn x() -> X {
    X::new(outbound()).with_video_upload(VideoUpload {
        segment_bytes: MB as usize,
        segments_per_try: 8,
        ..VideoUpload::default()
    })
}

fn request(url: &str, resume_from: Option<String>) -> PublishRequest {
    let media = vec![MediaItem::new(url, None)];
    PublishRequest { target_key: new_target_key(), text: "Our launch film".into(), media, resume_from }
}

/// Publishes as process-queue does: each paused try's step is handed to the next; returns the
/// outcome and the steps kept on the way.
async fn publish_until_done(
    x: &X,
    auth: &ChannelAuth,
    url: &str,
    mut step: Option<String>,
) -> (Result<Published, PlatformError>, Vec<String>) {
    let mut steps = Vec::new();
    loop {
        match x.publish(auth, &request(url, step.clone())).await {
            Err(error) if error.resumes_after().is_some() => {
                step = error.progress.clone();
                steps.push(step.clone().unwrap());
            }
            outcome => return (outcome, steps),
        }
    }
}

#[tokio::test]
async fn a_video_is_uploaded_in_segments_over_several_tries_then_posted_once_processed() {
    let (fake, auth) = fake().await;
    let host = MediaHost::start().await;
    let clip = host.mp4("/launch.mp4", 20 * MB, 1280, 720, 30);
    fake.process_videos_for(2);

    let (outcome, steps) = publish_until_done(&x(), &auth, &clip, None).await;

    let published = outcome.expect("published");
    let uploads = fake.uploads();
    let (media_id, upload) = uploads.iter().next().unwrap();
    assert_eq!(uploads.len(), 1, "one upload session");
    assert_eq!((upload.media_type.as_str(), upload.total_bytes), ("video/mp4", 20 * MB));
    assert_eq!(upload.appends, 20, "each segment sent once");
    assert!(upload.segments.values().all(|bytes| *bytes == MB));
    let prefix = format!("video:{media_id}:");
    let stages: Vec<&str> = steps.iter().map(|step| step.strip_prefix(&prefix).unwrap()).collect();
    assert_eq!(&stages[..2], ["append:8", "append:16"]);
    assert!(stages[2].starts_with("processing@") && stages.len() == 4, "{stages:?}");
    assert_eq!(fake.tweets(), 1);
    assert_eq!(fake.posted_media(), [serde_json::json!([media_id])]);
    assert!(published.platform_post_id.starts_with("18"));
}

#[tokio::test]
async fn a_run_that_died_and_a_failed_segment_resume_from_the_kept_step() {
    let (fake, auth) = fake().await;
    let host = MediaHost::start().await;
    let clip = host.mp4("/launch.mp4", 20 * MB, 1280, 720, 30);
    let x = x();
    let first = x.publish(&auth, &request(&clip, None)).await.unwrap_err();
    let kept = first.progress.clone().unwrap();

    // A run resumed from the kept step and died before its step was saved: the next run resumes
    // from the same step, sending at most one try's segments again.
    let _lost = x.publish(&auth, &request(&clip, Some(kept.clone()))).await;
    fake.fail_segment_once(12);
    let failed = x.publish(&auth, &request(&clip, Some(kept))).await.unwrap_err();
    assert_eq!(failed.code, ErrorCode::PlatformUnavailable);
    assert!(failed.progress.as_deref().unwrap().ends_with(":append:12"), "{failed:?}");
    let (outcome, _) = publish_until_done(&x, &auth, &clip, failed.progress).await;

    outcome.expect("published");
    let uploads = fake.uploads();
    let upload = uploads.values().next().unwrap();
    assert_eq!(uploads.len(), 1, "the same upload session throughout");
    assert_eq!(upload.segments.len(), 20);
    assert_eq!(upload.appends, 20 + 8, "only the lost try's 8 segments were sent twice");
    assert_eq!(fake.tweets(), 1);
}

#[tokio::test]
async fn a_video_x_does_not_take_is_refused_before_any_upload() {
    let (fake, auth) = fake().await;
    let host = MediaHost::start().await;
    let long = host.mp4("/long.mp4", 2 * MB, 1280, 720, 200);

    let error = x().publish(&auth, &request(&long, None)).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert_eq!(
        error.message,
        "x (video_duration): media[0] lasts 200.0 seconds; x takes videos from 0.5 to 140 seconds"
    );
    assert!(fake.uploads().is_empty());
}

#[tokio::test]
async fn an_item_declared_a_video_whose_content_is_an_image_is_refused() {
    let (fake, auth) = fake().await;
    let host = MediaHost::start().await;
    let still = host.bytes("/still", "video/mp4", posthorn_testkit::platforms::PNG.to_vec());
    let media =
        vec![MediaItem { kind: Some(posthorn::model::platforms::MediaKind::Video), ..MediaItem::new(still, None) }];
    let post = PublishRequest { media, ..request("https://unused.example/x.mp4", None) };

    let error = x().publish(&auth, &post).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::InvalidMedia);
    assert!(error.message.ends_with("is image/png, not a video"), "{error:?}");
    assert!(fake.uploads().is_empty());
}
