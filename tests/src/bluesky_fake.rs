//! A stateful fake of a PDS's session endpoints, as documented for `com.atproto.server.*`:
//! `createSession` (identifier + app password), `refreshSession` (the refresh JWT as bearer;
//! it rotates both JWTs and a spent refresh JWT is refused with `ExpiredToken`), `getSession`,
//! `deleteSession`, and `app.bsky.actor.getProfile`. Access JWTs carry a real `exp` claim, short
//! by default, so every sync refreshes. It counts refreshes and can revoke the app password, so
//! every later refresh fails for good.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const DID: &str = "did:plc:alice1234567890";
pub const HANDLE: &str = "alice.test";
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";

#[derive(Default)]
struct Sessions {
    access: Option<String>,
    refresh: Option<String>,
    spent: Vec<String>,
    refreshes: usize,
    deleted: Vec<String>,
    revoked: bool,
    serial: u32,
}

#[derive(Clone)]
pub struct BlueskyFake {
    sessions: Arc<Mutex<Sessions>>,
    pub base_url: String,
    /// How long each access JWT lives.
    access_lifetime: Duration,
}

impl BlueskyFake {
    /// Starts the fake on a free loopback port; access JWTs live `access_lifetime`.
    pub async fn start(access_lifetime: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let fake = Self { sessions: Arc::default(), base_url, access_lifetime };
        let router = Router::new()
            .route("/xrpc/com.atproto.server.createSession", post(create_session))
            .route("/xrpc/com.atproto.server.refreshSession", post(refresh_session))
            .route("/xrpc/com.atproto.server.getSession", get(get_session))
            .route("/xrpc/com.atproto.server.deleteSession", post(delete_session))
            .route("/xrpc/app.bsky.actor.getProfile", get(get_profile))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        fake
    }

    /// How many refreshes succeeded.
    pub fn refreshes(&self) -> usize {
        self.sessions.lock().unwrap().refreshes
    }

    /// The refresh JWT the fake accepts now.
    pub fn current_refresh_token(&self) -> Option<String> {
        self.sessions.lock().unwrap().refresh.clone()
    }

    pub fn current_access_token(&self) -> Option<String> {
        self.sessions.lock().unwrap().access.clone()
    }

    /// The refresh JWTs `deleteSession` ended.
    pub fn deleted_sessions(&self) -> Vec<String> {
        self.sessions.lock().unwrap().deleted.clone()
    }

    /// The user deleted the app password: every refresh fails from now on.
    pub fn revoke_app_password(&self) {
        self.sessions.lock().unwrap().revoked = true;
    }

    fn issue(&self, sessions: &mut Sessions) -> Value {
        sessions.serial += 1;
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + self.access_lifetime.as_secs() as i64;
        let access = jwt(json!({"scope": "com.atproto.access", "sub": DID, "exp": exp, "n": sessions.serial}));
        let refresh = jwt(json!({"scope": "com.atproto.refresh", "sub": DID, "jti": sessions.serial}));
        if let Some(old) = sessions.refresh.replace(refresh.clone()) {
            sessions.spent.push(old);
        }
        sessions.access = Some(access.clone());
        json!({"accessJwt": access, "refreshJwt": refresh, "handle": HANDLE, "did": DID, "active": true})
    }
}

fn jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"at+jwt","alg":"ES256K"}"#);
    format!("{header}.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": name, "message": message}))).into_response()
}

async fn create_session(State(fake): State<BlueskyFake>, axum::Json(body): axum::Json<Value>) -> Response {
    if body["identifier"] != HANDLE || body["password"] != APP_PASSWORD {
        return error(StatusCode::UNAUTHORIZED, "AuthenticationRequired", "Invalid identifier or password");
    }
    let mut sessions = fake.sessions.lock().unwrap();
    axum::Json(fake.issue(&mut sessions)).into_response()
}

async fn refresh_session(State(fake): State<BlueskyFake>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    // A refresh takes a moment at the PDS, which is when concurrent refreshes would collide.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut sessions = fake.sessions.lock().unwrap();
    if sessions.revoked {
        return error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has been revoked");
    }
    if sessions.spent.contains(&token) {
        return error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has been revoked");
    }
    if sessions.refresh.as_deref() != Some(token.as_str()) {
        return error(StatusCode::BAD_REQUEST, "InvalidToken", "Token could not be verified");
    }
    sessions.refreshes += 1;
    axum::Json(fake.issue(&mut sessions)).into_response()
}

async fn get_session(State(fake): State<BlueskyFake>, headers: HeaderMap) -> Response {
    if fake.sessions.lock().unwrap().access.as_deref() != Some(bearer(&headers).as_str()) {
        return error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    axum::Json(json!({"handle": HANDLE, "did": DID, "email": "alice@example.com", "active": true})).into_response()
}

async fn get_profile(State(fake): State<BlueskyFake>, headers: HeaderMap) -> Response {
    if fake.sessions.lock().unwrap().access.as_deref() != Some(bearer(&headers).as_str()) {
        return error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    axum::Json(json!({"did": DID, "handle": HANDLE, "displayName": "Alice", "avatar": "https://cdn.example/alice.jpg"}))
        .into_response()
}

async fn delete_session(State(fake): State<BlueskyFake>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    let mut sessions = fake.sessions.lock().unwrap();
    if sessions.refresh.as_deref() != Some(token.as_str()) {
        return error(StatusCode::BAD_REQUEST, "InvalidToken", "Token could not be verified");
    }
    sessions.deleted.push(token);
    sessions.refresh = None;
    sessions.access = None;
    StatusCode::OK.into_response()
}
