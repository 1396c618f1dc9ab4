//! Platforms as the domain sees them (SPEC §7): which networks exist, what each accepts (its
//! limits, in its own unit of length), the media a post carries, the engagement figures a
//! platform reports, and the stable codes its failures map to.

pub mod emoji;
pub mod limits;
pub mod links;
pub mod media;

pub use limits::{AspectRange, ImageFormat, ImageRules, InstanceLimits, Limits, Oversize, Ratio, TextUnit, VideoRules};
pub use media::{MediaFacts, MediaKind};

use serde::{Deserialize, Serialize};

/// Every platform Posthorn publishes to. `Sandbox` publishes nowhere (see `sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Mastodon,
    Bluesky,
    X,
    Linkedin,
    Facebook,
    Instagram,
    Threads,
    Sandbox,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Self::Mastodon,
        Self::Bluesky,
        Self::X,
        Self::Linkedin,
        Self::Facebook,
        Self::Instagram,
        Self::Threads,
        Self::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mastodon => "mastodon",
            Self::Bluesky => "bluesky",
            Self::X => "x",
            Self::Linkedin => "linkedin",
            Self::Facebook => "facebook",
            Self::Instagram => "instagram",
            Self::Threads => "threads",
            Self::Sandbox => "sandbox",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|platform| platform.as_str() == name)
    }
}

/// An image or a video to attach, fetched from a user-supplied URL through the SSRF guard (or
/// handed to the platform to fetch, where its API takes a URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaItem {
    pub url: String,
    pub alt: Option<String>,
    /// What the caller declared, else what the URL's extension says; `None` when neither says.
    /// Its content, read before anything is published, decides.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MediaKind>,
}

impl MediaItem {
    /// An item of the kind its URL's extension names, if any.
    pub fn new(url: impl Into<String>, alt: Option<String>) -> Self {
        let url = url.into();
        let kind = MediaKind::of_url(&url);
        Self { url, alt, kind }
    }
}

/// Engagement figures; `None` where the platform does not offer the figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metrics {
    pub views: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
}

/// The stable codes platform failures map to (SPEC §4 `error.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    RateLimited,
    AuthExpired,
    /// The user removed Posthorn's access on the platform; the connection is revoked.
    AuthRevoked,
    InvalidMedia,
    ContentRejected,
    ContentTooLong,
    PlatformUnavailable,
    PlatformError,
}

impl ErrorCode {
    /// The platform refused the token: worth one refresh before giving up.
    pub fn is_refused_token(self) -> bool {
        matches!(self, Self::AuthExpired | Self::AuthRevoked)
    }
}
