//! Checks a post against every target's platform before anything is saved: text length in the
//! platform's unit, media count and type, a required image, the channel's connection.

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::channels::Channel;
use crate::model::connections::ConnectionStatus;
use crate::model::ids::ChannelId;
use crate::model::platforms::ImageRules;
use crate::model::platforms::{Limits, MediaItem, Platform};

/// One rule a post breaks on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `text_too_long`, `too_many_media`, `unsupported_media_type`, `media_required`,
    /// `connection_expired` or `connection_revoked`.
    pub rule: &'static str,
    pub message: String,
}

/// Every problem of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TargetReport {
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub problems: Vec<Problem>,
}

/// The problems of `text` and `media` on `channel`, under the `limits` of its account (its
/// platform's, or its Mastodon instance's), whose connection has `connection_status`.
pub fn check_target(
    text: &str,
    media: &[MediaItem],
    channel: &Channel,
    limits: Limits,
    connection_status: ConnectionStatus,
) -> TargetReport {
    let platform = channel.platform;
    let name = platform.as_str();
    let mut problems = Vec::new();
    let length = limits.length(text);
    if length > limits.max_text {
        let unit = limits.unit.name();
        problems.push(Problem {
            rule: "text_too_long",
            message: format!("text is {length} {unit}; {name} allows {}", limits.max_text),
        });
    }
    if media.len() > limits.max_images {
        problems.push(Problem {
            rule: "too_many_media",
            message: format!("{} media items; {name} allows {}", media.len(), limits.max_images),
        });
    }
    for (index, item) in media.iter().enumerate() {
        if !is_image_url(&item.url, &limits.images) {
            problems.push(Problem {
                rule: "unsupported_media_type",
                message: format!("media[{index}] is not a {} image, which {name} takes", limits.images.extensions()),
            });
        }
    }
    if limits.requires_image && media.is_empty() {
        problems.push(Problem { rule: "media_required", message: format!("{name} requires at least one image") });
    }
    match connection_status {
        ConnectionStatus::Active => {}
        ConnectionStatus::Expired => problems.push(Problem {
            rule: "connection_expired",
            message: format!("the {name} connection of this channel expired; reconnect it"),
        }),
        ConnectionStatus::Revoked => problems.push(Problem {
            rule: "connection_revoked",
            message: format!("the {name} account of this channel removed Posthorn's access; reconnect it"),
        }),
    }
    TargetReport { channel_id: channel.id, platform, problems }
}

/// Whether the URL's path ends in an extension of a format the platform takes.
fn is_image_url(raw: &str, rules: &ImageRules) -> bool {
    url::Url::parse(raw).ok().and_then(|url| {
        let path = url.path().to_ascii_lowercase();
        path.rsplit_once('.')
            .map(|(_, extension)| rules.formats.iter().any(|format| format.extensions().contains(&extension)))
    }) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_extension() {
        let any = Platform::X.limits().images;
        assert!(is_image_url("https://cdn.example.com/a/photo.JPG?w=100", &any));
        assert!(!is_image_url("https://cdn.example.com/clip.mp4", &any));
        assert!(!is_image_url("https://cdn.example.com/photo", &any));
        let instagram = Platform::Instagram.limits().images;
        assert!(!is_image_url("https://cdn.example.com/photo.png", &instagram), "Instagram publishes JPEG only");
    }
}
