//! Unpublishing (issue 16, SPEC §8) on both stores: a published post is deleted from the chosen
//! platforms (all when none are named) through each adapter — the sandbox, and a Mastodon
//! instance that answers as documented — each target records when it was deleted or why it could
//! not be (Instagram's API cannot delete, and the others proceed), and `post.unpublished` fires
//! with the count and the account (null once the post is gone everywhere it was live). Posthorn
//! keeps its record; metrics are no longer read for unpublished targets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::adapters::platforms::{Instagram, Mastodon};
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::ids::PostId;
use posthorn::model::platforms::Platform;
use posthorn::model::posts::{Target, TargetStatus};
use posthorn::ports::clock::Clock;
use posthorn::ports::platforms::PlatformClient;
use posthorn::services::metrics::{MetricsSettings, sync_post_metrics};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::platforms::outbound;
use posthorn_testkit::publishing::{PostsFixture, ids};
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

on_both_stores!(
    a_post_is_unpublished_from_the_named_channels_then_from_the_rest,
    a_platform_that_cannot_delete_fails_its_target_and_the_others_proceed,
    bad_unpublish_requests_get_clear_errors,
);

async fn published(f: &PostsFixture, targets: Vec<String>) -> String {
    let post = f.create(json!({"text": "Launch!", "targets": targets})).await;
    f.run_process_queue().await;
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(f.get(&id).await["status"], "published");
    id
}

async fn unpublish(f: &PostsFixture, id: &str, body: Option<Value>) -> posthorn_testkit::app::Reply {
    f.app.call(Method::POST, &format!("/v1/posts/{id}/unpublish"), body).await
}

async fn a_post_is_unpublished_from_the_named_channels_then_from_the_rest(kind: StoreKind) {
    let f = PostsFixture::start(kind).await;
    let channels = f.sandbox(3).await;
    let id = published(&f, ids(&channels)).await;

    let first = unpublish(&f, &id, Some(json!({"channel_ids": [channels[0].id]}))).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let targets = first.body["data"]["targets"].as_array().unwrap();
    assert!(targets[0]["unpublished_at"].is_string(), "{}", first.body);
    assert!(targets[1]["unpublished_at"].is_null() && targets[2]["unpublished_at"].is_null());
    assert_eq!(first.body["data"]["status"], "published", "the record stays");
    let event = &f.events("post.unpublished", 1).await[0]["data"];
    assert_eq!(event["post_id"], id);
    assert_eq!(event["unpublished_count"], 1);
    assert_eq!(event["account_id"], channels[0].connection_id.to_string(), "one account, some targets left");

    let rest = unpublish(&f, &id, None).await;
    assert_eq!(rest.status, StatusCode::OK, "{rest:?}");
    assert!(rest.body["data"]["targets"].as_array().unwrap().iter().all(|t| t["unpublished_at"].is_string()));
    let events = f.events("post.unpublished", 2).await;
    assert_eq!(events[1]["data"]["unpublished_count"], 2);
    assert_eq!(events[1]["data"]["account_id"], Value::Null, "gone everywhere it was live");

    let again = unpublish(&f, &id, None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert!(again.error().contains("no target"), "{}", again.error());
    assert_eq!(f.app.call(Method::GET, &format!("/v1/posts/{id}"), None).await.status, StatusCode::OK);

    f.clock.advance(time::Duration::hours(1));
    let settings = MetricsSettings::default();
    let accounts = f.app.state.accounts();
    let report = sync_post_metrics(&accounts, &settings, Instant::now() + Duration::from_secs(30)).await.unwrap();
    assert_eq!(report.targets_read, 0, "an unpublished target's figures are not read");
}

async fn a_platform_that_cannot_delete_fails_its_target_and_the_others_proceed(kind: StoreKind) {
    let adapters: Vec<Arc<dyn PlatformClient>> =
        vec![Arc::new(Mastodon::new(outbound())), Arc::new(Instagram::new(outbound()))];
    let f = PostsFixture::with_platforms(kind, adapters).await;
    let sandbox = f.sandbox(1).await.remove(0);
    let instance = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/statuses/113245"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "113245", "text": "Launch!"})))
        .expect(1)
        .mount(&instance)
        .await;
    let instagram = f.channel(Platform::Instagram, "17841400000000001", ConnectionStatus::Active).await;
    let id = published(&f, ids(std::slice::from_ref(&sandbox))).await;
    let mastodon = f.channel(Platform::Mastodon, "109876", ConnectionStatus::Active).await;
    // Targets published elsewhere, as a publishing run records them.
    let post_id: PostId = id.parse().unwrap();
    let mut post = f.app.store().get_post(f.app.workspace_id, post_id).await.unwrap().unwrap();
    for (channel, platform, platform_post_id) in
        [(&mastodon, Platform::Mastodon, "113245"), (&instagram, Platform::Instagram, "17895695668004550")]
    {
        post.targets.push(Target {
            status: TargetStatus::Published,
            platform_post_id: Some(platform_post_id.into()),
            published_at: Some(f.clock.now()),
            ..Target::pending(channel.id, platform)
        });
    }
    let version = post.version;
    post.version += 1;
    f.app.store().update_post(&post, version).await.unwrap();
    point_at(&f, &mastodon, &instance.uri()).await;

    let reply = unpublish(&f, &id, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let targets = reply.body["data"]["targets"].as_array().unwrap();
    let by_platform = |name: &str| targets.iter().find(|t| t["platform"] == name).unwrap().clone();
    assert!(by_platform("sandbox")["unpublished_at"].is_string());
    assert!(by_platform("mastodon")["unpublished_at"].is_string(), "{}", reply.body);
    let refused = by_platform("instagram");
    assert!(refused["unpublished_at"].is_null());
    assert!(refused["unpublish_error"]["message"].as_str().unwrap().contains("does not support deleting"), "{refused}");
    let event = &f.events("post.unpublished", 1).await[0]["data"];
    assert_eq!(event["unpublished_count"], 2);
    assert_eq!(event["account_id"], Value::Null, "two accounts at once");
}

/// Points a channel's connection at a local fake of its platform.
async fn point_at(f: &PostsFixture, channel: &posthorn::model::channels::Channel, base_url: &str) {
    let store = f.app.store();
    let mut connection = store.get_connection(f.app.workspace_id, channel.connection_id).await.unwrap().unwrap();
    let version = connection.version;
    connection.version += 1;
    connection.base_url = base_url.to_string();
    store.update_connection(&connection, version).await.unwrap();
}

async fn bad_unpublish_requests_get_clear_errors(kind: StoreKind) {
    let f = PostsFixture::start(kind).await;
    let channels = f.sandbox(2).await;
    let id = published(&f, ids(&channels[..1])).await;
    let cases = [
        (json!({"channel_ids": [channels[1].id]}), StatusCode::BAD_REQUEST, "not a target"),
        (json!({"channel_ids": []}), StatusCode::BAD_REQUEST, "must not be empty"),
        (json!({"channel_ids": ["ch_nope"]}), StatusCode::BAD_REQUEST, "channel_ids"),
        (json!({"channels": []}), StatusCode::BAD_REQUEST, "channels"),
    ];
    for (body, status, says) in cases {
        let reply = unpublish(&f, &id, Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}: {reply:?}");
        assert!(reply.error().contains(says), "{body}: {}", reply.error());
    }
    let draft = f.create(json!({"text": "Later", "targets": ids(&channels), "draft": true})).await;
    let reply = unpublish(&f, draft["id"].as_str().unwrap(), None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
    let missing = unpublish(&f, &PostId::new().to_string(), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
