//! The connections HTTP API: the connect, sync and import-channels functions under
//! `/functions/v1/…` (seed 000's edge-function API, with `state` added to the callback), and
//! `/v1/connections` to list, read and delete connections. No response ever carries a token.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Caller, Data, FunctionRoutes, Json, List, PageParams, PathId, Query};
use crate::app::AppState;
use crate::model::channels::{Channel, ChannelKind};
use crate::model::connections::{Connection, ConnectionStatus};
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::{ChannelId, ConnectionId, WorkspaceId};
use crate::model::inbox::InboxState;
use crate::model::platforms::Platform;
use crate::services::connections::connect::{Callback, authorize, complete};
use crate::services::connections::disconnect::disconnect;
use crate::services::connections::events::profile_url;
use crate::services::connections::import::{IMPORT_RUN, import_channels};
use crate::services::connections::record::get;
use crate::services::connections::sync::sync;

/// The longest accepted code, state, identifier, password or URL.
const MAX_FIELD_CHARS: usize = 4_096;

/// The connect function: the consent URL and the callback.
pub fn connect_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/functions/v1/connect",
        routes: OpenApiRouter::new().routes(routes!(authorization_url, connect_account)),
    }
}

/// The sync function.
pub fn sync_routes() -> FunctionRoutes {
    FunctionRoutes { prefix: "/functions/v1/sync", routes: OpenApiRouter::new().routes(routes!(sync_connection)) }
}

/// The import-channels function.
pub fn import_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/functions/v1/import-channels",
        routes: OpenApiRouter::new().routes(routes!(import_connection_channels)),
    }
}

/// The connections function: list, read, delete.
pub fn connections_routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1/connections",
        routes: OpenApiRouter::new()
            .routes(routes!(list_connections))
            .routes(routes!(get_connection, delete_connection)),
    }
}

/// `?platform=&redirect_uri=&workspace_id=&base_url=`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// mastodon, x, linkedin, facebook, instagram, threads or sandbox.
    platform: String,
    /// Where the platform sends the user back with `code` and `state`.
    redirect_uri: String,
    /// Must be the API key's workspace, if given.
    workspace_id: Option<WorkspaceId>,
    /// The Mastodon instance (default: the configured one).
    base_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationView {
    /// Send the user here.
    authorization_url: String,
    /// Single use; bring it back to `POST /functions/v1/connect`.
    state: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// The callback: `{platform, code, state, workspace_id}`, or on Bluesky
/// `{platform, identifier, app_password, base_url?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    platform: String,
    code: Option<String>,
    state: Option<String>,
    workspace_id: Option<WorkspaceId>,
    /// Bluesky: the handle or DID.
    identifier: Option<String>,
    /// Bluesky: an app password (Settings → App passwords).
    app_password: Option<String>,
    /// Bluesky: the PDS (default: the configured one).
    base_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRequest {
    connection_id: ConnectionId,
}

/// A connection as the API shows it: the profile and the grant's shape, never its tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    id: ConnectionId,
    platform: Platform,
    platform_user_id: String,
    username: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
    profile_url: String,
    base_url: String,
    scopes: Vec<String>,
    status: ConnectionStatus,
    /// When the access token expires, if it does.
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// How the inbox of each of its watched channels is read (on `GET /v1/connections/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    inbox: Option<Vec<ChannelInboxView>>,
}

/// Where reading one channel's inbox stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelInboxView {
    channel_id: ChannelId,
    /// Whether the grant lets Posthorn read the account's DMs; `null` until a poll found out
    /// (a Bluesky app password made without "Allow access to your direct messages" says `false`).
    dms_granted: Option<bool>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_polled_at: Option<OffsetDateTime>,
    /// What the last source that failed said.
    last_error: Option<String>,
    /// Where the platform pushes only to subscribed apps (Facebook Pages, Instagram): whether
    /// subscribing worked, and what the platform said if not (import-channels tries again).
    push: Option<PushSubscriptionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushSubscriptionView {
    subscribed: bool,
    error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

impl From<&InboxState> for ChannelInboxView {
    fn from(state: &InboxState) -> Self {
        Self {
            channel_id: state.channel_id,
            dms_granted: state.dms_granted,
            last_polled_at: state.last_polled_at,
            last_error: state.last_error.clone(),
            push: state.push.as_ref().map(|push| PushSubscriptionView {
                subscribed: push.subscribed,
                error: push.error.clone(),
                at: push.at,
            }),
        }
    }
}

impl From<&Connection> for ConnectionView {
    fn from(connection: &Connection) -> Self {
        Self {
            id: connection.id,
            platform: connection.platform,
            platform_user_id: connection.platform_user_id.clone(),
            username: connection.username.clone(),
            display_name: connection.display_name.clone(),
            avatar_url: connection.avatar_url.clone(),
            profile_url: profile_url(connection),
            base_url: connection.base_url.clone(),
            scopes: connection.scopes.clone(),
            status: connection.status,
            expires_at: connection.expires_at,
            created_at: connection.created_at,
            updated_at: connection.updated_at,
            inbox: None,
        }
    }
}

/// A channel as the API shows it: post to it by its `id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    id: ChannelId,
    connection_id: ConnectionId,
    platform: Platform,
    platform_channel_id: String,
    name: String,
    kind: ChannelKind,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&Channel> for ChannelView {
    fn from(channel: &Channel) -> Self {
        Self {
            id: channel.id,
            connection_id: channel.connection_id,
            platform: channel.platform,
            platform_channel_id: channel.platform_channel_id.clone(),
            name: channel.name.clone(),
            kind: channel.kind,
            created_at: channel.created_at,
        }
    }
}

/// Start connecting an account: the platform's consent URL with a single-use `state` (10
/// minutes) and, where the platform takes it, a PKCE challenge.
#[utoipa::path(get, path = "", tag = "connections", params(AuthorizeParams), security(("api_key" = ["connections:write"])),
    responses((status = 200, body = Data<AuthorizationView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn authorization_url(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<AuthorizeParams>,
) -> Result<axum::Json<Data<AuthorizationView>>> {
    caller.ensure_workspace(params.workspace_id)?;
    let platform = parse_platform(&params.platform)?;
    check_lengths(&[("redirect_uri", Some(&params.redirect_uri)), ("base_url", params.base_url.as_ref())])?;
    let authorization =
        authorize(&state.accounts(), caller.workspace_id, platform, &params.redirect_uri, params.base_url.as_deref())
            .await?;
    Ok(axum::Json(Data {
        data: AuthorizationView {
            authorization_url: authorization.authorization_url,
            state: authorization.state,
            expires_at: authorization.expires_at,
        },
    }))
}

/// Finish connecting: exchange the code (or a Bluesky app password) for tokens, read the profile,
/// store the connection and emit account.connected. 201 for a new connection, 200 when the
/// account was connected before (its connection is updated).
#[utoipa::path(post, path = "", tag = "connections", request_body = ConnectRequest, security(("api_key" = ["connections:write"])),
    responses((status = 201, body = Data<ConnectionView>), (status = 200, body = Data<ConnectionView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn connect_account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<ConnectRequest>,
) -> Result<(StatusCode, axum::Json<Data<ConnectionView>>)> {
    caller.ensure_workspace(request.workspace_id)?;
    let platform = parse_platform(&request.platform)?;
    check_lengths(&[
        ("code", request.code.as_ref()),
        ("state", request.state.as_ref()),
        ("identifier", request.identifier.as_ref()),
        ("app_password", request.app_password.as_ref()),
        ("base_url", request.base_url.as_ref()),
    ])?;
    let callback = Callback {
        platform,
        code: request.code,
        state: request.state,
        identifier: request.identifier,
        app_password: request.app_password,
        base_url: request.base_url,
    };
    let connected = complete(&state.accounts(), caller.workspace_id, callback).await?;
    let status = if connected.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(Data { data: ConnectionView::from(&connected.connection) })))
}

/// Refresh the tokens if they expire within 5 minutes, re-read the profile and store both.
#[utoipa::path(post, path = "", tag = "connections", request_body = ConnectionRequest, security(("api_key" = ["connections:write"])),
    responses((status = 200, body = Data<ConnectionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn sync_connection(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<ConnectionRequest>,
) -> Result<axum::Json<Data<ConnectionView>>> {
    let connection = sync(&state.accounts(), caller.workspace_id, request.connection_id).await?;
    Ok(axum::Json(Data { data: ConnectionView::from(&connection) }))
}

/// The channels an import-channels call stored, and whether the import is complete.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedChannels {
    /// The channels this import has stored so far, in the platform's order: once it is
    /// complete, every channel the platform lists.
    data: Vec<ChannelView>,
    /// `false` when the call ran out of time with more of the platform's list to read: call
    /// again to continue where it stopped. Channels the platform no longer lists are deleted
    /// only once an import completes.
    complete: bool,
}

/// List the connection's channels at the platform, store them (channel.created for new ones,
/// channel.deleted for ones gone) and return them. A long list is read over several calls:
/// see `complete`.
#[utoipa::path(post, path = "", tag = "connections", request_body = ConnectionRequest, security(("api_key" = ["connections:write"])),
    responses((status = 200, body = ImportedChannels), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import_connection_channels(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<ConnectionRequest>,
) -> Result<axum::Json<ImportedChannels>> {
    let deadline = Instant::now() + IMPORT_RUN;
    let imported = import_channels(&state.accounts(), caller.workspace_id, request.connection_id, deadline).await?;
    let data = imported.channels.iter().map(ChannelView::from).collect();
    Ok(axum::Json(ImportedChannels { data, complete: imported.complete }))
}

/// The workspace's connections, newest first.
#[utoipa::path(get, path = "", tag = "connections", params(PageParams), security(("api_key" = ["connections:read"])),
    responses((status = 200, body = List<ConnectionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_connections(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<List<ConnectionView>>> {
    let page = state.store.list_connections(caller.workspace_id, params.page_request()?).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Read a connection, with where reading each watched channel's inbox stands.
#[utoipa::path(get, path = "/{id}", tag = "connections", params(("id" = ConnectionId, Path)), security(("api_key" = ["connections:read"])),
    responses((status = 200, body = Data<ConnectionView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_connection(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
) -> Result<axum::Json<Data<ConnectionView>>> {
    let connection = get(&state.accounts(), caller.workspace_id, id).await?;
    let mut inbox = Vec::new();
    for channel in state.store.connection_channels(caller.workspace_id, id).await? {
        if let Some(watched) = state.store.get_inbox_state(caller.workspace_id, channel.id).await? {
            inbox.push(ChannelInboxView::from(&watched));
        }
    }
    Ok(axum::Json(Data { data: ConnectionView { inbox: Some(inbox), ..ConnectionView::from(&connection) } }))
}

/// Disconnect: revoke at the platform where it allows, delete the connection, its tokens and its
/// channels, emit account.disconnected.
#[utoipa::path(delete, path = "/{id}", tag = "connections", params(("id" = ConnectionId, Path)), security(("api_key" = ["connections:write"])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_connection(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ConnectionId>,
) -> Result<StatusCode> {
    disconnect(&state.accounts(), caller.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_platform(name: &str) -> Result<Platform> {
    Platform::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        let shown: String = name.chars().take(40).collect();
        Error::bad_request(format!("unknown platform `{shown}`; one of {}", known.join(", ")))
    })
}

fn check_lengths(fields: &[(&str, Option<&String>)]) -> Result<()> {
    match fields.iter().find(|(_, value)| value.is_some_and(|v| v.len() > MAX_FIELD_CHARS)) {
        Some((name, _)) => Err(Error::bad_request(format!("{name} is longer than {MAX_FIELD_CHARS} characters"))),
        None => Ok(()),
    }
}
