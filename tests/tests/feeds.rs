//! Feeds: every real-world fixture (RSS 0.91, 1.0 and 2.0, Atom, JSON Feed, from the feed-rs
//! project) parses into sensible items, and fetching speaks conditional GET to a real loopback
//! host and turns each way a host fails — 500, 429, a redirect, too slow, too big, not a feed,
//! refused by the SSRF guard — into a failure with a clear reason, never a panic.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use posthorn::adapters::feeds::{DEFAULT_MAX_FEED_BYTES, FetchOptions, FetchOutcome, Validators, fetch};
use posthorn::adapters::outbound::{OutboundClient, StaticResolver, UrlGuard};
use posthorn::model::feeds::{FeedItem, parse};
use posthorn_testkit::feed_server::{ETAG, FeedServer, LAST_MODIFIED};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/feeds")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Each fixture, how many entries it has, and whether each entry has a title, a link and a date
/// (nbcny's is "Sat, Dec 16 2023 02:02:33 PM", which is no date format a feed may use).
const FIXTURES: &[(&str, usize, bool, bool, bool)] = &[
    ("atom_example_reddit.xml", 1, true, true, true),
    ("atom_mediarss_youtube_1.xml", 1, true, true, true),
    ("atom_spec_1.xml", 1, true, true, true),
    ("jsonfeed_elastic_1.1.json", 3, true, true, false),
    ("jsonfeed_spec_1.json", 1, true, true, true),
    ("rss_0.91_spec_1.xml", 2, true, true, false),
    ("rss_1.0_debian.xml", 1, true, true, true),
    ("rss_2.0_bbc.xml", 1, true, true, true),
    ("rss_2.0_cloudflare.xml", 1, true, true, true),
    ("rss_2.0_encoding_1.xml", 1, true, true, true),
    ("rss_2.0_ghost_1.xml", 1, false, false, false),
    ("rss_2.0_nbcny.xml", 1, true, true, false),
    ("rss_2.0_reddit.xml", 1, true, true, true),
    ("rss_2.0_relurl_1.xml", 2, true, true, true),
    ("rss_2.0_spiegel.xml", 1, true, true, true),
    ("rss_2.0_wirecutter.xml", 1, true, true, true),
];

#[test]
fn every_real_world_feed_parses_into_items_with_unique_keys() {
    let listed: HashSet<&str> = FIXTURES.iter().map(|(name, ..)| *name).collect();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let checked = listed.contains(name.as_str()) || name == "README.md" || name == "rss_2.0_invalid_1.xml";
        assert!(checked, "{name} is not checked by this test");
    }
    for &(name, count, titled, linked, dated) in FIXTURES {
        let items =
            parse(&fixture(name), Some("https://feeds.example.com/feed")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(items.len(), count, "{name}: {items:#?}");
        let keys: HashSet<&str> = items.iter().map(|item| item.key.as_str()).collect();
        assert_eq!(keys.len(), count, "{name}: keys are unique");
        for item in &items {
            assert!(!item.key.trim().is_empty(), "{name}: {item:?}");
            assert_eq!(item.title.is_some(), titled, "{name}: title of {item:?}");
            assert_eq!(item.link.is_some(), linked, "{name}: link of {item:?}");
            if let Some(link) = &item.link {
                assert!(link.starts_with("http://") || link.starts_with("https://"), "{name}: absolute link {link}");
            }
            if dated {
                assert!(item.published_at.is_some(), "{name}: date of {item:?}");
            }
            let summary = item.summary.as_deref().unwrap_or_default();
            assert!(!summary.contains("<p>") && !summary.contains("&amp;"), "{name}: summary is text: {summary}");
        }
    }
}

#[test]
fn known_entries_read_as_their_feeds_say() {
    let items = parse(&fixture("jsonfeed_spec_1.json"), None).unwrap();
    assert_eq!(items[0].key, "https://jsonfeed.org/2017/05/17/announcing_json_feed");
    assert_eq!(items[0].title.as_deref(), Some("Announcing JSON Feed"));
    let published = items[0].published_at.unwrap();
    assert_eq!(published.unix_timestamp(), 1_495_033_332, "2017-05-17T08:02:12-07:00");

    let items = parse(&fixture("jsonfeed_elastic_1.1.json"), None).unwrap();
    assert_eq!(
        items[0].key,
        "https://www.influxdata.com/blog/influxdb-outperforms-graphite-in-time-series-data-metrics-benchmark",
        "no id: the link is the key"
    );
    assert_eq!(items[0].title.as_deref(), Some("InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark"));

    let items = parse(&fixture("rss_2.0_relurl_1.xml"), None).unwrap();
    assert_eq!(items[0].key, "https://insanity.industries/post/pareto-optimal-compression/");
    let summary = items[0].summary.as_deref().unwrap();
    assert!(summary.starts_with("Everyone wants good compression."), "{summary}");
}

#[test]
fn a_malformed_feed_is_an_error_that_says_so() {
    let error = parse(&fixture("rss_2.0_invalid_1.xml"), None).unwrap_err();
    assert!(error.to_string().starts_with("not a readable RSS, Atom or JSON feed:"), "{error}");
}

/// The outbound client as tests use it: the unsafe setting on, so loopback HTTP is allowed.
fn client(allow_private: bool) -> OutboundClient {
    OutboundClient::new(UrlGuard::new(Arc::new(StaticResolver::default()), allow_private), &[]).unwrap()
}

fn fetched(outcome: FetchOutcome) -> (Vec<FeedItem>, Option<String>, Option<String>) {
    match outcome {
        FetchOutcome::Fetched { items, etag, last_modified } => (items, etag, last_modified),
        other => panic!("expected items, got {other:?}"),
    }
}

fn failure(outcome: FetchOutcome) -> (String, Option<Duration>) {
    match outcome {
        FetchOutcome::Failed { reason, retry_after } => (reason, retry_after),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_fetch_sends_the_validators_and_gets_not_modified() {
    let server = FeedServer::start(fixture("rss_2.0_relurl_1.xml")).await;
    let client = client(true);
    let options = FetchOptions::default();

    let (items, etag, last_modified) =
        fetched(fetch(&client, &server.url("/feed"), &Validators::default(), &options).await);
    assert_eq!(items.len(), 2);
    assert_eq!((etag.as_deref(), last_modified.as_deref()), (Some(ETAG), Some(LAST_MODIFIED)));
    let first = &server.requests("/feed")[0];
    assert!(first.get("if-none-match").is_none() && first.get("if-modified-since").is_none());

    let validators = Validators { etag, last_modified };
    let again = fetch(&client, &server.url("/feed"), &validators, &options).await;
    assert_eq!(again, FetchOutcome::NotModified);
    let second = &server.requests("/feed")[1];
    assert_eq!(second["if-none-match"], ETAG);
    assert_eq!(second["if-modified-since"], LAST_MODIFIED);

    let only_date = Validators { etag: None, last_modified: Some(LAST_MODIFIED.into()) };
    assert_eq!(fetch(&client, &server.url("/feed"), &only_date, &options).await, FetchOutcome::NotModified);
}

#[tokio::test]
async fn each_way_a_host_fails_is_a_failure_with_a_reason() {
    let server = FeedServer::start(fixture("rss_2.0_bbc.xml")).await;
    let client = client(true);
    let options = FetchOptions { timeout: Duration::from_secs(1), ..FetchOptions::default() };
    let get = async |path: &str| fetch(&client, &server.url(path), &Validators::default(), &options).await;

    assert_eq!(failure(get("/error").await), ("the feed answered HTTP 500".into(), None));
    assert_eq!(failure(get("/busy").await), ("the feed answered HTTP 429".into(), Some(Duration::from_secs(120))));
    let (moved, _) = failure(get("/moved").await);
    assert!(moved.contains("HTTP 301") && moved.contains("redirects are not followed"), "{moved}");
    assert_eq!(server.requests("/feed").len(), 0, "the redirect was not followed");

    let started = std::time::Instant::now();
    let (slow, _) = failure(get("/slow").await);
    assert_eq!(slow, "the feed did not answer within 1 s");
    assert!(started.elapsed() < Duration::from_secs(3), "gave up at the timeout: {:?}", started.elapsed());

    let (huge, _) = failure(get("/huge").await);
    assert_eq!(huge, format!("the feed is larger than the {DEFAULT_MAX_FEED_BYTES}-byte limit"));
    let (garbage, _) = failure(get("/garbage").await);
    assert!(garbage.starts_with("not a readable RSS, Atom or JSON feed:"), "{garbage}");

    assert_eq!(failure(get("/gone").await), ("the feed answered HTTP 404".into(), None));
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_and_plain_http_feeds() {
    let server = FeedServer::start(fixture("rss_2.0_bbc.xml")).await;
    let (loopback, _) =
        failure(fetch(&client(false), &server.url("/feed"), &Validators::default(), &FetchOptions::default()).await);
    assert!(loopback.contains("SSRF guard"), "{loopback}");
    assert!(server.requests("/feed").is_empty(), "nothing reached the host");
    let (internal, _) = failure(
        fetch(
            &client(false),
            "https://169.254.169.254/latest/meta-data",
            &Validators::default(),
            &FetchOptions::default(),
        )
        .await,
    );
    assert!(internal.contains("SSRF guard"), "{internal}");
    let (unreachable, _) = failure(
        fetch(&client(true), "http://127.0.0.1:9/feed", &Validators::default(), &FetchOptions::default()).await,
    );
    assert!(unreachable.starts_with("the feed could not be fetched"), "{unreachable}");
}
