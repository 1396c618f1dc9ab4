//! The real dev server as a child process, for tests that crash, stop and restart it: its own
//! temporary data directory and loopback port, the unsafe setting that lets it deliver to local
//! HTTP receivers, and a client for its API. The child is killed and its directory removed when
//! the value is dropped, whatever the test did.
//!
//! Cargo builds the binary from `dev-server/src/main.rs` as the test kit's `posthorn-dev-server`
//! target, so `cargo test` always runs the current code; [`dev_server_binary!`] names its path.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one API call may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The dev server binary cargo built for this test run.
#[macro_export]
macro_rules! dev_server_binary {
    () => {
        std::path::Path::new(env!("CARGO_BIN_EXE_posthorn-dev-server"))
    };
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("posthorn-dev-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&path).expect("temporary data directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What an API call answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

/// A client of a dev server's API with its key; it outlives restarts of the process.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    pub api_key: String,
}

impl ApiClient {
    /// The server's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A JSON request with the server's API key. A connection failure is `None` (the server is
    /// down), so bursts can run into a kill.
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> Option<Answer> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let bytes = response.bytes().await.ok()?;
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON answer") };
        Some(Answer { status, body })
    }

    /// A JSON request that must get an answer.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.try_call(method, path, body).await.unwrap_or_else(|| panic!("no answer to {path}"))
    }

    /// Registers a webhook endpoint for every event at `url`, without the verification ping;
    /// its id.
    pub async fn register_webhook(&self, url: &str) -> String {
        let body = serde_json::json!({"url": url, "events": ["*"], "skip_verification": true});
        let answer = self.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        answer.body["data"]["id"].as_str().expect("webhook id").to_string()
    }
}

/// A dev server process over its own data directory.
pub struct DevServer {
    binary: PathBuf,
    data_dir: TempDir,
    address: SocketAddr,
    /// Extra environment, kept for restarts.
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub api: ApiClient,
}

impl DevServer {
    /// Starts the binary on a fresh data directory with `env` added to the settings every test
    /// needs, and waits until it listens.
    pub fn start(binary: &Path, env: &[(&str, &str)]) -> Self {
        let address = free_loopback_address();
        posthorn::adapters::https::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build().expect("HTTP client");
        let mut server = Self {
            binary: binary.to_path_buf(),
            data_dir: TempDir::new(),
            address,
            env: env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
            child: None,
            api: ApiClient { http, base: format!("http://{address}"), api_key: String::new() },
        };
        let printed = server.spawn();
        server.api.api_key =
            printed.into_iter().find_map(|line| api_key_in(&line)).expect("the first start prints a key");
        server
    }

    /// The store's SQLite file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.0.join("posthorn.db")
    }

    /// Starts the process again on the same directory and port after a kill or a stop.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart after kill or terminate");
        self.spawn();
    }

    /// SIGKILL: the process dies wherever it is, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `timeout` for the process to exit; its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("a running dev server");
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the dev server") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the dev server did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Spawns the process and waits for it to listen; the lines it printed until then.
    fn spawn(&mut self) -> Vec<String> {
        let logs = std::fs::File::create(self.data_dir.0.join(format!("log-{}.jsonl", ulid::Ulid::new())))
            .expect("dev server log file");
        let mut child = Command::new(&self.binary)
            .env_clear()
            .env("POSTHORN_DATA_DIR", &self.data_dir.0)
            .env("POSTHORN_LISTEN", self.address.to_string())
            .env("POSTHORN_UNSAFE_ALLOW_PRIVATE_URLS", "true")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", self.binary.display()));
        let lines = read_until_listening(&mut child);
        self.child = Some(child);
        lines
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the child's output (on a thread that keeps draining it) until the line saying where it
/// listens; panics if it exits or stays silent too long.
fn read_until_listening(child: &mut Child) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, arrived) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let mut printed = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match arrived.recv_timeout(left) {
            Ok(line) if line.starts_with("Posthorn dev server on ") => return printed,
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the dev server did not start within {START_TIMEOUT:?}; it printed {printed:?}");
            }
        }
    }
}

fn api_key_in(line: &str) -> Option<String> {
    line.split_whitespace().find(|word| word.starts_with("phk_")).map(str::to_string)
}

/// A loopback address nothing listens on now.
fn free_loopback_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}
