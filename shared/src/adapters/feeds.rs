//! Fetching a feed: a conditional GET (`If-None-Match` / `If-Modified-Since` from the validators
//! of the last fetch) through the outbound client, so the SSRF guard applies and redirects are
//! refused; the body is capped and the whole request has a timeout.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION, USER_AGENT};

use crate::adapters::outbound::{OutboundClient, SendError};
use crate::model::feeds::{FeedItem, parse};

/// Feeds larger than this are refused.
pub const DEFAULT_MAX_FEED_BYTES: usize = 5 * 1024 * 1024;
/// How long a whole fetch (connect, answer, body) may take.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(15);

const ACCEPT_FEEDS: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, \
                            application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

/// What the last successful fetch answered, sent back so an unchanged feed costs a 304.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Limits of one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    pub timeout: Duration,
    pub max_bytes: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { timeout: DEFAULT_FETCH_TIMEOUT, max_bytes: DEFAULT_MAX_FEED_BYTES }
    }
}

/// How a fetch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: nothing new since the validators were given.
    NotModified,
    /// The feed's items, and the validators to send next time.
    Fetched { items: Vec<FeedItem>, etag: Option<String>, last_modified: Option<String> },
    /// Why there are no items, in words to show on the source; `retry_after` when the server
    /// said when to come back (429, 503).
    Failed { reason: String, retry_after: Option<Duration> },
}

impl FetchOutcome {
    fn failed(reason: impl Into<String>) -> Self {
        Self::Failed { reason: reason.into(), retry_after: None }
    }
}

/// GETs the feed at `url` (conditionally, with `validators`) and parses it.
pub async fn fetch(
    client: &OutboundClient,
    url: &str,
    validators: &Validators,
    options: &FetchOptions,
) -> FetchOutcome {
    let request = match client.request(Method::GET, url).await {
        Ok(request) => request,
        Err(error) => return FetchOutcome::failed(send_failure(&error, options)),
    };
    let request = request
        .timeout(options.timeout)
        .headers(conditional_headers(validators))
        .header(ACCEPT, ACCEPT_FEEDS)
        .header(USER_AGENT, concat!("Posthorn-Feeds/", env!("CARGO_PKG_VERSION")));
    let response = match client.execute(request, options.max_bytes).await {
        Ok(response) => response,
        Err(error) => return FetchOutcome::failed(send_failure(&error, options)),
    };
    let header = |name| response.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_string);
    match response.status {
        304 => FetchOutcome::NotModified,
        200..=299 => match parse(&response.body, Some(url)) {
            Ok(items) => FetchOutcome::Fetched { items, etag: header(ETAG), last_modified: header(LAST_MODIFIED) },
            Err(error) => FetchOutcome::failed(error.to_string()),
        },
        300..=399 => FetchOutcome::failed(format!(
            "the feed answered HTTP {} (a redirect to {}); redirects are not followed: use the new address",
            response.status,
            header(LOCATION).unwrap_or_else(|| "nowhere".into())
        )),
        status => FetchOutcome::Failed {
            reason: format!("the feed answered HTTP {status}"),
            retry_after: response.retry_after().filter(|_| matches!(status, 429 | 503)),
        },
    }
}

/// `If-None-Match` and `If-Modified-Since` from the validators that are valid header values.
fn conditional_headers(validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [(IF_NONE_MATCH, &validators.etag), (IF_MODIFIED_SINCE, &validators.last_modified)] {
        if let Some(value) = value.as_deref().and_then(|value| value.parse().ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

fn send_failure(error: &SendError, options: &FetchOptions) -> String {
    match error {
        SendError::Timeout => format!("the feed did not answer within {} s", options.timeout.as_secs_f64()),
        SendError::TooLarge(limit) => format!("the feed is larger than the {limit}-byte limit"),
        other => format!("the feed could not be fetched: {other}"),
    }
}
