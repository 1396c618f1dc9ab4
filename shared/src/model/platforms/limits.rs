//! What each platform accepts (SPEC §7), checked before anything is queued: text length in the
//! platform's own unit, how many images, and whether an image is required.

use unicode_segmentation::UnicodeSegmentation;

use crate::model::platforms::Platform;

/// How a platform counts the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextUnit {
    /// Unicode scalar values (what most APIs call characters).
    Characters,
    /// User-perceived characters (extended grapheme clusters), as Bluesky counts.
    Graphemes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_text: usize,
    pub unit: TextUnit,
    pub max_images: usize,
    pub requires_image: bool,
}

impl Limits {
    /// The length of `text` in this platform's unit.
    pub fn length(&self, text: &str) -> usize {
        match self.unit {
            TextUnit::Characters => text.chars().count(),
            TextUnit::Graphemes => text.graphemes(true).count(),
        }
    }
}

impl Platform {
    pub fn limits(self) -> Limits {
        let chars =
            |max_text, max_images| Limits { max_text, unit: TextUnit::Characters, max_images, requires_image: false };
        match self {
            Self::Mastodon => chars(500, 4),
            Self::Bluesky => Limits { max_text: 300, unit: TextUnit::Graphemes, max_images: 4, requires_image: false },
            Self::X => chars(280, 4),
            Self::Linkedin => chars(3000, 9),
            Self::Facebook => chars(63206, 10),
            Self::Instagram => {
                Limits { max_text: 2200, unit: TextUnit::Characters, max_images: 10, requires_image: true }
            }
            Self::Threads => chars(500, 10),
            Self::Sandbox => chars(5000, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluesky_counts_graphemes_and_the_others_characters() {
        let family = "👨‍👩‍👧‍👦";
        assert_eq!(Platform::Bluesky.limits().length(family), 1);
        assert_eq!(Platform::Mastodon.limits().length(family), 7);
        assert_eq!(Platform::X.limits().length("héllo"), 5);
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
}
