//! A stateful fake of X's API v2 as documented for OAuth 2.0 user tokens, on the test's clock:
//! `POST /2/oauth2/token` with `grant_type=refresh_token` rotates both tokens and refuses a
//! spent refresh token (`invalid_request`, "Value passed for the token was invalid."); access
//! tokens expire after a configurable lifetime (X's last two hours); `POST /2/tweets`,
//! `GET /2/tweets/:id` (public metrics) and `GET /2/users/me` answer 401 to any other token. It
//! counts refreshes and every reuse of a spent refresh token, and can revoke the grant.
//!
//! The inbox's side: the mentions timeline (`GET /2/users/:id/mentions`: `since_id`,
//! `start_time`, `max_results` 5–100, `pagination_token`, newest first, `meta.newest_id` of the
//! page, authors under `includes.users`), DM events (`GET /2/dm_events`: `event_types`,
//! `max_results` 1–100, `pagination_token`, newest first, at most 15 reads per 15-minute window
//! per user, then 429 with `x-rate-limit-reset`), and answers (`POST /2/tweets` with
//! `reply.in_reply_to_tweet_id`, `POST /2/dm_conversations/:id/messages`, whose message then
//! shows among the DM events as X shows sent messages). A query parameter X does not document
//! for the operation, or a value out of its range, gets X's 400 `invalid-request` problem; JSON
//! bodies and every answer are checked against X's OpenAPI document (`x_contract`).
//!
//! Videos: the chunked media upload (`POST /2/media/upload/initialize`, `…/{id}/append` with
//! `segment_index`, `…/{id}/finalize`, `GET /2/media/upload?command=STATUS`), keeping per
//! upload only the size of each segment received; processing answers `in_progress` for a
//! configurable number of status checks, then `succeeded`. Segments of up to 2 MiB are checked
//! against the document's multipart schema (larger ones only for their `segment_index`, so a
//! 500 MB upload is not parsed whole); a post may carry only a media id that finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use posthorn::ports::clock::Clock;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::x_contract::{request_problems, response_problems};

pub const USER_ID: &str = "2244994945";
pub const USERNAME: &str = "posthorn";

/// One chunked upload: what `initialize` declared, the bytes of each segment received (the last
/// one sent for an index counts), and whether it was finalized.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub media_type: String,
    pub total_bytes: u64,
    pub segments: std::collections::BTreeMap<u64, u64>,
    pub appends: usize,
    pub finalized: bool,
    pub status_checks: u32,
}

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
    inbox: Inbox,
    uploads: HashMap<String, Upload>,
    /// How many status checks answer `in_progress` before `succeeded`.
    processing_checks: u32,
    /// The segment whose next append answers 503, once.
    failing_segment: Option<u64>,
    media_ids: Vec<Value>,
}

/// What the account's inbox holds, oldest first.
#[derive(Default)]
struct Inbox {
    serial: u64,
    users: HashMap<String, Value>,
    /// Posts of the account (created through the API) and the conversation each belongs to.
    ours: HashMap<String, String>,
    mentions: Vec<Value>,
    dm_events: Vec<Value>,
    /// The current 15-minute window of DM reads: when it started and how many it took.
    dm_window: Option<(OffsetDateTime, u32)>,
    dm_requests: usize,
    replies: Vec<Value>,
    messages: Vec<(String, Value)>,
}

/// X's limit on `GET /2/dm_events`: 15 requests per 15 minutes per user.
const DM_READS_PER_WINDOW: u32 = 15;
const DM_WINDOW: time::Duration = time::Duration::minutes(15);

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
            .route("/2/users/{id}/mentions", get(mentions))
            .route("/2/dm_events", get(dm_events))
            .route("/2/dm_conversations/{id}/messages", post(send_message))
            .route("/2/media/upload/initialize", post(initialize_upload))
            .route(
                "/2/media/upload/{id}/append",
                post(append_upload).layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024)),
            )
            .route("/2/media/upload/{id}/finalize", post(finalize_upload))
            .route("/2/media/upload", get(upload_status))
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

    /// Every chunked upload, by media id.
    pub fn uploads(&self) -> HashMap<String, Upload> {
        self.grant.lock().unwrap().uploads.clone()
    }

    /// The `media.media_ids` of every post created.
    pub fn posted_media(&self) -> Vec<Value> {
        self.grant.lock().unwrap().media_ids.clone()
    }

    /// Videos stay `in_progress` for `checks` status checks after finalize.
    pub fn process_videos_for(&self, checks: u32) {
        self.grant.lock().unwrap().processing_checks = checks;
    }

    /// The next append of segment `index` fails with a 503.
    pub fn fail_segment_once(&self, index: u64) {
        self.grant.lock().unwrap().failing_segment = Some(index);
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

    /// Someone on X, as `includes.users` describes them.
    pub fn user(&self, id: &str, username: &str, name: &str) {
        let user = json!({"id": id, "username": username, "name": name,
            "profile_image_url": format!("https://pbs.twimg.com/profile_images/{id}/normal.jpg")});
        self.grant.lock().unwrap().inbox.users.insert(id.to_string(), user);
    }

    /// A post by `author` mentioning the account now, replying to `replied_to` if given (one
    /// of the account's posts, or another mention); returns its id.
    pub fn mention(&self, author: &str, text: &str, replied_to: Option<&str>) -> String {
        let mut grant = self.grant.lock().unwrap();
        let inbox = &mut grant.inbox;
        let id = inbox.next_id();
        let mut tweet = json!({"id": id, "text": format!("@{USERNAME} {text}"), "author_id": author,
            "created_at": self.now(), "edit_history_tweet_ids": [id], "conversation_id": id});
        if let Some(parent) = replied_to {
            let conversation = inbox.ours.get(parent).cloned().or_else(|| {
                let mention = inbox.mentions.iter().find(|mention| mention["id"] == parent)?;
                mention["conversation_id"].as_str().map(str::to_string)
            });
            let parent_author = match inbox.ours.contains_key(parent) {
                true => USER_ID.to_string(),
                false => inbox
                    .mentions
                    .iter()
                    .find(|m| m["id"] == parent)
                    .map_or_else(String::new, |m| m["author_id"].as_str().unwrap_or_default().to_string()),
            };
            tweet["conversation_id"] = json!(conversation.unwrap_or_else(|| parent.to_string()));
            tweet["in_reply_to_user_id"] = json!(parent_author);
            tweet["referenced_tweets"] = json!([{"type": "replied_to", "id": parent}]);
        }
        inbox.mentions.push(tweet);
        id
    }

    /// A message from `sender` in `conversation` now; returns its event id.
    pub fn dm(&self, sender: &str, conversation: &str, text: &str) -> String {
        let mut grant = self.grant.lock().unwrap();
        let now = self.now();
        grant.inbox.message(sender, conversation, text, &now)
    }

    /// Uses up `count` of this window's DM reads, as other calls with the user's token would.
    pub fn spend_dm_reads(&self, count: u32) {
        let mut grant = self.grant.lock().unwrap();
        let now = self.clock.now();
        let (start, used) = grant.inbox.dm_window.filter(|(start, _)| now < *start + DM_WINDOW).unwrap_or((now, 0));
        grant.inbox.dm_window = Some((start, used + count));
    }

    /// How many times `GET /2/dm_events` was called, refused ones included.
    pub fn dm_requests(&self) -> usize {
        self.grant.lock().unwrap().inbox.dm_requests
    }

    /// The bodies of the posts created in reply to another.
    pub fn replies(&self) -> Vec<Value> {
        self.grant.lock().unwrap().inbox.replies.clone()
    }

    /// The messages sent, each with its conversation.
    pub fn messages(&self) -> Vec<(String, Value)> {
        self.grant.lock().unwrap().inbox.messages.clone()
    }

    fn now(&self) -> String {
        self.clock.now().replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
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
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let problems = request_problems("POST", "/2/tweets", &body);
    assert!(problems.is_empty(), "POST /2/tweets is not what X documents: {problems:#?}");
    let mut grant = fake.grant.lock().unwrap();
    if let Some(ids) = body["media"]["media_ids"].as_array() {
        for id in ids {
            let ready = grant
                .uploads
                .get(id.as_str().unwrap_or_default())
                .is_none_or(|upload| upload.finalized && upload.status_checks >= grant.processing_checks);
            assert!(ready, "media {id} is attached before X finished it");
        }
        grant.media_ids.push(json!(ids));
    }
    grant.tweets += 1;
    let id = format!("18{:017}", grant.tweets);
    let conversation = match body["reply"]["in_reply_to_tweet_id"].as_str() {
        Some(parent) => {
            grant.inbox.replies.push(body.clone());
            grant.inbox.ours.get(parent).cloned().unwrap_or_else(|| parent.to_string())
        }
        None => id.clone(),
    };
    grant.inbox.ours.insert(id.clone(), conversation);
    documented(
        "POST",
        "/2/tweets",
        201,
        json!({"data": {"id": id, "text": body["text"], "edit_history_tweet_ids": [id]}}),
    )
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

impl Inbox {
    /// Ids as X's: numbers written as text, growing with time.
    fn next_id(&mut self) -> String {
        self.serial += 1;
        format!("19{:017}", self.serial)
    }

    fn message(&mut self, sender: &str, conversation: &str, text: &str, at: &str) -> String {
        let id = self.next_id();
        self.dm_events.push(json!({"id": id, "event_type": "MessageCreate", "text": text, "created_at": at,
            "dm_conversation_id": conversation, "sender_id": sender}));
        id
    }

    fn users_of<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Vec<Value> {
        let mut users: Vec<Value> = Vec::new();
        for id in ids {
            if let Some(user) = self.users.get(id).filter(|user| !users.contains(user)) {
                users.push(user.clone());
            }
        }
        users
    }
}

async fn initialize_upload(State(fake): State<XFake>, headers: HeaderMap, body: String) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let problems = request_problems("POST", "/2/media/upload/initialize", &body);
    assert!(problems.is_empty(), "initialize is not what X documents: {problems:#?}");
    let mut grant = fake.grant.lock().unwrap();
    let id = format!("17{:017}", grant.uploads.len() + 1);
    let upload = Upload {
        media_type: body["media_type"].as_str().unwrap_or_default().to_string(),
        total_bytes: body["total_bytes"].as_u64().unwrap_or_default(),
        ..Upload::default()
    };
    grant.uploads.insert(id.clone(), upload);
    let answer = json!({"data": {"id": id, "media_key": format!("7_{id}"), "expires_after_secs": 86400}});
    documented("POST", "/2/media/upload/initialize", 200, answer)
}

/// The `segment_index` and the media's length of an append body, read from its first bytes
/// (the form's text field comes first) and its length.
fn append_parts(content_type: &str, body: &[u8]) -> Option<(u64, u64)> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned();
    let index = head.split("name=\"segment_index\"").nth(1)?.split("\r\n\r\n").nth(1)?.split("\r\n").next()?;
    let media_start = head.find("name=\"media\"")?;
    let content_start = media_start + head[media_start..].find("\r\n\r\n")? + 4;
    let trailer = format!("\r\n--{boundary}--\r\n").len();
    Some((index.parse().ok()?, (body.len() - trailer - content_start) as u64))
}

async fn append_upload(
    State(fake): State<XFake>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let content_type = headers.get("content-type").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let path = format!("/2/media/upload/{id}/append");
    if body.len() <= 2 * 1024 * 1024 {
        let problems = crate::x_contract::multipart_problems("POST", &path, content_type, &body);
        assert!(problems.is_empty(), "append is not what X documents: {problems:#?}");
    }
    let (index, length) = append_parts(content_type, &body).expect("a segment_index and a media part");
    let mut grant = fake.grant.lock().unwrap();
    if grant.failing_segment == Some(index) {
        grant.failing_segment = None;
        let problem = json!({"title": "Service Unavailable", "type": "about:blank", "status": 503, "detail": "Service Unavailable"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem)).into_response();
    }
    let Some(upload) = grant.uploads.get_mut(&id) else {
        let problem = json!({"title": "Invalid Request", "type": "about:blank", "detail": "no such upload"});
        return (StatusCode::BAD_REQUEST, axum::Json(problem)).into_response();
    };
    upload.appends += 1;
    upload.segments.insert(index, length);
    documented("POST", &path, 200, json!({"data": {"expires_at": 1_900_000_000}}))
}

async fn finalize_upload(State(fake): State<XFake>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let mut grant = fake.grant.lock().unwrap();
    let processing = grant.processing_checks;
    let upload = grant.uploads.get_mut(&id).expect("an initialized upload");
    let received: u64 = upload.segments.values().sum();
    let contiguous = upload.segments.keys().copied().eq(0..upload.segments.len() as u64);
    assert!(contiguous && received == upload.total_bytes, "finalize before every segment arrived: {upload:?}");
    upload.finalized = true;
    let mut data = json!({"id": id, "media_key": format!("7_{id}"), "size": received, "expires_after_secs": 86400});
    if processing > 0 {
        data["processing_info"] = json!({"state": "pending", "check_after_secs": 1});
    }
    documented("POST", &format!("/2/media/upload/{id}/finalize"), 200, json!({"data": data}))
}

async fn upload_status(State(fake): State<XFake>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    assert_eq!(query.get("command").map(String::as_str), Some("STATUS"), "{query:?}");
    let id = query.get("media_id").cloned().unwrap_or_default();
    let mut grant = fake.grant.lock().unwrap();
    let processing = grant.processing_checks;
    let upload = grant.uploads.get_mut(&id).expect("a finalized upload");
    upload.status_checks += 1;
    let state = if upload.status_checks >= processing { "succeeded" } else { "in_progress" };
    let info =
        json!({"state": state, "check_after_secs": 1, "progress_percent": if state == "succeeded" { 100 } else { 50 }});
    documented(
        "GET",
        "/2/media/upload",
        200,
        json!({"data": {"id": id, "media_key": format!("7_{id}"), "processing_info": info}}),
    )
}

/// The fake's answer, after checking that X's document describes it.
fn documented(method: &str, path: &str, status: u16, body: Value) -> Response {
    let problems = response_problems(method, path, status, &body);
    assert!(problems.is_empty(), "the fake's answer to {method} {path} is not X's: {problems:#?}");
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// A query X refuses, answered with its `invalid-request` problem.
struct Refused(Value);

fn invalid_request(parameter: &str, value: &str, message: String) -> Refused {
    Refused(json!({
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request"
    }))
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, axum::Json(self.0)).into_response()
    }
}

/// A query's parameters, or X's 400 for one the operation does not take, one given twice, a
/// field list naming an unknown field, or a `max_results` out of `range`.
fn checked_query(
    raw: Option<String>,
    allowed: &[(&str, &[&str])],
    range: std::ops::RangeInclusive<u32>,
) -> Result<HashMap<String, String>, Refused> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let mut query = HashMap::new();
    for (name, value) in pairs {
        let Some((_, values)) = allowed.iter().find(|(allowed, _)| *allowed == name) else {
            let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
            return Err(invalid_request(
                &name,
                &value,
                format!("The query parameter [{name}] is not one of {names:?}"),
            ));
        };
        if let Some(unknown) = value.split(',').find(|item| !values.is_empty() && !values.contains(item)) {
            return Err(invalid_request(
                &name,
                &value,
                format!("The `{name}` query parameter value [{unknown}] is not one of {values:?}"),
            ));
        }
        if query.insert(name.clone(), value.clone()).is_some() {
            return Err(invalid_request(&name, &value, format!("Duplicate parameters are not allowed: [{name}]")));
        }
    }
    if let Some(max) = query.get("max_results")
        && !max.parse::<u32>().is_ok_and(|max| range.contains(&max))
    {
        let message = format!(
            "The `max_results` query parameter value [{max}] is not between {} and {}",
            range.start(),
            range.end()
        );
        return Err(invalid_request("max_results", max, message));
    }
    for id in ["since_id", "until_id"] {
        if let Some(value) = query
            .get(id)
            .filter(|value| value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid_request(
                id,
                value,
                format!("The `{id}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$"),
            ));
        }
    }
    Ok(query)
}

/// The fields X documents for posts (`tweet.fields`), users, media, and DM events
/// (<https://docs.x.com/x-api/fundamentals/fields>).
const TWEET_FIELDS: &[&str] = &[
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
];
const USER_FIELDS: &[&str] = &[
    "created_at",
    "description",
    "entities",
    "id",
    "location",
    "most_recent_tweet_id",
    "name",
    "pinned_tweet_id",
    "profile_image_url",
    "protected",
    "public_metrics",
    "url",
    "username",
    "verified",
    "verified_type",
    "withheld",
];
const MEDIA_FIELDS: &[&str] = &[
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
];
const DM_EVENT_FIELDS: &[&str] = &[
    "attachments",
    "created_at",
    "dm_conversation_id",
    "entities",
    "event_type",
    "id",
    "participant_ids",
    "referenced_tweets",
    "sender_id",
    "text",
];

/// One page of `items` (newest first) from the offset `pagination_token` names.
fn page_of(items: Vec<Value>, query: &HashMap<String, String>, default_size: usize) -> (Vec<Value>, Option<String>) {
    let offset: usize =
        query.get("pagination_token").and_then(|token| token.strip_prefix("pg")?.parse().ok()).unwrap_or(0);
    let size = query.get("max_results").and_then(|max| max.parse().ok()).unwrap_or(default_size);
    let page: Vec<Value> = items.iter().skip(offset).take(size).cloned().collect();
    let next = (offset + size < items.len()).then(|| format!("pg{:014}", offset + size));
    (page, next)
}

fn id_of(item: &Value) -> u128 {
    item["id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_default()
}

async fn mentions(
    State(fake): State<XFake>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let allowed: &[(&str, &[&str])] = &[
        ("max_results", &[]),
        ("pagination_token", &[]),
        ("since_id", &[]),
        ("until_id", &[]),
        ("start_time", &[]),
        ("end_time", &[]),
        ("tweet.fields", TWEET_FIELDS),
        ("user.fields", USER_FIELDS),
        ("media.fields", MEDIA_FIELDS),
        (
            "expansions",
            &[
                "attachments.media_keys",
                "author_id",
                "edit_history_tweet_ids",
                "entities.mentions.username",
                "geo.place_id",
                "in_reply_to_user_id",
                "referenced_tweets.id",
                "referenced_tweets.id.author_id",
            ],
        ),
    ];
    let query = match checked_query(raw, allowed, 5..=100) {
        Ok(query) => query,
        Err(refused) => return refused.into_response(),
    };
    assert_eq!(id, USER_ID, "the mentions of the connected account");
    let since: u128 = query.get("since_id").and_then(|id| id.parse().ok()).unwrap_or(0);
    let start = query.get("start_time").map(|at| OffsetDateTime::parse(at, &Rfc3339).expect("an RFC 3339 start_time"));
    let grant = fake.grant.lock().unwrap();
    let mut found: Vec<Value> = grant
        .inbox
        .mentions
        .iter()
        .filter(|tweet| id_of(tweet) > since)
        .filter(|tweet| {
            start.is_none_or(|start| {
                OffsetDateTime::parse(tweet["created_at"].as_str().unwrap(), &Rfc3339).unwrap() >= start
            })
        })
        .cloned()
        .collect();
    found.sort_by_key(|tweet| std::cmp::Reverse(id_of(tweet)));
    let (page, next) = page_of(found, &query, 10);
    let mut meta = json!({"result_count": page.len()});
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        meta["newest_id"] = newest["id"].clone();
        meta["oldest_id"] = oldest["id"].clone();
    }
    if let Some(next) = next {
        meta["next_token"] = json!(next);
    }
    let users = grant.inbox.users_of(page.iter().filter_map(|tweet| tweet["author_id"].as_str()));
    let mut body = json!({"meta": meta});
    if !page.is_empty() {
        body["data"] = json!(page);
        body["includes"] = json!({"users": users});
    }
    documented("GET", &format!("/2/users/{id}/mentions"), 200, body)
}

async fn dm_events(State(fake): State<XFake>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let mut grant = fake.grant.lock().unwrap();
    grant.inbox.dm_requests += 1;
    let now = fake.clock.now();
    let (start, used) = grant.inbox.dm_window.filter(|(start, _)| now < *start + DM_WINDOW).unwrap_or((now, 0));
    let reset = (start + DM_WINDOW).unix_timestamp().to_string();
    if used >= DM_READS_PER_WINDOW {
        let problem =
            json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429});
        let limits = [
            ("x-rate-limit-limit", "15".to_string()),
            ("x-rate-limit-remaining", "0".to_string()),
            ("x-rate-limit-reset", reset),
        ];
        let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(problem)).into_response();
        for (name, value) in limits {
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        return response;
    }
    grant.inbox.dm_window = Some((start, used + 1));
    let allowed: &[(&str, &[&str])] = &[
        ("max_results", &[]),
        ("pagination_token", &[]),
        ("event_types", &["MessageCreate", "ParticipantsJoin", "ParticipantsLeave"]),
        ("dm_event.fields", DM_EVENT_FIELDS),
        ("user.fields", USER_FIELDS),
        ("media.fields", MEDIA_FIELDS),
        ("tweet.fields", TWEET_FIELDS),
        ("expansions", &["attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id"]),
    ];
    let query = match checked_query(raw, allowed, 1..=100) {
        Ok(query) => query,
        Err(refused) => return refused.into_response(),
    };
    let types: Vec<&str> = query
        .get("event_types")
        .map_or(vec!["MessageCreate", "ParticipantsJoin", "ParticipantsLeave"], |types| types.split(',').collect());
    let mut found: Vec<Value> = grant
        .inbox
        .dm_events
        .iter()
        .filter(|event| types.contains(&event["event_type"].as_str().unwrap()))
        .cloned()
        .collect();
    found.sort_by_key(|event| std::cmp::Reverse(id_of(event)));
    let (page, next) = page_of(found, &query, 100);
    let mut meta = json!({"result_count": page.len()});
    if let Some(next) = next {
        meta["next_token"] = json!(next);
    }
    let users = grant.inbox.users_of(page.iter().filter_map(|event| event["sender_id"].as_str()));
    let mut body = json!({"meta": meta});
    if !page.is_empty() {
        body["data"] = json!(page);
        body["includes"] = json!({"users": users});
    }
    let mut response = documented("GET", "/2/dm_events", 200, body);
    let remaining = (DM_READS_PER_WINDOW - used - 1).to_string();
    for (name, value) in
        [("x-rate-limit-limit", "15".to_string()), ("x-rate-limit-remaining", remaining), ("x-rate-limit-reset", reset)]
    {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn send_message(
    State(fake): State<XFake>,
    headers: HeaderMap,
    Path(conversation): Path<String>,
    body: String,
) -> Response {
    if !fake.authorized(&headers) {
        return unauthorized();
    }
    let path = format!("/2/dm_conversations/{conversation}/messages");
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    let problems = request_problems("POST", &path, &body);
    assert!(problems.is_empty(), "POST {path} is not what X documents: {problems:#?}");
    let mut grant = fake.grant.lock().unwrap();
    let now = fake.now();
    let id = grant.inbox.message(USER_ID, &conversation, body["text"].as_str().unwrap_or_default(), &now);
    grant.inbox.messages.push((conversation.clone(), body));
    documented("POST", &path, 201, json!({"data": {"dm_conversation_id": conversation, "dm_event_id": id}}))
}
