//! The posts function's HTTP API (SPEC §5), under `/v1/posts`: create (with `Idempotency-Key`),
//! validate (a dry run), list, read, edit, delete, cancel and retry. Every target is checked
//! against its platform's rules up front; a post is saved whole or not at all.

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

use crate::adapters::platforms::media;
use crate::api::{Caller, Data, FunctionRoutes, Json, List, PathId, Query, parse_json};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{ChannelId, PostId};
use crate::model::platforms::{MediaItem, MediaKind, Metrics, Platform};
use crate::model::posts::IdempotencyRecord;
use crate::model::posts::validate::TargetReport;
use crate::model::posts::{MetricsSample, Post, PostStatus, Target, TargetError, TargetMetrics, TargetStatus};
use crate::model::usage::Limited;
use crate::model::webhooks::EventType;
use crate::services::metrics::total_metrics;
use crate::services::posts::{
    NewPost, after_create, checked_post, checks, commit_change, commit_delete, reject_problems, target_channels,
};
use crate::services::unpublish::unpublish;

const MAX_ALT_CHARS: usize = 1_500;
const MAX_MEDIA: usize = 10;
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
            .routes(routes!(retry_post))
            .routes(routes!(unpublish_post)),
    }
}

/// `{channel_ids?}`: the channels to delete the post from; every live one when absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnpublishRequest {
    channel_ids: Option<Vec<ChannelId>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// An https URL of an image (jpg, png, gif, webp) or a video (mp4, mov, webm).
    url: String,
    alt: Option<String>,
    /// `image` or `video`, where the URL's extension does not say; the content, read before
    /// publishing (and by `/validate`), decides.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<MediaKind>,
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
    #[param(minimum = 1, maximum = 100)]
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
    /// When the post was deleted from this platform by unpublish.
    #[serde(with = "time::serde::rfc3339::option")]
    unpublished_at: Option<OffsetDateTime>,
    /// Why the last unpublish of this target failed.
    unpublish_error: Option<TargetError>,
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
            media: post
                .media
                .iter()
                .map(|item| MediaInput { url: item.url.clone(), alt: item.alt.clone(), kind: item.kind })
                .collect(),
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
                    unpublished_at: target.unpublished_at,
                    unpublish_error: target.unpublish_error.clone(),
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
#[utoipa::path(post, path = "", tag = "posts", request_body = CreatePost, security(("api_key" = ["posts:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the same post")),
    responses((status = 201, body = Data<PostView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Json(request): Json<CreatePost>,
) -> Result<(StatusCode, axum::Json<Data<PostView>>)> {
    caller.admit(&state, Limited::Posts).await?;
    let key = idempotency_key(&headers)?;
    let now = state.clock.now();
    let media = media_items(&state, request.media.as_deref().unwrap_or_default()).await?;
    let new = NewPost {
        text: request.text.clone(),
        media,
        targets: request.targets.clone(),
        scheduled_at: request.scheduled_at,
        draft: request.draft.unwrap_or(false),
    };
    let post = checked_post(&state.posting(), caller.workspace_id, &new).await?;

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
    after_create(&state.posting(), &post).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: PostView::from(&post) })))
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
#[utoipa::path(post, path = "/validate", tag = "posts", request_body = CreatePost, security(("api_key" = ["posts:write"])),
    responses((status = 200, body = Data<Validation>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn validate_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreatePost>,
) -> Result<axum::Json<Data<Validation>>> {
    let media = media_items(&state, request.media.as_deref().unwrap_or_default()).await?;
    let channels = target_channels(&state.posting(), caller.workspace_id, &request.targets).await?;
    let content = media::read_contents(&state.outbound, &media).await;
    let targets = checks(&state.posting(), &request.text, &media, &content, &channels).await?;
    let valid = targets.iter().all(|report| report.problems.is_empty());
    Ok(axum::Json(Data { data: Validation { valid, targets } }))
}

/// List posts, newest first.
#[utoipa::path(get, path = "", tag = "posts", params(PostParams), security(("api_key" = ["posts:read"])),
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
#[utoipa::path(get, path = "/{id}", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = ["posts:read"])),
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
    security(("api_key" = ["posts:write"])),
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
    let channels = target_channels(&state.posting(), caller.workspace_id, &target_ids).await?;
    reject_problems(&checks(&state.posting(), &post.text, &post.media, &[], &channels).await?)?;
    if request.targets.is_some() {
        post.targets = channels.iter().map(|channel| Target::pending(channel.id, channel.platform)).collect();
    }
    let data = json!({"post_id": post.id, "status": post.status, "changed_fields": changed});
    commit_change(&state.outbox(), &mut post, EventType::PostUpdated, data).await.map_err(post_conflict)?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

/// Delete a post that is not being published.
#[utoipa::path(delete, path = "/{id}", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = ["posts:write"])),
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
    let data = json!({"post_id": id, "was_status": post.status});
    commit_delete(&state.outbox(), &post, EventType::PostDeleted, data).await.map_err(post_conflict)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a scheduled post before it is published.
#[utoipa::path(post, path = "/{id}/cancel", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = ["posts:write"])),
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
    let data = json!({"post_id": post.id, "status": post.status});
    commit_change(&state.outbox(), &mut post, EventType::PostCancelled, data).await.map_err(post_conflict)?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

/// Publish the failed targets of a failed or partial post again.
#[utoipa::path(post, path = "/{id}/retry", tag = "posts", params(("id" = PostId, Path)), security(("api_key" = ["posts:write"])),
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
    let data = json!({"post_id": post.id, "status": post.status, "retried_count": post.retried_count});
    commit_change(&state.outbox(), &mut post, EventType::PostRetried, data).await.map_err(post_conflict)?;
    state.wake_scheduler.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: PostView::from(&post) })))
}

/// Delete a published post from its platforms — the given channels, or every one it is live on —
/// and fire post.unpublished. Each target records when it was deleted or why it could not be
/// (Instagram's API cannot delete); the others proceed. Posthorn keeps its record of the post:
/// `DELETE /v1/posts/{id}` removes that (and only that).
#[utoipa::path(post, path = "/{id}/unpublish", tag = "posts", params(("id" = PostId, Path)),
    request_body(content = UnpublishRequest, description = "optional"), security(("api_key" = ["posts:write"])),
    responses((status = 200, body = Data<PostView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unpublish_post(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<PostId>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Data<PostView>>> {
    let request: UnpublishRequest =
        if body.iter().all(u8::is_ascii_whitespace) { UnpublishRequest::default() } else { parse_json(&body)? };
    let channels = request.channel_ids.as_deref();
    if channels.is_some_and(<[ChannelId]>::is_empty) {
        return Err(Error::bad_request("channel_ids must not be empty; leave it out to unpublish everywhere"));
    }
    let post = unpublish(&state.accounts(), caller.workspace_id, id, channels).await?;
    Ok(axum::Json(Data { data: PostView::from(&post) }))
}

async fn find_post(state: &AppState, caller: Caller, id: PostId) -> Result<Post> {
    state.store.get_post(caller.workspace_id, id).await?.ok_or(Error::NotFound("post"))
}

/// A conflicting write, in words for the API caller.
fn post_conflict(error: Error) -> Error {
    match error {
        Error::Conflict(_) => {
            Error::Conflict("the post changed meanwhile (it may be publishing); read it and try again".into())
        }
        other => other,
    }
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
        let kind = item.kind.or_else(|| MediaKind::of_url(url.as_str()));
        items.push(MediaItem { url: url.to_string(), alt: item.alt.clone(), kind });
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
