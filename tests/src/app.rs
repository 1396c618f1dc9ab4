//! A whole Posthorn API in-process for HTTP tests: the embedded store and queue in memory (or
//! whichever adapters the test passes instead), a resolver the test controls, and a workspace
//! with its API key.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use posthorn::adapters::ai::OfflineProvider;
use posthorn::adapters::clock::SystemClock;
use posthorn::adapters::outbound::{OutboundClient, StaticResolver, UrlGuard};
use posthorn::adapters::platforms::PlatformRegistry;
use posthorn::adapters::sqlite::SqliteQueue;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::api::{FunctionRoutes, combined_router};
use posthorn::app::AppState;
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::{Connection, ConnectionStatus};
use posthorn::model::crypto::{EncryptionKey, SecretBox};
use posthorn::model::ids::{ChannelId, WorkspaceId};
use posthorn::model::platforms::Platform;
use posthorn::model::usage::RateLimits;
use posthorn::model::webhooks::{RecoverySettings, RetrySchedule, WebhookLimits};
use posthorn::ports::ai::AiProvider;
use posthorn::ports::clock::Clock;
use posthorn::ports::queue::Queue;
use posthorn::ports::store::Store;
use posthorn::services::inbox::InboxSettings;
use posthorn::services::workspaces::create_workspace_with_key;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::receiver::{Receiver, test_ca};

/// A host every test may register webhooks on: it resolves to a public address.
pub const PUBLIC_HOST: &str = "hooks.example.com";

pub struct TestApp {
    pub state: Arc<AppState>,
    pub router: Router,
    pub resolver: StaticResolver,
    pub workspace_id: WorkspaceId,
    pub api_key: String,
    /// What its secrets are sealed with: a second app given it reads them as a restarted
    /// process would.
    pub encryption_key: EncryptionKey,
    stop_worker: tokio::sync::watch::Sender<bool>,
}

/// What an API call answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// How a [`TestApp`] differs from production settings.
#[derive(Default)]
pub struct TestOptions {
    /// The unsafe setting that lets loopback receivers be registered.
    pub allow_private_urls: bool,
    /// A CA (PEM) the outbound client trusts, for the test's HTTPS receivers.
    pub trusted_ca: Option<Vec<u8>>,
    pub retries: Option<RetrySchedule>,
    /// The store to use instead of an in-memory SQLite one.
    pub store: Option<Arc<dyn Store>>,
    /// The queue to use instead of an in-memory SQLite one.
    pub queue: Option<Arc<dyn Queue>>,
    pub clock: Option<Arc<dyn Clock>>,
    pub platforms: Option<PlatformRegistry>,
    /// The AI provider to use instead of the offline one.
    pub ai: Option<Arc<dyn AiProvider>>,
    pub webhook_limits: Option<WebhookLimits>,
    pub recovery: Option<RecoverySettings>,
    /// What the platforms' pushes are checked with.
    pub push: Option<posthorn::config::PushSecrets>,
    /// The key secrets are sealed with, instead of a new one.
    pub encryption_key: Option<EncryptionKey>,
    /// Per-key limits; none unless given, so that suites may create posts and call the AI freely.
    pub rate_limits: Option<posthorn::model::usage::RateLimits>,
}

impl TestOptions {
    /// What a suite that watches events through an HTTPS [`Receiver`] needs: loopback receivers
    /// allowed, the test CA trusted, one attempt per delivery.
    pub fn receiving() -> Self {
        Self {
            allow_private_urls: true,
            trusted_ca: Some(test_ca().ca_pem.clone().into_bytes()),
            retries: Some(RetrySchedule::parse("0").expect("schedule")),
            ..Self::default()
        }
    }
}

impl TestApp {
    /// The given functions' routes as the dev server mounts them, over fresh in-memory adapters.
    pub async fn new(functions: impl FnOnce() -> Vec<FunctionRoutes>) -> Self {
        Self::with_options(functions, TestOptions::default()).await
    }

    pub async fn with_options(functions: impl FnOnce() -> Vec<FunctionRoutes>, options: TestOptions) -> Self {
        let resolver = StaticResolver::default();
        resolver.set(PUBLIC_HOST, &["93.184.216.34".parse::<IpAddr>().unwrap()]);
        let guard = UrlGuard::new(Arc::new(resolver.clone()), options.allow_private_urls);
        let trusted: Vec<Vec<u8>> = options.trusted_ca.into_iter().collect();
        let outbound = OutboundClient::new(guard, &trusted).expect("outbound client");
        let encryption_key = options.encryption_key.unwrap_or_else(EncryptionKey::generate);
        let state = Arc::new(AppState {
            store: options.store.unwrap_or_else(|| Arc::new(SqliteStore::in_memory().expect("in-memory store"))),
            queue: options
                .queue
                .unwrap_or_else(|| Arc::new(SqliteQueue::in_memory("deliveries", 5).expect("in-memory queue"))),
            clock: options.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            secrets: SecretBox::new(&encryption_key),
            platforms: options.platforms.unwrap_or_else(|| PlatformRegistry::standard(&outbound)),
            ai: options.ai.unwrap_or_else(|| Arc::new(OfflineProvider)),
            outbound,
            retries: options.retries.unwrap_or_default(),
            webhook_limits: options.webhook_limits.unwrap_or_default(),
            recovery: options.recovery.unwrap_or_default(),
            inbox: InboxSettings::default(),
            push: options.push.unwrap_or_default(),
            wake_scheduler: Arc::default(),
            rate_limits: options.rate_limits.unwrap_or(RateLimits { posts_per_minute: 0, ai_per_minute: 0 }),
        });
        let (workspace, api_key) = create_workspace_with_key(state.store.as_ref(), "Test workspace", state.clock.now())
            .await
            .expect("workspace");
        let router = combined_router(functions(), state.clone());
        let (stop_worker, _) = tokio::sync::watch::channel(false);
        Self { state, router, resolver, workspace_id: workspace.id, api_key, encryption_key, stop_worker }
    }

    /// Runs the dev server's delivery worker until the app is dropped.
    pub fn start_worker(&self) {
        tokio::spawn(posthorn::jobs::run_local(self.state.clone(), 20, self.stop_worker.subscribe()));
    }

    /// Starts the delivery worker and subscribes a new HTTPS receiver to every event (the app must
    /// mount the webhooks routes and be built with [`TestOptions::receiving`]).
    pub async fn watched(&self) -> Receiver {
        self.start_worker();
        let receiver = Receiver::start().await;
        let body = json!({"url": receiver.url("/hooks"), "events": ["*"], "skip_verification": true});
        let reply = self.call(Method::POST, "/v1/webhooks", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        receiver
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    /// Another workspace with its own key, to check isolation.
    pub async fn other_workspace_key(&self) -> String {
        create_workspace_with_key(self.store(), "Other workspace", self.state.clock.now()).await.expect("workspace").1
    }

    /// A channel on `platform` in this app's workspace, with a connection of `status` to
    /// `https://social.example`, written to the store as import-channels would.
    pub async fn channel_on(&self, platform: Platform, platform_channel_id: &str, status: ConnectionStatus) -> Channel {
        self.channel_of_user(platform, "1", platform_channel_id, status).await
    }

    /// Like [`Self::channel_on`], the connection being the platform account `platform_user_id`.
    pub async fn channel_of_user(
        &self,
        platform: Platform,
        platform_user_id: &str,
        platform_channel_id: &str,
        status: ConnectionStatus,
    ) -> Channel {
        let now = self.state.clock.now();
        let connection = Connection {
            base_url: "https://social.example".into(),
            platform_user_id: platform_user_id.into(),
            username: "posthorn".into(),
            status,
            ..Connection::new(self.workspace_id, platform, self.state.secrets.seal("token"), now)
        };
        self.store().create_connection(&connection).await.expect("connection");
        let channel = Channel {
            id: ChannelId::new(),
            workspace_id: self.workspace_id,
            connection_id: connection.id,
            platform,
            platform_channel_id: platform_channel_id.into(),
            name: platform_channel_id.into(),
            kind: ChannelKind::Profile,
            channel_token: None,
            created_at: now,
        };
        self.store().create_channel(&channel).await.expect("channel");
        channel
    }

    /// A JSON request with this app's API key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|json| json.to_string().into_bytes());
        self.send(method, path, Some(&self.api_key), body).await
    }

    /// A request with any key (or none) and any raw body.
    pub async fn send(&self, method: Method, path: &str, api_key: Option<&str>, body: Option<Vec<u8>>) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        self.request(request.body(Body::from(body.unwrap_or_default())).expect("request")).await
    }

    /// Any request, as built (headers and all).
    pub async fn request(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible router");
        let status = response.status();
        let html =
            response.headers().get("content-type").is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = match () {
            _ if bytes.is_empty() => Value::Null,
            _ if html => Value::String(String::from_utf8(bytes.to_vec()).expect("UTF-8 page")),
            _ => serde_json::from_slice(&bytes).expect("JSON response"),
        };
        Reply { status, body }
    }
}

impl Reply {
    /// The `error` message of an error reply.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_worker.send_replace(true);
    }
}
