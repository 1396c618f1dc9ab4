//! A local server reproducing the OpenAI API shapes Posthorn uses: `POST /v1/chat/completions`
//! (`{choices: [{message: {content}}]}`) and `POST /v1/images/generations`
//! (`{created, data: [{url} | {b64_json}]}`), with OpenAI's error bodies
//! (`{"error": {"message", "type", "param", "code"}}`), `Retry-After`, and slow answers. It
//! records every request so tests can assert the prompts that were sent, answers requests that
//! run at once by what their system prompt says (so their order does not matter), and counts
//! how many it was answering at once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use posthorn::adapters::ai::OpenAiConfig;
use posthorn::adapters::ai::OpenAiProvider;
use serde_json::{Value, json};

/// The API key tests configure the provider with.
pub const API_KEY: &str = "sk-test-0123456789";

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A chat completion with this text.
    Text(String),
    /// An images answer with these `data` items.
    Images(Vec<Value>),
    /// An OpenAI error body with this status, message and type, and an optional `Retry-After`.
    Error { status: u16, message: String, kind: &'static str, retry_after: Option<u64> },
    /// A body that is not JSON.
    Garbage(u16),
    /// The default answer, after this long.
    Slow(Duration),
}

impl Answer {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn error(status: u16, message: &str) -> Self {
        let kind = match status {
            429 => "requests",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        };
        Self::Error { status, message: message.into(), kind, retry_after: None }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub authorization: String,
    pub body: Value,
}

impl Request {
    /// The system and user messages of a chat request.
    pub fn system(&self) -> &str {
        self.body["messages"][0]["content"].as_str().unwrap_or_default()
    }

    pub fn user(&self) -> &str {
        self.body["messages"][1]["content"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Answer>>,
    /// Answers for requests whose system prompt contains the key, tried before `script`.
    routed: Mutex<Vec<(String, VecDeque<Answer>)>>,
    in_flight: Mutex<(usize, usize)>,
    default_text: Mutex<String>,
    requests: Mutex<Vec<Request>>,
}

pub struct OpenAiFake {
    /// Like `http://127.0.0.1:PORT/v1`: what `POSTHORN_AI_BASE_URL` would be.
    pub base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl OpenAiFake {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        *shared.default_text.lock().expect("lock") = "A post written by the fake model.".into();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/images/generations", post(images))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fake port");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("fake address"));
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("fake server") });
        Self { base_url, shared, server }
    }

    /// A provider pointed at this fake: 1 s timeout, two retries, 10 ms backoff.
    pub fn provider(&self) -> Arc<OpenAiProvider> {
        Arc::new(OpenAiProvider::new(self.config()).expect("provider").with_backoff(Duration::from_millis(10)))
    }

    pub fn config(&self) -> OpenAiConfig {
        OpenAiConfig {
            base_url: self.base_url.clone(),
            api_key: Some(API_KEY.into()),
            text_model: "gpt-test".into(),
            image_model: "image-test".into(),
            timeout: Duration::from_secs(1),
            max_retries: 2,
        }
    }

    /// The next requests are answered with `answers`, in order; after them, the default.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().expect("lock").extend(answers);
    }

    /// Requests whose system prompt contains `needle` are answered with `answers`, in order,
    /// before any other script; keys are tried in the order they were given.
    pub fn script_when(&self, needle: &str, answers: impl IntoIterator<Item = Answer>) {
        self.shared.routed.lock().expect("lock").push((needle.into(), answers.into_iter().collect()));
    }

    /// The most requests the fake was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.in_flight.lock().expect("lock").1
    }

    /// What unscripted chat requests are answered with.
    pub fn set_default_text(&self, text: &str) {
        *self.shared.default_text.lock().expect("lock") = text.into();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// Stops answering: later requests cannot connect.
    pub fn stop(&self) {
        self.server.abort();
    }
}

impl Drop for OpenAiFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> Option<Answer> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    let request = Request { path: path.into(), authorization, body };
    let routed = shared
        .routed
        .lock()
        .expect("lock")
        .iter_mut()
        .find(|(needle, answers)| !answers.is_empty() && request.system().contains(needle.as_str()))
        .and_then(|(_, answers)| answers.pop_front());
    shared.requests.lock().expect("lock").push(request);
    routed.or_else(|| shared.script.lock().expect("lock").pop_front())
}

/// Counts a request as being answered until it is dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn start(shared: &Arc<Shared>) -> Self {
        let mut counts = shared.in_flight.lock().expect("lock");
        counts.0 += 1;
        counts.1 = counts.1.max(counts.0);
        Self(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.lock().expect("lock").0 -= 1;
    }
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let _counted = InFlight::start(&shared);
    let answer = record(&shared, "/v1/chat/completions", &headers, &body);
    let default = Answer::Text(shared.default_text.lock().expect("lock").clone());
    respond(answer.unwrap_or_else(|| default.clone()), default).await
}

async fn images(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let answer = record(&shared, "/v1/images/generations", &headers, &body);
    let default = Answer::Images(vec![json!({"url": "https://images.example.com/generated.png"})]);
    respond(answer.unwrap_or_else(|| default.clone()), default).await
}

async fn respond(answer: Answer, default: Answer) -> Response {
    match answer {
        Answer::Text(text) => axum::Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }))
        .into_response(),
        Answer::Images(data) => axum::Json(json!({"created": 1_700_000_000, "data": data})).into_response(),
        Answer::Error { status, message, kind, retry_after } => {
            let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
            let mut response = (StatusCode::from_u16(status).expect("status"), axum::Json(body)).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert("retry-after", seconds.into());
            }
            response
        }
        Answer::Garbage(status) => (StatusCode::from_u16(status).expect("status"), "<html>oops</html>").into_response(),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Box::pin(respond(default.clone(), default)).await
        }
    }
}
