//! Real HTTPS webhook receivers on loopback: a certificate authority made with rcgen (one per
//! test process, trusted by the app under test), and servers whose answers a test scripts —
//! success, errors, Retry-After, redirects, hangs, huge and slow bodies — and which record every
//! request they get. Plain-HTTP receivers serve a dev server started as a child process (it
//! cannot trust the test CA), and any receiver can go down and come back on its address.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_server::tls_rustls::RustlsConfig;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The test process's certificate authority and the leaf certificate every receiver serves.
pub struct TestCa {
    pub ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

/// The CA every receiver's certificate chains to; give `ca_pem` to the client under test.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Posthorn test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");

        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("leaf params");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf certificate");
        TestCa { ca_pem: ca_cert.pem(), leaf_pem: leaf_cert.pem(), leaf_key_pem: leaf_key.serialize_pem() }
    })
}

/// How a receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with a `Retry-After` in seconds.
    RetryAfter(u16, u64),
    /// A 302 to the given location.
    Redirect(String),
    /// Waits this long before answering 200.
    Hang(Duration),
    /// 200 with a body of this many bytes.
    HugeBody(usize),
    /// 200 whose body trickles out one byte per interval, `bytes` times.
    SlowBody {
        bytes: usize,
        interval: Duration,
    },
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    arrived: tokio::sync::Notify,
}

/// A server on 127.0.0.1 that answers 200 unless scripted otherwise.
pub struct Receiver {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    handle: axum_server::Handle<SocketAddr>,
    /// `None` for a plain-HTTP receiver.
    tls: Option<RustlsConfig>,
}

impl Receiver {
    /// An HTTPS receiver whose certificate chains to [`test_ca`].
    pub async fn start() -> Self {
        posthorn::adapters::https::install_crypto_provider();
        let ca = test_ca();
        let tls = RustlsConfig::from_pem(ca.leaf_pem.clone().into_bytes(), ca.leaf_key_pem.clone().into_bytes())
            .await
            .expect("receiver TLS configuration");
        Self::serve_new(Some(tls))
    }

    /// A plain-HTTP receiver, for a Posthorn that allows private URLs but cannot be given the
    /// test CA (the dev server binary).
    pub async fn start_http() -> Self {
        Self::serve_new(None)
    }

    fn serve_new(tls: Option<RustlsConfig>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("receiver port");
        let address = listener.local_addr().expect("receiver address");
        let shared = Arc::new(Shared::default());
        let handle = serve(listener, shared.clone(), tls.clone());
        Self { address, shared, handle, tls }
    }

    /// The URL to register, at `path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.address.port())
    }

    /// The next requests are answered with `replies`, in order; after them, 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().expect("script lock").extend(replies);
    }

    /// How many requests have arrived.
    pub fn count(&self) -> usize {
        self.shared.received.lock().expect("received lock").len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received lock").clone()
    }
    /// Waits until at least `count` requests have arrived, or panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            if self.count() >= count {
                return self.received();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("expected {count} requests within {timeout:?}, got {}", self.received().len());
            }
        }
    }

    /// The JSON bodies of the deliveries of `event` (by `X-Posthorn-Event`), waiting until at
    /// least `count` arrived, or panicking after `timeout`.
    pub async fn events(&self, event: &str, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let bodies: Vec<serde_json::Value> = self
                .received()
                .iter()
                .filter(|request| request.header("x-posthorn-event") == event)
                .map(|request| serde_json::from_slice(&request.body).expect("a JSON delivery"))
                .collect();
            if bodies.len() >= count {
                return bodies;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("expected {count} {event} within {timeout:?}, got {}", bodies.len());
            }
        }
    }

    /// The JSON bodies of exactly `count` deliveries of `event`, each one's signature checked
    /// with the endpoint's `secret` by the standardwebhooks crate; waits for them up to `timeout`.
    pub async fn verified(&self, event: &str, count: usize, secret: &str, timeout: Duration) -> Vec<serde_json::Value> {
        self.events(event, count, timeout).await;
        let verifier = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
        let matching: Vec<Received> =
            self.received().into_iter().filter(|delivery| delivery.header("x-posthorn-event") == event).collect();
        assert_eq!(matching.len(), count, "{event} deliveries");
        matching
            .iter()
            .map(|delivery| {
                verifier.verify(&delivery.body, &delivery.headers).expect("a valid signature");
                serde_json::from_slice(&delivery.body).expect("a JSON delivery")
            })
            .collect()
    }

    /// Stops accepting connections: later deliveries are refused.
    pub fn stop(&self) {
        self.handle.shutdown();
    }

    /// Serves again on the same address after [`Receiver::stop`], keeping what was received.
    pub async fn resume(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match std::net::TcpListener::bind(self.address) {
                Ok(listener) => break listener,
                // The stopped server may hold the address for a moment while it winds down.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(error) => panic!("the receiver's address {} stayed taken: {error}", self.address),
            }
        };
        self.handle = serve(listener, self.shared.clone(), self.tls.clone());
    }
}

/// Serves `listener` (with TLS when given) until the returned handle shuts it down.
fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<RustlsConfig>,
) -> axum_server::Handle<SocketAddr> {
    let app = Router::new().fallback(receive).with_state(shared);
    let handle = axum_server::Handle::new();
    match tls {
        Some(tls) => {
            let server = axum_server::from_tcp_rustls(listener, tls).expect("receiver server").handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service()));
        }
        None => {
            let server = axum_server::from_tcp(listener).expect("receiver server").handle(handle.clone());
            tokio::spawn(server.serve(app.into_make_service()));
        }
    }
    handle
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.received.lock().expect("received lock").push(Received { headers, body, at: Instant::now() });
    shared.arrived.notify_waiters();
    let reply = shared.script.lock().expect("script lock").pop_front().unwrap_or(Reply::Status(200));
    answer(reply).await
}

async fn answer(reply: Reply) -> Response {
    let status = |code: u16| StatusCode::from_u16(code).expect("valid status");
    match reply {
        Reply::Status(code) => (status(code), format!("answered {code}")).into_response(),
        Reply::RetryAfter(code, seconds) => {
            (status(code), [("retry-after", seconds.to_string())], "slow down").into_response()
        }
        Reply::Redirect(location) => (StatusCode::FOUND, [("location", location)]).into_response(),
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            "finally".into_response()
        }
        Reply::HugeBody(bytes) => "x".repeat(bytes).into_response(),
        Reply::SlowBody { bytes, interval } => {
            let stream = async_stream(bytes, interval);
            Response::new(Body::from_stream(stream))
        }
    }
}

fn async_stream(bytes: usize, interval: Duration) -> impl tokio_stream::Stream<Item = Result<Bytes, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for _ in 0..bytes {
            tokio::time::sleep(interval).await;
            if sender.send(Ok(Bytes::from_static(b"."))).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}
