//! The platform ports (SPEC §7) every social network's adapter implements: publish text and
//! images, delete, read metrics (`PlatformClient`), connect accounts (`Connector`), and poll and
//! answer comments, mentions and DMs (`InboxClient`).

pub mod connect;
pub mod inbox;

pub use connect::{
    AuthorizeRequest, ChannelPage, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, RemoteChannel, TokenGrant,
};
pub use inbox::{
    DmStatus, InboxClient, InboxSource, PollFrom, Polled, PushBatch, Pushed, PushedItem, RemoteInteraction, ReplyTarget,
};

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::platforms::{ErrorCode, MediaItem, Metrics, Platform};

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
