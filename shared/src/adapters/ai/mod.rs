//! The AI providers: an OpenAI-compatible adapter (OpenAI, Azure OpenAI, vLLM, Ollama, LM
//! Studio) and a built-in offline provider for the dev server, and their configuration.

mod offline;
mod openai;

pub use offline::OfflineProvider;
pub use openai::OpenAiProvider;

use std::sync::Arc;
use std::time::Duration;

use crate::model::error::Result;
use crate::ports::ai::AiProvider;

/// Which AI provider text-assist, media-assist and generate-content use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiConfig {
    /// The built-in provider: deterministic, needs no network, and says it is offline in every
    /// output.
    Offline,
    /// Any server speaking the OpenAI chat-completions and images API: OpenAI, Azure OpenAI
    /// (its `/openai/v1` endpoint), vLLM, Ollama, LM Studio.
    OpenAi(OpenAiConfig),
}

#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// Ends before `/chat/completions`, like `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`.
    pub base_url: String,
    /// Sent as a bearer token (and as `api-key` to Azure); local servers need none.
    pub api_key: Option<String>,
    pub text_model: String,
    pub image_model: String,
    /// How long one AI call may take, its retries included, before it is abandoned.
    pub timeout: Duration,
    /// How often a 429 or 5xx answer is retried (with backoff).
    pub max_retries: u32,
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("text_model", &self.text_model)
            .field("image_model", &self.image_model)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// The provider `config` names.
pub fn provider(config: &AiConfig) -> Result<Arc<dyn AiProvider>> {
    Ok(match config {
        AiConfig::Offline => Arc::new(OfflineProvider),
        AiConfig::OpenAi(openai) => Arc::new(OpenAiProvider::new(openai.clone())?),
    })
}
