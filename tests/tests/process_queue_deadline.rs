//! process-queue within its invocation's deadline, on both stores: a run whose remaining time is
//! below the margin takes up no post but still sweeps the webhook outbox; a run that runs out of
//! time mid-way (between posts, or between a post's targets) leaves the rest due; and the next
//! run publishes what was left, each post and target exactly once.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use posthorn::jobs::process_queue_until;
use posthorn::lambda::{run_deadline, run_process_queue};
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::platforms::Platform;
use posthorn::model::webhooks::EventType;
use posthorn::ports::store::PageRequest;
use posthorn::services::webhooks::outbox::{SWEEP_GRACE, new_delivery, new_event};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::publishing::{PostsFixture, WAIT};
use posthorn_testkit::stores::StoreKind;
use serde_json::json;

/// A delivery written to the store whose message never reached the queue (a crash between the
/// two), now overdue for the sweep; its id.
async fn lost_delivery(fixture: &PostsFixture) -> String {
    let state = &fixture.app.state;
    let page = PageRequest { limit: 1, cursor: None };
    let endpoint = state.store.list_webhooks(fixture.app.workspace_id, page).await.unwrap().items.remove(0);
    let written_at = state.clock.now() - SWEEP_GRACE - time::Duration::minutes(1);
    let event = new_event(fixture.app.workspace_id, EventType::PostPublished, json!({"total": 1}), written_at);
    let delivery = new_delivery(&event, endpoint.id, written_at);
    state.store.create_event(&event, std::slice::from_ref(&delivery)).await.unwrap();
    delivery.id.to_string()
}

/// Creates `count` posts due now on one recorded Mastodon channel; their texts.
async fn due_posts(fixture: &PostsFixture, count: usize) -> Vec<String> {
    let channel = fixture.channel(Platform::Mastodon, "deadline", ConnectionStatus::Active).await;
    let mut texts = Vec::new();
    for index in 0..count {
        let text = format!("Due post {index}");
        fixture.create(json!({"text": text, "targets": [channel.id]})).await;
        texts.push(text);
    }
    texts
}

fn published_texts(fixture: &PostsFixture) -> Vec<String> {
    let mut texts: Vec<String> = fixture.recording.calls().into_iter().map(|call| call.text).collect();
    texts.sort();
    texts
}

async fn a_run_below_the_margin_takes_no_post_but_sweeps_the_outbox(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let texts = due_posts(&fixture, 1).await;
    let lost = lost_delivery(&fixture).await;

    // The invocation has less time left than the margin a run keeps for finishing.
    let deadline = run_deadline(SystemTime::now() + Duration::from_secs(15));
    let report = run_process_queue(&fixture.app.state, EventBridgeEvent::default(), deadline).await.unwrap();

    assert_eq!((report.published_posts, report.requeued_deliveries), (0, 1), "{report:?}");
    assert!(fixture.recording.calls().is_empty(), "no post was taken up");
    let swept = fixture.receiver.wait_for(1, WAIT).await;
    assert_eq!(swept[0].header("x-posthorn-delivery"), lost);

    let ample = Instant::now() + Duration::from_secs(30);
    assert_eq!(process_queue_until(&fixture.app.state, ample).await.unwrap().published_posts, 1);
    assert_eq!(published_texts(&fixture), texts);
}

async fn a_run_cut_short_resumes_next_time_without_duplicates(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let texts = due_posts(&fixture, 3).await;
    fixture.recording.take_time(Duration::from_millis(1500));

    // Time for one post to be taken up; it is finished, the others wait.
    let first = process_queue_until(&fixture.app.state, Instant::now() + Duration::from_secs(1)).await.unwrap();
    assert_eq!(first.published_posts, 1, "{first:?}");
    assert_eq!(fixture.recording.calls().len(), 1);

    let ample = Instant::now() + Duration::from_secs(30);
    let second = process_queue_until(&fixture.app.state, ample).await.unwrap();
    assert_eq!(second.published_posts, 2, "{second:?}");
    let third = process_queue_until(&fixture.app.state, ample).await.unwrap();
    assert_eq!(third.published_posts, 0, "{third:?}");
    assert_eq!(published_texts(&fixture), texts, "every post published exactly once");
    let published = fixture.events("post.published", 3).await;
    assert_eq!(published.len(), 3);
}

async fn a_post_cut_short_between_targets_resumes_without_reposting(kind: StoreKind) {
    let fixture = PostsFixture::start(kind).await;
    let mut targets = Vec::new();
    for name in ["deadline-a", "deadline-b", "deadline-c"] {
        targets.push(fixture.channel(Platform::Mastodon, name, ConnectionStatus::Active).await.id);
    }
    let post = fixture.create(json!({"text": "Three targets", "targets": targets})).await;
    fixture.recording.take_time(Duration::from_millis(1500));

    // Time for one target: the post is taken up, and left due with two targets pending.
    process_queue_until(&fixture.app.state, Instant::now() + Duration::from_secs(1)).await.unwrap();
    let cut = fixture.get(post["id"].as_str().unwrap()).await;
    assert_eq!(cut["status"], "publishing", "{cut}");
    assert_eq!(fixture.recording.calls().len(), 1);

    let ample = Instant::now() + Duration::from_secs(30);
    assert_eq!(process_queue_until(&fixture.app.state, ample).await.unwrap().published_posts, 1);
    let mut channels: Vec<String> = fixture.recording.calls().into_iter().map(|call| call.channel).collect();
    channels.sort();
    assert_eq!(channels, ["deadline-a", "deadline-b", "deadline-c"], "each target published once");
    let published = fixture.events("post.published", 1).await;
    assert_eq!(published[0]["data"]["published"], 3, "{}", published[0]);
}

on_both_stores!(
    a_post_cut_short_between_targets_resumes_without_reposting,
    a_run_below_the_margin_takes_no_post_but_sweeps_the_outbox,
    a_run_cut_short_resumes_next_time_without_duplicates,
);
