//! What the inbox suites share: the app on a store with a manual clock and every platform
//! adapter, an HTTPS receiver subscribed to the inbox events (seed 002's list), channels watched
//! as import-channels leaves them, and sync-inbox runs a minute apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::adapters::clock::ManualClock;
use posthorn::adapters::platforms::PlatformRegistry;
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::Connection;
use posthorn::model::ids::ChannelId;
use posthorn::model::inbox::InboxState;
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn::ports::store::{Condition, Record, Write};
use posthorn::services::inbox::{InboxReport, InboxSettings, sync_inbox};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::app::{TestApp, TestOptions};
use crate::platforms::outbound;
use crate::receiver::Receiver;
use crate::stores::{StoreKind, store};

/// How long a run or a delivery may take.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct InboxApp {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
    pub receiver: Receiver,
    /// The receiving endpoint's signing secret.
    pub secret: String,
}

impl InboxApp {
    /// The app on a store of `kind` (tables named from `prefix`), its webhook worker running.
    pub async fn start(kind: StoreKind, prefix: &str) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let options = TestOptions {
            store: store(kind, prefix).await,
            clock: Some(clock.clone()),
            platforms: Some(PlatformRegistry::standard(&outbound())),
            ..TestOptions::receiving()
        };
        let app = TestApp::with_options(
            || {
                vec![
                    posthorn::api::webhooks::routes(),
                    posthorn::api::posts::routes(),
                    posthorn::api::inbox::inbox_routes(),
                    posthorn::api::connections::connections_routes(),
                ]
            },
            options,
        )
        .await;
        app.start_worker();
        let receiver = Receiver::start().await;
        let events = json!(["comment.received", "mention.received", "dm.received", "dm.sent", "review.received"]);
        let body = json!({"url": receiver.url("/hooks"), "events": events, "skip_verification": true});
        let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "seed 002's own subscription is accepted: {reply:?}");
        let secret = reply.body["data"]["secret"].as_str().unwrap().to_string();
        Self { app, clock, receiver, secret }
    }

    /// The account `user_id` (`username`) on `platform` at `base_url`, signed in with `token`,
    /// as a connected profile channel whose inbox is watched from now.
    pub async fn watch(
        &self,
        platform: Platform,
        base_url: &str,
        user_id: &str,
        username: &str,
        token: &str,
    ) -> Channel {
        let (app, now) = (&self.app, self.clock.now());
        let connection = Connection {
            base_url: base_url.to_string(),
            platform_user_id: user_id.into(),
            username: username.into(),
            ..Connection::new(app.workspace_id, platform, app.state.secrets.seal(token), now)
        };
        app.store().create_connection(&connection).await.unwrap();
        let channel = Channel {
            id: ChannelId::new(),
            workspace_id: app.workspace_id,
            connection_id: connection.id,
            platform,
            platform_channel_id: user_id.into(),
            name: username.into(),
            kind: ChannelKind::Profile,
            channel_token: None,
            created_at: now,
        };
        app.store().create_channel(&channel).await.unwrap();
        let watch = InboxState::new(app.workspace_id, connection.id, channel.id, platform, now);
        app.store().write(Write::Put(watch.document().unwrap(), Condition::Absent)).await.unwrap();
        channel
    }

    /// One sync-inbox run, a minute after the last.
    pub async fn sync(&self) -> InboxReport {
        self.clock.advance(time::Duration::minutes(1));
        sync_inbox(&self.app.state.accounts(), &InboxSettings::default(), Instant::now() + WAIT).await.unwrap()
    }

    /// Publishes a post on `channel` at once; returns its id and the platform's id of it.
    pub async fn publish(&self, channel: &Channel, text: &str) -> (String, String) {
        let post = self.app.call(Method::POST, "/v1/posts", Some(json!({"text": text, "targets": [channel.id]}))).await;
        assert_eq!(post.status, StatusCode::CREATED, "{post:?}");
        let post_id = post.body["data"]["id"].as_str().unwrap().to_string();
        posthorn::jobs::process_queue(&self.app.state).await.unwrap();
        let published = self.get(&format!("/v1/posts/{post_id}")).await;
        let target = &published["data"]["targets"][0];
        assert_eq!(target["status"], "published", "{published}");
        (post_id, target["platform_post_id"].as_str().unwrap().to_string())
    }

    /// Answers interaction `id` with `text` through the API; returns the answer recorded.
    pub async fn reply(&self, id: &str, text: &str) -> Value {
        let answer =
            self.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": text}))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body["data"].clone()
    }

    pub async fn get(&self, path: &str) -> Value {
        let reply = self.app.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        reply.body
    }

    /// The deliveries of `event`, each checked with the endpoint's secret by standardwebhooks.
    pub async fn verified(&self, event: &str, count: usize) -> Vec<Value> {
        self.receiver.verified(event, count, &self.secret, WAIT).await
    }
}
