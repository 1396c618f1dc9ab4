//! What a media item is, as read from its content rather than its URL: image or video, its real
//! media type, its size, dimensions and, for a video, its duration and codec.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether a media item is a still image or a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

/// File extensions of the video containers platforms take.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "webm"];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp"];

impl MediaKind {
    /// The kind a URL's path extension names, if it names one.
    pub fn of_url(raw: &str) -> Option<Self> {
        let url = url::Url::parse(raw).ok()?;
        let path = url.path().to_ascii_lowercase();
        let (_, extension) = path.rsplit_once('.')?;
        if IMAGE_EXTENSIONS.contains(&extension) {
            Some(Self::Image)
        } else {
            VIDEO_EXTENSIONS.contains(&extension).then_some(Self::Video)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
        }
    }
}

/// What the first bytes of a media item (and, for an MP4 or QuickTime video, its `moov` box)
/// say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFacts {
    pub kind: MediaKind,
    /// The media type its content has, e.g. `image/jpeg` or `video/mp4`.
    pub media_type: String,
    /// Its size in bytes, where the server said.
    pub bytes: Option<u64>,
    /// Width and height in pixels, where they could be read.
    pub dimensions: Option<(u32, u32)>,
    /// How long a video plays.
    pub duration: Option<Duration>,
    /// The sample entry (codec) of a video's picture track, e.g. `avc1` (H.264) or `hvc1` (HEVC).
    pub video_codec: Option<String>,
}
