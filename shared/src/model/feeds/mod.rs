//! RSS feeds (SPEC §7), independent of how sources are stored: fetching a feed with a
//! conditional GET through the one outbound client (SSRF guard, no redirects, a size cap and a
//! timeout), parsing RSS 0.9x/1.0/2.0, Atom and JSON Feed into plain items with a
//! deduplication key, and when to fetch a source next (its interval, backing off on failures).
//! A malformed or unreachable feed is an outcome to record, never a panic.

mod parse;
mod schedule;
mod text;

pub use parse::{FeedError, FeedItem, MAX_ITEMS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, parse};
pub use schedule::{MAX_BACKOFF, next_fetch_at};
pub use text::html_to_text;
