//! The AI provider port (SPEC §2, §7): chat completions and image generation, behind which sit
//! an OpenAI-compatible adapter and a built-in offline provider.
//!
//! Provider failures surface as [`Error::Unavailable`](crate::model::error::Error::Unavailable) (503: down,
//! timed out, or still 429/5xx after retries) or [`Error::BadGateway`](crate::model::error::Error::BadGateway)
//! (502: the provider refused the request or answered with something unreadable).

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::error::Result;

/// One chat completion: the instructions (system message) and the material (user message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub system: String,
    /// The material to work on. The offline provider echoes its first paragraph.
    pub user: String,
}

/// An image generation request, already checked against Posthorn's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRequest {
    pub prompt: String,
    /// `WIDTHxHEIGHT`, one of [`IMAGE_SIZES`].
    pub size: String,
    pub n: u8,
}

/// The image sizes media-assist accepts (those the OpenAI images API knows).
pub const IMAGE_SIZES: [&str; 7] =
    ["256x256", "512x512", "1024x1024", "1792x1024", "1024x1792", "1536x1024", "1024x1536"];

/// One generated image, as the provider gave it: a URL or base64 data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GeneratedImage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// The prompt the provider actually used, when it rewrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

/// Generates text and images.
#[async_trait]
pub trait AiProvider: Send + Sync {
    /// `offline` or `openai`, shown in responses so nobody mistakes offline output for a model's.
    fn name(&self) -> &'static str;
    /// The text of one chat completion.
    async fn chat(&self, request: &ChatRequest) -> Result<String>;
    async fn images(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>>;
}
