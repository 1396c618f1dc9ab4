//! The Bluesky adapter against an independent server: a real PDS (with its PLC directory and,
//! where PostgreSQL is installed, an AppView) from `@atproto/dev-env`. What the adapter wrote is
//! read back from the PDS itself (`com.atproto.repo.getRecord`, `com.atproto.sync.getBlob`), so
//! the records' shape, facet offsets and blob references are checked by the reference
//! implementation rather than by our fakes.

use std::time::{Duration, Instant};

use posthorn::adapters::platforms::Bluesky;
use posthorn::adapters::platforms::bluesky::AtUri;
use posthorn::model::platforms::{ErrorCode, Metrics};
use posthorn::ports::platforms::PlatformClient;
use posthorn_testkit::atproto_pds::{AtprotoPds, get_record};
use posthorn_testkit::platforms::{
    PNG, bytes_at, channel_at, image_at, noisy_png, outbound, post_with_media, text_post,
};
use serde_json::{Value, json};
use wiremock::MockServer;

/// How long the AppView may take to index a post from the PDS's firehose.
const INDEXING_TIMEOUT: Duration = Duration::from_secs(15);

async fn get_blob(pds: &str, did: &str, cid: &str) -> Vec<u8> {
    posthorn::adapters::https::install_crypto_provider();
    let response = reqwest::Client::new()
        .get(format!("{pds}/xrpc/com.atproto.sync.getBlob"))
        .query(&[("did", did), ("cid", cid)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn publishes_reads_back_measures_and_deletes_on_a_real_pds() {
    let server = AtprotoPds::start().await;
    let account = &server.account;
    let media_host = MockServer::start().await;
    let image = image_at(&media_host, "/sky.png", Some("A blue sky")).await;
    let mut auth = channel_at(&account.pds, &account.did);
    auth.access_token = account.access_jwt.clone();
    let bluesky = Bluesky::new(outbound());
    let text = "🦋👨‍👩‍👧 read https://example.com/ünï?x=1. now";

    let linked = bluesky.publish(&auth, &text_post(text)).await.unwrap();
    let pictured = bluesky.publish(&auth, &post_with_media("Look up", vec![image])).await.unwrap();

    let (status, record) = get_record(&account.pds, &linked.platform_post_id).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["uri"], linked.platform_post_id.as_str());
    assert_eq!(record["value"]["text"], text);
    let start = "🦋👨‍👩‍👧 read ".len();
    let link = "https://example.com/ünï?x=1";
    let facets = json!([{
        "index": { "byteStart": start, "byteEnd": start + link.len() },
        "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": link }]
    }]);
    assert_eq!(record["value"]["facets"], facets);
    let rkey = AtUri::parse(&linked.platform_post_id).unwrap().rkey;
    assert_eq!(linked.url, Some(format!("https://bsky.app/profile/{}/post/{rkey}", account.did)));

    let (status, record) = get_record(&account.pds, &pictured.platform_post_id).await;
    assert_eq!(status, 200, "{record}");
    let embed = &record["value"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    assert_eq!(embed["images"][0]["alt"], "A blue sky");
    let blob = &embed["images"][0]["image"];
    assert_eq!(
        (&blob["$type"], &blob["mimeType"], &blob["size"]),
        (&json!("blob"), &json!("image/png"), &json!(PNG.len()))
    );
    let cid = blob["ref"]["$link"].as_str().unwrap();
    assert_eq!(get_blob(&account.pds, &account.did, cid).await, PNG);

    if account.appview.is_some() {
        // The AppView indexes the PDS's firehose asynchronously: wait for the post to appear.
        let started = Instant::now();
        let metrics = loop {
            match bluesky.metrics(&auth, &linked.platform_post_id).await {
                Ok(metrics) => break metrics,
                Err(error) if started.elapsed() < INDEXING_TIMEOUT => {
                    assert_eq!(error.code, ErrorCode::PlatformError, "{error:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("the AppView never returned the post: {error:?}"),
            }
        };
        assert_eq!(metrics, Metrics { views: None, likes: Some(0), comments: Some(0), shares: Some(0) });
    } else {
        let error = bluesky.metrics(&auth, &linked.platform_post_id).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::PlatformUnavailable, "{error:?}");
    }

    bluesky.delete(&auth, &linked.platform_post_id).await.unwrap();
    bluesky.delete(&auth, &pictured.platform_post_id).await.unwrap();

    for uri in [&linked.platform_post_id, &pictured.platform_post_id] {
        let (status, body) = get_record(&account.pds, uri).await;
        assert_eq!((status, &body["error"]), (400, &json!("RecordNotFound")), "{body}");
    }
}

#[tokio::test]
async fn tag_and_scheme_less_link_facets_and_langs_pass_the_pds_lexicon_validation() {
    let server = AtprotoPds::start().await;
    let account = &server.account;
    let mut auth = channel_at(&account.pds, &account.did);
    auth.access_token = account.access_jwt.clone();
    let text = "We are shipping #Posthorn today with faster scheduling and better previews, read the docs at posthorn.dev/docs";

    let published = Bluesky::new(outbound()).publish(&auth, &text_post(text)).await.unwrap();

    let (status, record) = get_record(&account.pds, &published.platform_post_id).await;
    assert_eq!(status, 200, "{record}");
    let features: Vec<&Value> =
        record["value"]["facets"].as_array().unwrap().iter().map(|f| &f["features"][0]).collect();
    assert_eq!(
        features,
        [
            &json!({ "$type": "app.bsky.richtext.facet#tag", "tag": "Posthorn" }),
            &json!({ "$type": "app.bsky.richtext.facet#link", "uri": "https://posthorn.dev/docs" })
        ]
    );
    assert_eq!(record["value"]["langs"], json!(["en"]));
}

#[tokio::test]
async fn a_record_the_lexicon_refuses_is_reported_with_the_pds_reason() {
    let server = AtprotoPds::start().await;
    let account = &server.account;
    let mut auth = channel_at(&account.pds, &account.did);
    auth.access_token = account.access_jwt.clone();

    let error = Bluesky::new(outbound()).publish(&auth, &text_post(&"🦋".repeat(301))).await.unwrap_err();

    assert_eq!(error.code, ErrorCode::ContentTooLong, "{error:?}");
    assert!(error.message.contains("maximum 300"), "{error:?}");
}

#[tokio::test]
async fn an_image_over_the_blob_limit_is_downscaled_and_laid_out_by_its_aspect_ratio() {
    let server = AtprotoPds::start().await;
    let account = &server.account;
    let mut auth = channel_at(&account.pds, &account.did);
    auth.access_token = account.access_jwt.clone();
    let media_host = MockServer::start().await;
    let large = noisy_png(1600, 1000);
    assert!(large.len() > 2_000_000, "{}", large.len());
    let image = bytes_at(&media_host, "/large.png", "image/png", large).await;

    let published = Bluesky::new(outbound()).publish(&auth, &post_with_media("Wide", vec![image])).await.unwrap();

    let (status, record) = get_record(&account.pds, &published.platform_post_id).await;
    assert_eq!(status, 200, "{record}");
    let embedded = &record["value"]["embed"]["images"][0];
    assert_eq!(embedded["image"]["mimeType"], "image/jpeg");
    assert!(embedded["image"]["size"].as_u64().unwrap() <= 2_000_000, "{embedded}");
    let ratio = &embedded["aspectRatio"];
    assert_eq!(ratio["width"].as_u64().unwrap() * 10 / ratio["height"].as_u64().unwrap(), 16, "{ratio}");
}
