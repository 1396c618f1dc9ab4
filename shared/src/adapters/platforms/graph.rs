//! What the Meta adapters (Facebook Pages, Instagram, Threads) share: calls to a Graph-style API
//! with the channel's token as `access_token`, sent through [`http`](super::http) with Meta's
//! [`Dialect`] (its error body, numeric codes and usage headers), and the limits checked before
//! any call.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader};
use crate::adapters::platforms::versions::is_graph_version;
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{ChannelAuth, PlatformError, PublishRequest, Published};

/// Meta's error body: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorEnvelope {
    error: GraphError,
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
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
    code: Option<i64>,
    error_message: String,
}

impl From<FlatError> for GraphError {
    fn from(flat: FlatError) -> Self {
        Self { message: flat.error_message, code: flat.code, ..Self::default() }
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// Meta's answer to a DELETE or a subscription: `{"success": true}`.
#[derive(Deserialize)]
pub(crate) struct Success {
    #[serde(default)]
    success: bool,
}

impl Success {
    /// An error naming `what` unless Meta confirmed it.
    pub(crate) fn confirmed(&self, what: &str) -> Result<(), PlatformError> {
        match self.success {
            true => Ok(()),
            false => Err(PlatformError::new(ErrorCode::PlatformError, format!("Meta did not confirm {what}"))),
        }
    }
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
    base_url: String,
}

impl<'a> Graph<'a> {
    /// At the channel's base URL as stored.
    pub(crate) fn new(http: &'a OutboundClient, auth: &'a ChannelAuth) -> Self {
        Self { http, auth, base_url: auth.base_url.clone() }
    }

    /// At Graph API `version`, whatever version the connection's stored base URL names, so
    /// connections made before the pinned version changed follow it.
    pub(crate) fn at_version(http: &'a OutboundClient, auth: &'a ChannelAuth, version: &str) -> Self {
        Self { http, auth, base_url: with_version(&auth.base_url, version) }
    }

    /// The outbound client the calls go through.
    pub(crate) fn http(&self) -> &'a OutboundClient {
        self.http
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

    /// Answers the object `id` on its `edge` (`comments` of a Facebook object, `replies` of an
    /// Instagram comment) with `message`.
    pub(crate) async fn answer(&self, id: &str, edge: &str, message: &str) -> Result<Published, PlatformError> {
        let created: Created = self.post(&[id, edge], &[("message", message)]).await?;
        Ok(Published { platform_post_id: created.id, url: None })
    }

    /// DELETEs the node at `path`; Meta answers `{"success": true}`.
    pub(crate) async fn delete(&self, path: &[&str]) -> Result<(), PlatformError> {
        let request = self.request(Method::DELETE, path).await?.query(&self.token());
        let deleted: Success = self.send(request).await?;
        deleted.confirmed(&format!("deleting {}", path.join("/")))
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
        request(self.http, method, &self.base_url, path).await
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
        Some((root, last)) if is_graph_version(last) => root,
        _ => base,
    }
}

/// `base_url` with its trailing version segment replaced by `version`; a base URL without one
/// (a proxy, a fake) is kept as it is.
pub(crate) fn with_version(base_url: &str, version: &str) -> String {
    let root = unversioned(base_url);
    if root.len() == base_url.trim_end_matches('/').len() { root.to_owned() } else { format!("{root}/{version}") }
}

async fn request(
    http: &OutboundClient,
    method: Method,
    base_url: &str,
    path: &[&str],
) -> Result<reqwest::RequestBuilder, PlatformError> {
    let url = http::node_url(base_url, path)?;
    http.request(method, &url).await.map_err(http::transport_error)
}

async fn send<T: DeserializeOwned>(
    http: &OutboundClient,
    request: reqwest::RequestBuilder,
) -> Result<T, PlatformError> {
    http::send_json::<Dialect, T>(http, request).await
}

/// Meta's error body, `{"error": {"message", "type", "code", "error_subcode", "is_transient",
/// "fbtrace_id"}}`, or the flat one of Instagram's and Threads' code exchange; codes decide
/// before statuses (<https://developers.facebook.com/docs/graph-api/guides/error-handling/>).
pub(crate) struct Dialect;

impl ErrorDialect for Dialect {
    const RESET: ResetHeader = ResetHeader::None;

    fn rate_limit_delay(headers: &HeaderMap) -> Option<Duration> {
        regain_access(headers)
    }

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let error = GraphError::read(body)?;
        (!error.message.is_empty()).then(|| PlatformMessage::new(None, error.message))
    }

    fn classify(_status: u16, _message: &PlatformMessage) -> ErrorCode {
        ErrorCode::PlatformError
    }

    fn decide(body: &serde_json::Value, message: &PlatformMessage) -> Option<ErrorCode> {
        let error = GraphError::read(body)?;
        error
            .error_subcode
            .and_then(classify_subcode)
            .or_else(|| error.code.and_then(classify_code))
            .or_else(|| error.is_transient.filter(|transient| *transient).map(|_| ErrorCode::PlatformUnavailable))
            .or_else(|| is_length_message(&message.text).then_some(ErrorCode::ContentTooLong))
    }
}

impl GraphError {
    fn read(body: &serde_json::Value) -> Option<Self> {
        serde_json::from_value::<ErrorEnvelope>(body.clone())
            .map(|envelope| envelope.error)
            .or_else(|_| serde_json::from_value::<FlatError>(body.clone()).map(GraphError::from))
            .ok()
    }
}

/// Subcodes that decide alone: those of a session Meta refuses (458, "the user has not authorized
/// the application": they removed it, so the grant is revoked), and Instagram's 2207xxx
/// publishing errors.
fn classify_subcode(subcode: i64) -> Option<ErrorCode> {
    match subcode {
        458 => Some(ErrorCode::AuthRevoked),
        459 | 460 | 463 | 464 | 467 | 492 => Some(ErrorCode::AuthExpired),
        2207042 => Some(ErrorCode::RateLimited),
        2207051 => Some(ErrorCode::ContentRejected),
        2207001 | 2207003 | 2207008 | 2207027 | 2207032 | 2207053 => Some(ErrorCode::PlatformUnavailable),
        2207000..=2207999 => Some(ErrorCode::InvalidMedia),
        _ => None,
    }
}

/// Codes from Meta's error-handling guide and Instagram's error codes. Only a refused token
/// (190, and 102 for an API session) is an expired connection; a missing permission (3, 10,
/// 200–299) is not — Meta also answers code 10 for conditions that are not about the token,
/// and expiring a healthy connection would stop every channel on it.
fn classify_code(code: i64) -> Option<ErrorCode> {
    match code {
        102 | 190 => Some(ErrorCode::AuthExpired),
        3 | 10 | 200..=299 => Some(ErrorCode::PlatformError),
        4 | 17 | 32 | 341 | 613 | 80001..=80014 => Some(ErrorCode::RateLimited),
        -2 | -1 | 1 | 2 => Some(ErrorCode::PlatformUnavailable),
        368 | 506 => Some(ErrorCode::ContentRejected),
        324 | 352 | 9004 | 36000..=36010 => Some(ErrorCode::InvalidMedia),
        _ => None,
    }
}

/// Meta has no code of its own for a text over the limit; its message says so.
fn is_length_message(message: &str) -> bool {
    let message = message.to_lowercase();
    let about_text = ["text", "caption", "message", "character"].iter().any(|word| message.contains(word));
    let too_long = ["too long", "exceeds", "maximum length"].iter().any(|phrase| message.contains(phrase));
    about_text && too_long
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
    use serde_json::json;

    use super::*;
    use crate::adapters::outbound::FullResponse;

    fn answer(status: u16, code: i64, subcode: Option<i64>, message: &str) -> PlatformError {
        let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1" });
        if let Some(subcode) = subcode {
            error["error_subcode"] = json!(subcode);
        }
        let body = serde_json::to_vec(&json!({ "error": error })).unwrap();
        http::error_from::<Dialect>(&FullResponse { status, headers: HeaderMap::new(), body })
    }

    #[test]
    fn subcodes_decide_before_codes() {
        assert_eq!(answer(400, 4, Some(2207051), "We restrict certain activity").code, ErrorCode::ContentRejected);
        assert_eq!(answer(400, 9, Some(2207042), "You reached maximum number of posts").code, ErrorCode::RateLimited);
        let slow = answer(400, -2, Some(2207003), "It takes too long to download the media.");
        assert_eq!(slow.code, ErrorCode::PlatformUnavailable);
    }

    #[test]
    fn only_a_refused_token_is_an_expired_connection() {
        let expired = answer(400, 190, None, "Error validating access token: Session has expired");
        assert_eq!(expired.code, ErrorCode::AuthExpired);
        assert_eq!(answer(400, 190, Some(463), "Session has expired").code, ErrorCode::AuthExpired);
        let removed =
            answer(400, 190, Some(458), "Error validating access token: The user has not authorized application 1.");
        assert_eq!(removed.code, ErrorCode::AuthRevoked);
        let cases = [
            (403, 10, "(#10) Application does not have permission for this action"),
            (403, 200, "(#200) Requires pages_manage_posts permission to manage the object"),
            (400, 100, "(#100) Invalid parameter"),
        ];
        for (status, code, message) in cases {
            let error = answer(status, code, None, message);
            assert_eq!((error.code, error.message.as_str()), (ErrorCode::PlatformError, message), "{code}");
        }
    }

    #[test]
    fn length_is_read_from_the_message() {
        assert_eq!(answer(400, 100, None, "The caption is too long").code, ErrorCode::ContentTooLong);
    }

    #[test]
    fn token_endpoints_are_served_without_the_version() {
        assert_eq!(unversioned("https://graph.threads.net/v1.0"), "https://graph.threads.net");
        assert_eq!(unversioned("https://graph.instagram.com/v21.0/"), "https://graph.instagram.com");
        assert_eq!(unversioned("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(unversioned("https://example.com/video"), "https://example.com/video");
    }

    #[test]
    fn stored_versions_follow_the_configured_one() {
        assert_eq!(with_version("https://graph.facebook.com/v21.0", "v25.0"), "https://graph.facebook.com/v25.0");
        assert_eq!(with_version("https://graph.instagram.com/v21.0/", "v25.0"), "https://graph.instagram.com/v25.0");
        assert_eq!(with_version("http://127.0.0.1:8080", "v25.0"), "http://127.0.0.1:8080");
    }

    #[test]
    fn ids_stay_inside_their_node() {
        let url = http::node_url("https://graph.facebook.com/v21.0/", &["../me", "feed"]);
        assert_eq!(url.as_deref(), Ok("https://graph.facebook.com/v21.0/..%2Fme/feed"));
    }
}
