//! What the Meta adapters (Facebook Pages, Instagram, Threads) share: calls to a Graph-style API
//! with the channel's token as `access_token`, Meta's error body mapped to stable codes with its
//! raw message kept, container status polling, and the resume rule of multi-step publishing.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::adapters::outbound::{OutboundClient, SendError};
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{ChannelAuth, PlatformError, PublishRequest, Published};

/// How much of a Graph API answer is read at most.
const MAX_BODY: usize = 1024 * 1024;

/// How often and how long a media container's processing is waited for before giving up for
/// this try (the error then carries the container id, so the next try resumes the wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    pub interval: Duration,
    pub attempts: u32,
}

impl Default for Polling {
    /// Fifteen checks two seconds apart: images are usually ready within seconds, and Meta
    /// advises waiting up to about 30 seconds before publishing.
    fn default() -> Self {
        Self { interval: Duration::from_secs(2), attempts: 15 }
    }
}

/// Meta's error body: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: Option<bool>,
}

/// The flat error body of Instagram's and Threads' code exchange:
/// `{"error_type": "OAuthException", "code": 400, "error_message": "…"}`.
#[derive(Deserialize)]
struct FlatError {
    error_type: Option<String>,
    code: Option<i64>,
    error_message: String,
}

impl From<FlatError> for GraphError {
    fn from(flat: FlatError) -> Self {
        Self { message: flat.error_message, kind: flat.error_type, code: flat.code, ..Self::default() }
    }
}

#[derive(Deserialize)]
struct Deleted {
    #[serde(default)]
    success: bool,
}

/// One lifetime metric from an `/insights` edge: `{"name": "views", "values": [{"value": 12}]}`.
#[derive(Deserialize)]
struct Insight {
    name: String,
    #[serde(default)]
    values: Vec<InsightValue>,
}

#[derive(Deserialize)]
struct InsightValue {
    value: u64,
}

#[derive(Deserialize)]
struct Insights {
    data: Vec<Insight>,
}

/// The Graph API of one channel: its base URL and its token.
pub(crate) struct Graph<'a> {
    http: &'a OutboundClient,
    auth: &'a ChannelAuth,
}

impl<'a> Graph<'a> {
    pub(crate) fn new(http: &'a OutboundClient, auth: &'a ChannelAuth) -> Self {
        Self { http, auth }
    }

    /// The channel's own id (page, Instagram user or Threads user).
    pub(crate) fn channel(&self) -> &'a str {
        &self.auth.platform_channel_id
    }

    /// POSTs `form` (plus the token) to the node at `path` and reads the JSON answer.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        form: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        let mut form = form.to_vec();
        form.extend(self.token());
        let request = self.request(Method::POST, path).await?.form(&form);
        self.send(request).await
    }

    /// GETs the node at `path` with `query` (plus the token) and reads the JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        let request = self.request(Method::GET, path).await?.query(query).query(&self.token());
        self.send(request).await
    }

    /// DELETEs the node at `path`; Meta answers `{"success": true}`.
    pub(crate) async fn delete(&self, path: &[&str]) -> Result<(), PlatformError> {
        let request = self.request(Method::DELETE, path).await?.query(&self.token());
        let deleted: Deleted = self.send(request).await?;
        if deleted.success {
            Ok(())
        } else {
            Err(PlatformError::new(ErrorCode::PlatformError, "Meta answered that the post was not deleted"))
        }
    }

    /// Reads lifetime metrics from the `/insights` edge of `id`, by name.
    pub(crate) async fn insights(&self, id: &str, metrics: &str) -> Result<HashMap<String, u64>, PlatformError> {
        let insights: Insights = self.get(&[id, "insights"], &[("metric", metrics)]).await?;
        Ok(insights
            .data
            .into_iter()
            .filter_map(|insight| Some((insight.name, insight.values.first()?.value)))
            .collect())
    }

    fn token(&self) -> [(&'static str, &str); 1] {
        [("access_token", self.auth.access_token.as_str())]
    }

    async fn request(&self, method: Method, path: &[&str]) -> Result<reqwest::RequestBuilder, PlatformError> {
        request(self.http, method, &self.auth.base_url, path).await
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, PlatformError> {
        send(self.http, request).await
    }
}

/// GETs the node at `path` of `base_url` with `query` alone: the OAuth endpoints take the app's
/// secret and the token to exchange there, not a channel's token.
pub(crate) async fn get_public<T: DeserializeOwned>(
    http: &OutboundClient,
    base_url: &str,
    path: &[&str],
    query: &[(&str, &str)],
) -> Result<T, PlatformError> {
    send(http, request(http, Method::GET, base_url, path).await?.query(query)).await
}

/// POSTs `form` alone to the node at `path` of `base_url`.
pub(crate) async fn post_public<T: DeserializeOwned>(
    http: &OutboundClient,
    base_url: &str,
    path: &[&str],
    form: &[(&str, &str)],
) -> Result<T, PlatformError> {
    send(http, request(http, Method::POST, base_url, path).await?.form(form)).await
}

/// `base_url` without its trailing version segment (`https://graph.threads.net/v1.0` →
/// `https://graph.threads.net`), where Meta serves its unversioned token endpoints.
pub(crate) fn unversioned(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    match base.rsplit_once('/') {
        Some((root, last)) if is_version(last) => root,
        _ => base,
    }
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .is_some_and(|number| !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

async fn request(
    http: &OutboundClient,
    method: Method,
    base_url: &str,
    path: &[&str],
) -> Result<reqwest::RequestBuilder, PlatformError> {
    let url = endpoint(base_url, path)?;
    http.request(method, url.as_str()).await.map_err(transport_error)
}

/// Sends `request` and reads the JSON answer. Serde's message names the mismatch, never a whole
/// body, so an answer holding tokens is not echoed.
async fn send<T: DeserializeOwned>(
    http: &OutboundClient,
    request: reqwest::RequestBuilder,
) -> Result<T, PlatformError> {
    let response = http.execute(request, MAX_BODY).await.map_err(transport_error)?;
    if !response.is_success() {
        return Err(graph_error(response.status, &response.headers, &response.body, response.retry_after()));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        PlatformError::new(ErrorCode::PlatformError, format!("Meta's answer was not what its API documents: {e}"))
    })
}

/// `base_url` with the percent-encoded `path` segments appended, so an id can never climb out
/// of its node.
fn endpoint(base_url: &str, path: &[&str]) -> Result<Url, PlatformError> {
    let mut url = Url::parse(base_url)
        .map_err(|e| PlatformError::new(ErrorCode::PlatformError, format!("invalid API base URL `{base_url}`: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| PlatformError::new(ErrorCode::PlatformError, format!("invalid API base URL `{base_url}`")))?
        .pop_if_empty()
        .extend(path);
    Ok(url)
}

/// A request that got no answer: timeouts and connection failures are Meta being unavailable.
fn transport_error(error: SendError) -> PlatformError {
    let code = match error {
        SendError::Refused(_) => ErrorCode::PlatformError,
        SendError::Timeout | SendError::Connect(_) | SendError::TooLarge(_) | SendError::Other(_) => {
            ErrorCode::PlatformUnavailable
        }
    };
    PlatformError::new(code, error.to_string())
}

/// An error answer, mapped to a stable code, with Meta's own message and when to retry.
fn graph_error(status: u16, headers: &HeaderMap, body: &[u8], retry_after: Option<Duration>) -> PlatformError {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|envelope| envelope.error)
        .or_else(|_| serde_json::from_slice::<FlatError>(body).map(GraphError::from))
        .ok();
    let code = match status {
        429 => ErrorCode::RateLimited,
        _ => parsed.as_ref().and_then(classify).unwrap_or_else(|| classify_status(status)),
    };
    let message = match parsed {
        Some(error) if !error.message.is_empty() => error.message,
        _ => format!("HTTP {status}: {}", String::from_utf8_lossy(body).chars().take(500).collect::<String>()),
    };
    let retry_after = match code {
        ErrorCode::RateLimited => retry_after.or_else(|| regain_access(headers)),
        _ => retry_after,
    };
    PlatformError { code, message, retry_after, progress: None }
}

/// The stable code for Meta's `code` / `error_subcode` / `type`, where they say enough.
fn classify(error: &GraphError) -> Option<ErrorCode> {
    error
        .error_subcode
        .and_then(classify_subcode)
        .or_else(|| error.code.and_then(classify_code))
        .or_else(|| error.is_transient.filter(|transient| *transient).map(|_| ErrorCode::PlatformUnavailable))
        .or_else(|| is_length_message(&error.message).then_some(ErrorCode::ContentTooLong))
        .or_else(|| is_expired_session(error).then_some(ErrorCode::AuthExpired))
}

/// Subcodes that decide alone: the session ones and Instagram's 2207xxx publishing errors.
fn classify_subcode(subcode: i64) -> Option<ErrorCode> {
    match subcode {
        458 | 459 | 460 | 463 | 464 | 467 | 492 => Some(ErrorCode::AuthExpired),
        2207042 => Some(ErrorCode::RateLimited),
        2207051 => Some(ErrorCode::ContentRejected),
        2207001 | 2207003 | 2207008 | 2207027 | 2207032 | 2207053 => Some(ErrorCode::PlatformUnavailable),
        2207000..=2207999 => Some(ErrorCode::InvalidMedia),
        _ => None,
    }
}

/// Codes from Meta's error-handling guide and Instagram's error codes. A missing permission
/// (10, 200–299) counts as an expired connection: reconnecting is what grants it.
fn classify_code(code: i64) -> Option<ErrorCode> {
    match code {
        102 | 190 | 463 | 467 | 10 | 200..=299 => Some(ErrorCode::AuthExpired),
        4 | 17 | 32 | 341 | 613 | 80001..=80014 => Some(ErrorCode::RateLimited),
        -2 | -1 | 1 | 2 => Some(ErrorCode::PlatformUnavailable),
        368 | 506 => Some(ErrorCode::ContentRejected),
        324 | 352 | 9004 | 36000..=36010 => Some(ErrorCode::InvalidMedia),
        _ => None,
    }
}

/// Meta documents an `OAuthException` without a subcode as an expired, revoked or invalid
/// session; `(#100)` invalid-parameter errors share the type and are not.
fn is_expired_session(error: &GraphError) -> bool {
    error.kind.as_deref() == Some("OAuthException") && error.error_subcode.is_none() && error.code != Some(100)
}

/// Meta has no code of its own for a text over the limit; its message says so.
fn is_length_message(message: &str) -> bool {
    let message = message.to_lowercase();
    let about_text = ["text", "caption", "message", "character"].iter().any(|word| message.contains(word));
    let too_long = ["too long", "exceeds", "maximum length"].iter().any(|phrase| message.contains(phrase));
    about_text && too_long
}

fn classify_status(status: u16) -> ErrorCode {
    match status {
        401 => ErrorCode::AuthExpired,
        500..=599 => ErrorCode::PlatformUnavailable,
        _ => ErrorCode::PlatformError,
    }
}

/// The longest `estimated_time_to_regain_access` (minutes) in Meta's
/// `X-Business-Use-Case-Usage` header, sent with business use case rate limits.
fn regain_access(headers: &HeaderMap) -> Option<Duration> {
    let usage = headers.get("x-business-use-case-usage")?.to_str().ok()?;
    let usage: HashMap<String, Vec<serde_json::Value>> = serde_json::from_str(usage).ok()?;
    let minutes = usage
        .values()
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()
        .filter(|minutes| *minutes > 0)?;
    Some(Duration::from_secs(minutes * 60))
}

/// A failure after the media container `container` exists: the next try resumes from it, unless
/// the container itself is unusable (a media error), when the next try must make a new one.
pub(crate) fn resumable(container: &str) -> impl FnOnce(PlatformError) -> PlatformError + '_ {
    move |mut error| {
        if error.code != ErrorCode::InvalidMedia {
            error.progress = Some(container.to_owned());
        }
        error
    }
}

/// Where a media container's processing stands, as Instagram's `status_code` and Threads'
/// `status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ContainerStatus {
    InProgress,
    Finished,
    Published,
    Error,
    Expired,
    #[serde(other)]
    Unknown,
}

/// How one API names the steps of its media container flow.
pub(crate) struct ContainerFlow {
    /// The container field holding its status.
    pub status_field: &'static str,
    /// The container field holding Meta's detail about that status.
    pub detail_field: &'static str,
    /// The user's edge that publishes a container.
    pub publish_edge: &'static str,
}

/// The answer of every creating call: the new object's id.
#[derive(Deserialize)]
pub(crate) struct Created {
    pub id: String,
}

#[derive(Deserialize)]
struct Permalink {
    permalink: Option<String>,
}

impl ContainerFlow {
    /// Waits until the container is ready, publishes it and reads the post's permalink.
    pub(crate) async fn publish(
        &self,
        graph: &Graph<'_>,
        polling: Polling,
        container: &str,
    ) -> Result<Published, PlatformError> {
        self.wait_until_finished(graph, polling, container).await?;
        let published: Created =
            graph.post(&[graph.channel(), self.publish_edge], &[("creation_id", container)]).await?;
        let url = permalink(graph, &published.id).await;
        Ok(Published { platform_post_id: published.id, url })
    }

    /// Checks the container `polling.attempts` times at most, `polling.interval` apart.
    async fn wait_until_finished(
        &self,
        graph: &Graph<'_>,
        polling: Polling,
        container: &str,
    ) -> Result<(), PlatformError> {
        for attempt in 0..polling.attempts {
            if attempt > 0 {
                tokio::time::sleep(polling.interval).await;
            }
            let (status, detail) = self.status(graph, container).await?;
            if status != ContainerStatus::InProgress {
                return container_ready(status, detail);
            }
        }
        Err(PlatformError::new(
            ErrorCode::PlatformUnavailable,
            format!("the media is still being processed after {} checks; a retry resumes the wait", polling.attempts),
        ))
    }

    async fn status(
        &self,
        graph: &Graph<'_>,
        container: &str,
    ) -> Result<(ContainerStatus, Option<String>), PlatformError> {
        let fields = format!("{},{}", self.status_field, self.detail_field);
        let mut read: HashMap<String, serde_json::Value> = graph.get(&[container], &[("fields", &fields)]).await?;
        let status = read
            .remove(self.status_field)
            .and_then(|status| serde_json::from_value(status).ok())
            .unwrap_or(ContainerStatus::Unknown);
        let detail = read.remove(self.detail_field).and_then(|detail| detail.as_str().map(str::to_owned));
        Ok((status, detail))
    }
}

fn container_ready(status: ContainerStatus, detail: Option<String>) -> Result<(), PlatformError> {
    let detail = detail.unwrap_or_default();
    match status {
        ContainerStatus::Finished => Ok(()),
        ContainerStatus::Error | ContainerStatus::Expired => {
            Err(PlatformError::new(ErrorCode::InvalidMedia, format!("the media container is {status:?}: {detail}")))
        }
        ContainerStatus::Published => Err(PlatformError::new(
            ErrorCode::PlatformError,
            "the media container was already published by an earlier try; its post id is unknown",
        )),
        ContainerStatus::InProgress | ContainerStatus::Unknown => Err(PlatformError::new(
            ErrorCode::PlatformError,
            format!("the media container reports an undocumented status: {detail}"),
        )),
    }
}

/// The post is live once published, so a permalink that cannot be read is left out rather than
/// failing the publish.
async fn permalink(graph: &Graph<'_>, media_id: &str) -> Option<String> {
    let read: Permalink = graph.get(&[media_id], &[("fields", "permalink")]).await.ok()?;
    read.permalink
}

/// The platform's limits, checked before any call: text length and the number of images.
pub(crate) fn check_limits(platform: Platform, post: &PublishRequest) -> Result<(), PlatformError> {
    let limits = platform.limits();
    let length = limits.length(&post.text);
    if length > limits.max_text {
        let message = format!("the text is {length} characters long; {} allows {}", platform.as_str(), limits.max_text);
        return Err(PlatformError::new(ErrorCode::ContentTooLong, message));
    }
    if post.media.len() > limits.max_images {
        let message = format!("{} images; {} allows {}", post.media.len(), platform.as_str(), limits.max_images);
        return Err(PlatformError::new(ErrorCode::InvalidMedia, message));
    }
    if limits.requires_image && post.media.is_empty() {
        let message = format!("{} requires an image and the post has none", platform.as_str());
        return Err(PlatformError::new(ErrorCode::InvalidMedia, message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: Option<i64>, subcode: Option<i64>, kind: &str, message: &str) -> GraphError {
        GraphError {
            message: message.into(),
            kind: Some(kind.into()),
            code,
            error_subcode: subcode,
            is_transient: None,
        }
    }

    #[test]
    fn subcodes_decide_before_codes() {
        let spam = error(Some(4), Some(2207051), "OAuthException", "We restrict certain activity");
        assert_eq!(classify(&spam), Some(ErrorCode::ContentRejected));
        let limit = error(Some(9), Some(2207042), "OAuthException", "You reached maximum number of posts");
        assert_eq!(classify(&limit), Some(ErrorCode::RateLimited));
        let slow = error(Some(-2), Some(2207003), "OAuthException", "It takes too long to download the media.");
        assert_eq!(classify(&slow), Some(ErrorCode::PlatformUnavailable));
    }

    #[test]
    fn invalid_parameters_are_not_expired_sessions() {
        let invalid = error(Some(100), None, "OAuthException", "(#100) Invalid parameter");
        assert_eq!(classify(&invalid), None);
        let expired = error(None, None, "OAuthException", "Error validating access token");
        assert_eq!(classify(&expired), Some(ErrorCode::AuthExpired));
    }

    #[test]
    fn length_is_read_from_the_message() {
        let long = error(Some(100), None, "OAuthException", "The caption is too long");
        assert_eq!(classify(&long), Some(ErrorCode::ContentTooLong));
    }

    #[test]
    fn token_endpoints_are_served_without_the_version() {
        assert_eq!(unversioned("https://graph.threads.net/v1.0"), "https://graph.threads.net");
        assert_eq!(unversioned("https://graph.instagram.com/v21.0/"), "https://graph.instagram.com");
        assert_eq!(unversioned("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(unversioned("https://example.com/video"), "https://example.com/video");
    }

    #[test]
    fn ids_stay_inside_their_node() {
        let url = endpoint("https://graph.facebook.com/v21.0/", &["../me", "feed"]).map(String::from);
        assert_eq!(url.as_deref(), Ok("https://graph.facebook.com/v21.0/..%2Fme/feed"));
    }
}
