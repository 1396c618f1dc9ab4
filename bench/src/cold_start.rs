//! Cold start of each function binary: the binary is started as a child process against a
//! minimal Lambda Runtime API on loopback (`/runtime/invocation/next` hands it one event from
//! `events/`, `/response` or `/error` records its answer). Measured: the time from spawn to its
//! first `next` call (initialisation: configuration, adapters, router), the time from spawn to
//! the answer, the answer itself, and the child's peak RSS (VmHWM, read while it waits for the
//! next event).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot};

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// One function to start: its binary, the event it is sent, and its environment.
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub event: String,
    pub env: Vec<(String, String)>,
}

/// How one cold start went.
pub struct ColdStart {
    /// From spawn to the first `next` call.
    pub init: Duration,
    /// From spawn to the answer's arrival.
    pub elapsed: Duration,
    pub peak_rss_kib: u64,
    /// What the function answered: `ok`, the HTTP status it returned, or the error it reported.
    pub answer: String,
}

#[derive(Default)]
struct RuntimeApi {
    event: String,
    /// When the first `next` call came.
    polled: Mutex<Option<Instant>>,
    answered: Mutex<Option<oneshot::Sender<Answer>>>,
    /// Releases the second `next` call, which blocks until the measurement ends.
    done: Notify,
}

enum Answer {
    Response(Bytes),
    Error(Bytes),
}

/// Starts `launch.binary` with a fresh runtime API and waits for its first answer.
pub async fn measure(launch: &Launch<'_>, log: &Path) -> Result<ColdStart, String> {
    let (answered, answer) = oneshot::channel();
    let api = Arc::new(RuntimeApi {
        event: launch.event.clone(),
        answered: Mutex::new(Some(answered)),
        ..RuntimeApi::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let app = router(api.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    let mut child = spawn(launch, address, log)?;
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
    let elapsed = started.elapsed();
    let init = api.polled.lock().expect("not poisoned").map_or(elapsed, |at| at.duration_since(started));
    let peak_rss_kib = peak_rss_kib(child.id());
    child.kill().map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    api.done.notify_waiters();
    server.abort();

    let answer = match answer {
        Ok(Ok(Answer::Response(body))) => describe(&body),
        Ok(Ok(Answer::Error(body))) => format!("error: {}", String::from_utf8_lossy(&body)),
        _ => return Err(format!("no answer within {ANSWER_TIMEOUT:?}; see {}", log.display())),
    };
    Ok(ColdStart { init, elapsed, peak_rss_kib, answer })
}

fn spawn(launch: &Launch<'_>, address: SocketAddr, log: &Path) -> Result<std::process::Child, String> {
    let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let name = launch.binary.file_name().unwrap_or_default().to_string_lossy().to_string();
    Command::new(launch.binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", launch.binary.display()))
}

/// `ok`, or the status code of an HTTP function's response.
fn describe(body: &[u8]) -> String {
    let answer: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match answer.get("statusCode") {
        Some(status) => format!("HTTP {status}"),
        None => "ok".into(),
    }
}

fn router(api: Arc<RuntimeApi>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api)
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> (StatusCode, HeaderMap, String) {
    let first = {
        let mut polled = api.polled.lock().expect("not poisoned");
        let first = polled.is_none();
        polled.get_or_insert_with(Instant::now);
        first
    };
    if !first {
        api.done.notified().await;
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    }
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static(REQUEST_ID));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline.as_millis() as u64));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:bench"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700"));
    (StatusCode::OK, headers, api.event.clone())
}

async fn response(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    answer(&api, Answer::Response(body))
}

async fn error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    answer(&api, Answer::Error(body))
}

fn answer(api: &RuntimeApi, answer: Answer) -> StatusCode {
    if let Some(answered) = api.answered.lock().expect("not poisoned").take() {
        let _ = answered.send(answer);
    }
    StatusCode::ACCEPTED
}

/// The high-water mark of a process's resident memory, from /proc/<pid>/status.
pub fn peak_rss_kib(pid: u32) -> u64 {
    crate::vm_hwm_kib(&PathBuf::from(format!("/proc/{pid}/status")))
}
