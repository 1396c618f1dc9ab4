//! Checks a post against every target's platform before anything is saved: text length in the
//! platform's unit, media count and type, a required image, the channel's connection; and, where
//! the media's content was read, its real format, size and aspect ratio. Videos: whether the
//! platform (and Posthorn's adapter for it) takes them, how many, beside images or not, and from
//! their content their container, codec, size, duration and aspect ratio.

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::channels::Channel;
use crate::model::connections::ConnectionStatus;
use crate::model::ids::ChannelId;
use crate::model::platforms::ImageRules;
use crate::model::platforms::{Limits, MediaFacts, MediaItem, MediaKind, Oversize, Platform, VideoRules};

/// One rule a post breaks on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// `text_too_long`, `too_many_media`, `unsupported_media_type`, `media_required`,
    /// `connection_expired`, `connection_revoked`, `video_not_supported`, `too_many_videos`,
    /// `mixed_media`, and where the media's content was read: `media_unreadable`,
    /// `media_too_large`, `aspect_ratio`, `video_codec` or `video_duration`.
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

/// What is known of a media item's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaContent {
    /// Not read (a post is saved without fetching its media): its URL's extension is checked.
    Unread,
    Read(MediaFacts),
    /// Fetching or recognising it failed, for this reason.
    Unreadable(String),
}

/// The problems of `text` and `media` (whose content is `content`, item by item) on `channel`,
/// under the `limits` of its account (its platform's, or its Mastodon instance's), whose
/// connection has `connection_status`.
pub fn check_target(
    text: &str,
    media: &[MediaItem],
    content: &[MediaContent],
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
    let mut kinds = Vec::with_capacity(media.len());
    for (index, item) in media.iter().enumerate() {
        let item_content = content.get(index).unwrap_or(&MediaContent::Unread);
        let kind = match item_content {
            MediaContent::Read(facts) => Some(facts.kind),
            _ => item.kind,
        };
        kinds.push(kind);
        if kind == Some(MediaKind::Video)
            && let Some(problem) = video_refused(index, platform, &limits)
        {
            problems.push(problem);
            continue;
        }
        match item_content {
            MediaContent::Unread if kind != Some(MediaKind::Video) && !is_image_url(&item.url, &limits.images) => {
                problems.push(Problem {
                    rule: "unsupported_media_type",
                    message: format!(
                        "media[{index}] is not a {} image, which {name} takes, nor a video",
                        limits.images.extensions()
                    ),
                })
            }
            MediaContent::Unread => {}
            MediaContent::Read(facts) => problems.extend(content_problems(index, facts, &limits, platform)),
            MediaContent::Unreadable(reason) => {
                problems.push(Problem { rule: "media_unreadable", message: format!("media[{index}] {reason}") })
            }
        }
    }
    problems.extend(mixing_problems(&kinds, &limits, platform));
    if limits.requires_image && media.is_empty() {
        problems
            .push(Problem { rule: "media_required", message: format!("{name} requires at least one image or video") });
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

/// Why a video cannot go to `platform` at all, if it cannot.
fn video_refused(index: usize, platform: Platform, limits: &Limits) -> Option<Problem> {
    let name = platform.as_str();
    let message = match limits.video {
        None => format!("media[{index}] is a video; {name} takes no video"),
        Some(_) if !platform.uploads_video() => {
            format!("media[{index}] is a video; Posthorn does not upload video to {name} yet")
        }
        Some(_) => return None,
    };
    Some(Problem { rule: "video_not_supported", message })
}

/// How many videos the post carries, and beside what, against the platform's rules.
fn mixing_problems(kinds: &[Option<MediaKind>], limits: &Limits, platform: Platform) -> Vec<Problem> {
    let name = platform.as_str();
    let Some(video) = limits.video.filter(|_| platform.uploads_video()) else { return Vec::new() };
    let videos = kinds.iter().filter(|kind| **kind == Some(MediaKind::Video)).count();
    let images = kinds.iter().filter(|kind| **kind == Some(MediaKind::Image)).count();
    let mut problems = Vec::new();
    if videos > video.max_per_post {
        problems.push(Problem {
            rule: "too_many_videos",
            message: format!("{videos} videos; {name} takes at most {} per post", video.max_per_post),
        });
    }
    if videos > 0 && images > 0 && !video.mixes_with_images {
        problems.push(Problem {
            rule: "mixed_media",
            message: format!("{name} takes a video alone, never beside images; the post has both"),
        });
    }
    problems
}

/// What media item `index`, whose content is described by `facts`, breaks of `platform`'s
/// `limits`: its real format, its size, its aspect ratio, and a video's codec and duration.
pub fn content_problems(index: usize, facts: &MediaFacts, limits: &Limits, platform: Platform) -> Vec<Problem> {
    if facts.kind == MediaKind::Video {
        return match limits.video {
            Some(rules) => video_problems(index, facts, &rules, platform),
            None => video_refused(index, platform, limits).into_iter().collect(),
        };
    }
    let name = platform.as_str();
    let rules = &limits.images;
    let mut problems = Vec::new();
    if rules.format(&facts.media_type).is_none() {
        problems.push(Problem {
            rule: "unsupported_media_type",
            message: format!("media[{index}] is {}; {name} takes {} images", facts.media_type, rules.extensions()),
        });
        return problems;
    }
    let too_large = facts.bytes.is_some_and(|bytes| bytes > rules.max_bytes as u64);
    if too_large && rules.oversize == Oversize::Refuse {
        problems.push(Problem {
            rule: "media_too_large",
            message: format!(
                "media[{index}] is {} bytes; {name} takes images of at most {}",
                facts.bytes.unwrap_or_default(),
                rules.max_bytes
            ),
        });
    }
    if let (Some(aspect), Some((width, height))) = (rules.aspect, facts.dimensions)
        && let Err(reason) = aspect.check(width, height)
    {
        let reason = reason.replace("the platform", name);
        problems.push(Problem { rule: "aspect_ratio", message: format!("media[{index}] {reason}") });
    }
    problems
}

/// What a video breaks of the platform's video rules.
fn video_problems(index: usize, facts: &MediaFacts, rules: &VideoRules, platform: Platform) -> Vec<Problem> {
    let name = platform.as_str();
    let problem = |rule, message: String| Problem { rule, message: format!("media[{index}] {message}") };
    let mut problems = Vec::new();
    if !rules.media_types.contains(&facts.media_type.as_str()) {
        let takes = rules.media_types.join(", ");
        problems.push(problem("unsupported_media_type", format!("is {}; {name} takes {takes}", facts.media_type)));
        return problems;
    }
    if let Some(codec) =
        facts.video_codec.as_deref().filter(|codec| !rules.codecs.is_empty() && !rules.codecs.contains(codec))
    {
        let takes = rules.codecs.join(", ");
        problems.push(problem("video_codec", format!("is encoded as `{codec}`; {name} takes {takes}")));
    }
    if let Some(bytes) = facts.bytes.filter(|bytes| *bytes > rules.max_bytes) {
        problems.push(problem(
            "media_too_large",
            format!("is {bytes} bytes; {name} takes videos of at most {}", rules.max_bytes),
        ));
    }
    if let Some(duration) = facts.duration {
        let seconds = duration.as_secs_f64();
        let too_long = rules.max_duration.is_some_and(|max| duration > max);
        if duration < rules.min_duration || too_long {
            let range = match rules.max_duration {
                Some(max) => format!("from {} to {} seconds", rules.min_duration.as_secs_f64(), max.as_secs_f64()),
                None => format!("of at least {} seconds", rules.min_duration.as_secs_f64()),
            };
            problems
                .push(problem("video_duration", format!("lasts {seconds:.1} seconds; {name} takes videos {range}")));
        }
    }
    if let (Some(aspect), Some((width, height))) = (rules.aspect, facts.dimensions)
        && let Err(reason) = aspect.check(width, height)
    {
        problems.push(problem("aspect_ratio", reason.replace("the platform", name)));
    }
    problems
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

    fn video(seconds: u64, width: u32, height: u32, codec: &str) -> MediaFacts {
        MediaFacts {
            kind: MediaKind::Video,
            media_type: "video/mp4".into(),
            bytes: Some(10_000_000),
            dimensions: Some((width, height)),
            duration: Some(std::time::Duration::from_secs(seconds)),
            video_codec: Some(codec.into()),
        }
    }

    fn rules_of(problems: Vec<Problem>) -> Vec<&'static str> {
        problems.into_iter().map(|problem| problem.rule).collect()
    }

    #[test]
    fn videos_are_checked_against_the_documented_rules() {
        let x = Platform::X.limits().video.unwrap();
        let check = |facts: &MediaFacts| rules_of(video_problems(0, facts, &x, Platform::X));
        assert!(check(&video(30, 1280, 720, "avc1")).is_empty());
        assert_eq!(check(&video(141, 1280, 720, "avc1")), ["video_duration"]);
        assert_eq!(check(&video(30, 400, 1300, "avc1")), ["aspect_ratio"], "narrower than 1:3");
        assert_eq!(check(&video(30, 1280, 720, "hvc1")), ["video_codec"]);
        let webm = MediaFacts { media_type: "video/webm".into(), ..video(30, 1280, 720, "avc1") };
        assert_eq!(check(&webm), ["unsupported_media_type"]);
        let message = &video_problems(0, &video(141, 1280, 720, "avc1"), &x, Platform::X)[0].message;
        assert_eq!(message, "media[0] lasts 141.0 seconds; x takes videos from 0.5 to 140 seconds");
    }

    #[test]
    fn a_video_alone_rule_refuses_a_second_video_and_images_beside_it() {
        let alone = Limits {
            video: Some(VideoRules { ..Platform::Sandbox.limits().video.unwrap() }),
            ..Platform::Sandbox.limits()
        };
        let strict = Limits {
            video: alone.video.map(|video| VideoRules { max_per_post: 1, mixes_with_images: false, ..video }),
            ..alone
        };
        let kinds = [Some(MediaKind::Video), Some(MediaKind::Video), Some(MediaKind::Image)];
        assert!(mixing_problems(&kinds, &alone, Platform::Sandbox).is_empty());
        assert_eq!(rules_of(mixing_problems(&kinds, &strict, Platform::Sandbox)), ["too_many_videos", "mixed_media"]);
    }

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
