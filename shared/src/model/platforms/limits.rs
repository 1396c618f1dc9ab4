//! What each platform accepts (SPEC §7), checked before anything is queued and used by `fit`:
//! text length in the platform's own unit, how many images, whether an image is required, and
//! which images (formats, bytes) it takes.
//!
//! The units, as each platform documents them:
//! - X: twitter-text's weighted length with X's v3 configuration (most CJK and emoji weigh 2,
//!   every URL 23; <https://docs.x.com/fundamentals/counting-characters>).
//! - Bluesky: graphemes (the `app.bsky.feed.post` lexicon's `maxGraphemes: 300`).
//! - Mastodon: graphemes, every http(s) URL counting as the instance's
//!   `characters_reserved_per_url` and a remote mention as its local part; the limit is the
//!   instance's `configuration.statuses.max_characters`
//!   (<https://docs.joinmastodon.org/entities/Instance/#statuses>).
//! - Threads: characters, each emoji counting as its UTF-8 bytes
//!   (<https://developers.facebook.com/documentation/threads/posts>).
//! - LinkedIn, Facebook, Instagram: Unicode characters.
//!
//! Images, as documented: X takes JPG, PNG, GIF and WEBP up to 5 MB
//! (<https://docs.x.com/x-api/media/quickstart/best-practices>); a Bluesky blob is at most
//! 2,000,000 bytes (`app.bsky.embed.images` lexicon), so larger images are downscaled;
//! Instagram publishes JPEG only, up to 8 MB, and Threads JPEG and PNG up to 8 MB
//! (<https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media>,
//! <https://developers.facebook.com/docs/threads/overview#image-specifications>); Facebook
//! photos up to 4 MB (<https://developers.facebook.com/docs/graph-api/reference/page/photos/>).
//! Aspect ratios, where documented: Instagram feed images from 4:5 to 1.91:1 (the `ig-user/media`
//! reference above), Threads images up to 10:1 either way (its image specifications); the others
//! document none.
//!
//! Videos, as documented: X MP4 or MOV with H.264, up to 512 MB, 0.5 to 140 seconds, aspect
//! ratios 1:3 to 3:1, one per post and never beside images
//! (<https://docs.x.com/x-api/media/quickstart/best-practices>); Bluesky MP4, MOV or WebM up to
//! 100 MB and 3 minutes, one per post, alone (`app.bsky.embed.video`,
//! <https://docs.bsky.app/docs/tutorials/video>); Mastodon MP4, MOV or WebM up to 99 MB, one per
//! status, alone (<https://docs.joinmastodon.org/methods/media/>); LinkedIn MP4 from 3 seconds
//! to 30 minutes and up to 500 MB, one per post (the Videos API); Facebook Page videos MP4 or
//! MOV up to 10 GB and 240 minutes, one per post; Instagram Reels MP4 or MOV, H.264 or HEVC, up
//! to 300 MB, 3 seconds to 15 minutes, aspect ratios 0.01:1 to 10:1 (carousels mix them with
//! images); Threads MP4 or MOV, H.264 or HEVC, up to 1 GB and 5 minutes, aspect ratios 0.01:1
//! to 10:1 (<https://developers.facebook.com/docs/threads/overview#video-specifications>).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::model::platforms::emoji::is_emoji;
use crate::model::platforms::{Platform, links};

/// How a platform counts the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextUnit {
    /// Unicode scalar values (what most APIs call characters).
    Characters,
    /// User-perceived characters (extended grapheme clusters), as Bluesky counts.
    Graphemes,
    /// X's weighted characters.
    Weighted,
    /// Characters, with each emoji counting as its UTF-8 bytes, as Threads counts.
    EmojiAsBytes,
    /// Graphemes, with every URL counting `url_weight`, as Mastodon counts.
    GraphemesWithUrls { url_weight: usize },
}

impl TextUnit {
    /// The unit's name, as reported to API callers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Characters => "characters",
            Self::Graphemes => "graphemes",
            Self::Weighted => "weighted characters",
            Self::EmojiAsBytes => "characters (emoji as UTF-8 bytes)",
            Self::GraphemesWithUrls { .. } => "graphemes (links count fixed)",
        }
    }

    /// How the unit counts, in words a language model follows.
    pub fn description(self) -> String {
        match self {
            Self::Characters => "characters, counting spaces, emoji and links".into(),
            Self::Graphemes => "graphemes (user-perceived characters, counting spaces and links)".into(),
            Self::Weighted => "weighted characters (Latin letters count 1; CJK characters and emoji count 2; \
                 every link counts 23)"
                .into(),
            Self::EmojiAsBytes => "characters (each emoji counts 4 or more)".into(),
            Self::GraphemesWithUrls { url_weight } => {
                format!("graphemes (user-perceived characters; every link counts {url_weight})")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_text: usize,
    pub unit: TextUnit,
    pub max_images: usize,
    pub requires_image: bool,
    pub images: ImageRules,
    /// The videos the platform takes; `None` where it takes none.
    pub video: Option<VideoRules>,
}

/// The videos a platform takes, as it documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoRules {
    /// Container media types: `video/mp4`, `video/quicktime`, `video/webm`.
    pub media_types: &'static [&'static str],
    /// The codecs (MP4 sample entries such as `avc1`) it takes; empty where it names none.
    pub codecs: &'static [&'static str],
    pub max_bytes: u64,
    pub min_duration: Duration,
    pub max_duration: Option<Duration>,
    pub aspect: Option<AspectRange>,
    /// How many videos one post may carry.
    pub max_per_post: usize,
    /// Whether images may go beside a video in one post.
    pub mixes_with_images: bool,
}

const MP4_MOV: &[&str] = &["video/mp4", "video/quicktime"];
const MP4_MOV_WEBM: &[&str] = &["video/mp4", "video/quicktime", "video/webm"];
/// H.264 and HEVC sample entries.
const H264: &[&str] = &["avc1", "avc3"];
const H264_HEVC: &[&str] = &["avc1", "avc3", "hvc1", "hev1"];
const ALONE: VideoRules = VideoRules {
    media_types: MP4_MOV,
    codecs: &[],
    max_bytes: 512 * MB as u64,
    min_duration: Duration::ZERO,
    max_duration: None,
    aspect: None,
    max_per_post: 1,
    mixes_with_images: false,
};
/// Meta's video containers (Reels, Threads): 0.01:1 to 10:1.
const META_VIDEO_ASPECT: AspectRange = AspectRange {
    narrowest: Ratio { width: 1, height: 100 },
    widest: Ratio { width: 10, height: 1 },
    label: "aspect ratios from 0.01:1 to 10:1",
};

/// An image format, as platforms name what they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }

    /// The file extensions of the format, for media given by URL.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Png => &["png"],
            Self::Gif => &["gif"],
            Self::Webp => &["webp"],
        }
    }
}

const ALL_FORMATS: &[ImageFormat] = &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Webp];

/// What a platform does with an image over its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// Refused with `invalid_media` before any upload.
    Refuse,
    /// Downscaled and re-encoded as JPEG until it fits.
    Downscale,
}

/// The images a platform takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRules {
    pub formats: &'static [ImageFormat],
    pub max_bytes: usize,
    pub oversize: Oversize,
    /// The aspect ratios the platform takes, where it documents a range.
    pub aspect: Option<AspectRange>,
}

/// A width:height ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub width: u32,
    pub height: u32,
}

impl Ratio {
    /// How `width`×`height` compares with this ratio: `Less` when it is narrower.
    fn compare(self, width: u32, height: u32) -> std::cmp::Ordering {
        (u64::from(width) * u64::from(self.height)).cmp(&(u64::from(self.width) * u64::from(height)))
    }
}

/// The aspect ratios (width:height) a platform takes, from the narrowest to the widest, with
/// the platform's own words for the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AspectRange {
    pub narrowest: Ratio,
    pub widest: Ratio,
    pub label: &'static str,
}

impl AspectRange {
    pub fn admits(&self, width: u32, height: u32) -> bool {
        height > 0 && self.narrowest.compare(width, height).is_ge() && self.widest.compare(width, height).is_le()
    }

    /// Why `width`×`height` is refused, if it is.
    pub fn check(&self, width: u32, height: u32) -> Result<(), String> {
        if self.admits(width, height) {
            return Ok(());
        }
        let ratio = if height == 0 { 0.0 } else { f64::from(width) / f64::from(height) };
        Err(format!("is {width}x{height} (aspect ratio {ratio:.2}:1); the platform takes {}", self.label))
    }
}

/// Instagram feed images: 4:5 to 1.91:1.
const INSTAGRAM_ASPECT: AspectRange = AspectRange {
    narrowest: Ratio { width: 4, height: 5 },
    widest: Ratio { width: 191, height: 100 },
    label: "aspect ratios from 4:5 to 1.91:1",
};
/// Threads images: at most 10:1, either way.
const THREADS_ASPECT: AspectRange = AspectRange {
    narrowest: Ratio { width: 1, height: 10 },
    widest: Ratio { width: 10, height: 1 },
    label: "aspect ratios up to 10:1 either way",
};

impl ImageRules {
    /// The format whose media type is `media_type`, if the platform takes it.
    pub fn format(&self, media_type: &str) -> Option<ImageFormat> {
        self.formats.iter().copied().find(|format| format.media_type() == media_type)
    }

    /// The accepted file extensions, for messages: `jpg/jpeg/png`.
    pub fn extensions(&self) -> String {
        self.formats.iter().flat_map(|format| format.extensions()).copied().collect::<Vec<_>>().join("/")
    }
}

const MB: usize = 1024 * 1024;

/// What Mastodon instances allow unless their configuration says otherwise.
pub const MASTODON_DEFAULT_MAX_CHARACTERS: usize = 500;
pub const MASTODON_DEFAULT_URL_WEIGHT: usize = 23;

impl Limits {
    /// The length of `text` in this platform's unit.
    pub fn length(&self, text: &str) -> usize {
        match self.unit {
            TextUnit::Characters => text.chars().count(),
            TextUnit::Graphemes => text.graphemes(true).count(),
            TextUnit::Weighted => weighted_length(text),
            TextUnit::EmojiAsBytes => text.graphemes(true).map(emoji_as_bytes).sum(),
            TextUnit::GraphemesWithUrls { url_weight } => mastodon_length(text, url_weight),
        }
    }

    /// A Mastodon instance's limits, from its `configuration.statuses`.
    pub fn mastodon(max_characters: usize, url_weight: usize) -> Self {
        Self {
            max_text: max_characters,
            unit: TextUnit::GraphemesWithUrls { url_weight },
            ..Platform::Mastodon.limits()
        }
    }
}

/// A Mastodon instance's own text limits (`configuration.statuses` of its instance API), read at
/// connect and kept on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceLimits {
    pub max_characters: usize,
    pub characters_reserved_per_url: usize,
}

impl Platform {
    /// The limits on an account of this platform: its instance's where it has its own.
    pub fn limits_on(self, instance: Option<InstanceLimits>) -> Limits {
        match instance {
            Some(instance) => Limits::mastodon(instance.max_characters, instance.characters_reserved_per_url),
            None => self.limits(),
        }
    }

    /// Whether Posthorn's adapter for the platform uploads video (the platform's own rules are
    /// [`Limits::video`]).
    pub fn uploads_video(self) -> bool {
        matches!(self, Self::Sandbox | Self::X)
    }

    /// The platform's limits; a Mastodon instance may allow more (see [`Platform::limits_on`]).
    pub fn limits(self) -> Limits {
        let any_image =
            ImageRules { formats: ALL_FORMATS, max_bytes: 16 * MB, oversize: Oversize::Refuse, aspect: None };
        let limits = |max_text, unit, max_images| Limits {
            max_text,
            unit,
            max_images,
            requires_image: false,
            images: any_image,
            video: None,
        };
        match self {
            Self::Mastodon => Limits {
                video: Some(VideoRules { media_types: MP4_MOV_WEBM, max_bytes: 99 * MB as u64, ..ALONE }),
                ..limits(
                    MASTODON_DEFAULT_MAX_CHARACTERS,
                    TextUnit::GraphemesWithUrls { url_weight: MASTODON_DEFAULT_URL_WEIGHT },
                    4,
                )
            },
            Self::Bluesky => Limits {
                images: ImageRules { max_bytes: 2_000_000, oversize: Oversize::Downscale, ..any_image },
                video: Some(VideoRules {
                    media_types: MP4_MOV_WEBM,
                    max_bytes: 100 * MB as u64,
                    max_duration: Some(Duration::from_secs(180)),
                    ..ALONE
                }),
                ..limits(300, TextUnit::Graphemes, 4)
            },
            Self::X => Limits {
                images: ImageRules { max_bytes: 5 * MB, ..any_image },
                video: Some(VideoRules {
                    codecs: H264,
                    min_duration: Duration::from_millis(500),
                    max_duration: Some(Duration::from_secs(140)),
                    aspect: Some(AspectRange {
                        narrowest: Ratio { width: 1, height: 3 },
                        widest: Ratio { width: 3, height: 1 },
                        label: "aspect ratios from 1:3 to 3:1",
                    }),
                    ..ALONE
                }),
                ..limits(280, TextUnit::Weighted, 4)
            },
            Self::Linkedin => Limits {
                images: ImageRules { formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif], ..any_image },
                video: Some(VideoRules {
                    media_types: &["video/mp4"],
                    max_bytes: 500 * MB as u64,
                    min_duration: Duration::from_secs(3),
                    max_duration: Some(Duration::from_secs(30 * 60)),
                    ..ALONE
                }),
                ..limits(3000, TextUnit::Characters, 9)
            },
            Self::Facebook => Limits {
                images: ImageRules {
                    formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif],
                    max_bytes: 4 * MB,
                    ..any_image
                },
                video: Some(VideoRules {
                    max_bytes: 10 * 1024 * MB as u64,
                    max_duration: Some(Duration::from_secs(240 * 60)),
                    ..ALONE
                }),
                ..limits(63206, TextUnit::Characters, 10)
            },
            Self::Instagram => Limits {
                requires_image: true,
                images: ImageRules {
                    formats: &[ImageFormat::Jpeg],
                    max_bytes: 8 * MB,
                    aspect: Some(INSTAGRAM_ASPECT),
                    ..any_image
                },
                video: Some(VideoRules {
                    codecs: H264_HEVC,
                    max_bytes: 300 * MB as u64,
                    min_duration: Duration::from_secs(3),
                    max_duration: Some(Duration::from_secs(15 * 60)),
                    aspect: Some(META_VIDEO_ASPECT),
                    max_per_post: 10,
                    mixes_with_images: true,
                    ..ALONE
                }),
                ..limits(2200, TextUnit::Characters, 10)
            },
            Self::Threads => Limits {
                images: ImageRules {
                    formats: &[ImageFormat::Jpeg, ImageFormat::Png],
                    max_bytes: 8 * MB,
                    aspect: Some(THREADS_ASPECT),
                    ..any_image
                },
                video: Some(VideoRules {
                    codecs: H264_HEVC,
                    max_bytes: 1024 * MB as u64,
                    max_duration: Some(Duration::from_secs(5 * 60)),
                    aspect: Some(META_VIDEO_ASPECT),
                    max_per_post: 10,
                    mixes_with_images: true,
                    ..ALONE
                }),
                ..limits(500, TextUnit::EmojiAsBytes, 10)
            },
            Self::Sandbox => Limits {
                video: Some(VideoRules {
                    media_types: MP4_MOV_WEBM,
                    max_bytes: 1024 * MB as u64,
                    max_per_post: 10,
                    mixes_with_images: true,
                    ..ALONE
                }),
                ..limits(5000, TextUnit::Characters, 10)
            },
        }
    }
}

/// X's weighted length, as twitter-text computes it with X's v3 configuration
/// (`twitter-text/config/v3.json`). Written here rather than taken from the `twitter-text` crate,
/// which added about 350 kB to every Lambda binary: the rule is a few ranges.
///
/// Every link counts `transformedURLLength` (23), every emoji (a whole sequence: family, flag,
/// skin tone) `defaultWeight` (2), a code point in one of `ranges` (Latin, most punctuation) 1,
/// anything else (CJK, most symbols) 2. twitter-text counts the NFC form; text typed with
/// decomposed accents (`e` + U+0301) counts here one more per accent, never less.
fn weighted_length(text: &str) -> usize {
    const URL_WEIGHT: usize = 23;
    let mut length = 0;
    let mut counted = 0;
    for (range, _) in links::find(text) {
        length += weighted_graphemes(&text[counted..range.start]) + URL_WEIGHT;
        counted = range.end;
    }
    length + weighted_graphemes(&text[counted..])
}

fn weighted_graphemes(text: &str) -> usize {
    const LIGHT: [std::ops::RangeInclusive<u32>; 4] = [0..=4351, 8192..=8205, 8208..=8223, 8242..=8247];
    let weight = |c: char| if LIGHT.iter().any(|range| range.contains(&u32::from(c))) { 1 } else { 2 };
    text.graphemes(true).map(|grapheme| if is_emoji(grapheme) { 2 } else { grapheme.chars().map(weight).sum() }).sum()
}

fn emoji_as_bytes(grapheme: &str) -> usize {
    if is_emoji(grapheme) { grapheme.len() } else { grapheme.chars().count() }
}

/// Mastodon's status length: graphemes, with each http(s) URL replaced by `url_weight`
/// characters and `@user@domain` counted as `@user` (Mastodon's `countableText`).
fn mastodon_length(text: &str, url_weight: usize) -> usize {
    let graphemes = |part: &str| part.graphemes(true).count();
    let (urls, url_graphemes) = links::find(text)
        .filter(|(_, link)| link.has_scheme)
        .fold((0, 0), |(count, sum), (range, _)| (count + 1, sum + graphemes(&text[range])));
    let remote_domains: usize = remote_mention_domains(text).map(|domain| 1 + graphemes(domain)).sum();
    (graphemes(text) + urls * url_weight).saturating_sub(url_graphemes + remote_domains)
}

/// The domains of the remote mentions (`@user@domain`) of `text`, as Mastodon's
/// `/(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9.-]+[a-z0-9]+)/ig` finds them.
fn remote_mention_domains(text: &str) -> impl Iterator<Item = &str> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices('@').filter_map(move |(at, _)| {
        if text[..at].chars().next_back().is_some_and(|c| c == '/' || is_word(c)) {
            return None;
        }
        let rest = &text[at + 1..];
        let user = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        let domain = rest[user..].strip_prefix('@').filter(|_| user > 0)?;
        let end = domain.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(domain.len());
        let domain = domain[..end].trim_end_matches(['.', '-']);
        (domain.len() >= 2).then_some(domain)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluesky_counts_graphemes() {
        let family = "👨‍👩‍👧‍👦";
        assert_eq!(Platform::Bluesky.limits().length(family), 1);
        assert_eq!(Platform::Linkedin.limits().length(family), 7);
    }

    /// Expected values from X's own twitter-text 3.1.0 (npm `parseTweet().weightedLength`).
    #[test]
    fn x_counts_weighted_characters_like_twitter_text() {
        let x = Platform::X.limits();
        let cases = [
            ("hello", 5),
            ("héllo", 5),
            ("日本語のテキスト", 16),
            ("👨‍👩‍👧‍👦", 2),
            ("see https://example.com/a/very/long/path/that/is/long ok", 30),
            ("example.com rocks", 29),
            ("read example.com.", 29),
            ("(https://x.com/a) ok", 28),
            ("Visit posthorn.dev/docs, now!", 35),
            ("x.co rocks", 29),
            ("mail@example.com", 16),
            ("“quoted” – text…", 17),
            ("a → b", 6),
            ("🇫🇷👍🏽 1️⃣", 7),
        ];
        for (text, weighted) in cases {
            assert_eq!(x.length(text), weighted, "{text}");
        }
    }

    #[test]
    fn threads_counts_emoji_as_their_utf8_bytes() {
        let threads = Platform::Threads.limits();
        assert_eq!(threads.length("héllo"), 5);
        assert_eq!(threads.length("ok 👍"), 3 + 4);
        assert_eq!(threads.length("👨‍👩‍👧‍👦"), "👨‍👩‍👧‍👦".len());
    }

    #[test]
    fn mastodon_counts_links_at_the_instances_weight_and_remote_mentions_locally() {
        let mastodon = Platform::Mastodon.limits();
        assert_eq!(mastodon.length("read https://example.com/a/very/long/path/indeed"), 5 + 23);
        assert_eq!(mastodon.length("hi @alice@mastodon.example"), "hi @alice".len());
        assert_eq!(mastodon.length("(@bob@social.example.) and @alice"), "(@bob.) and @alice".len());
        assert_eq!(mastodon.length("mail me: me@mail.example"), 24);
        assert_eq!(mastodon.length("example.com is not a link here"), 30);
        assert_eq!(Limits::mastodon(1000, 30).length("go https://example.com/x"), 3 + 30);
    }

    #[test]
    fn limits_follow_the_spec() {
        let expected = [
            (Platform::X, 280),
            (Platform::Bluesky, 300),
            (Platform::Mastodon, 500),
            (Platform::Threads, 500),
            (Platform::Linkedin, 3000),
            (Platform::Instagram, 2200),
            (Platform::Facebook, 63206),
        ];
        for (platform, max) in expected {
            assert_eq!(platform.limits().max_text, max, "{platform:?}");
        }
        assert!(Platform::Instagram.limits().requires_image);
    }

    #[test]
    fn aspect_ratios_are_checked_where_documented() {
        let instagram = Platform::Instagram.limits().images.aspect.unwrap();
        assert!(instagram.admits(1080, 1350), "4:5");
        assert!(instagram.admits(1910, 1000), "1.91:1");
        assert!(instagram.admits(1080, 1080));
        assert!(!instagram.admits(1080, 1351), "narrower than 4:5");
        assert!(!instagram.admits(1920, 1000), "wider than 1.91:1");
        let error = instagram.check(1000, 2000).unwrap_err();
        assert_eq!(error, "is 1000x2000 (aspect ratio 0.50:1); the platform takes aspect ratios from 4:5 to 1.91:1");
        let threads = Platform::Threads.limits().images.aspect.unwrap();
        assert!(threads.admits(100, 1000) && threads.admits(1000, 100) && !threads.admits(1001, 100));
        assert!(Platform::X.limits().images.aspect.is_none());
    }
}
