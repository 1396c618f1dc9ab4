//! A stateful fake of X's API v2 as documented for OAuth 2.0 user tokens, on the test's clock:
//! `POST /2/oauth2/token` with `grant_type=refresh_token` rotates both tokens and refuses a
//! spent refresh token (`invalid_request`, "Value passed for the token was invalid."); access
//! tokens expire after a configurable lifetime (X's last two hours); `POST /2/tweets`,
//! `GET /2/tweets/:id` (public metrics) and `GET /2/users/me` answer 401 to any other token. It
//! counts refreshes and every reuse of a spent refresh token, and can revoke the grant.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use posthorn::ports::clock::Clock;
use serde_json::json;
use time::OffsetDateTime;

pub const USER_ID: &str = "2244994945";
pub const USERNAME: &str = "posthorn";

#[derive(Default)]
struct Grant {
    access: Option<(String, OffsetDateTime)>,
    refresh: Option<String>,
    spent: Vec<String>,
    serial: u32,
    refreshes: usize,
    reused_refresh_tokens: usize,
    tweets: usize,
    revoked: bool,
}

#[derive(Clone)]
pub struct XFake {
    grant: Arc<Mutex<Grant>>,
    clock: Arc<dyn Clock>,
    access_lifetime: time::Duration,
    pub base_url: String,
}

/// Tokens as the token endpoint issues them.
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub expires_at: OffsetDateTime,
}

impl XFake {
    pub async fn start(clock: Arc<dyn Clock>, access_lifetime: time::Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let fake = Self { grant: Arc::default(), clock, access_lifetime, base_url };
        let router = Router::new()
            .route("/2/oauth2/token", post(token))
            .route("/2/tweets", post(create_tweet))
            .route("/2/tweets/{id}", get(tweet))
            .route("/2/users/me", get(me))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    /// A first grant, as the authorization-code exchange would have issued it.
    pub fn authorize(&self) -> Tokens {
        let mut grant = self.grant.lock().unwrap();
        self.issue(&mut grant)
    }

    pub fn refreshes(&self) -> usize {
        self.grant.lock().unwrap().refreshes
    }

    /// How often a refresh token was presented again after it had been spent.
    pub fn reused_refresh_tokens(&self) -> usize {
        self.grant.lock().unwrap().reused_refresh_tokens
    }

    pub fn tweets(&self) -> usize {
        self.grant.lock().unwrap().tweets
    }

    /// Ends the current access token before its time (X invalidates tokens on a password change,
    /// for instance); the refresh token still works.
    pub fn invalidate_access_token(&self) {
        self.grant.lock().unwrap().access = None;
    }

    /// The user revoked the app: every token, refresh tokens included, is refused from now on.
    pub fn revoke_grant(&self) {
        let mut grant = self.grant.lock().unwrap();
        grant.revoked = true;
        grant.access = None;
    }

    fn issue(&self, grant: &mut Grant) -> Tokens {
        grant.serial += 1;
        let access = format!("access-{}", grant.serial);
        let refresh = format!("refresh-{}", grant.serial);
        let expires_at = self.clock.now() + self.access_lifetime;
        grant.access = Some((access.clone(), expires_at));
        if let Some(old) = grant.refresh.replace(refresh.clone()) {
            grant.spent.push(old);
        }
        Tokens { access, refresh, expires_at }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let presented = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or_default();
        let grant = self.grant.lock().unwrap();
        grant.access.as_ref().is_some_and(|(token, expires_at)| {
            presented == format!("Bearer {token}") && *expires_at > self.clock.now() && !grant.revoked
        })
    }
}

fn unauthorized() -> Response {
    let problem = json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"});
    (StatusCode::UNAUTHORIZED, axum::Json(problem)).into_response()
}

async fn token(State(fake): State<XFake>, body: String) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let mut grant = fake.grant.lock().unwrap();
    let presented = field("refresh_token").unwrap_or_default();
    if field("grant_type").as_deref() != Some("refresh_token")
        || grant.revoked
        || grant.refresh != Some(presented.clone())
    {
        if grant.spent.contains(&presented) {
            grant.reused_refresh_tokens += 1;
        }
        let error = json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    grant.refreshes += 1;
    let tokens = fake.issue(&mut grant);
    axum::Json(json!({
        "token_type": "bearer",
        "expires_in": fake.access_lifetime.whole_seconds(),
        "access_token": tokens.access,
        "refresh_token": tokens.refresh,
        "scope": "tweet.read tweet.write users.read offline.access media.write",
    }))
    .into_response()
}

async fn create_tweet(State(fake): State<XFake>, headers: HeaderMap, body: String) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let text = serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default()["text"].clone();
    let mut grant = fake.grant.lock().unwrap();
    grant.tweets += 1;
    let id = format!("18{:017}", grant.tweets);
    (StatusCode::CREATED, axum::Json(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})))
        .into_response()
}

async fn tweet(State(fake): State<XFake>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let metrics =
        json!({"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 0, "impression_count": 40});
    axum::Json(json!({"data": {"id": id, "text": "…", "public_metrics": metrics}})).into_response()
}

async fn me(State(fake): State<XFake>, headers: HeaderMap) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    axum::Json(json!({"data": {"id": USER_ID, "username": USERNAME, "name": "Posthorn"}})).into_response()
}
