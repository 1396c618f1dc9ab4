//! sync-post-metrics: figures of published targets are read through the platform adapters,
//! shown on `GET /v1/posts/{id}` with their history and the post's totals, and announced with
//! post.metrics.updated only when they changed; rate limits are waited out, a refused token
//! is refreshed, and when the refresh is refused too the connection is marked expired with a
//! single token.expired; old targets are left alone, and a
//! concurrent write to the post is kept. Each scenario runs on SQLite and on DynamoDB (moto).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::PostId;
use posthorn::model::platforms::{ErrorCode, Metrics, Platform};
use posthorn::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};
use posthorn::ports::store::Store;
use posthorn::services::metrics::MetricsSettings;
use posthorn::services::metrics::{MetricsReport, sync_post_metrics};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::publishing::{PostsFixture, ids};
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};

const INTERVAL: time::Duration = time::Duration::minutes(15);

fn settings() -> MetricsSettings {
    MetricsSettings { max_age: time::Duration::days(7), interval: INTERVAL }
}

fn figures(views: Option<u64>, likes: u64, comments: u64, shares: u64) -> Metrics {
    Metrics { views, likes: Some(likes), comments: Some(comments), shares: Some(shares) }
}

async fn sync(fixture: &PostsFixture) -> MetricsReport {
    sync_with(fixture, &settings()).await
}

async fn sync_with(fixture: &PostsFixture, settings: &MetricsSettings) -> MetricsReport {
    sync_post_metrics(&fixture.app.state.accounts(), settings, Instant::now() + Duration::from_secs(60)).await.unwrap()
}

/// Publishes a post to `channels` now; its id.
async fn published(fixture: &PostsFixture, channels: &[posthorn::model::channels::Channel]) -> String {
    let post = fixture.create(json!({"text": "Launch day", "targets": ids(channels)})).await;
    fixture.run_process_queue().await;
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(fixture.get(&id).await["status"], "published");
    id
}

/// How many deliveries of `event` arrived after a moment for the worker to send any.
async fn settled_count(fixture: &PostsFixture, event: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(300)).await;
    fixture.events(event, 0).await.len()
}

on_both_stores!(
    figures_are_shown_on_the_post_and_announced_once_per_change,
    the_sandbox_platform_reports_figures_end_to_end,
    a_rate_limited_connection_is_left_alone_until_it_may_be_called_again,
    a_refused_token_marks_the_connection_expired_and_fires_token_expired_once,
    targets_older_than_the_age_limit_are_not_read,
    a_concurrent_write_to_the_post_is_kept,
);

async fn figures_are_shown_on_the_post_and_announced_once_per_change(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let channel = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    let id = published(&fixture, std::slice::from_ref(&channel)).await;
    assert!(fixture.get(&id).await["targets"][0]["metrics"].is_null(), "no figures before a sync");

    // Mastodon has no view counts.
    fixture.recording.answer_metrics("m-1", Ok(figures(None, 3, 1, 2)));
    let report = sync(&fixture).await;
    assert_eq!((report.targets_read, report.posts_changed), (1, 1), "{report:?}");
    let read = fixture.get(&id).await;
    let metrics = &read["targets"][0]["metrics"];
    assert_eq!((metrics["views"].clone(), metrics["likes"].clone()), (Value::Null, json!(3)));
    assert_eq!((metrics["comments"].clone(), metrics["shares"].clone()), (json!(1), json!(2)));
    assert!(metrics["synced_at"].is_string());
    assert_eq!(metrics["history"].as_array().unwrap().len(), 1);
    assert_eq!(read["metrics"], json!({"views": null, "likes": 3, "comments": 1, "shares": 2}));
    let event = &fixture.events("post.metrics.updated", 1).await[0];
    assert_eq!(event["data"]["post_id"], id.as_str());
    assert_eq!(event["data"]["metrics"]["likes"], 3);
    assert_eq!(event["data"]["targets"][0]["channel_id"], channel.id.to_string());
    assert_eq!(event["data"]["targets"][0]["changed"], true);

    // GIVEN the same figures an interval later THEN they are read, but nothing is announced
    fixture.clock.advance(INTERVAL);
    let report = sync(&fixture).await;
    assert_eq!((report.targets_read, report.posts_changed), (1, 0), "{report:?}");
    let unchanged = fixture.get(&id).await;
    assert_eq!(unchanged["targets"][0]["metrics"]["history"].as_array().unwrap().len(), 1, "no sample without change");
    assert_ne!(unchanged["targets"][0]["metrics"]["synced_at"], metrics["synced_at"], "the read is recorded");
    assert_eq!(settled_count(&fixture, "post.metrics.updated").await, 1);

    // GIVEN new figures THEN they are kept beside the old ones and announced
    fixture.clock.advance(INTERVAL);
    fixture.recording.answer_metrics("m-1", Ok(figures(None, 5, 1, 2)));
    assert_eq!(sync(&fixture).await.posts_changed, 1);
    let history = fixture.get(&id).await["targets"][0]["metrics"]["history"].clone();
    let likes: Vec<&Value> = history.as_array().unwrap().iter().map(|sample| &sample["likes"]).collect();
    assert_eq!(likes, [&json!(3), &json!(5)]);
    let updates = fixture.events("post.metrics.updated", 2).await;
    assert_eq!(updates[1]["data"]["metrics"]["likes"], 5);

    // WHEN a run comes before the interval is up THEN the platform is not asked again
    let reads = fixture.recording.metrics_reads("m-1");
    assert_eq!(sync(&fixture).await.targets_read, 0);
    assert_eq!(fixture.recording.metrics_reads("m-1"), reads);
}

async fn the_sandbox_platform_reports_figures_end_to_end(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let channels = fixture.sandbox(2).await;
    let id = published(&fixture, &channels).await;

    assert_eq!(sync(&fixture).await.targets_read, 2);
    let read = fixture.get(&id).await;
    let views: Vec<u64> =
        read["targets"].as_array().unwrap().iter().map(|t| t["metrics"]["views"].as_u64().unwrap()).collect();
    assert!(views.iter().all(|views| *views >= 100), "{views:?}");
    assert_eq!(read["metrics"]["views"].as_u64().unwrap(), views.iter().sum::<u64>(), "the post shows the sum");
    let event = &fixture.events("post.metrics.updated", 1).await[0];
    assert_eq!(event["data"]["targets"].as_array().unwrap().len(), 2);
    assert_eq!(event["data"]["metrics"], read["metrics"]);
}

async fn a_rate_limited_connection_is_left_alone_until_it_may_be_called_again(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let channel = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    let first = published(&fixture, std::slice::from_ref(&channel)).await;
    let second = published(&fixture, std::slice::from_ref(&channel)).await;
    let limited = PlatformError {
        retry_after: Some(Duration::from_secs(120)),
        ..PlatformError::new(ErrorCode::RateLimited, "slow down")
    };
    fixture.recording.answer_metrics("m-1", Err(limited));

    let report = sync(&fixture).await;
    assert_eq!((report.rate_limited, report.targets_read), (2, 0), "{report:?}");
    assert_eq!(fixture.recording.metrics_reads("m-1"), 1, "the second post's read waits without a call");

    fixture.clock.advance(time::Duration::minutes(1));
    fixture.recording.answer_metrics("m-1", Ok(figures(None, 7, 0, 0)));
    assert_eq!(sync(&fixture).await, MetricsReport::default(), "not before the Retry-After");
    fixture.clock.advance(time::Duration::minutes(1));
    assert_eq!(sync(&fixture).await.targets_read, 2);
    for id in [first, second] {
        assert_eq!(fixture.get(&id).await["targets"][0]["metrics"]["likes"], 7);
    }
}

async fn a_refused_token_marks_the_connection_expired_and_fires_token_expired_once(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let channel = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    published(&fixture, std::slice::from_ref(&channel)).await;
    published(&fixture, std::slice::from_ref(&channel)).await;
    fixture.recording.answer_metrics("m-1", Err(PlatformError::new(ErrorCode::AuthExpired, "token revoked")));

    let report = sync(&fixture).await;
    assert_eq!(report.connections_expired, 1, "{report:?}");
    let connection = fixture.app.store().get_connection(fixture.app.workspace_id, channel.connection_id).await;
    assert_eq!(connection.unwrap().unwrap().status, ConnectionStatus::Expired);
    let expired = &fixture.events("token.expired", 1).await[0];
    assert_eq!(expired["data"]["account_id"], channel.connection_id.to_string());
    assert_eq!(expired["data"]["platform"], "mastodon");

    fixture.clock.advance(INTERVAL);
    assert_eq!(sync(&fixture).await.connections_expired, 0);
    assert_eq!(fixture.recording.metrics_reads("m-1"), 1, "an expired connection is not called");
    assert_eq!(settled_count(&fixture, "token.expired").await, 1, "token.expired fires once");
}

async fn targets_older_than_the_age_limit_are_not_read(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let channel = fixture.channel(Platform::Mastodon, "m-1", ConnectionStatus::Active).await;
    let id = published(&fixture, std::slice::from_ref(&channel)).await;
    let post_id: PostId = id.parse().unwrap();

    let out_of_time = sync_post_metrics(&fixture.app.state.accounts(), &settings(), Instant::now()).await.unwrap();
    assert!(out_of_time.out_of_time && out_of_time.targets_read == 0, "{out_of_time:?}");

    let one_hour = MetricsSettings { max_age: time::Duration::hours(1), ..settings() };
    fixture.clock.advance(time::Duration::minutes(61));
    assert_eq!(sync_with(&fixture, &one_hour).await.targets_read, 0);
    assert_eq!(fixture.recording.metrics_reads("m-1"), 0);
    let stored = fixture.app.store().get_post(fixture.app.workspace_id, post_id).await.unwrap().unwrap();
    assert_eq!(stored.metrics_due_at, None, "no longer due at all");
    assert_eq!(fixture.app.store().metrics_due_posts(fixture.app.state.clock.now(), 10).await.unwrap(), []);
}

/// An adapter that, on its first metrics read, writes the post as a concurrent writer would.
#[derive(Default)]
struct ConcurrentWriter {
    store: OnceLock<Arc<dyn Store>>,
    post: Mutex<Option<(posthorn::model::ids::WorkspaceId, PostId)>>,
}

#[async_trait]
impl PlatformClient for ConcurrentWriter {
    fn platform(&self) -> Platform {
        Platform::X
    }

    async fn publish(&self, _auth: &ChannelAuth, _post: &PublishRequest) -> Result<Published, PlatformError> {
        Ok(Published { platform_post_id: "1871234567890".into(), url: None })
    }

    async fn delete(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<(), PlatformError> {
        Ok(())
    }

    async fn metrics(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let target = self.post.lock().unwrap().take();
        if let Some((workspace, id)) = target {
            let store = self.store.get().expect("the app's store");
            let mut post = store.get_post(workspace, id).await.unwrap().unwrap();
            let expected = post.version;
            post.version += 1;
            post.retried_count += 1;
            store.update_post(&post, expected).await.unwrap();
        }
        Ok(figures(Some(900), 40, 4, 9))
    }
}

async fn a_concurrent_write_to_the_post_is_kept(kind: StoreKind) {
    let writer = Arc::new(ConcurrentWriter::default());
    let fixture = PostsFixture::with_platforms(kind, vec![writer.clone()]).await;
    writer.store.set(fixture.app.state.store.clone()).ok().expect("set once");
    let channel = fixture.channel(Platform::X, "x-1", ConnectionStatus::Active).await;
    let id = published(&fixture, std::slice::from_ref(&channel)).await;
    *writer.post.lock().unwrap() = Some((fixture.app.workspace_id, id.parse().unwrap()));

    let report = sync(&fixture).await;
    assert_eq!((report.targets_read, report.posts_changed), (1, 1), "{report:?}");
    let read = fixture.get(&id).await;
    assert_eq!(read["retried_count"], 1, "the concurrent write is kept");
    assert_eq!(read["targets"][0]["metrics"]["views"], 900, "and so are the figures");
    assert_eq!(fixture.events("post.metrics.updated", 1).await.len(), 1);
}
