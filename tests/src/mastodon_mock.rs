//! An independent Mastodon server for the Mastodon adapter: `mastodon_mock` (PyPI), which
//! `scripts/test` installs into `~/.cache/posthorn/venv`. Each suite starts its own in-memory instance on a free
//! loopback port and stops it when dropped. Like the AWS suites, these never skip: without the
//! server they fail and say how to install it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// Overrides where the virtual environment holding `mastodon_mock` is.
pub const VENV_VAR: &str = "POSTHORN_VENV";
/// The token the mock maps to its seeded user.
pub const TOKEN: &str = "mock_token";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct MastodonMock {
    child: Child,
    pub base_url: String,
    /// The seed configuration it was started with, removed when it stops.
    config: Option<PathBuf>,
}

impl MastodonMock {
    /// Starts an in-memory instance and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_with(Vec::new(), None).await
    }

    /// Starts an instance whose users are `accounts` (username, access token) instead of the
    /// one default user.
    pub async fn with_accounts(accounts: &[(&str, &str)]) -> Self {
        let toml: String = accounts
            .iter()
            .map(|(username, token)| {
                format!("[[seed.accounts]]\nusername = \"{username}\"\naccess_token = \"{token}\"\n\n")
            })
            .collect();
        let path = std::env::temp_dir().join(format!("mastodon-mock-{}.toml", ulid::Ulid::new()));
        std::fs::write(&path, toml).expect("writing the mock's seed configuration");
        let args = vec!["--config".to_string(), path.display().to_string()];
        Self::start_with(args, Some(path)).await
    }

    async fn start_with(extra: Vec<String>, config: Option<PathBuf>) -> Self {
        let binary = binary();
        assert!(
            binary.exists(),
            "{} is missing: run ./scripts/test, which installs mastodon-mock into ~/.cache/posthorn/venv, or \
             `pip install mastodon-mock` into a virtual environment named by {VENV_VAR}",
            binary.display()
        );
        let port = free_port();
        let child = Command::new(&binary)
            .args([
                "serve",
                "--in-memory",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "warning",
            ])
            .args(&extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut mock = Self { child, base_url: format!("http://127.0.0.1:{port}"), config };
        mock.wait_until_listening(port).await;
        mock
    }

    async fn wait_until_listening(&mut self, port: u16) {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mastodon_mock exited during startup with {status}");
            }
            assert!(started.elapsed() < STARTUP_TIMEOUT, "mastodon_mock did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for MastodonMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}

fn binary() -> PathBuf {
    let venv = std::env::var_os(VENV_VAR)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/posthorn/venv")))
        .unwrap_or_else(|| PathBuf::from(".venv"));
    venv.join("bin/mastodon_mock")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
