//! The inbox HTTP API (SPEC §8): interactions listed and read from the store (never from the
//! platforms), answered through their platform, per account in seed 002's shape
//! (`/v1/accounts/{id}/comments|mentions|dms`), an account's inbox read back in time, and the
//! sandbox's simulated arrivals.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Caller, Data, FunctionRoutes, Json, List, PageParams, PathId, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{ChannelId, ConnectionId, InteractionId, PostId};
use crate::model::inbox::{AttachedMedia, Author, InteractionKind, InteractionView};
use crate::model::times::rfc3339;
use crate::ports::store::{InteractionFilter, PageRequest};
use crate::services::inbox::backfill::backfill;
use crate::services::inbox::reply::reply;
use crate::services::inbox::simulate::{Simulated, simulate};

/// The inbox function: `/v1/interactions`, `/v1/accounts/{id}/…`, `/v1/sandbox/interactions`.
pub fn inbox_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1",
        routes: OpenApiRouter::new()
            .routes(routes!(list_interactions))
            .routes(routes!(get_interaction))
            .routes(routes!(reply_to_interaction))
            .routes(routes!(account_comments))
            .routes(routes!(account_mentions))
            .routes(routes!(account_dms))
            .routes(routes!(backfill_account))
            .routes(routes!(simulate_interaction)),
    }
}

/// `?type=&account_id=&channel_id=&post_id=&since=&limit=&cursor=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InteractionParams {
    /// comment, mention or dm.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    account_id: Option<ConnectionId>,
    channel_id: Option<ChannelId>,
    post_id: Option<PostId>,
    /// RFC 3339: only interactions written at or after it.
    since: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `?since=&limit=&cursor=` of an account's comments, mentions or DMs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountInteractionParams {
    /// RFC 3339: only interactions written at or after it.
    since: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The answer: a reply to a comment or mention, a DM to the author of a DM.
    text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// RFC 3339, at most 30 days ago: what the account's next poll reads back to.
    since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackfillView {
    account_id: ConnectionId,
    /// The channels that read back.
    channel_ids: Vec<ChannelId>,
    since: String,
}

/// A simulated interaction on a sandbox channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    channel_id: ChannelId,
    #[serde(rename = "type")]
    kind: InteractionKind,
    text: String,
    /// Who wrote it (default: "Sandbox Fan").
    author: Option<Author>,
    #[serde(default)]
    media: Vec<AttachedMedia>,
    /// A post published on the channel that it answers.
    post_id: Option<PostId>,
}

fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest> {
    PageParams { limit, cursor }.page_request()
}

fn parse_since(since: Option<&str>) -> Result<Option<OffsetDateTime>> {
    since
        .map(|text| {
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| Error::bad_request("since must be an RFC 3339 time like 2026-03-23T18:00:00Z"))
        })
        .transpose()
}

fn parse_kind(kind: Option<&str>) -> Result<Option<InteractionKind>> {
    kind.map(|name| {
        InteractionKind::parse(name).ok_or_else(|| Error::bad_request("type must be one of comment, mention, dm"))
    })
    .transpose()
}

async fn listed(
    state: &AppState,
    caller: &Caller,
    filter: InteractionFilter,
    page: PageRequest,
) -> Result<List<InteractionView>> {
    let interactions = state.store.list_interactions(caller.workspace_id, filter, page).await?;
    Ok(List::of(&interactions))
}

/// The workspace's interactions, newest first, filtered.
#[utoipa::path(get, path = "/interactions", tag = "inbox", params(InteractionParams), security(("api_key" = ["inbox:read"])),
    responses((status = 200, body = List<InteractionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_interactions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<InteractionParams>,
) -> Result<axum::Json<List<InteractionView>>> {
    let filter = InteractionFilter {
        kind: parse_kind(params.kind.as_deref())?,
        account: params.account_id,
        channel: params.channel_id,
        post: params.post_id,
        since: parse_since(params.since.as_deref())?,
    };
    Ok(axum::Json(listed(&state, &caller, filter, page(params.limit, params.cursor)?).await?))
}

/// Read an interaction.
#[utoipa::path(get, path = "/interactions/{id}", tag = "inbox", params(("id" = InteractionId, Path)),
    security(("api_key" = ["inbox:read"])),
    responses((status = 200, body = Data<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_interaction(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<InteractionId>,
) -> Result<axum::Json<Data<InteractionView>>> {
    let interaction =
        state.store.get_interaction(caller.workspace_id, id).await?.ok_or(Error::NotFound("interaction"))?;
    Ok(axum::Json(Data { data: InteractionView::from(&interaction) }))
}

/// Answer an interaction through its platform: a reply to a comment or mention, a DM to the
/// author of a DM. The answer is recorded as an outbound interaction (a DM answer fires
/// dm.sent). 422 naming the platform where its API allows no such answer.
#[utoipa::path(post, path = "/interactions/{id}/reply", tag = "inbox", params(("id" = InteractionId, Path)),
    request_body = ReplyRequest, security(("api_key" = ["inbox:write"])),
    responses((status = 201, body = Data<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reply_to_interaction(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<InteractionId>,
    Json(request): Json<ReplyRequest>,
) -> Result<(StatusCode, axum::Json<Data<InteractionView>>)> {
    let answer = reply(&state.accounts(), &state.inbox, caller.workspace_id, id, &request.text).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: InteractionView::from(&answer) })))
}

/// One kind of an account's interactions, newest first; 404 for an account not in the workspace.
async fn account_interactions(
    state: &AppState,
    caller: &Caller,
    account: ConnectionId,
    kind: InteractionKind,
    params: AccountInteractionParams,
) -> Result<axum::Json<List<InteractionView>>> {
    state.store.get_connection(caller.workspace_id, account).await?.ok_or(Error::NotFound("connection"))?;
    let filter = InteractionFilter {
        kind: Some(kind),
        account: Some(account),
        since: parse_since(params.since.as_deref())?,
        ..InteractionFilter::default()
    };
    Ok(axum::Json(listed(state, caller, filter, page(params.limit, params.cursor)?).await?))
}

/// The account's comments, newest first (seed 002's shape).
#[utoipa::path(get, path = "/accounts/{id}/comments", tag = "inbox",
    params(("id" = ConnectionId, Path), AccountInteractionParams), security(("api_key" = ["inbox:read"])),
    responses((status = 200, body = List<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account_comments(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
    Query(params): Query<AccountInteractionParams>,
) -> Result<axum::Json<List<InteractionView>>> {
    account_interactions(&state, &caller, id, InteractionKind::Comment, params).await
}

/// The account's mentions, newest first.
#[utoipa::path(get, path = "/accounts/{id}/mentions", tag = "inbox",
    params(("id" = ConnectionId, Path), AccountInteractionParams), security(("api_key" = ["inbox:read"])),
    responses((status = 200, body = List<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account_mentions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
    Query(params): Query<AccountInteractionParams>,
) -> Result<axum::Json<List<InteractionView>>> {
    account_interactions(&state, &caller, id, InteractionKind::Mention, params).await
}

/// The account's DMs, both directions, newest first.
#[utoipa::path(get, path = "/accounts/{id}/dms", tag = "inbox",
    params(("id" = ConnectionId, Path), AccountInteractionParams), security(("api_key" = ["inbox:read"])),
    responses((status = 200, body = List<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account_dms(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
    Query(params): Query<AccountInteractionParams>,
) -> Result<axum::Json<List<InteractionView>>> {
    account_interactions(&state, &caller, id, InteractionKind::Dm, params).await
}

/// Read the account's inbox back to `since` (at most 30 days): its next poll starts over from
/// there. Interactions already stored fire nothing again.
#[utoipa::path(post, path = "/accounts/{id}/inbox/backfill", tag = "inbox", params(("id" = ConnectionId, Path)),
    request_body = BackfillRequest, security(("api_key" = ["inbox:write"])),
    responses((status = 202, body = Data<BackfillView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn backfill_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
    Json(request): Json<BackfillRequest>,
) -> Result<(StatusCode, axum::Json<Data<BackfillView>>)> {
    let since = parse_since(Some(&request.since))?.unwrap_or_else(|| state.clock.now());
    let restarted = backfill(&state.accounts(), caller.workspace_id, id, since).await?;
    let view = BackfillView {
        account_id: id,
        channel_ids: restarted.iter().map(|inbox| inbox.channel_id).collect(),
        since: rfc3339(since),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(Data { data: view })))
}

/// Sandbox: an interaction arrives on a sandbox channel as if someone wrote it — stored, its
/// event delivered, answerable — so the inbox can be tried with no account.
#[utoipa::path(post, path = "/sandbox/interactions", tag = "inbox", request_body = SimulateRequest,
    security(("api_key" = ["inbox:write"])),
    responses((status = 201, body = Data<InteractionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn simulate_interaction(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<SimulateRequest>,
) -> Result<(StatusCode, axum::Json<Data<InteractionView>>)> {
    let simulated = Simulated {
        channel_id: request.channel_id,
        kind: request.kind,
        text: request.text,
        author: request.author,
        media: request.media,
        post_id: request.post_id,
    };
    let interaction = simulate(&state.accounts(), &state.inbox, caller.workspace_id, simulated).await?;
    Ok((StatusCode::CREATED, axum::Json(Data { data: InteractionView::from(&interaction) })))
}
