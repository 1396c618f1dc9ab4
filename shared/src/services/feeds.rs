//! process-queue's first step: fetching the feed sources that are due. Each is fetched with a
//! conditional GET (its stored validators), its new items are stored as feed entries
//! (deduplicated by key, so a re-fetch adds nothing), and the fetch is recorded on the source —
//! validators, `last_fetched_at`, `last_error`, failures and when to fetch next. A feed that
//! fails is recorded and backed off; it never stops the run.

use std::time::Instant;

use futures_util::StreamExt;
use time::OffsetDateTime;

use crate::adapters::feeds::{DEFAULT_FETCH_TIMEOUT, FetchOptions, FetchOutcome, Validators, fetch};
use crate::adapters::outbound::OutboundClient;
use crate::model::automations::{FeedEntry, Source};
use crate::model::error::{Error, Result};
use crate::model::feeds::{FeedItem, next_fetch_at};
use crate::ports::clock::Clock;
use crate::ports::store::Store;

/// What fetching feeds needs: the store of sources and entries, and the outbound client (with
/// the SSRF guard) that fetches them.
#[derive(Clone, Copy)]
pub struct FeedFetcher<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub outbound: &'a OutboundClient,
}

/// How many due sources one run takes up, and how many it fetches at once.
const SOURCES_PER_RUN: usize = 100;
const CONCURRENT_FETCHES: usize = 8;

/// What the feed step of one process-queue run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedReport {
    /// Sources fetched (answered, unchanged, or failed).
    pub fetched: usize,
    pub failed: usize,
    /// Entries seen for the first time.
    pub new_entries: usize,
    /// Whether due sources were left for the next run because time ran out.
    pub out_of_time: bool,
}

/// How one source's fetch ended.
enum Fetched {
    Stored { new_entries: usize },
    Failed,
    Skipped,
}

/// Fetches the sources due now, each fetch ending by `deadline`.
pub async fn fetch_due_sources(fetcher: &FeedFetcher<'_>, deadline: Instant) -> Result<FeedReport> {
    let due = fetcher.store.sources_due(fetcher.clock.now(), SOURCES_PER_RUN).await?;
    let mut outcomes = futures_util::stream::iter(due)
        .map(|source| fetch_source(fetcher, source, deadline))
        .buffer_unordered(CONCURRENT_FETCHES);
    let mut report = FeedReport::default();
    while let Some(outcome) = outcomes.next().await {
        match outcome? {
            Fetched::Stored { new_entries } => {
                report.fetched += 1;
                report.new_entries += new_entries;
            }
            Fetched::Failed => {
                report.fetched += 1;
                report.failed += 1;
            }
            Fetched::Skipped => report.out_of_time = true,
        }
    }
    Ok(report)
}

async fn fetch_source(fetcher: &FeedFetcher<'_>, source: Source, deadline: Instant) -> Result<Fetched> {
    let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
        return Ok(Fetched::Skipped);
    };
    let options = FetchOptions { timeout: left.min(DEFAULT_FETCH_TIMEOUT), ..FetchOptions::default() };
    let validators = Validators { etag: source.etag.clone(), last_modified: source.last_modified.clone() };
    let outcome = fetch(fetcher.outbound, &source.url, &validators, &options).await;
    let now = fetcher.clock.now();
    let (fetched, recorded) = match outcome {
        FetchOutcome::NotModified => (Fetched::Stored { new_entries: 0 }, succeeded(source, validators, now)),
        FetchOutcome::Fetched { items, etag, last_modified } => {
            let entries: Vec<FeedEntry> = items.into_iter().map(|item| entry(&source, item, now)).collect();
            let new_entries = fetcher.store.upsert_feed_entries(&entries).await?;
            (Fetched::Stored { new_entries }, succeeded(source, Validators { etag, last_modified }, now))
        }
        FetchOutcome::Failed { reason, retry_after } => {
            tracing::info!(source = %source.id, %reason, "feed fetch failed");
            let failures = source.consecutive_failures.saturating_add(1);
            let next_fetch_at = next_fetch_at(now, source.fetch_interval(), failures, retry_after);
            let failed = Source {
                last_fetched_at: Some(now),
                last_error: Some(reason),
                consecutive_failures: failures,
                next_fetch_at: Some(next_fetch_at),
                ..source
            };
            (Fetched::Failed, failed)
        }
    };
    record(fetcher, recorded, now).await?;
    Ok(fetched)
}

/// The source after a fetch that answered (with news or a 304).
fn succeeded(source: Source, validators: Validators, now: OffsetDateTime) -> Source {
    let next_fetch_at = next_fetch_at(now, source.fetch_interval(), 0, None);
    Source {
        etag: validators.etag,
        last_modified: validators.last_modified,
        last_fetched_at: Some(now),
        last_error: None,
        consecutive_failures: 0,
        next_fetch_at: Some(next_fetch_at),
        ..source
    }
}

/// Writes the fetch state, unless the source changed meanwhile (an edit or a concurrent run
/// wins; the entries are stored either way) or was deleted.
async fn record(fetcher: &FeedFetcher<'_>, mut source: Source, now: OffsetDateTime) -> Result<()> {
    let expected_version = source.version;
    source.version += 1;
    source.updated_at = now;
    match fetcher.store.update_source(&source, expected_version).await {
        Ok(()) | Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

fn entry(source: &Source, item: FeedItem, now: OffsetDateTime) -> FeedEntry {
    FeedEntry {
        workspace_id: source.workspace_id,
        source_id: source.id,
        key: item.key,
        title: item.title,
        link: item.link,
        summary: item.summary,
        published_at: item.published_at.or(item.updated_at),
        first_seen_at: now,
        used_by_run: None,
        used_at: None,
    }
}
