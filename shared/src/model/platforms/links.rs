//! Links in a post's text, found as the platforms' clients find them: an http(s) URL, or a
//! scheme-less `domain.tld/…` whose top-level domain exists. X counts every link 23 characters,
//! with or without a scheme; Mastodon counts only those with one; Bluesky makes each a link facet
//! (`https://` added where it is missing).

use std::ops::Range;

/// The top-level domains a scheme-less link may end in, one per line, lowercase, sorted: the IANA
/// root zone as twitter-text 3 lists it (`tld_lib.yml`), Unicode and punycode forms both.
const TLDS: &str = include_str!("tlds.txt");

/// A link found at the start of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its length in bytes, within the word.
    pub len: usize,
    /// The link with its scheme: `https://` added to a scheme-less one.
    pub uri: String,
    pub has_scheme: bool,
}

/// The whitespace-separated words of `text`, with their byte offsets, an opening parenthesis
/// left out.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace().map(move |word| {
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        match word.strip_prefix('(') {
            Some(inner) => (start + 1, inner),
            None => (start, word),
        }
    })
}

/// Every link of `text`, with its byte range, in order.
pub fn find(text: &str) -> impl Iterator<Item = (Range<usize>, Link)> {
    words(text).filter_map(|(start, word)| link(word).map(|link| (start..start + link.len, link)))
}

/// An http(s) URL at the start of `word`, or a scheme-less one whose host is a domain with a
/// known top-level domain; one trailing `.,;:!?` and an unbalanced closing parenthesis are left
/// out, as the platforms' clients do.
pub fn link(word: &str) -> Option<Link> {
    let mut url = word.strip_suffix(['.', ',', ';', ':', '!', '?']).unwrap_or(word);
    if url.ends_with(')') && !url.contains('(') {
        url = &url[..url.len() - 1];
    }
    let has_scheme = url.starts_with("https://") || url.starts_with("http://");
    let uri = if has_scheme {
        let rest = url.split_once("://").map_or("", |(_, rest)| rest);
        (!rest.is_empty()).then(|| url.to_string())?
    } else {
        let host = url.split(['/', '?', '#']).next().unwrap_or_default();
        let starts_with_letter = host.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        let labels_alphanumeric = host.split('.').all(|label| label.chars().all(|c| c.is_ascii_alphanumeric()));
        (starts_with_letter && labels_alphanumeric && is_domain(host)).then(|| format!("https://{url}"))?
    };
    Some(Link { len: url.len(), uri, has_scheme })
}

/// At least two non-empty labels, the last a known top-level domain.
pub fn is_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|label| !label.is_empty()) && labels.last().is_some_and(|tld| is_tld(tld))
}

fn is_tld(label: &str) -> bool {
    let label = label.to_lowercase();
    TLDS.lines().any(|tld| tld == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(&str, String)> {
        find(text).map(|(range, link)| (&text[range], link.uri)).collect()
    }

    #[test]
    fn links_with_and_without_a_scheme() {
        let text = "👨‍👩‍👧 see https://example.com/a?b=1. and example.org/docs, (bsky.app) not file.txt or 1.5";
        assert_eq!(
            found(text),
            [
                ("https://example.com/a?b=1", "https://example.com/a?b=1".to_string()),
                ("example.org/docs", "https://example.org/docs".to_string()),
                ("bsky.app", "https://bsky.app".to_string()),
            ]
        );
        assert!(found("only https:// here").is_empty());
    }

    #[test]
    fn top_level_domains_are_the_real_ones_in_any_case() {
        assert!(is_domain("Example.COM") && is_domain("example.co.uk") && is_domain("例子.中国"));
        assert!(!is_domain("example.notatld") && !is_domain("com") && !is_domain("example..com"));
    }
}
