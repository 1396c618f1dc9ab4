//! Tokens are fresh at the moment of use (issue 13, item 3), on both stores: against an X-like
//! fake whose access tokens live two minutes and whose refresh tokens are single-use, publishing
//! and metrics keep working through a simulated day — a token about to expire is refreshed
//! first, a token the platform refuses early is refreshed once and the call retried once — and a
//! connection becomes expired (token.expired, once) only when the refresh itself is refused. A
//! /sync and a publish at the same moment spend the refresh token once. A token the platform
//! says was revoked, refused again after a refresh, ends the connection as revoked instead, with
//! one account.disconnected (`revoked_on_platform`) and no token.expired.

use std::sync::Arc;
use std::time::{Duration, Instant};

use posthorn::adapters::platforms::X;
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::{Connection, ConnectionStatus};
use posthorn::model::ids::ChannelId;
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn::ports::platforms::OAuthApp;
use posthorn::services::metrics::{MetricsReport, MetricsSettings, sync_post_metrics};
use posthorn_testkit::on_both_stores;
use posthorn_testkit::platforms::outbound;
use posthorn_testkit::publishing::{PostsFixture, ids};
use posthorn_testkit::stores::StoreKind;
use posthorn_testkit::x_fake::{USER_ID, USERNAME, XFake};
use serde_json::{Value, json};

/// How long the fake's access tokens live: X's two hours, or two minutes to refresh before every
/// call.
const TWO_HOURS: time::Duration = time::Duration::hours(2);
const TWO_MINUTES: time::Duration = time::Duration::minutes(2);

struct Fixture {
    posts: PostsFixture,
    fake: XFake,
    channel: Channel,
}

async fn fixture(kind: StoreKind, access_lifetime: time::Duration) -> Fixture {
    let x = Arc::new(X::new(outbound()));
    let app = OAuthApp { client_id: "client".into(), client_secret: Some("secret".into()) };
    let posts = PostsFixture::with_registry(kind, vec![x.clone()], |registry| {
        registry.with_connectors(vec![x]).with_app(Platform::X, app)
    })
    .await;
    let fake = XFake::start(posts.clock.clone(), access_lifetime).await;
    let channel = connect(&posts, &fake).await;
    Fixture { posts, fake, channel }
}

/// An X connection as the connect flow stores it, with the fake's first grant.
async fn connect(posts: &PostsFixture, fake: &XFake) -> Channel {
    let state = &posts.app.state;
    let tokens = fake.authorize();
    let connection = Connection {
        base_url: fake.base_url.clone(),
        platform_user_id: USER_ID.into(),
        username: USERNAME.into(),
        refresh_token: Some(state.secrets.seal(&tokens.refresh)),
        expires_at: Some(tokens.expires_at),
        ..Connection::new(posts.app.workspace_id, Platform::X, state.secrets.seal(&tokens.access), state.clock.now())
    };
    posts.app.store().create_connection(&connection).await.unwrap();
    let channel = Channel {
        id: ChannelId::new(),
        workspace_id: posts.app.workspace_id,
        connection_id: connection.id,
        platform: Platform::X,
        platform_channel_id: USER_ID.into(),
        name: USERNAME.into(),
        kind: ChannelKind::Profile,
        channel_token: None,
        created_at: state.clock.now(),
    };
    posts.app.store().create_channel(&channel).await.unwrap();
    channel
}

impl Fixture {
    /// Publishes a post to the X channel now; its status and its target.
    async fn publish(&self, text: &str) -> (String, Value) {
        let post = self.posts.create(json!({"text": text, "targets": [self.channel.id]})).await;
        self.posts.run_process_queue().await;
        let post = self.posts.get(post["id"].as_str().unwrap()).await;
        (post["status"].as_str().unwrap().to_string(), post["targets"][0].clone())
    }

    async fn sync_metrics(&self) -> MetricsReport {
        let settings = MetricsSettings { max_age: time::Duration::days(2), interval: time::Duration::minutes(15) };
        let deadline = Instant::now() + Duration::from_secs(60);
        sync_post_metrics(&self.posts.app.state.accounts(), &settings, deadline).await.unwrap()
    }

    fn token_expired_events(&self) -> usize {
        self.posts
            .receiver
            .received()
            .iter()
            .filter(|request| request.header("x-posthorn-event") == "token.expired")
            .count()
    }

    async fn connection(&self) -> Connection {
        let store = self.posts.app.store();
        store.get_connection(self.channel.workspace_id, self.channel.connection_id).await.unwrap().unwrap()
    }
}

on_both_stores!(
    publishing_and_metrics_keep_working_through_a_day_of_two_minute_tokens,
    a_token_refused_early_is_refreshed_once_and_the_call_retried_once,
    a_refused_refresh_expires_the_connection_and_fires_token_expired_once,
    a_concurrent_sync_and_publish_spend_the_refresh_token_once,
    a_token_the_platform_says_was_revoked_ends_the_connection_as_revoked,
);

async fn publishing_and_metrics_keep_working_through_a_day_of_two_minute_tokens(kind: StoreKind) {
    let fixture = fixture(kind, TWO_MINUTES).await;
    let start = fixture.posts.clock.now();
    let mut rounds = 0;
    while fixture.posts.clock.now() - start < time::Duration::days(1) {
        // Every round the two-minute token has long expired: it is refreshed before use.
        fixture.posts.clock.advance(time::Duration::minutes(50));
        rounds += 1;
        let (status, target) = fixture.publish(&format!("Round {rounds}")).await;
        assert_eq!(status, "published", "round {rounds}: {target}");
        let report = fixture.sync_metrics().await;
        assert!(report.targets_read >= 1, "round {rounds}: {report:?}");
        assert_eq!(report.connections_expired, 0, "round {rounds}: {report:?}");
    }
    assert_eq!(fixture.fake.tweets(), rounds);
    assert_eq!(fixture.fake.reused_refresh_tokens(), 0, "no refresh token spent twice");
    assert!(fixture.fake.refreshes() >= rounds, "a refresh before each round's first call");
    assert_eq!(fixture.connection().await.status, ConnectionStatus::Active);
    assert_eq!(fixture.token_expired_events(), 0);
}

async fn a_token_refused_early_is_refreshed_once_and_the_call_retried_once(kind: StoreKind) {
    let fixture = fixture(kind, TWO_HOURS).await;

    fixture.fake.invalidate_access_token();
    let (status, target) = fixture.publish("after the token was invalidated").await;
    assert_eq!(status, "published", "{target}");
    assert_eq!((fixture.fake.refreshes(), fixture.fake.tweets()), (1, 1), "one refresh, one post");

    fixture.fake.invalidate_access_token();
    let report = fixture.sync_metrics().await;
    assert_eq!(report.targets_read, 1, "{report:?}");
    assert_eq!(fixture.fake.refreshes(), 2);

    assert_eq!(fixture.fake.reused_refresh_tokens(), 0);
    assert_eq!(fixture.connection().await.status, ConnectionStatus::Active);
    assert_eq!(fixture.token_expired_events(), 0);
}

async fn a_refused_refresh_expires_the_connection_and_fires_token_expired_once(kind: StoreKind) {
    let fixture = fixture(kind, TWO_HOURS).await;
    let (status, _) = fixture.publish("before").await;
    assert_eq!(status, "published");

    fixture.fake.revoke_grant();
    let (status, target) = fixture.publish("after the user revoked the app").await;
    let report = fixture.sync_metrics().await;

    assert_eq!(status, "failed");
    assert_eq!(target["error"]["code"], "auth_expired", "{target}");
    assert_eq!(fixture.connection().await.status, ConnectionStatus::Expired);
    assert_eq!(report.connections_expired, 0, "already expired by the publish");
    let expired = fixture.posts.events("token.expired", 1).await;
    assert_eq!(expired[0]["data"]["account_id"], json!(fixture.channel.connection_id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fixture.token_expired_events(), 1, "token.expired fires once");
}

async fn a_concurrent_sync_and_publish_spend_the_refresh_token_once(kind: StoreKind) {
    let fixture = fixture(kind, TWO_HOURS).await;
    // Four minutes left: within the refresh margin, so both want a refresh.
    fixture.posts.clock.advance(TWO_HOURS - time::Duration::minutes(4));
    let post = fixture.posts.create(json!({"text": "racing a sync", "targets": [fixture.channel.id]})).await;
    let accounts = fixture.posts.app.state.accounts();
    let sync = posthorn::services::connections::sync::sync(
        &accounts,
        fixture.channel.workspace_id,
        fixture.channel.connection_id,
    );

    let (synced, ()) = tokio::join!(sync, fixture.posts.run_process_queue());

    assert!(synced.is_ok(), "{synced:?}");
    assert_eq!(fixture.posts.get(post["id"].as_str().unwrap()).await["status"], "published");
    assert_eq!(fixture.fake.refreshes(), 1, "one refresh for both");
    assert_eq!(fixture.fake.reused_refresh_tokens(), 0);
}

async fn a_token_the_platform_says_was_revoked_ends_the_connection_as_revoked(kind: StoreKind) {
    let sandbox = Arc::new(posthorn::adapters::platforms::Sandbox);
    let posts = PostsFixture::with_registry(kind, Vec::new(), |registry| {
        registry
            .with_connectors(vec![sandbox])
            .with_app(Platform::Sandbox, posthorn::adapters::platforms::sandbox::app())
    })
    .await;
    let channels = posts.sandbox(2).await;
    let post = posts.create(json!({"text": "Bye #fail:auth_revoked:sandbox-1", "targets": ids(&channels)})).await;
    posts.run_process_queue().await;

    let post = posts.get(post["id"].as_str().unwrap()).await;
    assert_eq!(post["status"], "failed", "{post}");
    for target in post["targets"].as_array().unwrap() {
        assert_eq!(target["error"]["code"], "auth_revoked", "both channels are on the revoked connection: {target}");
    }
    let store = posts.app.store();
    let connection = store.get_connection(channels[0].workspace_id, channels[0].connection_id).await.unwrap().unwrap();
    assert_eq!(connection.status, ConnectionStatus::Revoked);
    let disconnected = posts.events("account.disconnected", 1).await;
    assert_eq!(disconnected[0]["data"]["reason"], "revoked_on_platform");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = posts.receiver.received();
    let count = |event: &str| received.iter().filter(|request| request.header("x-posthorn-event") == event).count();
    assert_eq!((count("account.disconnected"), count("token.expired")), (1, 0));

    let refused = posts
        .app
        .call(axum::http::Method::POST, "/v1/posts", Some(json!({"text": "again", "targets": ids(&channels)})))
        .await;
    assert!(refused.body.to_string().contains("reconnect"), "{refused:?}");
}
