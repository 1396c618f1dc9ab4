//! A feed host on loopback (plain HTTP, so clients need the unsafe private-URL setting): serves
//! a feed with an ETag and a Last-Modified date, answers 304 to a request carrying either, and
//! produces the failures real hosts do — a 500, a 429 with `Retry-After`, a redirect, an answer
//! slower than any fetch timeout, a body beyond any size cap, and a page that is not a feed. It
//! records the headers of every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub const ETAG: &str = "\"feed-v1\"";
pub const LAST_MODIFIED: &str = "Mon, 23 Nov 2026 10:00:00 GMT";
/// How long `/slow` waits before answering.
pub const SLOW: Duration = Duration::from_secs(5);
/// The size of `/huge`'s body.
pub const HUGE_BYTES: usize = 6 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    feed: Mutex<Feed>,
    requests: Mutex<Vec<(String, HeaderMap)>>,
}

/// The served document and its version: version 1 has [`ETAG`] and [`LAST_MODIFIED`], each
/// replacement gets validators of its own.
#[derive(Default, Clone)]
struct Feed {
    version: u32,
    body: Vec<u8>,
}

impl Feed {
    fn etag(&self) -> String {
        format!("\"feed-v{}\"", self.version)
    }

    fn last_modified(&self) -> String {
        format!("Mon, 23 Nov 2026 10:{:02}:00 GMT", self.version.saturating_sub(1) % 60)
    }
}

pub struct FeedServer {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FeedServer {
    /// Serves `feed` at `/feed`, and the failures at `/error`, `/busy`, `/moved`, `/slow`,
    /// `/huge` and `/garbage`.
    pub async fn start(feed: Vec<u8>) -> Self {
        let shared = Arc::new(Shared { feed: Mutex::new(Feed { version: 1, body: feed }), requests: Mutex::default() });
        let app = Router::new()
            .route("/feed", get(feed_or_not_modified))
            .route("/error", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database down") }))
            .route(
                "/busy",
                get(|| async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "120")], "slow down") }),
            )
            .route("/moved", get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/feed")]) }))
            .route("/slow", get(slow))
            .route("/huge", get(huge))
            .route(
                "/garbage",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html><body>Oops</body></html>") }),
            )
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("feed server port");
        let address = listener.local_addr().expect("feed server address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("feed server");
        });
        Self { address, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.address.port())
    }

    /// Serves `feed` at `/feed` from now on, with new validators (as a host does when its feed
    /// gets an entry).
    pub fn replace_feed(&self, feed: Vec<u8>) {
        let mut served = self.shared.feed.lock().expect("feed lock");
        *served = Feed { version: served.version + 1, body: feed };
    }

    /// The headers of every request to `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<HeaderMap> {
        let requests = self.shared.requests.lock().expect("requests lock");
        requests.iter().filter(|(seen, _)| seen == path).map(|(_, headers)| headers.clone()).collect()
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Arc<Shared>>, request: Request, next: axum::middleware::Next) -> Response {
    let seen = (request.uri().path().to_string(), request.headers().clone());
    shared.requests.lock().expect("requests lock").push(seen);
    next.run(request).await
}

async fn feed_or_not_modified(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let feed = shared.feed.lock().expect("feed lock").clone();
    let (etag, last_modified) = (feed.etag(), feed.last_modified());
    let sent = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if sent(header::IF_NONE_MATCH) == Some(&etag) || sent(header::IF_MODIFIED_SINCE) == Some(&last_modified) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let headers = [
        (header::CONTENT_TYPE, "application/rss+xml".to_string()),
        (header::ETAG, etag),
        (header::LAST_MODIFIED, last_modified),
    ];
    (headers, feed.body).into_response()
}

async fn slow(State(shared): State<Arc<Shared>>) -> Vec<u8> {
    tokio::time::sleep(SLOW).await;
    shared.feed.lock().expect("feed lock").body.clone()
}

/// A well-formed start of a feed, padded far beyond any sensible size.
async fn huge() -> Vec<u8> {
    let mut body = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title>".to_vec();
    body.resize(HUGE_BYTES, b' ');
    body
}
