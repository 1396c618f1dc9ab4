//! A video on X through the chunked media upload of API v2
//! (<https://docs.x.com/x-api/media/quickstart/media-upload-chunked>): `initialize` with the
//! size and type, `append` each segment (multipart, `segment_index`), `finalize`, then the
//! `STATUS` command until processing succeeds; the post then carries the media id.
//!
//! The video is streamed from its URL a segment at a time (one range request each), so memory
//! holds one segment whatever the video's size. A try appends at most
//! [`VideoUpload::segments_per_try`] segments, and none after [`VideoUpload::try_time`] (so a
//! process-queue run stays within its Lambda timeout), then pauses the target with the step reached (`video:{media id}:append:{next
//! segment}`, or `video:{media id}:processing@{unix seconds}` while X processes it); the next run
//! resumes from that step, so a crash or a lost run costs at most one try's segments and never a
//! second post. A video X refuses, or still processing after [`PROCESSING_GIVE_UP`], fails with
//! `invalid_media` and no step: a retry starts a new upload.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::http;
use crate::adapters::platforms::media::{fetch_range, read_content};
use crate::adapters::platforms::x::{Data, Dialect};
use crate::model::platforms::{ErrorCode, MediaFacts, MediaItem, MediaKind, Platform};
use crate::model::posts::validate::content_problems;
use crate::ports::platforms::{ChannelAuth, PlatformError};

/// X's media category of videos attached to posts.
const VIDEO_CATEGORY: &str = "tweet_video";
/// How long X may process a video before it is given up.
pub const PROCESSING_GIVE_UP: Duration = Duration::from_secs(10 * 60);
/// When X names no `check_after_secs`.
const DEFAULT_CHECK_AFTER: Duration = Duration::from_secs(5);

/// How a video is cut and how much of it one try uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoUpload {
    /// The size of each appended segment (X takes segments of up to 5 MB... and at most 1,000).
    pub segment_bytes: usize,
    /// How many segments one try appends before it pauses the target.
    pub segments_per_try: u32,
    /// How long a try appends segments: none is begun after this.
    pub try_time: Duration,
}

impl Default for VideoUpload {
    /// 4 MiB segments, at most 64 of them (256 MiB) and 20 seconds a try.
    fn default() -> Self {
        Self { segment_bytes: 4 * 1024 * 1024, segments_per_try: 64, try_time: Duration::from_secs(20) }
    }
}

/// Where a video upload stands, as kept on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum VideoStep {
    Appending { media_id: String, next_segment: u32 },
    Processing { media_id: String, since: OffsetDateTime },
}

impl VideoStep {
    pub(super) fn parse(stored: &str) -> Option<Self> {
        let rest = stored.strip_prefix("video:")?;
        let (media_id, stage) = rest.split_once(':')?;
        let media_id = media_id.to_string();
        if let Some(next) = stage.strip_prefix("append:") {
            return Some(Self::Appending { media_id, next_segment: next.parse().ok()? });
        }
        let since = stage.strip_prefix("processing@")?.parse().ok()?;
        Some(Self::Processing { media_id, since: OffsetDateTime::from_unix_timestamp(since).ok()? })
    }

    fn stored(&self) -> String {
        match self {
            Self::Appending { media_id, next_segment } => format!("video:{media_id}:append:{next_segment}"),
            Self::Processing { media_id, since } => format!("video:{media_id}:processing@{}", since.unix_timestamp()),
        }
    }

    fn paused(&self, message: String, after: Duration) -> PlatformError {
        PlatformError::not_ready(message, self.stored(), after)
    }
}

#[derive(Deserialize)]
struct Session {
    id: String,
}

#[derive(Deserialize)]
struct Uploaded {
    processing_info: Option<ProcessingInfo>,
}

#[derive(Deserialize)]
struct ProcessingInfo {
    state: Option<String>,
    check_after_secs: Option<u64>,
}

pub(super) struct Uploader<'a> {
    pub http: &'a OutboundClient,
    pub auth: &'a ChannelAuth,
    pub upload: VideoUpload,
}

impl Uploader<'_> {
    /// Takes the upload of `item` one try further: the media id once X has processed it, or a
    /// pause with the step reached.
    pub(super) async fn advance(&self, item: &MediaItem, step: Option<VideoStep>) -> Result<String, PlatformError> {
        let facts = self.checked(item).await?;
        let total = facts.bytes.ok_or_else(|| invalid(item, "has no known size (no Content-Length)"))?;
        let step = match step {
            Some(step) => step,
            None => VideoStep::Appending { media_id: self.initialize(&facts, total).await?, next_segment: 0 },
        };
        match step {
            VideoStep::Appending { media_id, next_segment } => {
                self.append_from(item, &media_id, next_segment, total).await
            }
            VideoStep::Processing { media_id, since } => self.check_processing(&media_id, since).await,
        }
    }

    /// The video's facts, once they pass X's rules.
    async fn checked(&self, item: &MediaItem) -> Result<MediaFacts, PlatformError> {
        let facts = read_content(self.http, &item.url).await.map_err(|reason| invalid(item, &reason))?;
        if facts.kind != MediaKind::Video {
            return Err(invalid(item, &format!("is {}, not a video", facts.media_type)));
        }
        let limits = Platform::X.limits();
        if let Some(problem) = content_problems(0, &facts, &limits, Platform::X).into_iter().next() {
            let message = format!("x ({}): {}", problem.rule, problem.message);
            return Err(PlatformError::new(ErrorCode::InvalidMedia, message));
        }
        Ok(facts)
    }

    async fn initialize(&self, facts: &MediaFacts, total: u64) -> Result<String, PlatformError> {
        let url = http::endpoint(&self.auth.base_url, "/2/media/upload/initialize");
        let body = json!({ "media_type": facts.media_type, "total_bytes": total, "media_category": VIDEO_CATEGORY });
        let request = http::authorized(self.http, Method::POST, &url, &self.auth.access_token).await?.json(&body);
        let session: Data<Session> =
            http::send_json::<Dialect, _>(self.http, request).await.map_err(http::as_media_error)?;
        Ok(session.data.id)
    }

    /// Appends the segments from `next` on, at most a try's worth, then finalizes once all are in.
    async fn append_from(
        &self,
        item: &MediaItem,
        media_id: &str,
        next: u32,
        total: u64,
    ) -> Result<String, PlatformError> {
        let segment_bytes = self.upload.segment_bytes as u64;
        let segments = total.div_ceil(segment_bytes) as u32;
        let mut until = segments.min(next.saturating_add(self.upload.segments_per_try));
        let started = std::time::Instant::now();
        for index in next..until {
            if started.elapsed() >= self.upload.try_time {
                until = index;
                break;
            }
            let offset = u64::from(index) * segment_bytes;
            let length = segment_bytes.min(total - offset) as usize;
            let segment =
                fetch_range(self.http, &item.url, offset, length).await.map_err(|reason| invalid(item, &reason))?;
            self.append(media_id, index, segment.body).await.map_err(|error| {
                let step = VideoStep::Appending { media_id: media_id.to_string(), next_segment: index };
                keep_step(error, &step)
            })?;
        }
        if until < segments {
            let step = VideoStep::Appending { media_id: media_id.to_string(), next_segment: until };
            let message = format!("x: {until} of {segments} video segments uploaded; the next run uploads the rest");
            return Err(step.paused(message, Duration::ZERO));
        }
        self.finalize(media_id).await
    }

    async fn append(&self, media_id: &str, index: u32, bytes: Vec<u8>) -> Result<(), PlatformError> {
        let url = http::endpoint(&self.auth.base_url, &format!("/2/media/upload/{media_id}/append"));
        let part = Part::bytes(bytes)
            .file_name("segment")
            .mime_str("application/octet-stream")
            .map_err(|e| PlatformError::new(ErrorCode::PlatformError, e.to_string()))?;
        let form = Form::new().text("segment_index", index.to_string()).part("media", part);
        let request = http::authorized(self.http, Method::POST, &url, &self.auth.access_token).await?.multipart(form);
        http::send::<Dialect>(self.http, request).await.map(drop).map_err(http::as_media_error)
    }

    async fn finalize(&self, media_id: &str) -> Result<String, PlatformError> {
        let url = http::endpoint(&self.auth.base_url, &format!("/2/media/upload/{media_id}/finalize"));
        let request = http::authorized(self.http, Method::POST, &url, &self.auth.access_token).await?;
        let finalized: Data<Uploaded> =
            http::send_json::<Dialect, _>(self.http, request).await.map_err(http::as_media_error)?;
        let since = OffsetDateTime::now_utc();
        self.settle(media_id, finalized.data.processing_info, since)
    }

    async fn check_processing(&self, media_id: &str, since: OffsetDateTime) -> Result<String, PlatformError> {
        let url = http::endpoint(&self.auth.base_url, "/2/media/upload");
        let request = http::authorized(self.http, Method::GET, &url, &self.auth.access_token)
            .await?
            .query(&[("command", "STATUS"), ("media_id", media_id)]);
        let status: Data<Uploaded> = http::send_json::<Dialect, _>(self.http, request)
            .await
            .map_err(|error| keep_step(error, &VideoStep::Processing { media_id: media_id.to_string(), since }))?;
        self.settle(media_id, status.data.processing_info, since)
    }

    /// The media id once processing succeeded (or X reports none), a pause while it goes on.
    fn settle(
        &self,
        media_id: &str,
        info: Option<ProcessingInfo>,
        since: OffsetDateTime,
    ) -> Result<String, PlatformError> {
        let Some(info) = info else { return Ok(media_id.to_string()) };
        match info.state.as_deref() {
            Some("succeeded") | None => Ok(media_id.to_string()),
            Some("failed") => Err(PlatformError::new(ErrorCode::InvalidMedia, "x could not process the video")),
            Some(_) if elapsed(since) >= PROCESSING_GIVE_UP => Err(PlatformError::new(
                ErrorCode::InvalidMedia,
                format!(
                    "x was still processing the video after {} minutes; a retry starts over",
                    PROCESSING_GIVE_UP.as_secs() / 60
                ),
            )),
            Some(_) => {
                let after = info.check_after_secs.map_or(DEFAULT_CHECK_AFTER, Duration::from_secs);
                let step = VideoStep::Processing { media_id: media_id.to_string(), since };
                Err(step.paused(format!("x is processing the video; checked again in {} s", after.as_secs()), after))
            }
        }
    }
}

fn elapsed(since: OffsetDateTime) -> Duration {
    Duration::try_from(OffsetDateTime::now_utc() - since).unwrap_or_default()
}

/// An error after the upload session exists carries its step, unless the media itself is
/// refused (then a retry starts over).
fn keep_step(mut error: PlatformError, step: &VideoStep) -> PlatformError {
    if error.code != ErrorCode::InvalidMedia {
        error.progress = Some(step.stored());
    }
    error
}

fn invalid(item: &MediaItem, reason: &str) -> PlatformError {
    PlatformError::new(ErrorCode::InvalidMedia, format!("media {}: {reason}", item.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        let appending = VideoStep::Appending { media_id: "1880028106020515840".into(), next_segment: 64 };
        assert_eq!(appending.stored(), "video:1880028106020515840:append:64");
        assert_eq!(VideoStep::parse(&appending.stored()), Some(appending));
        let since = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let processing = VideoStep::Processing { media_id: "1".into(), since };
        assert_eq!(VideoStep::parse(&processing.stored()), Some(processing));
        assert_eq!(VideoStep::parse("c-1@1790000000"), None);
    }
}
