//! An app for publishing scenarios: the posts and webhooks APIs on the store of a given kind, a
//! manual clock, the sandbox and a recording "mastodon" adapter (plus any the scenario adds), and
//! an HTTPS receiver subscribed to every event.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use posthorn::adapters::clock::ManualClock;
use posthorn::adapters::platforms::{Mastodon, PlatformRegistry, Sandbox};
use posthorn::jobs::process_queue;
use posthorn::model::channels::Channel;
use posthorn::model::connections::ConnectionStatus;
use posthorn::model::platforms::Platform;
use posthorn::ports::platforms::{OAuthApp, PlatformClient};
use posthorn::ports::store::Store;
use posthorn::services::connections::create_sandbox_channels;
use serde_json::Value;
use time::OffsetDateTime;

use crate::app::{TestApp, TestOptions};
use crate::receiver::Receiver;
use crate::recording::RecordingPlatform;
use crate::stores::{StoreKind, store};

/// How long a scenario waits for a webhook delivery.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct PostsFixture {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
    pub recording: RecordingPlatform,
    pub receiver: Receiver,
}

impl PostsFixture {
    pub async fn start(kind: StoreKind) -> Self {
        Self::with_platforms(kind, Vec::new()).await
    }

    /// Also serves `extra` adapters (for platforms other than sandbox and Mastodon).
    pub async fn with_platforms(kind: StoreKind, extra: Vec<Arc<dyn PlatformClient>>) -> Self {
        Self::with_registry(kind, extra, |registry| registry).await
    }

    /// Like [`with_platforms`](Self::with_platforms), with the registry then `configure`d (to add
    /// connectors and OAuth apps).
    pub async fn with_registry(
        kind: StoreKind,
        extra: Vec<Arc<dyn PlatformClient>>,
        configure: impl FnOnce(PlatformRegistry) -> PlatformRegistry,
    ) -> Self {
        Self::build(store(kind, "posthorn-posts").await, extra, configure).await
    }

    /// The sandbox and recording adapters over `store`.
    pub async fn with_store(store: Arc<dyn Store>) -> Self {
        Self::build(Some(store), Vec::new(), |registry| registry).await
    }

    async fn build(
        store: Option<Arc<dyn Store>>,
        extra: Vec<Arc<dyn PlatformClient>>,
        configure: impl FnOnce(PlatformRegistry) -> PlatformRegistry,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let recording = RecordingPlatform::new(Platform::Mastodon);
        let mut platforms: Vec<Arc<dyn PlatformClient>> = vec![Arc::new(Sandbox), Arc::new(recording.clone())];
        platforms.extend(extra);
        let options = TestOptions {
            store,
            clock: Some(clock.clone()),
            platforms: Some(configure(registry(platforms))),
            ..TestOptions::receiving()
        };
        let app =
            TestApp::with_options(|| vec![posthorn::api::webhooks::routes(), posthorn::api::posts::routes()], options)
                .await;
        let receiver = app.watched().await;
        Self { app, clock, recording, receiver }
    }

    pub async fn sandbox(&self, count: usize) -> Vec<Channel> {
        let now = self.app.state.clock.now();
        create_sandbox_channels(self.app.store(), &self.app.state.secrets, self.app.workspace_id, count, now)
            .await
            .unwrap()
    }

    /// A channel on `platform` (served by the recording adapter when it is Mastodon), with a
    /// connection of its own.
    pub async fn channel(&self, platform: Platform, platform_channel_id: &str, status: ConnectionStatus) -> Channel {
        self.app.channel_on(platform, platform_channel_id, status).await
    }

    /// `POST /v1/posts`, which must answer 201; the post.
    pub async fn create(&self, body: Value) -> Value {
        let reply = self.app.call(Method::POST, "/v1/posts", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"].clone()
    }

    /// `GET /v1/posts/{id}`, which must answer 200; the post.
    pub async fn get(&self, id: &str) -> Value {
        let reply = self.app.call(Method::GET, &format!("/v1/posts/{id}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["data"].clone()
    }

    pub async fn run_process_queue(&self) {
        process_queue(&self.app.state).await.unwrap();
    }

    /// The deliveries of `event` the receiver got, waiting until there are `count`.
    pub async fn events(&self, event: &str, count: usize) -> Vec<Value> {
        self.receiver.events(event, count, WAIT).await
    }
}

/// The ids of `channels`, as a post's `targets`.
pub fn ids(channels: &[Channel]) -> Vec<String> {
    channels.iter().map(|channel| channel.id.to_string()).collect()
}

/// The publishing clients, with Mastodon's connector and an app for it, so that a token the
/// recording "mastodon" adapter refuses goes through a real refresh attempt (which fails for good
/// without a refresh token, as Mastodon's does).
fn registry(clients: Vec<Arc<dyn PlatformClient>>) -> PlatformRegistry {
    let mastodon = Arc::new(Mastodon::new(crate::platforms::outbound()));
    let app = OAuthApp { client_id: "posthorn".into(), client_secret: Some("secret".into()) };
    PlatformRegistry::new(clients).with_connectors(vec![mastodon]).with_app(Platform::Mastodon, app)
}
