//! Connections through the HTTP API: the consent URL (state + S256 PKCE), the callback and every
//! way it refuses (bad, reused, expired or foreign state, a rejected code) storing nothing,
//! account.connected, reconnects, sync with single-use refresh tokens under concurrency, a
//! refresh refused for good, import-channels, disconnecting, and the whole connect →
//! import-channels → post flow on the sandbox. Tokens are looked for in every response and in
//! the raw store. Each scenario runs on SQLite (a file) and on DynamoDB (moto).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use posthorn::adapters::clock::ManualClock;
use posthorn::adapters::dynamo::DynamoStore;
use posthorn::adapters::platforms::PlatformRegistry;
use posthorn::adapters::platforms::pkce::challenge_of;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::jobs::process_queue;
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::Connection;
use posthorn::model::ids::{ChannelId, ConnectionId};
use posthorn::model::platforms::Platform;
use posthorn::ports::clock::Clock;
use posthorn::ports::platforms::OAuthApp;
use posthorn::ports::store::Store;
use posthorn::services::connections::import::import_channels;
use posthorn_testkit::app::{Reply, TestApp, TestOptions};
use posthorn_testkit::atproto_pds::AtprotoPds;
use posthorn_testkit::aws;
use posthorn_testkit::bluesky_fake::{self, BlueskyFake};
use posthorn_testkit::graph_fake::form;
use posthorn_testkit::mastodon_mock::MastodonMock;
use posthorn_testkit::on_both_stores;
use posthorn_testkit::receiver::{Received, Receiver};
use posthorn_testkit::stores::StoreKind;
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(30);
const REDIRECT_URI: &str = "https://app.example/oauth/callback";
const CLIENT_ID: &str = "TWhM-tNSuncnqN7DBJmoyeLnk6K3iJJ71KKXxgL1hPM";
const CLIENT_SECRET: &str = "ZEaFUFmF0umgBX1qKJDjaU99Q31lDkOU8NutzTOoliw";
const ACCESS_TOKEN: &str = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0";
const REFRESH_TOKEN: &str = "rT-9c2d4f6a8b0c2e4f6a8b0c2e4f6a8b0c2e4f6a8b0";

/// Where the raw records are, for looking for tokens in clear.
enum RawStore {
    Sqlite(std::path::PathBuf),
    DynamoDb(String),
}

struct Fixture {
    app: TestApp,
    clock: Arc<ManualClock>,
    receiver: Receiver,
    raw: RawStore,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let RawStore::Sqlite(path) = &self.raw {
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        }
    }
}

/// An app on a store of `kind` with every function, the standard platforms (allowed to reach
/// loopback fakes), a manual clock, and a receiver subscribed to every event.
async fn fixture(kind: StoreKind) -> Fixture {
    fixture_with(kind, None).await
}

/// A fixture whose platforms are `platforms` (with their OAuth apps) rather than the standard ones.
async fn fixture_with(kind: StoreKind, platforms: Option<PlatformRegistry>) -> Fixture {
    let (store, raw): (Arc<dyn Store>, RawStore) = match kind {
        StoreKind::Sqlite => {
            let path = std::env::temp_dir().join(aws::unique_name("posthorn-conn")).join("store.db");
            (Arc::new(SqliteStore::open(&path).unwrap()), RawStore::Sqlite(path))
        }
        StoreKind::DynamoDb => {
            let table = aws::unique_name("posthorn-conn");
            let store = DynamoStore::new(aws::dynamodb().await, table.clone());
            store.ensure_table().await.unwrap();
            (Arc::new(store), RawStore::DynamoDb(table))
        }
    };
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let options = TestOptions { store: Some(store), clock: Some(clock.clone()), platforms, ..TestOptions::receiving() };
    let app = TestApp::with_options(posthorn::dev::http_functions, options).await;
    let receiver = app.watched().await;
    Fixture { app, clock, receiver, raw }
}

impl Fixture {
    async fn authorize(&self, query: &[(&str, &str)]) -> Reply {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
        self.app.call(Method::GET, &format!("/functions/v1/connect?{query}"), None).await
    }

    /// The consent URL for `platform` (at `base_url`, if given), as its query pairs.
    async fn consent(&self, platform: &str, base_url: Option<&str>) -> (String, Vec<(String, String)>) {
        let mut query = vec![("platform", platform), ("redirect_uri", REDIRECT_URI)];
        query.extend(base_url.map(|url| ("base_url", url)));
        let reply = self.authorize(&query).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let url = reply.body["data"]["authorization_url"].as_str().unwrap().to_string();
        let pairs = url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
        (url, pairs)
    }

    async fn connect(&self, body: Value) -> Reply {
        self.app.call(Method::POST, "/functions/v1/connect", Some(body)).await
    }

    async fn post(&self, path: &str, connection_id: &str) -> Reply {
        self.app.call(Method::POST, path, Some(json!({"connection_id": connection_id}))).await
    }

    async fn connections(&self) -> Vec<Value> {
        let reply = self.app.call(Method::GET, "/v1/connections", None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["data"].as_array().unwrap().clone()
    }

    /// Connects the sandbox through its consent URL and returns the connection.
    async fn connect_sandbox(&self) -> Value {
        let (_, query) = self.consent("sandbox", None).await;
        let reply = self
            .connect(json!({"platform": "sandbox", "code": param(&query, "code"), "state": param(&query, "state"),
                "workspace_id": self.app.workspace_id}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"].clone()
    }

    /// Connects the Bluesky fake's account with its app password.
    async fn connect_bluesky(&self, fake: &BlueskyFake) -> Value {
        let reply = self
            .connect(json!({"platform": "bluesky", "identifier": bluesky_fake::HANDLE,
                "app_password": bluesky_fake::APP_PASSWORD, "base_url": fake.base_url}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["data"].clone()
    }

    /// The bodies of `event` the receiver got, waiting until there are `count`.
    async fn events(&self, event: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let bodies = self.received(event);
            if bodies.len() >= count {
                return bodies;
            }
            assert!(tokio::time::Instant::now() < deadline, "expected {count} {event}, got {}", bodies.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn received(&self, event: &str) -> Vec<Value> {
        self.receiver
            .received()
            .iter()
            .filter(|request| request.header("x-posthorn-event") == event)
            .map(|request: &Received| serde_json::from_slice(&request.body).unwrap())
            .collect()
    }

    /// Every byte the store holds, as text: the SQLite file and its write-ahead log, or a scan
    /// of the whole DynamoDB table.
    async fn raw_store(&self) -> String {
        match &self.raw {
            RawStore::Sqlite(path) => {
                let mut text = String::new();
                for file in [path.clone(), path.with_extension("db-wal")] {
                    if let Ok(bytes) = std::fs::read(file) {
                        text.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                text
            }
            RawStore::DynamoDb(table) => {
                let output = aws::dynamodb().await.scan().table_name(table).send().await.unwrap();
                format!("{:?}", output.items.unwrap_or_default())
            }
        }
    }

    async fn stored_refresh_token(&self, id: &str) -> Option<String> {
        let connection = self.app.store().get_connection(self.app.workspace_id, id.parse().unwrap()).await.unwrap();
        connection.unwrap().refresh_token.map(|sealed| self.app.state.secrets.open(&sealed).unwrap())
    }
}

fn param(query: &[(String, String)], name: &str) -> String {
    query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap_or_default()
}

/// A Mastodon instance as documented: app registration, the token endpoint (which checks the
/// client, the redirect URI and the PKCE verifier of each code), the account, revocation.
struct Instance {
    server: MockServer,
}

impl Instance {
    async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/apps"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "563419", "name": "Posthorn", "website": null, "scopes": ["read", "write"],
                "redirect_uri": REDIRECT_URI, "redirect_uris": [REDIRECT_URI],
                "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/verify_credentials"))
            .and(header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "109876", "username": "alice", "acct": "alice", "display_name": "Alice",
                "avatar": "https://files.mastodon.example/alice.png", "url": "https://mastodon.example/@alice"})))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
                "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."})))
            .with_priority(10)
            .mount(&server)
            .await;
        Self { server }
    }

    fn url(&self) -> String {
        self.server.uri()
    }

    /// The user approves: `code` is exchangeable once, with the verifier of `challenge`, for
    /// the account's tokens (with a refresh token if `refresh`).
    async fn approve(&self, code: &str, challenge: String, refresh: bool) {
        let mut tokens = json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "scope": "read write",
            "created_at": 1_732_000_000});
        if refresh {
            tokens["refresh_token"] = json!(REFRESH_TOKEN);
        }
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(form("grant_type", "authorization_code"))
            .and(form("code", code))
            .and(form("client_id", CLIENT_ID))
            .and(form("client_secret", CLIENT_SECRET))
            .and(form("redirect_uri", REDIRECT_URI))
            .and(move |request: &Request| {
                url::form_urlencoded::parse(&request.body)
                    .any(|(key, verifier)| key == "code_verifier" && challenge_of(&verifier) == challenge)
            })
            .respond_with(ResponseTemplate::new(200).set_body_json(tokens))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }
}

/// Connects Alice's Mastodon account on `instance`; returns the reply.
async fn connect_mastodon(fixture: &Fixture, instance: &Instance, code: &str, refresh: bool) -> Reply {
    let (_, query) = fixture.consent("mastodon", Some(&instance.url())).await;
    instance.approve(code, param(&query, "code_challenge"), refresh).await;
    fixture
        .connect(json!({"platform": "mastodon", "code": code, "state": param(&query, "state"),
            "workspace_id": fixture.app.workspace_id}))
        .await
}

on_both_stores!(
    the_sandbox_connects_imports_its_channels_and_publishes,
    the_consent_url_carries_a_state_and_an_s256_challenge,
    the_callback_refuses_bad_reused_expired_and_foreign_states_and_stores_nothing,
    a_rejected_code_is_a_400_with_the_platforms_reason_and_stores_nothing,
    account_connected_carries_the_profile_and_tokens_stay_sealed,
    a_reconnect_updates_the_connection_and_keeps_its_refresh_token,
    concurrent_syncs_refresh_once_and_keep_the_rotated_token,
    a_refresh_refused_for_good_expires_the_connection_and_emits_token_expired_once,
    import_channels_creates_new_channels_and_deletes_gone_ones,
    a_slow_listing_is_imported_over_two_calls_each_channel_once,
    disconnecting_revokes_deletes_channels_and_fails_pending_targets,
    an_instances_own_status_length_is_read_at_connect_and_validates_its_posts,
    importing_pages_subscribes_the_app_and_disconnecting_unsubscribes_first,
);

async fn the_sandbox_connects_imports_its_channels_and_publishes(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let connection = fixture.connect_sandbox().await;
    assert_eq!((connection["platform"].as_str(), connection["status"].as_str()), (Some("sandbox"), Some("active")));
    let id = connection["id"].as_str().unwrap();

    let reply = fixture.post("/functions/v1/import-channels", id).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let channels = reply.body["data"].as_array().unwrap();
    let names: Vec<_> = channels.iter().map(|c| c["platform_channel_id"].as_str().unwrap()).collect();
    assert_eq!(names, ["sandbox-1", "sandbox-2", "sandbox-3"]);
    fixture.events("channel.created", 3).await;

    let targets: Vec<_> = channels.iter().map(|c| c["id"].clone()).collect();
    let reply = fixture
        .app
        .call(Method::POST, "/v1/posts", Some(json!({"text": "Hello from the sandbox", "targets": targets})))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    process_queue(&fixture.app.state).await.unwrap();
    let published = &fixture.events("post.published", 1).await[0];
    assert_eq!(published["data"]["published"], 3);
}

async fn the_consent_url_carries_a_state_and_an_s256_challenge(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    let (url, query) = fixture.consent("mastodon", Some(&instance.url())).await;
    assert!(url.starts_with(&format!("{}/oauth/authorize?", instance.url())), "{url}");
    assert_eq!(param(&query, "response_type"), "code");
    assert_eq!(param(&query, "client_id"), CLIENT_ID);
    assert_eq!(param(&query, "redirect_uri"), REDIRECT_URI);
    assert_eq!(param(&query, "code_challenge_method"), "S256");
    assert_eq!(param(&query, "code_challenge").len(), 43, "base64url of a SHA-256");
    assert!(param(&query, "state").len() >= 32);
    assert!(!url.contains(CLIENT_SECRET));

    // A second consent reuses the app registered on the instance (expect(1)), with a new state.
    let (_, again) = fixture.consent("mastodon", Some(&instance.url())).await;
    assert_ne!(param(&again, "state"), param(&query, "state"));
    assert_ne!(param(&again, "code_challenge"), param(&query, "code_challenge"));
}

async fn the_callback_refuses_bad_reused_expired_and_foreign_states_and_stores_nothing(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let (_, query) = fixture.consent("sandbox", None).await;
    let code = param(&query, "code");
    let callback = |state: &str| json!({"platform": "sandbox", "code": code, "state": state});

    let reply = fixture.connect(callback("never-issued")).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::BAD_REQUEST, "state is unknown or was already used; start the connection again")
    );
    let reply = fixture.connect(json!({"platform": "sandbox", "code": code})).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "state is required"));

    // Another workspace cannot use this workspace's state (and does not use it up).
    let other_key = fixture.app.other_workspace_key().await;
    let body = serde_json::to_vec(&callback(&param(&query, "state"))).unwrap();
    let reply = fixture.app.send(Method::POST, "/functions/v1/connect", Some(&other_key), Some(body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    let reply = fixture
        .connect(json!({"platform": "sandbox", "code": code, "state": param(&query, "state"), "workspace_id": posthorn::model::ids::WorkspaceId::new()}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");

    // Issued for the sandbox, brought back for Mastodon: refused, and used up.
    let reply = fixture.connect(json!({"platform": "mastodon", "code": code, "state": param(&query, "state")})).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "state was issued for sandbox, not mastodon"));
    let reply = fixture.connect(callback(&param(&query, "state"))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "a state is used once, even by a refused callback");

    // Expired after ten minutes.
    let (_, late) = fixture.consent("sandbox", None).await;
    fixture.clock.advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    let reply = fixture
        .connect(json!({"platform": "sandbox", "code": param(&late, "code"), "state": param(&late, "state")}))
        .await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "state expired; start the connection again"));

    // Used once: the second callback with the same state is refused.
    let (_, fresh) = fixture.consent("sandbox", None).await;
    let body = json!({"platform": "sandbox", "code": param(&fresh, "code"), "state": param(&fresh, "state")});
    assert_eq!(fixture.connect(body.clone()).await.status, StatusCode::CREATED);
    let reply = fixture.connect(body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(fixture.connections().await.len(), 1, "only the good callback stored a connection");
    assert_eq!(fixture.events("account.connected", 1).await.len(), 1);
}

async fn a_rejected_code_is_a_400_with_the_platforms_reason_and_stores_nothing(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    let (_, query) = fixture.consent("mastodon", Some(&instance.url())).await;
    instance.approve("good-code", param(&query, "code_challenge"), false).await;
    let reply =
        fixture.connect(json!({"platform": "mastodon", "code": "forged-code", "state": param(&query, "state")})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply
            .error()
            .starts_with("mastodon refused the connection: invalid_grant: The provided authorization grant is invalid"),
        "{reply:?}"
    );
    assert!(fixture.connections().await.is_empty());

    // Unknown platforms, platforms whose OAuth client is not configured, and app-password
    // platforms at the consent step are 400s that say so.
    let reply = fixture.authorize(&[("platform", "myspace"), ("redirect_uri", REDIRECT_URI)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().starts_with("unknown platform `myspace`"), "{reply:?}");
    let reply = fixture.authorize(&[("platform", "x"), ("redirect_uri", REDIRECT_URI)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().starts_with("platform x is not configured: set POSTHORN_X_CLIENT_ID"), "{reply:?}");
    let reply = fixture.authorize(&[("platform", "bluesky"), ("redirect_uri", REDIRECT_URI)]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.error().contains("app password"), "{reply:?}");
    let reply = fixture.authorize(&[("platform", "sandbox"), ("redirect_uri", "javascript:alert(1)")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = fixture
        .app
        .send(Method::GET, "/functions/v1/connect?platform=sandbox&redirect_uri=https://a.example", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(fixture.connections().await.is_empty());
}

async fn account_connected_carries_the_profile_and_tokens_stay_sealed(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    let reply = connect_mastodon(&fixture, &instance, "code-1", true).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let connection = &reply.body["data"];
    assert_eq!(connection["username"], "alice");
    assert_eq!(connection["scopes"], json!(["read", "write"]));
    assert_eq!(connection["base_url"], instance.url());

    let event = &fixture.events("account.connected", 1).await[0];
    assert_eq!(
        event["data"],
        json!({
            "account_id": connection["id"], "platform": "mastodon", "platform_user_id": "109876",
            "username": "alice", "display_name": "Alice",
            "profile_picture_url": "https://files.mastodon.example/alice.png",
            "profile_url": "https://mastodon.example/@alice", "scopes": ["read", "write"],
            "reconnected": false, "connected_at": event["data"]["connected_at"],
        })
    );
    assert!(event["data"]["connected_at"].as_str().unwrap().ends_with('Z'));
    let keys = |data: &Value| data.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let example = posthorn::model::webhooks::EventType::AccountConnected.example_data();
    assert_eq!(keys(&event["data"]), keys(&example), "the catalog's example has the event's fields");

    let id = connection["id"].as_str().unwrap();
    let mut answers = vec![reply.body.to_string()];
    answers.push(fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await.body.to_string());
    answers.push(fixture.app.call(Method::GET, "/v1/connections", None).await.body.to_string());
    answers.push(fixture.post("/functions/v1/sync", id).await.body.to_string());
    answers.push(fixture.post("/functions/v1/import-channels", id).await.body.to_string());
    let raw = fixture.raw_store().await;
    assert!(raw.contains("alice"), "the raw store was read");
    for secret in [ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET] {
        for answer in &answers {
            assert!(!answer.contains(secret), "a response carries a secret: {answer}");
        }
        assert!(!raw.contains(secret), "the store holds a secret in clear");
    }
    assert_eq!(fixture.stored_refresh_token(id).await.as_deref(), Some(REFRESH_TOKEN), "sealed, not lost");
}

async fn a_reconnect_updates_the_connection_and_keeps_its_refresh_token(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    let first = connect_mastodon(&fixture, &instance, "code-1", true).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let second = connect_mastodon(&fixture, &instance, "code-2", false).await;
    assert_eq!(second.status, StatusCode::OK, "a reconnect is not a new connection: {second:?}");
    assert_eq!(second.body["data"]["id"], first.body["data"]["id"]);
    assert_eq!(fixture.connections().await.len(), 1);
    let id = first.body["data"]["id"].as_str().unwrap();
    assert_eq!(fixture.stored_refresh_token(id).await.as_deref(), Some(REFRESH_TOKEN));
    // Deliveries run concurrently, so the two may arrive in either order.
    let events = fixture.events("account.connected", 2).await;
    let mut reconnected: Vec<bool> = events.iter().map(|e| e["data"]["reconnected"].as_bool().unwrap()).collect();
    reconnected.sort();
    assert_eq!(reconnected, [false, true]);
}

async fn concurrent_syncs_refresh_once_and_keep_the_rotated_token(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let fake = BlueskyFake::start(Duration::from_secs(600)).await;
    let connection = fixture.connect_bluesky(&fake).await;
    let id = connection["id"].as_str().unwrap();
    let first_refresh = fake.current_refresh_token().unwrap();
    let sync = fixture.post("/functions/v1/sync", id).await;
    assert_eq!((sync.status, fake.refreshes()), (StatusCode::OK, 0), "ten minutes left: no refresh");

    // Four minutes left, within the margin: both syncs want a refresh.
    fixture.clock.advance(time::Duration::minutes(6));

    let (a, b) = tokio::join!(fixture.post("/functions/v1/sync", id), fixture.post("/functions/v1/sync", id));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK), "{a:?} {b:?}");
    assert_eq!(fake.refreshes(), 1, "one refresh for two concurrent syncs");
    let stored = fixture.stored_refresh_token(id).await;
    assert_ne!(stored.as_deref(), Some(first_refresh.as_str()));
    assert_eq!(stored, fake.current_refresh_token(), "the rotated refresh token is the one stored");

    // The stored token works: the next syncs refresh again, one after the other.
    for round in 2..=3 {
        fixture.clock.advance(time::Duration::minutes(6));
        let reply = fixture.post("/functions/v1/sync", id).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(fake.refreshes(), round);
    }
    assert_eq!(
        fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await.body["data"]["status"],
        "active"
    );
    assert!(fixture.received("token.expired").is_empty());
}

async fn a_refresh_refused_for_good_expires_the_connection_and_emits_token_expired_once(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let fake = BlueskyFake::start(Duration::from_secs(60)).await;
    let id = fixture.connect_bluesky(&fake).await["id"].as_str().unwrap().to_string();
    fake.revoke_app_password();

    let first = fixture.post("/functions/v1/sync", &id).await;
    assert_eq!(first.status, StatusCode::UNPROCESSABLE_ENTITY, "{first:?}");
    assert!(first.error().contains("ExpiredToken: Token has been revoked"), "{first:?}");
    let second = fixture.post("/functions/v1/sync", &id).await;
    assert_eq!(second.status, StatusCode::UNPROCESSABLE_ENTITY, "{second:?}");
    let imported = fixture.post("/functions/v1/import-channels", &id).await;
    assert_eq!(imported.status, StatusCode::UNPROCESSABLE_ENTITY, "{imported:?}");

    let expired = fixture.events("token.expired", 1).await;
    assert_eq!(expired[0]["data"]["account_id"], id.as_str());
    assert_eq!(expired[0]["data"]["platform"], "bluesky");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fixture.received("token.expired").len(), 1, "token.expired fires once");
    let connection = fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection.body["data"]["status"], "expired");

    // Reconnecting makes it active again.
    fixture.connect_bluesky_again(&fake).await;
    let connection = fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection.body["data"]["status"], "active");
}

impl Fixture {
    async fn connect_bluesky_again(&self, fake: &BlueskyFake) {
        let reply = self
            .connect(json!({"platform": "bluesky", "identifier": bluesky_fake::HANDLE,
                "app_password": bluesky_fake::APP_PASSWORD, "base_url": fake.base_url}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
}

async fn import_channels_creates_new_channels_and_deletes_gone_ones(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let connection = fixture.connect_sandbox().await;
    let id = connection["id"].as_str().unwrap();
    let gone = Channel {
        id: ChannelId::new(),
        workspace_id: fixture.app.workspace_id,
        connection_id: id.parse::<ConnectionId>().unwrap(),
        platform: posthorn::model::platforms::Platform::Sandbox,
        platform_channel_id: "sandbox-9".into(),
        name: "Sandbox 9".into(),
        kind: ChannelKind::Account,
        channel_token: None,
        created_at: fixture.clock.now(),
    };
    fixture.app.store().create_channel(&gone).await.unwrap();

    let first = fixture.post("/functions/v1/import-channels", id).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let created = fixture.events("channel.created", 3).await;
    let deleted = fixture.events("channel.deleted", 1).await;
    assert_eq!(deleted[0]["data"]["channel_id"], gone.id.to_string());
    assert_eq!(deleted[0]["data"]["account_id"], id);
    assert!(created.iter().all(|event| event["data"]["account_id"] == id));

    let again = fixture.post("/functions/v1/import-channels", id).await;
    assert_eq!(again.body["data"], first.body["data"], "the same channels, same ids");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((fixture.received("channel.created").len(), fixture.received("channel.deleted").len()), (3, 1));
    assert_eq!(fixture.app.store().get_channel(fixture.app.workspace_id, gone.id).await.unwrap(), None);
}

/// A Graph fake whose `/me/accounts` lists six pages over three pages of results, each answered
/// after `delay`.
async fn slow_graph(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let pages = [(None, "p1", "p2", Some("c2")), (Some("c2"), "p3", "p4", Some("c3")), (Some("c3"), "p5", "p6", None)];
    for (after, first, second, next) in pages {
        let page = |id: &str| json!({ "id": id, "name": format!("Page {id}"), "access_token": format!("EAAG-{id}") });
        let mut body = json!({ "data": [page(first), page(second)] });
        if let Some(next) = next {
            body["paging"] = json!({ "cursors": { "after": next }, "next": format!("{}/next", server.uri()) });
        }
        let accounts = Mock::given(method("GET")).and(path_regex(r"/v[0-9.]+/me/accounts$"));
        let accounts = match after {
            Some(cursor) => accounts.and(query_param("after", cursor)),
            None => accounts.and(query_param_is_missing("after")),
        };
        accounts.respond_with(ResponseTemplate::new(200).set_delay(delay).set_body_json(body)).mount(&server).await;
    }
    Mock::given(method("POST"))
        .and(path_regex(r"/v[0-9.]+/p[0-9]/subscribed_apps$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .mount(&server)
        .await;
    server
}

async fn a_slow_listing_is_imported_over_two_calls_each_channel_once(kind: StoreKind) {
    // GIVEN a Facebook connection with a channel the platform no longer lists, and a Graph API
    // that takes 500 ms a page of results
    let fixture = fixture(kind).await;
    let graph = slow_graph(Duration::from_millis(500)).await;
    let now = fixture.clock.now();
    let connection = Connection {
        base_url: format!("{}/v25.0", graph.uri()),
        platform_user_id: "10158000000000001".into(),
        username: "Ada".into(),
        ..Connection::new(fixture.app.workspace_id, Platform::Facebook, fixture.app.state.secrets.seal("EAAG"), now)
    };
    fixture.app.store().create_connection(&connection).await.unwrap();
    let gone = Channel {
        id: ChannelId::new(),
        workspace_id: fixture.app.workspace_id,
        connection_id: connection.id,
        platform: Platform::Facebook,
        platform_channel_id: "p0".into(),
        name: "Page p0".into(),
        kind: ChannelKind::Page,
        channel_token: None,
        created_at: now,
    };
    fixture.app.store().create_channel(&gone).await.unwrap();
    let accounts = fixture.app.state.accounts();

    // WHEN an import gets 1.5 s
    let started = Instant::now();
    let first =
        import_channels(&accounts, fixture.app.workspace_id, connection.id, started + Duration::from_millis(1500))
            .await
            .unwrap();

    // THEN it starts nothing after them: it ends within the one page of results it had started,
    // incomplete, with the channels it stored (in the platform's order), and deletes nothing yet
    assert!(started.elapsed() < Duration::from_millis(1500 + 500 + 1000), "took {:?}", started.elapsed());
    assert!(!first.complete);
    let ids = |channels: &[Channel]| channels.iter().map(|c| c.platform_channel_id.clone()).collect::<Vec<_>>();
    let all = ["p1", "p2", "p3", "p4", "p5", "p6"].map(String::from);
    assert!(all.starts_with(&ids(&first.channels)) && first.channels.len() < 6, "{:?}", ids(&first.channels));
    let read_before = graph.received_requests().await.unwrap().len();
    let store = fixture.app.store();
    assert_eq!(store.get_channel(fixture.app.workspace_id, gone.id).await.unwrap(), Some(gone.clone()));

    // AND the next call (through the API) continues where it stopped and completes the import
    let second = fixture.post("/functions/v1/import-channels", &connection.id.to_string()).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    assert_eq!(second.body["complete"], true, "{second:?}");
    let listed: Vec<_> = second.body["data"].as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(listed, all.clone().map(|id| json!(format!("Page {id}"))));
    let first_ids: Vec<_> = first.channels.iter().map(|c| json!(c.id)).collect();
    let second_ids: Vec<_> = second.body["data"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert_eq!(second_ids[..first_ids.len()], first_ids[..], "the first call's channels, kept");
    let read_again = graph.received_requests().await.unwrap()[read_before..]
        .iter()
        .filter(|request| request.url.path().ends_with("/me/accounts"))
        .filter(|request| !request.url.query_pairs().any(|(key, _)| key == "after"))
        .count();
    if first.channels.len() >= 2 {
        assert_eq!(read_again, 0, "the first page of results, all stored, is not read again");
    }

    // AND each channel was created once, and the one no longer listed deleted once
    let stored = store.connection_channels(fixture.app.workspace_id, connection.id).await.unwrap();
    let mut stored_ids = ids(&stored);
    stored_ids.sort();
    assert_eq!(stored_ids, all);
    let created = fixture.events("channel.created", all.len()).await;
    let deleted = fixture.events("channel.deleted", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((fixture.received("channel.created").len(), fixture.received("channel.deleted").len()), (6, 1));
    let mut created: Vec<_> = created.iter().map(|event| event["data"]["platform_channel_id"].clone()).collect();
    created.sort_by_key(|id| id.to_string());
    assert_eq!(created, all.map(|id| json!(id)), "each channel created once");
    assert_eq!(deleted[0]["data"]["channel_id"], gone.id.to_string());
}

async fn disconnecting_revokes_deletes_channels_and_fails_pending_targets(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(form("token", ACCESS_TOKEN))
        .and(form("client_id", CLIENT_ID))
        .and(form("client_secret", CLIENT_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&instance.server)
        .await;
    let reply = connect_mastodon(&fixture, &instance, "code-1", false).await;
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    let channels = fixture.post("/functions/v1/import-channels", &id).await.body["data"].clone();
    let channel_id = channels[0]["id"].clone();
    let scheduled_at = (fixture.clock.now() + time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let post = fixture
        .app
        .call(
            Method::POST,
            "/v1/posts",
            Some(json!({"text": "Later", "targets": [channel_id], "scheduled_at": scheduled_at})),
        )
        .await;
    assert_eq!(post.status, StatusCode::CREATED, "{post:?}");

    let reply = fixture.app.call(Method::DELETE, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
    let disconnected = &fixture.events("account.disconnected", 1).await[0];
    assert_eq!(disconnected["data"]["account_id"], id.as_str());
    assert_eq!(disconnected["data"]["revoked"], true);
    assert_eq!(fixture.events("channel.deleted", 1).await[0]["data"]["channel_id"], channel_id);
    assert!(fixture.connections().await.is_empty());
    let reply = fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    fixture.clock.advance(time::Duration::minutes(6));
    process_queue(&fixture.app.state).await.unwrap();
    let failed = &fixture.events("post.failed", 1).await[0];
    assert_eq!(failed["data"]["results"][0]["error"]["message"], "the channel of this target was deleted");
}

#[tokio::test]
async fn bluesky_connects_with_an_app_password_and_says_why_a_wrong_one_fails() {
    let fixture = fixture(StoreKind::Sqlite).await;
    let fake = BlueskyFake::start(Duration::from_secs(7200)).await;
    let reply = fixture
        .connect(json!({"platform": "bluesky", "identifier": bluesky_fake::HANDLE, "app_password": "wrong",
            "base_url": fake.base_url}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "bluesky refused the connection: AuthenticationRequired: Invalid identifier or password");
    let reply = fixture.connect(json!({"platform": "bluesky", "identifier": bluesky_fake::HANDLE})).await;
    assert_eq!((reply.status, reply.error()), (StatusCode::BAD_REQUEST, "app_password is required"));
    assert!(fixture.connections().await.is_empty());

    let connection = fixture.connect_bluesky(&fake).await;
    assert_eq!(connection["platform_user_id"], bluesky_fake::DID);
    assert_eq!(connection["username"], bluesky_fake::HANDLE);
    assert_eq!(connection["display_name"], "Alice");
    assert_eq!(connection["profile_url"], "https://bsky.app/profile/alice.test");
    let id = connection["id"].as_str().unwrap();
    let channels = fixture.post("/functions/v1/import-channels", id).await.body["data"].clone();
    assert_eq!(channels[0]["platform_channel_id"], bluesky_fake::DID);
    let session = fake.current_refresh_token().unwrap();
    assert!(!fixture.raw_store().await.contains(&session));
    assert!(!fixture.raw_store().await.contains(bluesky_fake::APP_PASSWORD));

    let reply = fixture.app.call(Method::DELETE, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(fake.deleted_sessions(), [session], "deleteSession ended the stored session");
}

/// The whole Mastodon flow against an independent server, `mastodon_mock`: Posthorn registers
/// its app there, the user picks an account on the instance's consent page, the code is
/// exchanged, the account's channel imported and posted to, and disconnecting revokes the token.
#[tokio::test]
async fn mastodon_connects_posts_and_disconnects_on_mastodon_mock() {
    posthorn::adapters::https::install_crypto_provider();
    let fixture = fixture(StoreKind::Sqlite).await;
    let mock = MastodonMock::start().await;
    let (url, query) = fixture.consent("mastodon", Some(&mock.base_url)).await;
    assert!(url.starts_with(&format!("{}/oauth/authorize?", mock.base_url)), "{url}");

    // The user picks their account on the instance's page, which redirects back.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = no_redirects
        .post(format!("{}/oauth/authorize", mock.base_url))
        .form(&[
            ("username", "testuser"),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &param(&query, "client_id")),
            ("scope", &param(&query, "scope")),
            ("state", &param(&query, "state")),
        ])
        .send()
        .await
        .unwrap();
    let location = consent.headers()["location"].to_str().unwrap();
    let back: Vec<(String, String)> = url::Url::parse(location).unwrap().query_pairs().into_owned().collect();
    assert_eq!(param(&back, "state"), param(&query, "state"));

    let reply = fixture
        .connect(json!({"platform": "mastodon", "code": param(&back, "code"), "state": param(&back, "state")}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["data"]["username"], "testuser");
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    let connection = fixture.app.store().get_connection(fixture.app.workspace_id, id.parse().unwrap()).await.unwrap();
    let token = fixture.app.state.secrets.open(&connection.unwrap().access_token).unwrap();

    let channels = fixture.post("/functions/v1/import-channels", &id).await.body["data"].clone();
    assert_eq!(channels.as_array().unwrap().len(), 1);
    let reply = fixture
        .app
        .call(Method::POST, "/v1/posts", Some(json!({"text": "Hello from Posthorn", "targets": [channels[0]["id"]]})))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    process_queue(&fixture.app.state).await.unwrap();
    let published = &fixture.events("post.published", 1).await[0];
    let status_id = published["data"]["results"][0]["platform_post_id"].as_str().unwrap();
    let status: Value =
        reqwest::get(format!("{}/api/v1/statuses/{status_id}", mock.base_url)).await.unwrap().json().await.unwrap();
    assert_eq!(status["account"]["username"], "testuser");

    let verify = |token: String| {
        let url = format!("{}/api/v1/accounts/verify_credentials", mock.base_url);
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(verify(token.clone()).await, 200);
    let reply = fixture.app.call(Method::DELETE, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(fixture.events("account.disconnected", 1).await[0]["data"]["revoked"], true);
    assert_eq!(verify(token).await, 401, "the instance revoked the token");
}

/// Bluesky against an independent server: a real PDS from `@atproto/dev-env`. The account's
/// password opens a session, which syncs, lists the DID as the channel, and ends on disconnect.
#[tokio::test]
async fn bluesky_connects_syncs_and_disconnects_on_a_real_pds() {
    posthorn::adapters::https::install_crypto_provider();
    let fixture = fixture(StoreKind::Sqlite).await;
    let server = AtprotoPds::start().await;
    let account = &server.account;
    fixture.app.resolver.set("localhost", &["127.0.0.1".parse().unwrap()]);
    let reply = fixture
        .connect(json!({"platform": "bluesky", "identifier": account.handle, "app_password": account.password,
            "base_url": account.pds}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    assert_eq!(reply.body["data"]["platform_user_id"], account.did.as_str());
    assert!(reply.body["data"]["expires_at"].is_string(), "the access JWT's expiry is tracked");
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();

    let synced = fixture.post("/functions/v1/sync", &id).await;
    assert_eq!(synced.status, StatusCode::OK, "{synced:?}");
    let channels = fixture.post("/functions/v1/import-channels", &id).await.body["data"].clone();
    assert_eq!(channels[0]["platform_channel_id"], account.did.as_str());

    let refresh = fixture.stored_refresh_token(&id).await.unwrap();
    let reply = fixture.app.call(Method::DELETE, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(fixture.events("account.disconnected", 1).await[0]["data"]["revoked"], true);
    let reuse = reqwest::Client::new()
        .post(format!("{}/xrpc/com.atproto.server.refreshSession", account.pds))
        .bearer_auth(refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 400, "the PDS ended the session");
}

async fn an_instances_own_status_length_is_read_at_connect_and_validates_its_posts(kind: StoreKind) {
    let fixture = fixture(kind).await;
    let instance = Instance::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "domain": "mastodon.example",
            "configuration": { "statuses": {
                "max_characters": 1000, "max_media_attachments": 4, "characters_reserved_per_url": 23
            } }
        })))
        .mount(&instance.server)
        .await;
    let reply = connect_mastodon(&fixture, &instance, "code-1", false).await;
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    let channel_id = fixture.post("/functions/v1/import-channels", &id).await.body["data"][0]["id"].clone();
    let validate = |text: String| {
        let body = json!({ "text": text, "targets": [channel_id] });
        async { fixture.app.call(Method::POST, "/v1/posts/validate", Some(body)).await.body["data"].clone() }
    };

    let fits = validate("a".repeat(970) + " https://example.com/a/long/path/that/counts/as/twenty/three").await;
    let too_long = validate("a".repeat(1001)).await;

    assert_eq!(fits["valid"], true, "{fits}");
    assert_eq!(too_long["targets"][0]["problems"][0]["rule"], "text_too_long", "{too_long}");
    let message = too_long["targets"][0]["problems"][0]["message"].as_str().unwrap();
    assert!(message.ends_with("mastodon allows 1000"), "{message}");
}

async fn importing_pages_subscribes_the_app_and_disconnecting_unsubscribes_first(kind: StoreKind) {
    // GIVEN a Facebook connection whose two pages the Graph fake lists; it accepts the
    // subscription of the first page and refuses the second's
    let app = OAuthApp { client_id: "facebook-app".into(), client_secret: Some("facebook-secret".into()) };
    let platforms =
        PlatformRegistry::standard(&posthorn_testkit::platforms::outbound()).with_app(Platform::Facebook, app);
    let fixture = fixture_with(kind, Some(platforms)).await;
    let graph = MockServer::start().await;
    let page = |id: &str| json!({ "id": id, "name": format!("Page {id}"), "access_token": format!("EAAG-{id}") });
    Mock::given(method("GET"))
        .and(path("/v25.0/me/accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [page("p1"), page("p2")] })))
        .mount(&graph)
        .await;
    let fields = "feed,mention,messages,message_echoes,message_deliveries,message_reads,messaging_referrals";
    Mock::given(method("POST"))
        .and(path("/v25.0/p1/subscribed_apps"))
        .and(form("subscribed_fields", fields))
        .and(form("access_token", "EAAG-p1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&graph)
        .await;
    let refused = json!({"error": {"message": "(#200) Requires pages_manage_metadata permission to manage the object",
        "type": "OAuthException", "code": 200, "fbtrace_id": "A1"}});
    for verb in ["POST", "DELETE"] {
        Mock::given(method(verb))
            .and(path("/v25.0/p2/subscribed_apps"))
            .respond_with(ResponseTemplate::new(403).set_body_json(refused.clone()))
            .mount(&graph)
            .await;
    }
    Mock::given(method("DELETE"))
        .and(path("/v25.0/p1/subscribed_apps"))
        .and(query_param("access_token", "EAAG-p1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v25.0/me/permissions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .mount(&graph)
        .await;
    let now = fixture.clock.now();
    let connection = Connection {
        base_url: format!("{}/v25.0", graph.uri()),
        platform_user_id: "10158000000000001".into(),
        username: "Ada".into(),
        ..Connection::new(fixture.app.workspace_id, Platform::Facebook, fixture.app.state.secrets.seal("EAAG"), now)
    };
    fixture.app.store().create_connection(&connection).await.unwrap();
    let id = connection.id.to_string();

    // WHEN its channels are imported
    let imported = fixture.post("/functions/v1/import-channels", &id).await;
    assert_eq!(imported.status, StatusCode::OK, "{imported:?}");

    // THEN the connection shows each page's subscription, the refused one with Meta's reason
    let shown = fixture.app.call(Method::GET, &format!("/v1/connections/{id}"), None).await;
    let inbox = shown.body["data"]["inbox"].as_array().unwrap().clone();
    assert_eq!(inbox.len(), 2, "{}", shown.body);
    let channel_of = |platform_id: &str| {
        imported.body["data"].as_array().unwrap().iter().find(|c| c["platform_channel_id"] == platform_id).unwrap()["id"]
            .clone()
    };
    let push_of = |channel: Value| inbox.iter().find(|entry| entry["channel_id"] == channel).unwrap()["push"].clone();
    assert_eq!(push_of(channel_of("p1"))["subscribed"], true);
    let failed = push_of(channel_of("p2"));
    assert_eq!(failed["subscribed"], false);
    assert!(failed["error"].as_str().unwrap().contains("pages_manage_metadata"), "{failed}");

    // WHEN it is disconnected
    let deleted = fixture.app.call(Method::DELETE, &format!("/v1/connections/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");

    // THEN each page was unsubscribed before the grant was revoked, and the refusal is reported
    let requests = graph.received_requests().await.unwrap();
    let position = |verb: &str, suffix: &str| {
        requests.iter().position(|r| r.method.as_str() == verb && r.url.path().ends_with(suffix)).unwrap()
    };
    assert!(position("DELETE", "/p1/subscribed_apps") < position("DELETE", "/me/permissions"));
    let event = &fixture.events("account.disconnected", 1).await[0]["data"];
    let errors = event["unsubscribe_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{event}");
    assert_eq!(errors[0]["channel_id"], channel_of("p2"));
    graph.verify().await;
}
