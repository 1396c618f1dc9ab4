//! What the inbox suites of X, LinkedIn, Threads and Meta share: the API in-process on the test's store with a
//! manual clock and every standard adapter, one HTTPS endpoint subscribed to the inbox events,
//! channels connected to a platform's fake and watched as import-channels watches them,
//! sync-inbox runs a minute apart, and deliveries verified by the standardwebhooks crate.

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
use posthorn::ports::platforms::RemoteInteraction;
use posthorn::ports::store::{Condition, Record, Write};
use posthorn::services::inbox::{InboxReport, InboxSettings, RecentPosts, arrive, interaction_of, sync_inbox};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::app::{Reply, TestApp, TestOptions};
use crate::platforms::outbound;
use crate::receiver::{Received, Receiver};
use crate::stores::{StoreKind, store};

pub const WAIT: Duration = Duration::from_secs(30);

pub struct InboxFixture {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
    pub receiver: Receiver,
    secret: String,
}

/// An account on a platform's fake, as connecting it would store it.
pub struct Account<'a> {
    pub platform: Platform,
    pub base_url: &'a str,
    pub platform_user_id: &'a str,
    pub username: &'a str,
    pub access_token: &'a str,
    pub expires_at: Option<OffsetDateTime>,
}

/// One of its channels.
pub struct ChannelOf<'a> {
    pub platform_channel_id: &'a str,
    pub kind: ChannelKind,
    /// The channel's own token (a Facebook page's).
    pub token: Option<&'a str>,
}

impl InboxFixture {
    /// With every standard adapter.
    pub async fn start(kind: StoreKind) -> Self {
        Self::with_platforms(kind, PlatformRegistry::standard(&outbound())).await
    }

    pub async fn with_platforms(kind: StoreKind, platforms: PlatformRegistry) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let options = TestOptions {
            store: store(kind, "posthorn-inbox").await,
            clock: Some(clock.clone()),
            platforms: Some(platforms),
            ..TestOptions::receiving()
        };
        let functions = || {
            vec![
                posthorn::api::webhooks::routes(),
                posthorn::api::posts::routes(),
                posthorn::api::inbox::inbox_routes(),
            ]
        };
        let app = TestApp::with_options(functions, options).await;
        app.start_worker();
        let receiver = Receiver::start().await;
        let events = json!(["comment.received", "mention.received", "dm.received", "dm.sent", "review.received"]);
        let body = json!({"url": receiver.url("/hooks"), "events": events, "skip_verification": true});
        let reply = app.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "seed 002's own subscription is accepted: {reply:?}");
        let secret = reply.body["data"]["secret"].as_str().unwrap().to_string();
        Self { app, clock, receiver, secret }
    }

    /// Connects `account` with `channel`, watched from now on where its platform is polled.
    pub async fn connect(&self, account: Account<'_>, channel: ChannelOf<'_>) -> Channel {
        let now = self.clock.now();
        let secrets = &self.app.state.secrets;
        let connection = Connection {
            base_url: account.base_url.to_string(),
            platform_user_id: account.platform_user_id.into(),
            username: account.username.into(),
            expires_at: account.expires_at,
            ..Connection::new(self.app.workspace_id, account.platform, secrets.seal(account.access_token), now)
        };
        self.app.store().create_connection(&connection).await.unwrap();
        let channel = Channel {
            id: ChannelId::new(),
            workspace_id: self.app.workspace_id,
            connection_id: connection.id,
            platform: account.platform,
            platform_channel_id: channel.platform_channel_id.into(),
            name: account.username.into(),
            kind: channel.kind,
            channel_token: channel.token.map(|token| secrets.seal(token)),
            created_at: now,
        };
        self.app.store().create_channel(&channel).await.unwrap();
        if self.app.state.platforms.polls_inbox(account.platform) {
            let watch = InboxState::new(self.app.workspace_id, connection.id, channel.id, account.platform, now);
            self.app.store().write(Write::Put(watch.document().unwrap(), Condition::Absent)).await.unwrap();
        }
        channel
    }

    /// Publishes `text` on `channel` through the API and the publisher; returns the post's id.
    pub async fn publish(&self, channel: &Channel, text: &str) -> String {
        let post = self.app.call(Method::POST, "/v1/posts", Some(json!({"text": text, "targets": [channel.id]}))).await;
        assert_eq!(post.status, StatusCode::CREATED, "{post:?}");
        posthorn::jobs::process_queue(&self.app.state).await.unwrap();
        let id = post.body["data"]["id"].as_str().unwrap().to_string();
        let published = self.get(&format!("/v1/posts/{id}")).await;
        assert_eq!(published["data"]["targets"][0]["status"], "published", "{published}");
        id
    }

    pub async fn get(&self, path: &str) -> Value {
        let reply = self.app.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        reply.body
    }

    /// Answers interaction `id` with `text`.
    pub async fn reply(&self, id: &str, text: &str) -> Reply {
        self.app.call(Method::POST, &format!("/v1/interactions/{id}/reply"), Some(json!({"text": text}))).await
    }

    /// Lets `item` arrive on `channel` as a push would store it; returns its interaction's id.
    pub async fn arrived(&self, channel: &Channel, item: RemoteInteraction) -> String {
        let posts = RecentPosts::of(self.app.store(), channel).await.unwrap();
        let interaction = interaction_of(item, channel, &posts, self.clock.now(), time::Duration::days(1));
        assert!(arrive(&self.app.state.outbox(), &interaction).await.unwrap());
        interaction.id.to_string()
    }

    /// Asks sync-inbox to read again from `since`.
    pub async fn backfill(&self, channel: &Channel, since: OffsetDateTime) {
        let since = since.format(&time::format_description::well_known::Rfc3339).unwrap();
        let path = format!("/v1/accounts/{}/inbox/backfill", channel.connection_id);
        let backfill = self.app.call(Method::POST, &path, Some(json!({"since": since}))).await;
        assert_eq!(backfill.status, StatusCode::ACCEPTED, "{backfill:?}");
    }

    /// One sync-inbox run, a minute after the last.
    pub async fn sync(&self) -> InboxReport {
        self.clock.advance(time::Duration::minutes(1));
        sync_inbox(&self.app.state.accounts(), &InboxSettings::default(), Instant::now() + WAIT).await.unwrap()
    }

    /// Runs of sync-inbox, a minute apart, until one ends before its deadline (a run on the
    /// emulated DynamoDB stores a hundred interactions slowly), with their counts added up.
    pub async fn sync_through(&self) -> InboxReport {
        let mut total = self.sync().await;
        while total.out_of_time {
            let next = self.sync().await;
            total.interactions += next.interactions;
            total.duplicates += next.duplicates;
            total.rate_limited += next.rate_limited;
            total.failed += next.failed;
            total.out_of_time = next.out_of_time;
        }
        total
    }

    /// The deliveries of `event`, each checked with the endpoint's secret by standardwebhooks:
    /// the signature it computes over the delivery's id, timestamp and body must be among those
    /// sent. (Its `verify` also refuses timestamps five minutes from the system's time, which
    /// the test's manual clock soon is.)
    pub async fn verified(&self, event: &str, count: usize) -> Vec<Value> {
        self.receiver.events(event, count, WAIT).await;
        let received = self.receiver.received();
        let matching: Vec<&Received> =
            received.iter().filter(|delivery| delivery.header("x-posthorn-event") == event).collect();
        assert_eq!(matching.len(), count, "{event} deliveries");
        let verifier = standardwebhooks::Webhook::new(&self.secret).unwrap();
        matching
            .into_iter()
            .map(|delivery| {
                let timestamp = delivery.header("webhook-timestamp").parse().expect("a timestamp");
                let expected = verifier.sign(delivery.header("webhook-id"), timestamp, &delivery.body).unwrap();
                let sent = delivery.header("webhook-signature");
                assert!(sent.split(' ').any(|signature| signature == expected), "a valid signature: {sent}");
                serde_json::from_slice(&delivery.body).unwrap()
            })
            .collect()
    }
}
