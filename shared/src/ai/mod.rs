//! The AI provider port (SPEC §2, §7) and what is built on it: an OpenAI-compatible adapter
//! (OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio), a built-in offline provider for the dev
//! server, fitting generated text to a platform's limit, and the text-assist and media-assist
//! functions.
//!
//! Provider failures surface as [`Error::Unavailable`](crate::Error::Unavailable) (503: down,
//! timed out, or still 429/5xx after retries) or [`Error::BadGateway`](crate::Error::BadGateway)
//! (502: the provider refused the request or answered with something unreadable).

mod assist;
pub mod fit;
mod offline;
mod openai;

pub use assist::{media_assist_routes, text_assist_routes};
pub use offline::OfflineProvider;
pub use openai::OpenAiProvider;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::AiConfig;
use crate::error::Result;

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

/// The provider `config` names.
pub fn provider(config: &AiConfig) -> Result<Arc<dyn AiProvider>> {
    Ok(match config {
        AiConfig::Offline => Arc::new(OfflineProvider),
        AiConfig::OpenAi(openai) => Arc::new(OpenAiProvider::new(openai.clone())?),
    })
}
