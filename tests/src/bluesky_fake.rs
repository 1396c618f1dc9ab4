//! A stateful fake of a PDS's session endpoints, as documented for `com.atproto.server.*`:
//! `createSession` (identifier + app password), `refreshSession` (the refresh JWT as bearer;
//! it rotates both JWTs and a spent refresh JWT is refused with `ExpiredToken`), `getSession`,
//! `deleteSession`, and `app.bsky.actor.getProfile`. Access JWTs carry a real `exp` claim, short
//! by default, so every sync refreshes. It counts refreshes and can revoke the app password, so
//! every later refresh fails for good.
//!
//! The inbox, as the PDS serves it: `app.bsky.notification.listNotifications` as the AppView
//! pages it (newest first by `indexedAt`, `limit` up to 100, a `cursor` — the last item's
//! `indexedAt` — only when older ones remain), `com.atproto.repo.createRecord` for answers, and
//! the chat methods `chat.bsky.convo.getLog` (entries after the `cursor` rev) and `sendMessage`,
//! which the PDS forwards only with the `atproto-proxy` header naming the chat service (without
//! it they reach the AppView, which does not implement them) and only for a grant with DM access
//! (else `InvalidToken` "Bad token method", as `pipethrough.ts` answers).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const DID: &str = "did:plc:alice1234567890";
pub const HANDLE: &str = "alice.test";
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
/// The chat service the PDS forwards `chat.bsky.*` calls to.
pub const CHAT_PROXY: &str = "did:web:api.bsky.chat#bsky_chat";

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

#[derive(Default)]
struct Inbox {
    notifications: Vec<Value>,
    notification_reads: usize,
    /// Chat log entries, oldest first; each one's `rev` is its position.
    logs: Vec<Value>,
    dms_denied: bool,
    records: Vec<Value>,
}

#[derive(Clone)]
pub struct BlueskyFake {
    sessions: Arc<Mutex<Sessions>>,
    inbox: Arc<Mutex<Inbox>>,
    pub base_url: String,
    /// How long each access JWT lives.
    access_lifetime: Duration,
}

impl BlueskyFake {
    /// Starts the fake on a free loopback port; access JWTs live `access_lifetime`.
    pub async fn start(access_lifetime: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let fake = Self { sessions: Arc::default(), inbox: Arc::default(), base_url, access_lifetime };
        let router = Router::new()
            .route("/xrpc/com.atproto.server.createSession", post(create_session))
            .route("/xrpc/com.atproto.server.refreshSession", post(refresh_session))
            .route("/xrpc/com.atproto.server.getSession", get(get_session))
            .route("/xrpc/com.atproto.server.deleteSession", post(delete_session))
            .route("/xrpc/app.bsky.actor.getProfile", get(get_profile))
            .route("/xrpc/app.bsky.notification.listNotifications", get(list_notifications))
            .route("/xrpc/com.atproto.repo.createRecord", post(create_record))
            .route("/xrpc/chat.bsky.convo.getLog", get(get_log))
            .route("/xrpc/chat.bsky.convo.sendMessage", post(send_message))
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

    /// Signs in as the app would and returns the access JWT.
    pub fn sign_in(&self) -> String {
        let mut sessions = self.sessions.lock().unwrap();
        self.issue(&mut sessions)["accessJwt"].as_str().unwrap().to_string()
    }

    /// A notification of the account (as listNotifications returns it) arrives.
    pub fn notify(&self, notification: Value) {
        self.inbox.lock().unwrap().notifications.push(notification);
    }

    /// How many pages of notifications were read.
    pub fn notification_reads(&self) -> usize {
        self.inbox.lock().unwrap().notification_reads
    }

    /// `sender` writes `text` in conversation `convo`; returns the message's id.
    pub fn message(&self, convo: &str, sender: &str, text: &str) -> String {
        let mut inbox = self.inbox.lock().unwrap();
        log_message(&mut inbox, convo, sender, text)["id"].as_str().unwrap().to_string()
    }

    /// The app password was made without access to direct messages.
    pub fn deny_dms(&self) {
        self.inbox.lock().unwrap().dms_denied = true;
    }

    /// The chat log's messages, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.inbox.lock().unwrap().logs.iter().map(|entry| entry["message"].clone()).collect()
    }

    /// The records createRecord made, as sent.
    pub fn records(&self) -> Vec<Value> {
        self.inbox.lock().unwrap().records.clone()
    }

    fn signed_in(&self, headers: &HeaderMap) -> bool {
        self.sessions.lock().unwrap().access.as_deref() == Some(bearer(headers).as_str())
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

fn expired() -> Response {
    error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired")
}

fn iso(at: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).expect("an RFC 3339 indexedAt")
}

async fn list_notifications(
    State(fake): State<BlueskyFake>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if !fake.signed_in(&headers) {
        return expired();
    }
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let limit: usize = param("limit").map_or(50, |limit| limit.parse().unwrap());
    if !(1..=100).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest", "limit must be between 1 and 100");
    }
    let mut inbox = fake.inbox.lock().unwrap();
    inbox.notification_reads += 1;
    let mut all = inbox.notifications.clone();
    all.sort_by_key(|notification| std::cmp::Reverse(iso(notification["indexedAt"].as_str().unwrap())));
    let older: Vec<Value> = match param("cursor") {
        Some(cursor) => all.into_iter().filter(|n| iso(n["indexedAt"].as_str().unwrap()) < iso(&cursor)).collect(),
        None => all,
    };
    let page: Vec<Value> = older.iter().take(limit).cloned().collect();
    let mut body = json!({"notifications": page});
    if older.len() > limit {
        body["cursor"] = page[limit - 1]["indexedAt"].clone();
    }
    axum::Json(body).into_response()
}

async fn create_record(
    State(fake): State<BlueskyFake>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !fake.signed_in(&headers) {
        return expired();
    }
    if body["repo"] != DID || body["collection"] != "app.bsky.feed.post" || body["record"]["text"].as_str().is_none() {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest", "Invalid app.bsky.feed.post record");
    }
    let mut inbox = fake.inbox.lock().unwrap();
    inbox.records.push(body);
    let n = inbox.records.len();
    axum::Json(json!({"uri": format!("at://{DID}/app.bsky.feed.post/3lrecord{n}"), "cid": format!("bafyreirecord{n}")}))
        .into_response()
}

/// What the PDS answers a chat call it will not forward, if anything.
fn refused_chat(fake: &BlueskyFake, headers: &HeaderMap) -> Option<Response> {
    if !fake.signed_in(headers) {
        return Some(expired());
    }
    if headers.get("atproto-proxy").and_then(|value| value.to_str().ok()) != Some(CHAT_PROXY) {
        return Some(error(StatusCode::NOT_IMPLEMENTED, "MethodNotImplemented", "Method Not Implemented"));
    }
    if fake.inbox.lock().unwrap().dms_denied {
        return Some(error(StatusCode::BAD_REQUEST, "InvalidToken", "Bad token method"));
    }
    None
}

fn rev(n: usize) -> String {
    format!("2222222222{n:03}")
}

fn log_message(inbox: &mut Inbox, convo: &str, sender: &str, text: &str) -> Value {
    let n = inbox.logs.len() + 1;
    let sent_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let message = json!({"$type": "chat.bsky.convo.defs#messageView", "id": format!("msg{n}"), "rev": rev(n),
        "text": text, "sender": {"did": sender}, "sentAt": sent_at});
    inbox.logs.push(json!({"$type": "chat.bsky.convo.defs#logCreateMessage", "rev": rev(n), "convoId": convo,
        "message": message}));
    message
}

async fn get_log(
    State(fake): State<BlueskyFake>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = refused_chat(&fake, &headers) {
        return refused;
    }
    let cursor = query.iter().find(|(key, _)| key == "cursor").map(|(_, value)| value.clone()).unwrap_or_default();
    let inbox = fake.inbox.lock().unwrap();
    let logs: Vec<Value> =
        inbox.logs.iter().filter(|entry| entry["rev"].as_str().unwrap() > cursor.as_str()).cloned().collect();
    let latest = inbox.logs.last().map_or(cursor, |entry| entry["rev"].as_str().unwrap().to_string());
    let mut body = json!({"logs": logs});
    if !latest.is_empty() {
        body["cursor"] = json!(latest);
    }
    axum::Json(body).into_response()
}

async fn send_message(
    State(fake): State<BlueskyFake>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = refused_chat(&fake, &headers) {
        return refused;
    }
    let (Some(convo), Some(text)) = (body["convoId"].as_str(), body["message"]["text"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest", "Input must have the properties convoId and message");
    };
    let mut inbox = fake.inbox.lock().unwrap();
    let mut message = log_message(&mut inbox, convo, DID, text);
    message.as_object_mut().unwrap().remove("$type");
    axum::Json(message).into_response()
}
