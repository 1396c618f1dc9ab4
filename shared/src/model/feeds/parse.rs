//! Parsing a feed with feed-rs (RSS 0.9x, 1.0 and 2.0, Atom, JSON Feed) into plain items: a
//! deduplication key, title, link, a text summary and times.

use std::collections::HashSet;

use feed_rs::model::{Entry, Link, Text};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::model::feeds::text::{collapse_whitespace, html_to_text};

/// Items kept from one feed (the first ones, which feeds list newest first).
pub const MAX_ITEMS: usize = 200;
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_SUMMARY_CHARS: usize = 2_000;

/// One entry of a feed, as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// What identifies the entry across fetches: its guid / id, else its link, else a hash of
    /// its title and text (`sha256:<hex>`).
    pub key: String,
    pub title: Option<String>,
    /// The entry's web page, resolved against the feed's address.
    pub link: Option<String>,
    /// The summary (or, lacking one, the content) as plain text, at most
    /// [`MAX_SUMMARY_CHARS`] characters.
    pub summary: Option<String>,
    pub published_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
}

/// Why a document is not a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable RSS, Atom or JSON feed: {0}")]
pub struct FeedError(String);

/// The items of a feed document, each key once (the first entry with a key wins). `base_url`
/// (the feed's address) resolves relative links.
pub fn parse(document: &[u8], base_url: Option<&str>) -> Result<Vec<FeedItem>, FeedError> {
    // An entry without an id gets none here (feed-rs would make one up from a hash or a random
    // UUID), so `key` can fall back to the link as it should.
    let parser = feed_rs::parser::Builder::new().base_uri(base_url).id_generator(|_, _, _| String::new()).build();
    let feed = parser.parse(document).map_err(|error| FeedError(error.to_string()))?;
    let mut keys = HashSet::new();
    Ok(feed.entries.into_iter().filter_map(item).filter(|item| keys.insert(item.key.clone())).take(MAX_ITEMS).collect())
}

/// The item of an entry; `None` if it has nothing to identify it by.
fn item(entry: Entry) -> Option<FeedItem> {
    let title = entry.title.as_ref().map(plain).filter(|title| !title.is_empty());
    let link = page_link(&entry.links);
    let summary = entry
        .summary
        .as_ref()
        .map(plain)
        .filter(|text| !text.is_empty())
        .or_else(|| entry.content.as_ref().and_then(|content| content.body.as_deref()).map(html_to_text))
        .filter(|text| !text.is_empty());
    let id = entry.id.trim();
    let key = if !id.is_empty() {
        id.to_string()
    } else if let Some(link) = &link {
        link.clone()
    } else {
        content_hash(title.as_deref(), summary.as_deref())?
    };
    Some(FeedItem {
        key,
        title: title.map(|title| truncate(title, MAX_TITLE_CHARS)),
        link,
        summary: summary.map(|summary| truncate(summary, MAX_SUMMARY_CHARS)),
        published_at: entry
            .published
            .or(entry.updated)
            .and_then(|at| to_time(at.timestamp(), at.timestamp_subsec_nanos())),
        updated_at: entry.updated.and_then(|at| to_time(at.timestamp(), at.timestamp_subsec_nanos())),
    })
}

/// A text as plain text: HTML (and XHTML) stripped, plain text only tidied.
fn plain(text: &Text) -> String {
    if text.content_type.subty().as_str().contains("html") {
        html_to_text(&text.content)
    } else {
        collapse_whitespace(&text.content)
    }
}

/// The entry's web page: its first link without a relation or with `alternate`, else its first.
fn page_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|link| link.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or(links.first())
        .map(|link| link.href.trim().to_string())
        .filter(|href| !href.is_empty())
}

fn content_hash(title: Option<&str>, summary: Option<&str>) -> Option<String> {
    if title.is_none() && summary.is_none() {
        return None;
    }
    let digest = Sha256::new()
        .chain_update(title.unwrap_or_default())
        .chain_update([0])
        .chain_update(summary.unwrap_or_default())
        .finalize();
    Some(format!("sha256:{}", hex::encode(digest)))
}

fn to_time(seconds: i64, nanoseconds: u32) -> Option<OffsetDateTime> {
    let at = OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    at.replace_nanosecond(nanoseconds).ok()
}

/// At most `max` characters, cut at a character boundary with an ellipsis.
fn truncate(text: String, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text.chars().count() > max => format!("{}…", text[..cut].trim_end()),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_without_guid_is_keyed_by_its_link_then_by_its_text() {
        let rss = br#"<rss version="2.0"><channel><title>t</title>
            <item><title>With guid</title><guid>tag:1</guid><link>https://a.example/1</link></item>
            <item><title>Link only</title><link>https://a.example/2</link></item>
            <item><title>Same link again</title><link>https://a.example/2</link></item>
            <item><description>Text only</description></item>
            <item></item>
        </channel></rss>"#;
        let items = parse(rss, None).unwrap();
        let keys: Vec<&str> = items.iter().map(|item| item.key.as_str()).collect();
        assert_eq!(keys[..2], ["tag:1", "https://a.example/2"]);
        assert!(keys[2].starts_with("sha256:"), "{keys:?}");
        assert_eq!(items.len(), 3, "the duplicate link and the empty item are dropped");
        assert_eq!(items[1].title.as_deref(), Some("Link only"));
    }

    #[test]
    fn html_summaries_become_text_and_long_ones_are_cut() {
        let long = "word ".repeat(1_000);
        let rss = format!(
            r#"<rss version="2.0"><channel><title>t</title>
            <item><guid>1</guid><description>&lt;p&gt;Hello &amp;amp; &lt;b&gt;welcome&lt;/b&gt;&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description></item>
            <item><guid>2</guid><description>{long}</description></item>
            </channel></rss>"#
        );
        let items = parse(rss.as_bytes(), None).unwrap();
        assert_eq!(items[0].summary.as_deref(), Some("Hello & welcome"));
        let cut = items[1].summary.as_deref().unwrap();
        assert_eq!(cut.chars().count(), MAX_SUMMARY_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for document in [&b"<html><body>Not a feed</body></html>"[..], b"\x00\xff\xfe garbage", b"", b"{\"items\": 3}"]
        {
            let error = parse(document, None).unwrap_err();
            assert!(error.to_string().starts_with("not a readable RSS, Atom or JSON feed"), "{error}");
        }
    }
}
