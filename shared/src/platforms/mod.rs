//! Platforms (SPEC §7): the ports every social network's adapter implements — publish text and
//! images, delete, read metrics (`PlatformClient`), and connect accounts (`Connector`) — each
//! speaking the platform's documented HTTP API at a configurable base URL, with the platform's
//! limits and its errors mapped to stable codes.

pub mod bluesky;
mod bluesky_richtext;
mod bluesky_session;
mod connect;
mod container;
pub mod facebook;
mod graph;
pub mod http;
pub mod instagram;
mod limits;
pub mod linkedin;
mod little_text;
pub mod mastodon;
pub mod media;
mod meta_login;
pub mod oauth;
pub mod pkce;
mod registry;
pub mod sandbox;
pub mod threads;
pub mod versions;
pub mod x;

pub use bluesky::Bluesky;
pub use connect::{
    AuthorizeRequest, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, RemoteChannel, TokenGrant,
};
pub use container::Polling;
pub use facebook::Facebook;
pub use instagram::Instagram;
pub use limits::{ImageFormat, ImageRules, InstanceLimits, Limits, Oversize, TextUnit};
pub use linkedin::Linkedin;
pub use mastodon::Mastodon;
pub use registry::PlatformRegistry;
pub use sandbox::Sandbox;
pub use threads::Threads;
pub use x::X;

use std::time::Duration;

use async_trait::async_trait;
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

/// What an adapter needs to act for one channel: where the API is and whose token to use.
#[derive(Clone)]
pub struct ChannelAuth {
    /// The API's base URL: the platform's own by default, a Mastodon instance, a Bluesky PDS, or
    /// a local fake in tests.
    pub base_url: String,
    pub access_token: String,
    /// The platform's id of the account or page posted as (Bluesky DID, LinkedIn person or
    /// organization URN, Facebook page id, Instagram user id, Threads user id; unused elsewhere).
    pub platform_channel_id: String,
}

impl std::fmt::Debug for ChannelAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelAuth")
            .field("base_url", &self.base_url)
            .field("platform_channel_id", &self.platform_channel_id)
            .finish_non_exhaustive()
    }
}

/// An image to attach, fetched from a user-supplied URL through the SSRF guard (or handed to the
/// platform to fetch, where its API takes a URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaItem {
    pub url: String,
    pub alt: Option<String>,
}

/// One post to publish on one channel.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The Posthorn target this publishes (its post and channel), the same on every retry:
    /// where a platform deduplicates requests (Mastodon's `Idempotency-Key`), the retry of one
    /// target is recognised while two posts with the same text stay two posts.
    pub target_key: String,
    pub text: String,
    pub media: Vec<MediaItem>,
    /// The step a multi-step publish reached on an earlier try (e.g. an Instagram container id),
    /// so a retry resumes instead of posting twice.
    pub resume_from: Option<String>,
}

/// A published post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub platform_post_id: String,
    /// The public URL of the post, where the platform's answer allows building one.
    pub url: Option<String>,
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
    InvalidMedia,
    ContentRejected,
    ContentTooLong,
    PlatformUnavailable,
    PlatformError,
}

/// A platform call that failed: the stable code, the platform's own message for the user, and
/// what the caller needs to continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct PlatformError {
    pub code: ErrorCode,
    pub message: String,
    /// From the platform's `Retry-After` or rate-limit reset, when it said.
    pub retry_after: Option<Duration>,
    /// The step a multi-step publish reached before failing, to resume from.
    pub progress: Option<String>,
}

impl PlatformError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, progress: None }
    }

    /// A multi-step publish under way on the platform (media still processing): not a failure
    /// but a pause, to resume from `progress` after `after`.
    pub fn not_ready(message: impl Into<String>, progress: String, after: Duration) -> Self {
        Self {
            code: ErrorCode::PlatformUnavailable,
            message: message.into(),
            retry_after: Some(after),
            progress: Some(progress),
        }
    }

    /// When to resume, if this is a [`not_ready`](Self::not_ready) pause.
    pub fn resumes_after(&self) -> Option<Duration> {
        match (self.code, &self.progress) {
            (ErrorCode::PlatformUnavailable, Some(_)) => self.retry_after,
            _ => None,
        }
    }
}

/// One platform's adapter.
#[async_trait]
pub trait PlatformClient: Send + Sync {
    fn platform(&self) -> Platform;
    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError>;
    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError>;
    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError>;
}
