//! What every platform adapter does around one API call: build the request through the one
//! [`OutboundClient`], send it, and turn a failure — no answer, or an error status with the
//! platform's own error body — into a [`PlatformError`] with a stable code, the platform's own
//! message and, for rate limits, when to try again. Each platform supplies only its
//! [`ErrorDialect`]: how its error bodies read, when it says to come back, and how its answers
//! map to codes.
//!
//! An answer that is not in the platform's documented shape is never echoed into an error: it
//! may hold tokens or client secrets (a token endpoint's answer, a proxy's debug page), and
//! errors are stored on posts and connections and shown to API callers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::adapters::outbound::{FullResponse, OutboundClient, SendError};
use crate::model::platforms::ErrorCode;
use crate::ports::platforms::PlatformError;

/// How much of an API answer is read at most (media downloads have their own cap).
pub const MAX_API_BODY: usize = 1024 * 1024;

/// The header a platform announces the end of its rate-limit window in, besides `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetHeader {
    /// Only `Retry-After`.
    None,
    /// Unix time in seconds (X `x-rate-limit-reset`, Bluesky `ratelimit-reset`).
    EpochSeconds(&'static str),
    /// An RFC 3339 time (Mastodon `X-RateLimit-Reset`).
    Rfc3339(&'static str),
}

/// What a platform said in an error body: its own error name or number, if any, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformMessage {
    pub kind: Option<String>,
    pub text: String,
}

impl PlatformMessage {
    pub fn new(kind: Option<String>, text: impl Into<String>) -> Self {
        Self { kind, text: text.into() }
    }

    /// The message kept on the error: the platform's text, prefixed by its error name.
    fn into_message(self) -> String {
        match self.kind {
            Some(kind) if !self.text.contains(&kind) => format!("{kind}: {}", self.text),
            _ => self.text,
        }
    }
}

/// How one platform's API reports errors.
pub trait ErrorDialect {
    /// The platform's rate-limit reset header.
    const RESET: ResetHeader;

    /// How long the platform asked to wait, besides `Retry-After`: by default its [`Self::RESET`]
    /// header.
    fn rate_limit_delay(headers: &HeaderMap) -> Option<Duration> {
        reset_delay(headers, Self::RESET)
    }

    /// The platform's message from a JSON error body, if it has the platform's shape.
    fn message(body: &serde_json::Value) -> Option<PlatformMessage>;

    /// The code for an error status that is not decided by the status alone (401, 429 and 5xx
    /// are); `message` is what the platform said.
    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode;

    /// The code for an answer the platform's own error fields decide, whatever its status (an
    /// OAuth `invalid_client` is the app's configuration, not an expired connection; Meta's
    /// numeric codes); `body` is the whole JSON error body.
    fn decide(_body: &serde_json::Value, _message: &PlatformMessage) -> Option<ErrorCode> {
        None
    }
}

/// A request to `url` with the channel's bearer token.
pub async fn authorized(
    http: &OutboundClient,
    method: Method,
    url: &str,
    token: &str,
) -> Result<RequestBuilder, PlatformError> {
    let request = http.request(method, url).await.map_err(transport_error)?;
    Ok(request.bearer_auth(token))
}

/// `base` (with or without a trailing slash) joined with an absolute `path`.
pub fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `base_url` with the percent-encoded `segments` appended, so an id can never climb out of its
/// node (Graph-style APIs address objects by id).
pub fn node_url(base_url: &str, segments: &[&str]) -> Result<String, PlatformError> {
    let invalid = || PlatformError::new(ErrorCode::PlatformError, format!("invalid API base URL `{base_url}`"));
    let mut url = url::Url::parse(base_url).map_err(|_| invalid())?;
    url.path_segments_mut().map_err(|()| invalid())?.pop_if_empty().extend(segments);
    Ok(url.into())
}

/// Sends `request` and returns the answer if its status is a success, else the mapped error.
pub async fn send<D: ErrorDialect>(
    http: &OutboundClient,
    request: RequestBuilder,
) -> Result<FullResponse, PlatformError> {
    let response = http.execute(request, MAX_API_BODY).await.map_err(transport_error)?;
    if response.is_success() { Ok(response) } else { Err(error_from::<D>(&response)) }
}

/// Sends `request` and reads a successful answer as JSON.
pub async fn send_json<D: ErrorDialect, T: DeserializeOwned>(
    http: &OutboundClient,
    request: RequestBuilder,
) -> Result<T, PlatformError> {
    let response = send::<D>(http, request).await?;
    parse_json(&response)
}

/// A successful answer read as `T`; an answer of another shape is a `platform_error` that says
/// where the answer went wrong, never what it held.
pub fn parse_json<T: DeserializeOwned>(response: &FullResponse) -> Result<T, PlatformError> {
    serde_json::from_slice(&response.body).map_err(|e| {
        PlatformError::new(
            ErrorCode::PlatformError,
            format!(
                "the platform's answer was not what its API documents ({} error at line {} column {})",
                category_name(e.classify()),
                e.line(),
                e.column()
            ),
        )
    })
}

/// Serde's own messages quote the value they refused (`invalid type: string "…"`), which may
/// be a token: only the kind of mismatch is named.
fn category_name(category: serde_json::error::Category) -> &'static str {
    match category {
        serde_json::error::Category::Io => "read",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "shape",
        serde_json::error::Category::Eof => "truncation",
    }
}

/// No answer: timeouts and connection failures are the platform being unavailable.
pub fn transport_error(error: SendError) -> PlatformError {
    let code = match error {
        SendError::Timeout | SendError::Connect(_) | SendError::TooLarge(_) | SendError::Other(_) => {
            ErrorCode::PlatformUnavailable
        }
        SendError::Refused(_) => ErrorCode::PlatformError,
    };
    PlatformError::new(code, error.to_string())
}

/// An error answer mapped with the platform's dialect.
pub fn error_from<D: ErrorDialect>(response: &FullResponse) -> PlatformError {
    let message = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|body| D::message(&body))
        .unwrap_or_else(|| PlatformMessage::new(None, fallback_text(response)));
    let body = serde_json::from_slice::<serde_json::Value>(&response.body).unwrap_or_default();
    let code = D::decide(&body, &message).unwrap_or_else(|| match response.status {
        401 if mentions(&message.text, &["revoked"]) => ErrorCode::AuthRevoked,
        401 => ErrorCode::AuthExpired,
        429 => ErrorCode::RateLimited,
        500.. => ErrorCode::PlatformUnavailable,
        status => D::classify(status, &message),
    });
    let retry_after = match code {
        ErrorCode::RateLimited => response.retry_after().or_else(|| D::rate_limit_delay(&response.headers)),
        _ => None,
    };
    PlatformError { code, message: message.into_message(), retry_after, progress: None }
}

/// An error from a media step: what the platform refused there is the media, unless it is about
/// the account, the rate or the platform's health.
pub fn as_media_error(mut error: PlatformError) -> PlatformError {
    if matches!(error.code, ErrorCode::ContentRejected | ErrorCode::ContentTooLong | ErrorCode::PlatformError) {
        error.code = ErrorCode::InvalidMedia;
    }
    error
}

/// Whether `text` mentions any of `needles`, ignoring case.
pub fn mentions(text: &str, needles: &[&str]) -> bool {
    let text = text.to_lowercase();
    needles.iter().any(|needle| text.contains(needle))
}

/// How long until the rate-limit window the platform announced ends.
fn reset_delay(headers: &HeaderMap, reset: ResetHeader) -> Option<Duration> {
    let (name, epoch_seconds) = match reset {
        ResetHeader::None => return None,
        ResetHeader::EpochSeconds(name) => (name, true),
        ResetHeader::Rfc3339(name) => (name, false),
    };
    let value = headers.get(name)?.to_str().ok()?.trim();
    let at = if epoch_seconds {
        OffsetDateTime::from_unix_timestamp(value.parse().ok()?).ok()?
    } else {
        OffsetDateTime::parse(value, &Rfc3339).ok()?
    };
    let now = OffsetDateTime::from(SystemTime::now());
    Some(Duration::try_from(at - now).unwrap_or_default())
}

/// The message for an error body that is not in the platform's shape: its status and size only.
fn fallback_text(response: &FullResponse) -> String {
    match response.body.len() {
        0 => format!("HTTP {}", response.status),
        size => format!("HTTP {} with an undocumented answer of {size} bytes", response.status),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    struct Plain;

    impl ErrorDialect for Plain {
        const RESET: ResetHeader = ResetHeader::EpochSeconds("x-reset");

        fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
            Some(PlatformMessage::new(None, body.get("error")?.as_str()?))
        }

        fn classify(_: u16, _: &PlatformMessage) -> ErrorCode {
            ErrorCode::ContentRejected
        }
    }

    fn response(status: u16, headers: &[(&'static str, String)], body: &str) -> FullResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        FullResponse { status, headers: map, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn statuses_decide_auth_rate_and_availability() {
        let cases =
            [(401, ErrorCode::AuthExpired), (503, ErrorCode::PlatformUnavailable), (422, ErrorCode::ContentRejected)];
        for (status, code) in cases {
            let error = error_from::<Plain>(&response(status, &[], r#"{"error":"said so"}"#));
            assert_eq!((error.code, error.message.as_str()), (code, "said so"), "{status}");
        }
    }

    #[test]
    fn a_refused_token_the_platform_says_was_revoked_is_a_revocation() {
        let mastodon = error_from::<Plain>(&response(401, &[], r#"{"error":"The access token was revoked"}"#));
        assert_eq!(mastodon.code, ErrorCode::AuthRevoked);
        let linkedin = r#"{"error":"The token used in the request has been revoked by the user"}"#;
        assert_eq!(error_from::<Plain>(&response(401, &[], linkedin)).code, ErrorCode::AuthRevoked);
        let invalid = error_from::<Plain>(&response(401, &[], r#"{"error":"The access token is invalid"}"#));
        assert_eq!(invalid.code, ErrorCode::AuthExpired);
    }

    #[test]
    fn rate_limits_read_retry_after_first_then_the_reset_header() {
        let error = error_from::<Plain>(&response(429, &[("retry-after", "7".into())], "{}"));
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
        let reset = (OffsetDateTime::now_utc().unix_timestamp() + 60).to_string();
        let error = error_from::<Plain>(&response(429, &[("x-reset", reset)], "slow down"));
        let wait = error.retry_after.unwrap();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(error.message, "HTTP 429 with an undocumented answer of 9 bytes");
    }

    #[test]
    fn undocumented_answers_are_never_echoed() {
        let secret = "ya29.a0-SECRET-TOKEN";
        let error = error_from::<Plain>(&response(400, &[], &format!("<html>access_token={secret}</html>")));
        assert!(!error.message.contains(secret), "{}", error.message);
        let mistyped = response(200, &[], &format!(r#"{{"count": "{secret}"}}"#));
        let error = parse_json::<std::collections::HashMap<String, u64>>(&mistyped).unwrap_err();
        assert!(!error.message.contains(secret), "{}", error.message);
    }

    #[test]
    fn rfc3339_resets_are_read() {
        let at = (OffsetDateTime::now_utc() + Duration::from_secs(120)).format(&Rfc3339).unwrap();
        let headers: HeaderMap =
            [(reqwest::header::HeaderName::from_static("x-r"), HeaderValue::from_str(&at).unwrap())]
                .into_iter()
                .collect();
        let wait = reset_delay(&headers, ResetHeader::Rfc3339("x-r")).unwrap();
        assert!(wait > Duration::from_secs(110), "{wait:?}");
    }
}
