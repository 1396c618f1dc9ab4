//! The built-in `sandbox` platform (SPEC §7): publishes nowhere, so the whole flow can be tried
//! with no account. A text containing `#fail:<code>` (e.g. `#fail:rate_limited`) fails every
//! sandbox target with that code; `#fail:<code>:<channel>` fails only the sandbox channel whose
//! platform id is `<channel>` (e.g. `#fail:content_rejected:sandbox-2`). Metrics are made up from
//! the post id, the same on every read.

use async_trait::async_trait;

use super::{ChannelAuth, ErrorCode, Metrics, Platform, PlatformClient, PlatformError, PublishRequest, Published};

pub struct Sandbox;

const CODES: [(&str, ErrorCode); 7] = [
    ("rate_limited", ErrorCode::RateLimited),
    ("auth_expired", ErrorCode::AuthExpired),
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

#[async_trait]
impl PlatformClient for Sandbox {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        if let Some(code) = forced_failure(&post.text, &auth.platform_channel_id) {
            return Err(PlatformError::new(code, format!("sandbox: failure forced by #fail:{}", code_name(code))));
        }
        let id = ulid::Ulid::new().to_string().to_lowercase();
        Ok(Published { platform_post_id: format!("sandbox-{id}"), url: None })
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
