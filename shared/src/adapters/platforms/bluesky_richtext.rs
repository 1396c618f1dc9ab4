//! Bluesky rich text: the links, mentions and hashtags of a post's text found as the official
//! clients find them (`RichText.detectFacets` of `@atproto/api`,
//! <https://docs.bsky.app/docs/advanced-guides/post-richtext>), as facets over UTF-8 byte ranges
//! (`app.bsky.richtext.facet`). Links may lack a scheme (`example.com/page` becomes
//! `https://example.com/page`) when their domain ends in a known top-level domain; a mention
//! becomes a facet only once its handle is resolved to a DID.

use std::ops::Range;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::model::platforms::links::{self, is_domain};

/// The lexicon's limit on a tag, in graphemes.
const MAX_TAG_GRAPHEMES: usize = 64;

/// What a stretch of the text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Link {
        uri: String,
    },
    /// A handle, still to resolve to a DID.
    Mention {
        handle: String,
    },
    Tag {
        tag: String,
    },
}

/// One facet of a post record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facet {
    pub index: ByteSlice,
    pub features: Vec<Feature>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ByteSlice {
    pub byte_start: usize,
    pub byte_end: usize,
}

impl From<Range<usize>> for ByteSlice {
    fn from(range: Range<usize>) -> Self {
        Self { byte_start: range.start, byte_end: range.end }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "$type")]
pub enum Feature {
    #[serde(rename = "app.bsky.richtext.facet#link")]
    Link { uri: String },
    #[serde(rename = "app.bsky.richtext.facet#mention")]
    Mention { did: String },
    #[serde(rename = "app.bsky.richtext.facet#tag")]
    Tag { tag: String },
}

/// Every link, mention and tag of `text`, with its byte range, in order.
pub fn detect(text: &str) -> Vec<(Range<usize>, Found)> {
    links::words(text)
        .filter_map(|(start, word)| {
            let (length, found) = mention(word).or_else(|| tag(word)).or_else(|| link(word))?;
            Some((start..start + length, found))
        })
        .collect()
}

/// `@handle`: a domain name with a known top-level domain.
fn mention(word: &str) -> Option<(usize, Found)> {
    let rest = word.strip_prefix('@')?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(rest.len());
    let handle = rest[..end].trim_end_matches(['.', '-']);
    is_domain(handle).then(|| (1 + handle.len(), Found::Mention { handle: handle.to_ascii_lowercase() }))
}

/// `#tag` (or the full-width `＃`): not only digits, trailing punctuation left out.
fn tag(word: &str) -> Option<(usize, Found)> {
    let hash = ['#', '＃'].into_iter().find(|hash| word.starts_with(*hash))?;
    let tag = word[hash.len_utf8()..].trim_end_matches(is_punctuation);
    let meaningful = tag.chars().any(|c| !c.is_ascii_digit() && !is_punctuation(c));
    let fits = tag.graphemes(true).count() <= MAX_TAG_GRAPHEMES;
    (meaningful && fits && !tag.starts_with('\u{fe0f}'))
        .then(|| (hash.len_utf8() + tag.len(), Found::Tag { tag: tag.to_string() }))
}

fn link(word: &str) -> Option<(usize, Found)> {
    links::link(word).map(|link| (link.len, Found::Link { uri: link.uri }))
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '…' | '、' | '。' | '！' | '？' | '，' | '«' | '»' | '“' | '”' | '‘' | '’')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(&str, Found)> {
        detect(text).into_iter().map(|(range, found)| (&text[range], found)).collect()
    }

    #[test]
    fn mentions_are_handles_with_a_known_domain() {
        let mention = |handle: &str| Found::Mention { handle: handle.into() };
        assert_eq!(
            found("hi @Alice.bsky.social, and @bob.test. not @carol or mail@x.com"),
            [("@Alice.bsky.social", mention("alice.bsky.social"))]
        );
    }

    #[test]
    fn tags_leave_out_trailing_punctuation_and_are_not_numbers() {
        let tag = |tag: &str| Found::Tag { tag: tag.into() };
        assert_eq!(
            found("#rustlang! #2026 #日本語 x#no ＃full"),
            [("#rustlang", tag("rustlang")), ("#日本語", tag("日本語")), ("＃full", tag("full"))]
        );
    }
}
