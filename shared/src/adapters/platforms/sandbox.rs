//! The built-in `sandbox` platform (SPEC §7): publishes nowhere, so the whole flow can be tried
//! with no account. A text containing `#fail:<code>` (e.g. `#fail:rate_limited`) fails every
//! sandbox target with that code; `#fail:<code>:<channel>` fails only the sandbox channel whose
//! platform id is `<channel>` (e.g. `#fail:content_rejected:sandbox-2`). Metrics are made up from
//! the post id, the same on every read.
//!
//! It takes videos as it takes images (its rules are in `Platform::limits`). A post with a video
//! can force the failures of video processing: `#fail:invalid_media` refuses the media, and
//! `#fail:processing_timeout` makes the video "process" like a platform's asynchronous media —
//! each try pauses the target (a step kept on it, checked again after
//! [`PROCESSING_CHECK_AFTER`]) — until, after [`PROCESSING_CHECKS`] checks, it gives up with
//! `invalid_media`, as the adapters do with a platform that never finishes processing.
//!
//! Connecting needs no account either: the consent "page" is the redirect URI itself, called
//! with `code=sandbox-<the PKCE challenge>` and the state, as if the user had agreed at once;
//! the exchange accepts a code only if it carries the challenge of the verifier it is given.
//! Tokens live an hour and refresh tokens rotate. The one account, `sandbox`, lists the
//! channels `sandbox-1` … `sandbox-3`.
//!
//! Its inbox is never polled: interactions arrive through `POST /v1/sandbox/interactions`. Every
//! kind can be answered, and the answer goes nowhere.

use std::time::Duration;

use async_trait::async_trait;

use crate::adapters::platforms::oauth::url_with_query;
use crate::adapters::platforms::pkce::challenge_of;
use crate::model::channels::ChannelKind;
use crate::model::inbox::InteractionKind;
use crate::model::platforms::{ErrorCode, MediaKind, Metrics, Platform};
use crate::ports::platforms::{
    AuthorizeRequest, ChannelAuth, ChannelPage, CodeExchange, ConnectMethod, Connector, InboxClient, OAuthApp,
    PlatformClient, PlatformError, Profile, PublishRequest, Published, RemoteChannel, ReplyTarget, TokenGrant,
};

pub struct Sandbox;

/// The platform id of the sandbox's one account.
pub const USER_ID: &str = "sandbox";
pub const BASE_URL: &str = "sandbox:";
const CODE_PREFIX: &str = "sandbox-";
const REFRESH_PREFIX: &str = "sandbox-refresh-";
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
const CHANNELS: usize = 3;
/// How many times a video forced to time out is checked before it is given up.
pub const PROCESSING_CHECKS: u32 = 3;
/// The pause between two checks of a video forced to time out.
pub const PROCESSING_CHECK_AFTER: Duration = Duration::from_secs(5);
const PROCESSING_STEP: &str = "video-processing:";

/// The sandbox's built-in OAuth client.
pub fn app() -> OAuthApp {
    OAuthApp { client_id: "posthorn-sandbox".into(), client_secret: None }
}

const CODES: [(&str, ErrorCode); 8] = [
    ("rate_limited", ErrorCode::RateLimited),
    ("auth_expired", ErrorCode::AuthExpired),
    ("auth_revoked", ErrorCode::AuthRevoked),
    ("invalid_media", ErrorCode::InvalidMedia),
    ("content_rejected", ErrorCode::ContentRejected),
    ("content_too_long", ErrorCode::ContentTooLong),
    ("platform_unavailable", ErrorCode::PlatformUnavailable),
    ("platform_error", ErrorCode::PlatformError),
];

/// The failure a text asks for on `channel`, if any.
fn forced_failure(text: &str, channel: &str) -> Option<ErrorCode> {
    text.split_whitespace().filter_map(|word| word.strip_prefix("#fail:")).find_map(|tag| {
        let (name, only_on) = match tag.split_once(':') {
            Some((name, only_on)) => (name, Some(only_on)),
            None => (tag, None),
        };
        let applies = only_on.is_none_or(|only_on| only_on == channel);
        CODES.iter().find(|(code, _)| applies && *code == name).map(|(_, code)| *code)
    })
}

/// Whether the text forces the failure `name` on `channel` (`#fail:name` or `#fail:name:channel`).
fn forces(text: &str, name: &str, channel: &str) -> bool {
    text.split_whitespace().filter_map(|word| word.strip_prefix("#fail:")).any(|tag| match tag.split_once(':') {
        Some((tag, only_on)) => tag == name && only_on == channel,
        None => tag == name,
    })
}

/// One more check of a video that never finishes processing: a pause until the next, or after
/// the last one, the media given up.
fn processing_check(resumed_from: Option<&str>) -> PlatformError {
    let checks = resumed_from.and_then(|step| step.strip_prefix(PROCESSING_STEP)?.parse::<u32>().ok()).unwrap_or(0) + 1;
    if checks >= PROCESSING_CHECKS {
        let message = format!(
            "sandbox: the video was still processing after {checks} checks (forced by #fail:processing_timeout); \
             a retry starts over"
        );
        return PlatformError::new(ErrorCode::InvalidMedia, message);
    }
    let message = format!("sandbox is processing the video; checked again in {} s", PROCESSING_CHECK_AFTER.as_secs());
    PlatformError::not_ready(message, format!("{PROCESSING_STEP}{checks}"), PROCESSING_CHECK_AFTER)
}

/// A sandbox id: `sandbox-` and a fresh ULID.
pub fn new_platform_id() -> String {
    format!("sandbox-{}", ulid::Ulid::new().to_string().to_lowercase())
}

#[async_trait]
impl InboxClient for Sandbox {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    fn replies_to(&self, _kind: InteractionKind) -> bool {
        true
    }

    async fn reply(&self, auth: &ChannelAuth, _to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        if let Some(code) = forced_failure(text, &auth.platform_channel_id) {
            return Err(PlatformError::new(code, format!("sandbox: failure forced by #fail:{}", code_name(code))));
        }
        Ok(Published { platform_post_id: new_platform_id(), url: None })
    }
}

#[async_trait]
impl PlatformClient for Sandbox {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        if let Some(code) = forced_failure(&post.text, &auth.platform_channel_id) {
            return Err(PlatformError::new(code, format!("sandbox: failure forced by #fail:{}", code_name(code))));
        }
        let has_video = post.media.iter().any(|item| item.kind == Some(MediaKind::Video));
        if has_video && forces(&post.text, "processing_timeout", &auth.platform_channel_id) {
            return Err(processing_check(post.resume_from.as_deref()));
        }
        Ok(Published { platform_post_id: new_platform_id(), url: None })
    }

    async fn delete(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<(), PlatformError> {
        Ok(())
    }

    async fn metrics(&self, _auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let seed =
            platform_post_id.bytes().fold(0u64, |hash, byte| hash.wrapping_mul(31).wrapping_add(u64::from(byte)));
        Ok(Metrics {
            views: Some(100 + seed % 900),
            likes: Some(seed % 50),
            comments: Some(seed % 7),
            shares: Some(seed % 11),
        })
    }
}

#[async_trait]
impl Connector for Sandbox {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: true }
    }

    fn default_base_url(&self) -> &str {
        BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        let code = format!("{CODE_PREFIX}{}", request.pkce_challenge.unwrap_or_default());
        url_with_query(request.redirect_uri, &[("code", &code), ("state", request.state)])
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        let challenge = exchange.code.strip_prefix(CODE_PREFIX);
        let verified = exchange.pkce_verifier.map(challenge_of);
        if challenge.is_none() || challenge != verified.as_deref() {
            return Err(PlatformError::new(
                ErrorCode::AuthExpired,
                "invalid_grant: a sandbox code is `sandbox-` and the PKCE challenge of its verifier",
            ));
        }
        Ok(grant())
    }

    async fn refresh(
        &self,
        _app: &OAuthApp,
        _auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError> {
        match refresh_token {
            Some(token) if token.starts_with(REFRESH_PREFIX) => Ok(grant()),
            _ => Err(PlatformError::new(ErrorCode::AuthExpired, "invalid_grant: not a sandbox refresh token")),
        }
    }

    async fn profile(&self, _auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        Ok(Profile {
            platform_user_id: USER_ID.into(),
            username: "sandbox".into(),
            display_name: Some("Sandbox".into()),
            avatar_url: None,
            profile_url: None,
        })
    }

    async fn list_channels(
        &self,
        _auth: &ChannelAuth,
        _profile: &Profile,
        _: Option<&str>,
    ) -> Result<ChannelPage, PlatformError> {
        Ok(ChannelPage::only(
            (1..=CHANNELS)
                .map(|number| RemoteChannel {
                    platform_channel_id: format!("sandbox-{number}"),
                    name: format!("Sandbox {number}"),
                    kind: ChannelKind::Account,
                    channel_token: None,
                })
                .collect(),
        ))
    }

    async fn revoke(
        &self,
        _app: &OAuthApp,
        _auth: &ChannelAuth,
        _refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        Ok(())
    }
}

/// Fresh sandbox tokens: an hour's access token and a new (rotated) refresh token.
fn grant() -> TokenGrant {
    let random = || ulid::Ulid::new().to_string().to_lowercase();
    TokenGrant {
        access_token: format!("sandbox-access-{}", random()),
        refresh_token: Some(format!("{REFRESH_PREFIX}{}", random())),
        expires_in: Some(TOKEN_LIFETIME),
        scopes: vec!["publish".into()],
    }
}

fn code_name(code: ErrorCode) -> &'static str {
    CODES.iter().find(|(_, known)| *known == code).map_or("platform_error", |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fail_tag_forces_that_code() {
        assert_eq!(forced_failure("Launch day! #fail:rate_limited", "sandbox-1"), Some(ErrorCode::RateLimited));
        assert_eq!(forced_failure("#fail:nonsense and #fail:auth_expired", "sandbox-1"), Some(ErrorCode::AuthExpired));
        assert_eq!(forced_failure("all good #launch", "sandbox-1"), None);
    }

    #[test]
    fn a_channel_suffix_limits_the_failure_to_that_channel() {
        let text = "Launch #fail:content_rejected:sandbox-2";
        assert_eq!(forced_failure(text, "sandbox-2"), Some(ErrorCode::ContentRejected));
        assert_eq!(forced_failure(text, "sandbox-1"), None);
    }
}
