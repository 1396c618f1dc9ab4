//! The adapter for any server speaking the OpenAI API: `POST {base}/chat/completions` and
//! `POST {base}/images/generations`, with a bearer key (and `api-key` for Azure OpenAI).
//!
//! Requests go through the one [`OutboundClient`], but with a guard that allows private
//! addresses and plain http: the base URL is operator configuration, never user input, and a
//! local Ollama (`http://localhost:11434/v1`) or vLLM must be reachable. Redirects are still
//! not followed. The configured timeout bounds each call, retries included; 429 and 5xx answers
//! are retried with exponential backoff (honouring `Retry-After`, capped) while time is left;
//! anything else fails at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapters::ai::OpenAiConfig;
use crate::adapters::outbound::{FullResponse, OutboundClient, SendError, SystemResolver, UrlGuard};
use crate::model::error::{Error, Result};
use crate::ports::ai::{AiProvider, ChatRequest, GeneratedImage, ImageRequest};

/// The largest answer read (base64 images are big).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait before a retry, whatever `Retry-After` asks for.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How much of a provider's error message is passed on.
const MAX_ERROR_MESSAGE: usize = 300;

pub struct OpenAiProvider {
    client: OutboundClient,
    config: OpenAiConfig,
    backoff: Duration,
}

impl OpenAiProvider {
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let operator_configured = UrlGuard::new(Arc::new(SystemResolver), true);
        let client = OutboundClient::new(operator_configured, &[])?;
        Ok(Self { client, config, backoff: DEFAULT_BACKOFF })
    }

    /// The first wait before a retry (doubled on each further one); tests shorten it.
    pub fn with_backoff(self, backoff: Duration) -> Self {
        Self { backoff, ..self }
    }

    /// POSTs `body` to `{base}{path}`, retrying 429 and 5xx, and returns the JSON answer. The
    /// configured timeout bounds the whole call, retries and their waits included, so a
    /// function's budget counts it once.
    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.config.base_url);
        let deadline = Instant::now() + self.config.timeout;
        let mut retries = 0;
        loop {
            let response = self.send(&url, body, deadline).await?;
            if response.is_success() {
                return serde_json::from_slice(&response.body)
                    .map_err(|_| Error::BadGateway("the AI provider's answer is not JSON".into()));
            }
            let retryable = response.status == 429 || response.status >= 500;
            let wait = response.retry_after().unwrap_or(self.backoff * 2u32.pow(retries)).min(MAX_BACKOFF);
            let time_left = Instant::now() + wait < deadline;
            if !retryable || retries >= self.config.max_retries || !time_left {
                return Err(self.provider_error(&response));
            }
            tracing::warn!(
                status = response.status,
                retry_in_ms = wait.as_millis() as u64,
                "AI provider busy; retrying"
            );
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    async fn send(&self, url: &str, body: &Value, deadline: Instant) -> Result<FullResponse> {
        let mut request = self
            .client
            .request(Method::POST, url)
            .await
            .map_err(|error| Error::Unavailable(format!("the AI provider URL cannot be used: {error}")))?
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.config.api_key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
            if is_azure(url) {
                request = request.header("api-key", key);
            }
        }
        self.client.execute(request, MAX_RESPONSE_BYTES).await.map_err(|error| match error {
            SendError::Timeout => {
                Error::Unavailable(format!("the AI provider did not answer within {} s", self.config.timeout.as_secs()))
            }
            SendError::Connect(reason) => Error::Unavailable(format!("the AI provider is unreachable: {reason}")),
            other => Error::BadGateway(format!("the AI provider request failed: {other}")),
        })
    }

    /// The error for a non-2xx answer, with the provider's own message (`{"error": {"message"}}`).
    fn provider_error(&self, response: &FullResponse) -> Error {
        let message = serde_json::from_slice::<ErrorAnswer>(&response.body)
            .ok()
            .map(|answer| answer.error.message())
            .unwrap_or_default();
        let message = self.redact(&message);
        let status = response.status;
        match status {
            429 => Error::Unavailable(format!("the AI provider is rate limiting requests (HTTP 429): {message}")),
            500.. => Error::Unavailable(format!("the AI provider is failing (HTTP {status}): {message}")),
            _ => Error::BadGateway(format!("the AI provider refused the request (HTTP {status}): {message}")),
        }
    }

    /// The provider's message, cut short and without the API key.
    fn redact(&self, message: &str) -> String {
        let short: String = message.chars().take(MAX_ERROR_MESSAGE).collect();
        match &self.config.api_key {
            Some(key) if !key.is_empty() => short.replace(key.as_str(), "<api key>"),
            _ => short,
        }
    }
}

fn is_azure(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|host| host.ends_with(".openai.azure.com") || host.ends_with(".cognitiveservices.azure.com"))
}

/// OpenAI's error body: `{"error": {"message", "type", "code"}}` (some servers send a string).
#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorDetail {
    Object { message: Option<String> },
    Text(String),
}

impl ErrorDetail {
    fn message(self) -> String {
        match self {
            Self::Object { message } => message.unwrap_or_default(),
            Self::Text(text) => text,
        }
    }
}

#[derive(Deserialize)]
struct ChatAnswer {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct ImagesAnswer {
    data: Vec<ImageData>,
}

#[derive(Deserialize)]
struct ImageData {
    url: Option<String>,
    b64_json: Option<String>,
    revised_prompt: Option<String>,
}

fn unreadable(what: &str) -> Error {
    Error::BadGateway(format!("the AI provider's answer has no {what}"))
}

#[async_trait]
impl AiProvider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn chat(&self, request: &ChatRequest) -> Result<String> {
        let body = json!({
            "model": self.config.text_model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
        });
        let answer: ChatAnswer =
            serde_json::from_value(self.post("/chat/completions", &body).await?).map_err(|_| unreadable("choices"))?;
        let text = answer.choices.into_iter().next().and_then(|choice| choice.message.content).unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            return Err(unreadable("text"));
        }
        Ok(text.to_string())
    }

    async fn images(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let body = json!({
            "model": self.config.image_model,
            "prompt": request.prompt,
            "n": request.n,
            "size": request.size,
        });
        let answer: ImagesAnswer =
            serde_json::from_value(self.post("/images/generations", &body).await?).map_err(|_| unreadable("data"))?;
        let images: Vec<GeneratedImage> = answer
            .data
            .into_iter()
            .filter(|image| image.url.is_some() || image.b64_json.is_some())
            .map(|image| GeneratedImage {
                url: image.url,
                b64_json: image.b64_json,
                revised_prompt: image.revised_prompt,
            })
            .collect();
        if images.is_empty() {
            return Err(unreadable("images"));
        }
        Ok(images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_hosts_are_recognised() {
        assert!(is_azure("https://mine.openai.azure.com/openai/v1/chat/completions"));
        assert!(!is_azure("https://api.openai.com/v1/chat/completions"));
        assert!(!is_azure("http://localhost:11434/v1/chat/completions"));
    }
}
