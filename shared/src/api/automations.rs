//! The automations function's HTTP API: `/v1/automations` and `/v1/sources` (create, list,
//! read, edit, delete) and `/v1/runs/{id}`. Sources are feed URLs checked by the SSRF guard;
//! their fetch state is shown read-only.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::posts::PostView;
use crate::api::{Caller, Data, FunctionRoutes, Json, List, PageParams, PathId, Query};
use crate::app::AppState;
use crate::model::automations::Schedule;
use crate::model::automations::{
    Automation, DEFAULT_FETCH_INTERVAL_MINUTES, EntryRef, PublishMode, Run, RunStatus, RunTrigger, Source,
};
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{AutomationId, ChannelId, PostId, RunId, SourceId};
use crate::model::posts::MAX_TARGETS;
use crate::model::usage::Limited;
use crate::services::automations::run_automation;

const MAX_NAME_CHARS: usize = 200;
const MAX_INSTRUCTIONS_CHARS: usize = 4_000;
const MAX_TONE_CHARS: usize = 50;
const MAX_SOURCES: usize = 20;
/// A scheduled publish is at most 30 days after its run.
const MAX_OFFSET_MINUTES: u32 = 30 * 24 * 60;

/// The automations function's routes.
pub fn routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1",
        routes: OpenApiRouter::new()
            .routes(routes!(create_automation, list_automations))
            .routes(routes!(get_automation, update_automation, delete_automation))
            .routes(routes!(create_source, list_sources))
            .routes(routes!(get_source, update_source, delete_source))
            .routes(routes!(get_run)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomation {
    name: String,
    /// What the posts should say; the model writes from it and from the sources' entries.
    instructions: String,
    /// Like `friendly`, `formal`, `playful`.
    tone: Option<String>,
    /// Channel ids: one post per channel on each run.
    targets: Vec<ChannelId>,
    /// Source ids whose newest unused entries each run draws from.
    #[serde(default)]
    sources: Vec<SourceId>,
    /// When to run on its own; absent means only on generate-content calls.
    schedule: Option<Schedule>,
    /// Default `{"mode": "draft"}`.
    publish: Option<PublishMode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomation {
    name: Option<String>,
    instructions: Option<String>,
    /// `null` removes the tone.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    tone: Option<Option<String>>,
    targets: Option<Vec<ChannelId>>,
    sources: Option<Vec<SourceId>>,
    /// `null` removes the schedule.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Schedule>)]
    schedule: Option<Option<Schedule>>,
    publish: Option<PublishMode>,
}

/// A field that may be absent (unchanged), `null` (removed) or a value.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationView {
    id: AutomationId,
    name: String,
    instructions: String,
    tone: Option<String>,
    targets: Vec<ChannelId>,
    sources: Vec<SourceId>,
    schedule: Option<Schedule>,
    publish: PublishMode,
    /// The next scheduled run.
    #[serde(with = "time::serde::rfc3339::option")]
    next_run_at: Option<OffsetDateTime>,
    last_run_id: Option<RunId>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Automation> for AutomationView {
    fn from(automation: &Automation) -> Self {
        Self {
            id: automation.id,
            name: automation.name.clone(),
            instructions: automation.instructions.clone(),
            tone: automation.tone.clone(),
            targets: automation.channel_ids.clone(),
            sources: automation.source_ids.clone(),
            schedule: automation.schedule.clone(),
            publish: automation.publish,
            next_run_at: automation.next_run_at,
            last_run_id: automation.last_run_id,
            created_at: automation.created_at,
            updated_at: automation.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// An https URL of an RSS 2.0, Atom or JSON feed.
    url: String,
    name: Option<String>,
    /// How often the feed is fetched, 5–1440 (default 15). A failing feed waits longer.
    fetch_interval_minutes: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    url: Option<String>,
    name: Option<String>,
    fetch_interval_minutes: Option<u32>,
}

/// A feed source. The fetch-state fields are read-only: process-queue keeps them.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    id: SourceId,
    url: String,
    name: Option<String>,
    fetch_interval_minutes: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    last_fetched_at: Option<OffsetDateTime>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
    consecutive_failures: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    next_fetch_at: Option<OffsetDateTime>,
    etag: Option<String>,
    last_modified: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Source> for SourceView {
    fn from(source: &Source) -> Self {
        Self {
            id: source.id,
            url: source.url.clone(),
            name: source.name.clone(),
            fetch_interval_minutes: source.fetch_interval_minutes,
            last_fetched_at: source.last_fetched_at,
            last_error: source.last_error.clone(),
            consecutive_failures: source.consecutive_failures,
            next_fetch_at: source.next_fetch_at,
            etag: source.etag.clone(),
            last_modified: source.last_modified.clone(),
            created_at: source.created_at,
            updated_at: source.updated_at,
        }
    }
}

/// A run with the posts it created.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub(super) id: RunId,
    pub(super) automation_id: AutomationId,
    pub(super) status: RunStatus,
    pub(super) trigger: RunTrigger,
    /// Why the run failed.
    pub(super) reason: Option<String>,
    /// The feed entries the posts were written from.
    pub(super) entries: Vec<EntryRef>,
    pub(super) post_ids: Vec<PostId>,
    /// The posts that still exist.
    pub(super) posts: Vec<PostView>,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(super) finished_at: Option<OffsetDateTime>,
}

impl RunView {
    pub(super) fn new(run: &Run, posts: Vec<PostView>) -> Self {
        Self {
            id: run.id,
            automation_id: run.automation_id,
            status: run.status,
            trigger: run.trigger,
            reason: run.reason.clone(),
            entries: run.entries.clone(),
            post_ids: run.post_ids.clone(),
            posts,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// Create an automation.
#[utoipa::path(post, path = "/automations", tag = "automations", request_body = CreateAutomation,
    security(("api_key" = ["automations:write"])),
    responses((status = 201, body = Data<AutomationView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn create_automation(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreateAutomation>,
) -> Result<(StatusCode, axum::Json<Data<AutomationView>>)> {
    let now = state.clock.now();
    let automation = Automation {
        id: AutomationId::new(),
        workspace_id: caller.workspace_id,
        name: text("name", &request.name, MAX_NAME_CHARS)?,
        instructions: text("instructions", &request.instructions, MAX_INSTRUCTIONS_CHARS)?,
        tone: request.tone.as_deref().map(|tone| text("tone", tone, MAX_TONE_CHARS)).transpose()?,
        channel_ids: checked_targets(&state, caller, request.targets).await?,
        source_ids: checked_sources(&state, caller, request.sources).await?,
        schedule: request.schedule.map(checked_schedule).transpose()?,
        publish: checked_publish(request.publish.unwrap_or(PublishMode::Draft))?,
        next_run_at: None,
        last_slot: None,
        last_run_id: None,
        version: 0,
        created_at: now,
        updated_at: now,
    };
    let automation = Automation { next_run_at: next_run(&automation, now), ..automation };
    state.store.create_automation(&automation).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: AutomationView::from(&automation) })))
}

/// List automations, newest first.
#[utoipa::path(get, path = "/automations", tag = "automations", params(PageParams), security(("api_key" = ["automations:read"])),
    responses((status = 200, body = List<AutomationView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_automations(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<List<AutomationView>>> {
    let page = state.store.list_automations(caller.workspace_id, params.page_request()?).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read an automation.
#[utoipa::path(get, path = "/automations/{id}", tag = "automations", params(("id" = AutomationId, Path)),
    security(("api_key" = ["automations:read"])),
    responses((status = 200, body = Data<AutomationView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_automation(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<AutomationId>,
) -> Result<axum::Json<Data<AutomationView>>> {
    let automation = find_automation(&state, caller, id).await?;
    Ok(axum::Json(Data { data: AutomationView::from(&automation) }))
}

/// Edit an automation; a new schedule takes effect from now.
#[utoipa::path(patch, path = "/automations/{id}", tag = "automations", params(("id" = AutomationId, Path)),
    request_body = UpdateAutomation, security(("api_key" = ["automations:write"])),
    responses((status = 200, body = Data<AutomationView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_automation(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<AutomationId>,
    Json(request): Json<UpdateAutomation>,
) -> Result<axum::Json<Data<AutomationView>>> {
    let mut automation = find_automation(&state, caller, id).await?;
    let now = state.clock.now();
    let mut changed = false;
    if let Some(name) = &request.name {
        automation.name = text("name", name, MAX_NAME_CHARS)?;
        changed = true;
    }
    if let Some(instructions) = &request.instructions {
        automation.instructions = text("instructions", instructions, MAX_INSTRUCTIONS_CHARS)?;
        changed = true;
    }
    if let Some(tone) = &request.tone {
        automation.tone = tone.as_deref().map(|tone| text("tone", tone, MAX_TONE_CHARS)).transpose()?;
        changed = true;
    }
    if let Some(targets) = request.targets {
        automation.channel_ids = checked_targets(&state, caller, targets).await?;
        changed = true;
    }
    if let Some(sources) = request.sources {
        automation.source_ids = checked_sources(&state, caller, sources).await?;
        changed = true;
    }
    if let Some(schedule) = request.schedule {
        automation.schedule = schedule.map(checked_schedule).transpose()?;
        automation.next_run_at = next_run(&automation, now);
        changed = true;
    }
    if let Some(publish) = request.publish {
        automation.publish = checked_publish(publish)?;
        changed = true;
    }
    if !changed {
        return Err(Error::bad_request(
            "give at least one of name, instructions, tone, targets, sources, schedule, publish",
        ));
    }
    let expected_version = automation.version;
    automation.version += 1;
    automation.updated_at = now;
    state.store.update_automation(&automation, expected_version).await.map_err(|error| match error {
        Error::Conflict(_) => Error::Conflict("the automation changed meanwhile; read it and try again".into()),
        other => other,
    })?;
    Ok(axum::Json(Data { data: AutomationView::from(&automation) }))
}

/// Delete an automation; its runs and posts stay.
#[utoipa::path(delete, path = "/automations/{id}", tag = "automations", params(("id" = AutomationId, Path)),
    security(("api_key" = ["automations:write"])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_automation(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<AutomationId>,
) -> Result<StatusCode> {
    state.store.delete_automation(caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an RSS, Atom or JSON feed.
#[utoipa::path(post, path = "/sources", tag = "automations", request_body = CreateSource, security(("api_key" = ["automations:write"])),
    responses((status = 201, body = Data<SourceView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn create_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreateSource>,
) -> Result<(StatusCode, axum::Json<Data<SourceView>>)> {
    let now = state.clock.now();
    let source = Source {
        id: SourceId::new(),
        workspace_id: caller.workspace_id,
        url: checked_url(&state, &request.url).await?,
        name: request.name.as_deref().map(|name| text("name", name, MAX_NAME_CHARS)).transpose()?,
        fetch_interval_minutes: request
            .fetch_interval_minutes
            .map(checked_fetch_interval)
            .transpose()?
            .unwrap_or(DEFAULT_FETCH_INTERVAL_MINUTES),
        etag: None,
        last_modified: None,
        last_fetched_at: None,
        last_error: None,
        consecutive_failures: 0,
        next_fetch_at: Some(now),
        version: 0,
        created_at: now,
        updated_at: now,
    };
    state.store.create_source(&source).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: SourceView::from(&source) })))
}

/// List sources, newest first.
#[utoipa::path(get, path = "/sources", tag = "automations", params(PageParams), security(("api_key" = ["automations:read"])),
    responses((status = 200, body = List<SourceView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_sources(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<List<SourceView>>> {
    let page = state.store.list_sources(caller.workspace_id, params.page_request()?).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read a source and its fetch state.
#[utoipa::path(get, path = "/sources/{id}", tag = "automations", params(("id" = SourceId, Path)),
    security(("api_key" = ["automations:read"])),
    responses((status = 200, body = Data<SourceView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<SourceId>,
) -> Result<axum::Json<Data<SourceView>>> {
    let source = find_source(&state, caller, id).await?;
    Ok(axum::Json(Data { data: SourceView::from(&source) }))
}

/// Rename a source or change its URL (which starts its fetch state afresh).
#[utoipa::path(patch, path = "/sources/{id}", tag = "automations", params(("id" = SourceId, Path)),
    request_body = UpdateSource, security(("api_key" = ["automations:write"])),
    responses((status = 200, body = Data<SourceView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<SourceId>,
    Json(request): Json<UpdateSource>,
) -> Result<axum::Json<Data<SourceView>>> {
    if request.url.is_none() && request.name.is_none() && request.fetch_interval_minutes.is_none() {
        return Err(Error::bad_request("give at least one of url, name, fetch_interval_minutes"));
    }
    let mut source = find_source(&state, caller, id).await?;
    let now = state.clock.now();
    if let Some(name) = &request.name {
        source.name = Some(text("name", name, MAX_NAME_CHARS)?);
    }
    if let Some(minutes) = request.fetch_interval_minutes {
        source.fetch_interval_minutes = checked_fetch_interval(minutes)?;
    }
    if let Some(url) = &request.url {
        let url = checked_url(&state, url).await?;
        if url != source.url {
            source = Source {
                url,
                etag: None,
                last_modified: None,
                last_fetched_at: None,
                last_error: None,
                consecutive_failures: 0,
                next_fetch_at: Some(now),
                ..source
            };
        }
    }
    let expected_version = source.version;
    source.version += 1;
    source.updated_at = now;
    state.store.update_source(&source, expected_version).await.map_err(|error| match error {
        Error::Conflict(_) => Error::Conflict("the source changed meanwhile (it may be fetching); try again".into()),
        other => other,
    })?;
    Ok(axum::Json(Data { data: SourceView::from(&source) }))
}

/// Delete a source; automations naming it stop drawing from it.
#[utoipa::path(delete, path = "/sources/{id}", tag = "automations", params(("id" = SourceId, Path)),
    security(("api_key" = ["automations:write"])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<SourceId>,
) -> Result<StatusCode> {
    state.store.delete_source(caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Read a run with its posts.
#[utoipa::path(get, path = "/runs/{id}", tag = "automations", params(("id" = RunId, Path)), security(("api_key" = ["automations:read"])),
    responses((status = 200, body = Data<RunView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<RunId>,
) -> Result<axum::Json<Data<RunView>>> {
    let run = state.store.get_run(caller.workspace_id, id).await?.ok_or(Error::NotFound("run"))?;
    let mut posts = Vec::with_capacity(run.post_ids.len());
    for post_id in &run.post_ids {
        if let Some(post) = state.store.get_post(caller.workspace_id, *post_id).await? {
            posts.push(PostView::from(&post));
        }
    }
    Ok(axum::Json(Data { data: RunView::new(&run, posts) }))
}

pub(super) async fn find_automation(state: &AppState, caller: Caller, id: AutomationId) -> Result<Automation> {
    state.store.get_automation(caller.workspace_id, id).await?.ok_or(Error::NotFound("automation"))
}

async fn find_source(state: &AppState, caller: Caller, id: SourceId) -> Result<Source> {
    state.store.get_source(caller.workspace_id, id).await?.ok_or(Error::NotFound("source"))
}

/// `value` trimmed, 1 to `max` characters.
fn text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::bad_request(format!("{field} must be 1 to {max} characters")));
    }
    Ok(value.to_string())
}

async fn checked_url(state: &AppState, url: &str) -> Result<String> {
    let url =
        state.outbound.guard().check(url).await.map_err(|rejected| Error::bad_request(format!("url {rejected}")))?;
    Ok(url.to_string())
}

fn checked_schedule(schedule: Schedule) -> Result<Schedule> {
    Schedule::new(&schedule.cron, &schedule.timezone).map_err(Error::BadRequest)
}

fn checked_publish(publish: PublishMode) -> Result<PublishMode> {
    match publish {
        PublishMode::Scheduled { offset_minutes } if !(1..=MAX_OFFSET_MINUTES).contains(&offset_minutes) => {
            Err(Error::bad_request(format!("publish.offset_minutes must be between 1 and {MAX_OFFSET_MINUTES}")))
        }
        publish => Ok(publish),
    }
}

fn next_run(automation: &Automation, now: OffsetDateTime) -> Option<OffsetDateTime> {
    automation.schedule.as_ref().and_then(|schedule| schedule.next_after(now))
}

/// Channel ids that exist in the caller's workspace, each once.
async fn checked_targets(state: &AppState, caller: Caller, targets: Vec<ChannelId>) -> Result<Vec<ChannelId>> {
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(Error::bad_request(format!("targets must list 1 to {MAX_TARGETS} channel ids")));
    }
    unique("targets", &targets)?;
    for (index, id) in targets.iter().enumerate() {
        if state.store.get_channel(caller.workspace_id, *id).await?.is_none() {
            return Err(Error::bad_request(format!("targets[{index}]: channel {id} not found")));
        }
    }
    Ok(targets)
}

/// Source ids that exist in the caller's workspace, each once.
async fn checked_sources(state: &AppState, caller: Caller, sources: Vec<SourceId>) -> Result<Vec<SourceId>> {
    if sources.len() > MAX_SOURCES {
        return Err(Error::bad_request(format!("sources must list at most {MAX_SOURCES} source ids")));
    }
    unique("sources", &sources)?;
    for (index, id) in sources.iter().enumerate() {
        if state.store.get_source(caller.workspace_id, *id).await?.is_none() {
            return Err(Error::bad_request(format!("sources[{index}]: source {id} not found")));
        }
    }
    Ok(sources)
}

fn unique<T: std::hash::Hash + Eq + std::fmt::Display>(field: &str, ids: &[T]) -> Result<()> {
    let mut seen = HashSet::new();
    match ids.iter().enumerate().find(|(_, id)| !seen.insert(*id)) {
        Some((index, id)) => Err(Error::bad_request(format!("{field}[{index}]: {id} is listed twice"))),
        None => Ok(()),
    }
}

/// A source's fetch interval: at least 5 minutes (feeds are polite to poll no faster), at most a
/// day.
fn checked_fetch_interval(minutes: u32) -> Result<u32> {
    match minutes {
        5..=1440 => Ok(minutes),
        _ => Err(Error::bad_request("fetch_interval_minutes must be between 5 and 1440")),
    }
}

/// The generate-content function's route.
pub fn generate_content_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/functions/v1/generate-content",
        routes: OpenApiRouter::new().routes(routes!(generate_content)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateContent {
    automation_id: AutomationId,
}

/// Run an automation now: returns the run with its posts. A run that fails is recorded (read
/// it at `/v1/runs/{id}`) and answered with an error naming the run and the reason.
#[utoipa::path(post, path = "", tag = "automations", request_body = GenerateContent, security(("api_key" = ["ai"])),
    responses((status = 201, body = Data<RunView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn generate_content(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<GenerateContent>,
) -> Result<(StatusCode, axum::Json<Data<RunView>>)> {
    caller.admit(&state, Limited::Ai).await?;
    let automation = find_automation(&state, caller, request.automation_id).await?;
    let finished = run_automation(&state.automations(), &automation, RunTrigger::Manual).await?;
    if let Some(error) = finished.failure {
        return Err(naming_run(error, finished.run.id));
    }
    let posts = finished.posts.iter().map(PostView::from).collect();
    Ok((StatusCode::CREATED, axum::Json(Data { data: RunView::new(&finished.run, posts) })))
}

/// The run's failure as the caller's error, naming the run.
fn naming_run(error: Error, run: RunId) -> Error {
    let named = |reason: String| format!("run {run} failed: {reason}");
    match error {
        Error::BadRequest(reason) => Error::BadRequest(named(reason)),
        Error::Unprocessable(reason) => Error::Unprocessable(named(reason)),
        Error::Conflict(reason) => Error::Conflict(named(reason)),
        Error::BadGateway(reason) => Error::BadGateway(named(reason)),
        Error::Unavailable(reason) => Error::Unavailable(named(reason)),
        other => other,
    }
}
