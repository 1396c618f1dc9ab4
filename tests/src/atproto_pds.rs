//! An independent Bluesky server for the Bluesky adapter: a local atproto network from
//! `@atproto/dev-env` (PLC directory, PDS and, when PostgreSQL's server programs are installed,
//! an AppView), started by `tests/servers/atproto/start.mjs` with the Node 22 that `scripts/test`
//! installs beside it. Each suite starts its own network with one account and stops it when
//! dropped. Like the AWS suites, these never skip: without the packages they fail and say how to
//! install them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use posthorn::adapters::platforms::bluesky::AtUri;
use serde::Deserialize;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What `start.mjs` prints once the network is up.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// The PDS, the base URL a Bluesky channel points at.
    pub pds: String,
    /// The AppView the PDS proxies `app.bsky.*` calls to, if one runs.
    pub appview: Option<String>,
    pub did: String,
    pub handle: String,
    pub password: String,
    pub access_jwt: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Startup {
    Ready(Account),
    Failed { error: String },
}

pub struct AtprotoPds {
    child: Child,
    /// Closing it tells the network to stop and remove its files.
    stdin: Option<ChildStdin>,
    pub account: Account,
}

impl AtprotoPds {
    /// Starts a network, creates the account and waits until it is ready.
    pub async fn start() -> Self {
        let dir = server_dir();
        let node = dir.join("node_modules/.bin/node");
        assert!(
            node.exists() && dir.join("node_modules/@atproto/dev-env").exists(),
            "{} has no @atproto/dev-env or Node 22: run ./scripts/test, which installs them \
             (`ensure_atproto_server` in scripts/lib.sh)",
            dir.display()
        );
        let mut child = Command::new(&node)
            .arg("start.mjs")
            .current_dir(&dir)
            .env("NODE_NO_WARNINGS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", node.display()));
        // Until `Self` holds it, a panic drops stdin, which stops the network all the same.
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let started = Instant::now();
        let line = tokio::time::timeout(
            STARTUP_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("the atproto network did not start within {STARTUP_TIMEOUT:?}"))
        .expect("reading the network's stdout")
        .expect("reading the network's stdout");
        let account = match serde_json::from_str(&line) {
            Ok(Startup::Ready(account)) => account,
            Ok(Startup::Failed { error }) => panic!("the atproto network failed to start: {error}"),
            Err(e) => panic!("the atproto network printed {line:?} ({e}), not its account"),
        };
        eprintln!("atproto network ready in {:?}", started.elapsed());
        Self { child, stdin, account }
    }
}

impl Drop for AtprotoPds {
    /// Closes stdin so the network stops PostgreSQL and removes its files, then kills it if it
    /// has not exited in time.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PDS's answer to `com.atproto.repo.getRecord` for an `at://` URI: status and body.
pub async fn get_record(pds: &str, uri: &str) -> (u16, serde_json::Value) {
    posthorn::adapters::https::install_crypto_provider();
    let uri = AtUri::parse(uri).unwrap();
    let response = reqwest::Client::new()
        .get(format!("{pds}/xrpc/com.atproto.repo.getRecord"))
        .query(&[("repo", &uri.repo), ("collection", &uri.collection), ("rkey", &uri.rkey)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("servers/atproto")
}
