//! The posts function's HTTP API (SPEC §5), under `/v1/posts`: create (with `Idempotency-Key`),
//! validate (a dry run), list, read, edit, delete, cancel and retry. Every target is checked
//! against its platform's rules up front; a post is saved whole or not at all.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::IdempotencyRecord;
use super::metrics::total_metrics;
use super::model::{MetricsSample, Post, PostStatus, Target, TargetError, TargetMetrics, TargetStatus};
use super::validate::{TargetReport, check_target};
use crate::api::{Caller, Data, FunctionRoutes, Json, List, PathId, Query};
use crate::app::AppState;
use crate::channels::{Channel, ConnectionStatus};
use crate::error::{Error, ErrorBody, Result};
use crate::ids::{ChannelId, PostId};
use crate::platforms::{MediaItem, Metrics, Platform};
use crate::webhooks::EventType;
use crate::webhooks::outbox::emit;

const MAX_TEXT_CHARS: usize = 100_000;
const MAX_ALT_CHARS: usize = 1_500;
const MAX_MEDIA: usize = 10;
const MAX_TARGETS: usize = 20;
const MAX_IDEMPOTENCY_KEY: usize = 255;
const IDEMPOTENCY_WINDOW: time::Duration = time::Duration::hours(24);

/// The posts function's routes.
pub fn routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1/posts",
        routes: OpenApiRouter::new()
            .routes(routes!(create_post, list_posts))
            .routes(routes!(validate_post))
            .routes(routes!(get_post, update_post, delete_post))
            .routes(routes!(cancel_post))
            .routes(routes!(retry_post)),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// An https URL of a jpg, png, gif or webp image.
    url: String,
    alt: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    text: String,
    media: Option<Vec<MediaInput>>,
    /// Channel ids to publish to.
    targets: Vec<ChannelId>,
    /// When to publish (RFC 3339, in the future); absent means now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    scheduled_at: Option<OffsetDateTime>,
    /// Save without scheduling.
    draft: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    text: Option<String>,
    media: Option<Vec<MediaInput>>,
    targets: Option<Vec<ChannelId>>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    scheduled_at: Option<OffsetDateTime>,
}

/// `?status=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostParams {
    /// draft, scheduled, publishing, published, partial, failed or cancelled.
    status: Option<String>,
    /// 1–100, default 20.
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One target of a post as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    channel_id: ChannelId,
    platform: Platform,
    status: TargetStatus,
    platform_post_id: Option<String>,
    url: Option<String>,
    error: Option<TargetError>,
    #[serde(with = "time::serde::rfc3339::option")]
    published_at: Option<OffsetDateTime>,
    /// The latest engagement figures, once synced.
    metrics: Option<TargetMetricsView>,
}

/// A target's latest engagement figures (`null` where the platform does not offer one), when
/// they were read, and every change of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetMetricsView {
    #[serde(flatten)]
    figures: Metrics,
    #[serde(with = "time::serde::rfc3339")]
    synced_at: OffsetDateTime,
    /// The readings that changed the figures, oldest first (the newest 48).
    history: Vec<MetricsSample>,
}

impl From<&TargetMetrics> for TargetMetricsView {
    fn from(metrics: &TargetMetrics) -> Self {
        Self { figures: metrics.latest, synced_at: metrics.synced_at, history: metrics.history.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostView {
    id: PostId,
    text: String,
    media: Vec<MediaInput>,
    status: PostStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    scheduled_at: Option<OffsetDateTime>,
    targets: Vec<TargetView>,
    /// The latest figures summed over the targets that have them: what the post reached on every
    /// platform together. A figure no target offers is `null`; the whole is `null` until a sync.
    metrics: Option<Metrics>,
    retried_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Post> for PostView {
    fn from(post: &Post) -> Self {
        Self {
            id: post.id,
            text: post.text.clone(),
            media: post.media.iter().map(|item| MediaInput { url: item.url.clone(), alt: item.alt.clone() }).collect(),
            status: post.status,
            scheduled_at: post.scheduled_at,
            targets: post
                .targets
                .iter()
                .map(|target| TargetView {
                    channel_id: target.channel_id,
                    platform: target.platform,
                    status: target.status,
                    platform_post_id: target.platform_post_id.clone(),
                    url: target.url.clone(),
                    error: target.error.clone(),
                    published_at: target.published_at,
                    metrics: target.metrics.as_ref().map(TargetMetricsView::from),
                })
                .collect(),
            metrics: total_metrics(post),
            retried_count: post.retried_count,
            created_at: post.created_at,
            updated_at: post.updated_at,
        }
    }
}

/// What a dry run found, per target.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    valid: bool,
    targets: Vec<TargetReport>,
}

/// Create a post: published at once, at `scheduled_at`, or saved as a draft.
#[utoipa::path(post, path = "", tag = "posts", request_body = CreatePost, security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the same post")),
    responses((status = 201, body = Data<PostView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Json(request): Json<CreatePost>,
) -> Result<(StatusCode, axum::Json<Data<PostView>>)> {
    let key = idempotency_key(&headers)?;
    let now = state.clock.now();
    let post = checked_post(&state, caller, &request).await?;

    let record = key.map(|key| IdempotencyRecord {
        workspace_id: caller.workspace_id,
        key,
        fingerprint: fingerprint(&request),
        post_id: post.id,
        expires_at: now + IDEMPOTENCY_WINDOW,
    });
    if let Some(earlier) = state.store.create_post(&post, record.as_ref()).await? {
        return replay(&state, caller, &earlier, record.as_ref()).await;
    }
    after_create(&state, &post).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: PostView::from(&post) })))
}

/// Creates a post as `POST /v1/posts` does without an `Idempotency-Key`: every target checked
/// against its platform, then saved, then scheduled or handed to the publisher. For callers
/// inside Posthorn, like generate-content.
pub async fn create(
    state: &AppState,
    caller: Caller,
    text: String,
    targets: Vec<ChannelId>,
    scheduled_at: Option<OffsetDateTime>,
    draft: bool,
) -> Result<Post> {
    let request = CreatePost { text, media: None, targets, scheduled_at, draft: Some(draft) };
    let post = checked_post(state, caller, &request).await?;
    state.store.create_post(&post, None).await?;
    after_create(state, &post).await?;
    Ok(post)
}

/// The post a create request describes, once every target accepts it.
async fn checked_post(state: &AppState, caller: Caller, request: &CreatePost) -> Result<Post> {
    let media = media_items(state, request.media.as_deref().unwrap_or_default()).await?;
    let channels = target_channels(state, caller, &request.targets).await?;
    reject_problems(&checks(state, &request.text, &media, &channels).await?)?;
    new_post(caller, request, media, &channels, state.clock.now())
}

fn new_post(
    caller: Caller,
    request: &CreatePost,
    media: Vec<MediaItem>,
    channels: &[Channel],
    now: OffsetDateTime,
) -> Result<Post> {
    if let Some(at) = request.scheduled_at.filter(|at| *at <= now) {
        return Err(Error::Unprocessable(format!("scheduled_at {at} is in the past")));
    }
    let (status, due_at) = match (request.draft.unwrap_or(false), request.scheduled_at) {
        (true, _) => (PostStatus::Draft, None),
        (false, Some(at)) => (PostStatus::Scheduled, Some(at)),
        (false, None) => (PostStatus::Scheduled, Some(now)),
    };
    Ok(Post {
        id: PostId::new(),
        workspace_id: caller.workspace_id,
        text: request.text.clone(),
        media,
        status,
        scheduled_at: request.scheduled_at,
        targets: channels.iter().map(|channel| Target::pending(channel.id, channel.platform)).collect(),
        due_at,
        retried_count: 0,
        metrics_due_at: None,
        version: 0,
        created_at: now,
        updated_at: now,
    })
}

/// Fires post.scheduled for a future post; an immediate one is handed to the publisher.
async fn after_create(state: &AppState, post: &Post) -> Result<()> {
    match (post.status, post.scheduled_at) {
        (PostStatus::Scheduled, Some(at)) => {
            let targets: Vec<ChannelId> = post.targets.iter().map(|target| target.channel_id).collect();
            let data =
                json!({"post_id": post.id, "status": post.status, "scheduled_at": rfc3339(at), "targets": targets});
            emit(state, post.workspace_id, EventType::PostScheduled, data).await?;
        }
        (PostStatus::Scheduled, None) => state.wake_scheduler.notify_one(),
        _ => {}
    }
    Ok(())
}

async fn replay(
    state: &AppState,
    caller: Caller,
    earlier: &IdempotencyRecord,
    attempted: Option<&IdempotencyRecord>,
) -> Result<(StatusCode, axum::Json<Data<PostView>>)> {
    if attempted.is_some_and(|attempted| attempted.fingerprint != earlier.fingerprint) {
        return Err(Error::Conflict("this Idempotency-Key was already used with a different request body".into()));
    }
    let post = find_post(state, caller, earlier.post_id).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: PostView::from(&post) })))
}

/// Check a post against every target without saving anything.
#[utoipa::path(post, path = "/validate", tag = "posts", request_body = CreatePost, security(("api_key" = [])),
    responses((status = 200, body = Data<Validation>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn validate_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreatePost>,
) -> Result<axum::Json<Data<Validation>>> {
    let media = media_items(&state, request.media.as_deref().unwrap_or_default()).await?;
    let channels = target_channels(&state, caller, &request.targets).await?;
    let targets = checks(&state, &request.text, &media, &channels).await?;
    let valid = targets.iter().all(|report| report.problems.is_empty());
    Ok(axum::Json(Data { data: Validation { valid, targets } }))
}

/// List posts, newest first.
#[utoipa::path(get, path = "", tag = "posts", params(PostParams), security(("api_key" = [])),
    responses((status = 200, body = List<PostView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_posts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PostParams>,
) -> Result<axum::Json<List<PostView>>> {
    let status = params
        .status
        .as_deref()
        .map(|text| {
            PostStatus::parse(text).ok_or_else(|| Error::bad_request(format!("status: unknown status `{text}`")))
        })
        .transpose()?;
    let page = crate::api::PageParams { limit: params.limit, cursor: params.cursor }.page_request()?;
    if let Some(cursor) = &page.cursor {
        cursor.parse::<PostId>().map_err(|_| Error::bad_request("cursor is not valid"))?;
    }
    let page = state.store.list_posts(caller.workspace_id, status, page).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read a post with each target's result and latest metrics.
#[utoipa::path(get, path = "/{id}", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = [])),
    responses((status = 200, body = Data<PostView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
) -> Result<axum::Json<Data<PostView>>> {
    let post = find_post(&state, caller, id).await?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

/// Edit a draft, scheduled or failed post.
#[utoipa::path(patch, path = "/{id}", tag = "posts", params(("id" = PostId, Path)), request_body = UpdatePost,
    security(("api_key" = [])),
    responses((status = 200, body = Data<PostView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
    Json(request): Json<UpdatePost>,
) -> Result<axum::Json<Data<PostView>>> {
    let mut post = find_post(&state, caller, id).await?;
    if !matches!(post.status, PostStatus::Draft | PostStatus::Scheduled | PostStatus::Failed) {
        return Err(Error::Conflict(format!("a {} post cannot be edited", post.status.as_str())));
    }
    let now = state.clock.now();
    let mut changed = Vec::new();
    if let Some(text) = request.text {
        post.text = text;
        changed.push("text");
    }
    if let Some(media) = &request.media {
        post.media = media_items(&state, media).await?;
        changed.push("media");
    }
    let target_ids: Vec<ChannelId> = match &request.targets {
        Some(targets) => {
            changed.push("targets");
            targets.clone()
        }
        None => post.targets.iter().map(|target| target.channel_id).collect(),
    };
    if let Some(at) = request.scheduled_at {
        if at <= now {
            return Err(Error::Unprocessable(format!("scheduled_at {at} is in the past")));
        }
        post.scheduled_at = Some(at);
        if post.status == PostStatus::Scheduled {
            post.due_at = Some(at);
        }
        changed.push("scheduled_at");
    }
    if changed.is_empty() {
        return Err(Error::bad_request("give at least one of text, media, targets, scheduled_at"));
    }
    let channels = target_channels(&state, caller, &target_ids).await?;
    reject_problems(&checks(&state, &post.text, &post.media, &channels).await?)?;
    if request.targets.is_some() {
        post.targets = channels.iter().map(|channel| Target::pending(channel.id, channel.platform)).collect();
    }
    save(&state, &mut post).await?;
    let data = json!({"post_id": post.id, "status": post.status, "changed_fields": changed});
    emit(&state, post.workspace_id, EventType::PostUpdated, data).await?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

/// Delete a post that is not being published.
#[utoipa::path(delete, path = "/{id}", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
) -> Result<StatusCode> {
    let post = find_post(&state, caller, id).await?;
    if post.status == PostStatus::Publishing {
        return Err(Error::Conflict("the post is being published; try again when it is done".into()));
    }
    state.store.delete_post(caller.workspace_id, id).await?;
    emit(&state, caller.workspace_id, EventType::PostDeleted, json!({"post_id": id, "was_status": post.status}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a scheduled post before it is published.
#[utoipa::path(post, path = "/{id}/cancel", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = [])),
    responses((status = 200, body = Data<PostView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn cancel_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
) -> Result<axum::Json<Data<PostView>>> {
    let mut post = find_post(&state, caller, id).await?;
    if post.status != PostStatus::Scheduled {
        return Err(Error::Conflict(format!(
            "only scheduled posts can be cancelled; this one is {}",
            post.status.as_str()
        )));
    }
    post.status = PostStatus::Cancelled;
    post.due_at = None;
    save(&state, &mut post).await?;
    emit(&state, post.workspace_id, EventType::PostCancelled, json!({"post_id": post.id, "status": post.status}))
        .await?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

/// Publish the failed targets of a failed or partial post again.
#[utoipa::path(post, path = "/{id}/retry", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = [])),
    responses((status = 202, body = Data<PostView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn retry_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
) -> Result<(StatusCode, axum::Json<Data<PostView>>)> {
    let mut post = find_post(&state, caller, id).await?;
    if !matches!(post.status, PostStatus::Failed | PostStatus::Partial) {
        return Err(Error::Conflict(format!(
            "only failed or partial posts can be retried; this one is {}",
            post.status.as_str()
        )));
    }
    for target in post.targets.iter_mut().filter(|target| target.status == TargetStatus::Failed) {
        target.status = TargetStatus::Pending;
        target.error = None;
        target.attempts = 0;
    }
    post.status = PostStatus::Scheduled;
    post.due_at = Some(state.clock.now());
    post.retried_count += 1;
    save(&state, &mut post).await?;
    let data = json!({"post_id": post.id, "status": post.status, "retried_count": post.retried_count});
    emit(&state, post.workspace_id, EventType::PostRetried, data).await?;
    state.wake_scheduler.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: PostView::from(&post) })))
}

async fn find_post(state: &AppState, caller: Caller, id: PostId) -> Result<Post> {
    state.store.get_post(caller.workspace_id, id).await?.ok_or(Error::NotFound("post"))
}

async fn save(state: &AppState, post: &mut Post) -> Result<()> {
    super::publish::save(state, post).await.map_err(|error| match error {
        Error::Conflict(_) => {
            Error::Conflict("the post changed meanwhile (it may be publishing); read it and try again".into())
        }
        other => other,
    })
}

/// The channels of `targets`, in order; each must exist in the caller's workspace.
async fn target_channels(state: &AppState, caller: Caller, targets: &[ChannelId]) -> Result<Vec<Channel>> {
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(Error::bad_request(format!("targets must list 1 to {MAX_TARGETS} channel ids")));
    }
    let mut seen = HashSet::new();
    let mut channels = Vec::with_capacity(targets.len());
    for (index, id) in targets.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(Error::bad_request(format!("targets[{index}]: channel {id} is listed twice")));
        }
        let channel = state.store.get_channel(caller.workspace_id, *id).await?;
        channels.push(channel.ok_or_else(|| Error::bad_request(format!("targets[{index}]: channel {id} not found")))?);
    }
    Ok(channels)
}

/// Every target's report for this text and media.
async fn checks(state: &AppState, text: &str, media: &[MediaItem], channels: &[Channel]) -> Result<Vec<TargetReport>> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::bad_request(format!("text must be at most {MAX_TEXT_CHARS} characters")));
    }
    let mut reports = Vec::with_capacity(channels.len());
    for channel in channels {
        let connection = state.store.get_connection(channel.workspace_id, channel.connection_id).await?;
        let status = connection.as_ref().map_or(ConnectionStatus::Expired, |connection| connection.status);
        let limits = channel.platform.limits_on(connection.and_then(|connection| connection.instance_limits));
        reports.push(check_target(text, media, channel, limits, status));
    }
    Ok(reports)
}

/// A 400 naming each target and rule it breaks.
fn reject_problems(reports: &[TargetReport]) -> Result<()> {
    let problems: Vec<String> = reports
        .iter()
        .enumerate()
        .flat_map(|(index, report)| {
            report.problems.iter().map(move |problem| {
                format!("targets[{index}] ({} {}): {}", report.platform.as_str(), report.channel_id, problem.message)
            })
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(Error::BadRequest(problems.join("; "))) }
}

/// Checks media inputs (count, alt length, URL through the SSRF guard).
async fn media_items(state: &AppState, media: &[MediaInput]) -> Result<Vec<MediaItem>> {
    if media.len() > MAX_MEDIA {
        return Err(Error::bad_request(format!("media must list at most {MAX_MEDIA} items")));
    }
    let mut items = Vec::with_capacity(media.len());
    for (index, item) in media.iter().enumerate() {
        if item.alt.as_ref().is_some_and(|alt| alt.chars().count() > MAX_ALT_CHARS) {
            return Err(Error::bad_request(format!("media[{index}].alt must be at most {MAX_ALT_CHARS} characters")));
        }
        let url = state
            .outbound
            .guard()
            .check(&item.url)
            .await
            .map_err(|rejected| Error::bad_request(format!("media[{index}].url {rejected}")))?;
        items.push(MediaItem { url: url.to_string(), alt: item.alt.clone() });
    }
    Ok(items)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| Error::bad_request("Idempotency-Key must be printable ASCII"))?.trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(Error::bad_request(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")));
    }
    Ok(Some(key.to_string()))
}

fn fingerprint(request: &CreatePost) -> String {
    let canonical = serde_json::to_vec(request).expect("a parsed request serializes");
    hex::encode(Sha256::digest(canonical))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
