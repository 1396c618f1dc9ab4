//! The one HTTP client for user-supplied URLs: rustls, no proxy, no redirects, a 10 s timeout,
//! and the SSRF guard at connection time. Domains are resolved through the guard, which hands
//! reqwest only the checked addresses, so there is no second lookup to rebind.
//!
//! The reqwest client is built on first use: building it loads the system's root certificates,
//! which a Lambda cold start should not pay before an invocation that calls out.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use url::{Host, Url};

use crate::adapters::outbound::guard::{UrlGuard, UrlRejected};
use crate::model::error::{Error, Result};

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body is read at most.
pub const MAX_RESPONSE_READ: usize = 64 * 1024;
/// How much of a response body is kept for the attempt log.
pub const KEPT_RESPONSE_BYTES: usize = 1024;

/// What came back from an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// The first [`KEPT_RESPONSE_BYTES`] of the body, as text.
    pub body_excerpt: String,
    pub retry_after: Option<Duration>,
}

/// A response read whole (platform APIs, media downloads).
#[derive(Debug, Clone)]
pub struct FullResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl FullResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` as seconds or an HTTP date.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers.get(reqwest::header::RETRY_AFTER).and_then(|value| value.to_str().ok()).and_then(parse_retry_after)
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("refused by the SSRF guard: the URL {0}")]
    Refused(UrlRejected),
    #[error("timed out after {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the response body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("request failed: {0}")]
    Other(String),
}

#[derive(Clone)]
pub struct OutboundClient {
    /// Shared by every clone, so the client is built once.
    http: Arc<OnceLock<reqwest::Client>>,
    extra_roots: Vec<reqwest::Certificate>,
    guard: UrlGuard,
}

impl OutboundClient {
    /// `extra_roots` adds trusted CA certificates (PEM); tests use it for their own receivers.
    pub fn new(guard: UrlGuard, extra_roots: &[Vec<u8>]) -> Result<Self> {
        let extra_roots = extra_roots
            .iter()
            .map(|pem| reqwest::Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::internal("reading a CA certificate", e))?;
        Ok(Self { http: Arc::default(), extra_roots, guard })
    }

    /// The reqwest client, built by the first caller.
    fn http(&self) -> Result<&reqwest::Client, SendError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        crate::adapters::https::install_crypto_provider();
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(self.guard.clone())))
            .redirect(Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .tls_certs_merge(self.extra_roots.clone())
            .user_agent(concat!("Posthorn-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::Other(format!("building the HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| http))
    }

    pub fn guard(&self) -> &UrlGuard {
        &self.guard
    }

    /// POSTs `body` to `url` and reads at most [`MAX_RESPONSE_READ`] of the answer.
    pub async fn post(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Result<OutboundResponse, SendError> {
        let url = self.checked_literal(url).await?;
        let response = self.http()?.post(url).headers(headers).body(body).send().await.map_err(send_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body_excerpt = read_capped(response).await?;
        Ok(OutboundResponse { status, body_excerpt, retry_after })
    }

    /// A request to `url` (any method) through the guard; send it with [`execute`](Self::execute).
    pub async fn request(&self, method: reqwest::Method, url: &str) -> Result<reqwest::RequestBuilder, SendError> {
        let url = self.checked_literal(url).await?;
        Ok(self.http()?.request(method, url))
    }

    /// Sends a request made by [`request`](Self::request) and reads the whole body, up to
    /// `max_body` bytes (a longer body is an error).
    pub async fn execute(&self, request: reqwest::RequestBuilder, max_body: usize) -> Result<FullResponse, SendError> {
        let mut response = request.send().await.map_err(send_error)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(send_error)? {
            if body.len() + chunk.len() > max_body {
                return Err(SendError::TooLarge(max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FullResponse { status, headers, body })
    }

    /// Sends a request made by [`request`](Self::request) and reads at most the first `max_body`
    /// bytes of the body; the rest is never read (the connection is dropped).
    pub async fn execute_prefix(
        &self,
        request: reqwest::RequestBuilder,
        max_body: usize,
    ) -> Result<FullResponse, SendError> {
        let mut response = request.send().await.map_err(send_error)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while body.len() < max_body {
            let Some(chunk) = response.chunk().await.map_err(send_error)? else { break };
            let room = max_body - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(FullResponse { status, headers, body })
    }

    /// reqwest connects to IP literals without a lookup, so those are checked here; domains are
    /// checked by the resolver when the connection is made.
    async fn checked_literal(&self, raw: &str) -> Result<Url, SendError> {
        let url = self.guard.parse(raw).map_err(SendError::Refused)?;
        if matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_))) {
            self.guard.resolve(&url).await.map_err(SendError::Refused)?;
        }
        Ok(url)
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, SendError> {
    let started = Instant::now();
    let mut kept = Vec::with_capacity(KEPT_RESPONSE_BYTES);
    let mut read = 0;
    while read < MAX_RESPONSE_READ {
        let Some(chunk) = response.chunk().await.map_err(send_error)? else { break };
        read += chunk.len();
        let room = KEPT_RESPONSE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if started.elapsed() > REQUEST_TIMEOUT {
            return Err(SendError::Timeout);
        }
    }
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

fn send_error(error: reqwest::Error) -> SendError {
    if let Some(rejected) = find_source::<UrlRejected>(&error) {
        return SendError::Refused(rejected.clone());
    }
    if error.is_timeout() {
        SendError::Timeout
    } else if error.is_connect() {
        SendError::Connect(innermost_message(&error))
    } else {
        SendError::Other(innermost_message(&error))
    }
}

fn find_source<'a, T: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

/// reqwest's resolver hook, answering only with addresses the guard allows.
struct GuardedResolver(UrlGuard);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = guard
                .resolve_host(name.as_str(), 0)
                .await
                .map_err(|rejected| Box::new(rejected) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
