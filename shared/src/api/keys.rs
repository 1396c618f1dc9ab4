//! The API-keys function's HTTP API (SPEC §9), under `/v1/api-keys`: create a key of the
//! caller's workspace (shown once; it can hold only scopes the caller's key holds), list the
//! workspace's keys, revoke one (the next request with it is refused). Every operation needs
//! `keys:write`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{Caller, Data, FunctionRoutes, Json, List, PageParams, PathId, Query};
use crate::app::AppState;
use crate::model::error::{Error, ErrorBody, Result};
use crate::model::ids::ApiKeyId;
use crate::model::workspaces::{ApiKey, Scope};
use crate::services::workspaces::{create_key, revoke_key};

/// The API-keys function's routes.
pub fn routes() -> FunctionRoutes {
    FunctionRoutes {
        prefix: "/v1/api-keys",
        routes: OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(delete_api_key)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for, 1–100 characters, not blank.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    /// The scopes the new key holds, each held by the calling key; absent: the calling key's.
    #[schema(min_items = 1)]
    scopes: Option<BTreeSet<Scope>>,
}

/// An API key as the API shows it: never the secret, except `key` once when it is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    id: ApiKeyId,
    name: Option<String>,
    scopes: BTreeSet<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// The key itself (`phk_…`), shown only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self { id: key.id, name: key.name.clone(), scopes: key.granted(), created_at: key.created_at, key: None }
    }
}

/// Create an API key of the caller's workspace; the key is in this answer only.
#[utoipa::path(post, path = "", tag = "api-keys", request_body = CreateApiKey, security(("api_key" = ["keys:write"])),
    responses((status = 201, body = Data<ApiKeyView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(request): Json<CreateApiKey>,
) -> Result<(StatusCode, axum::Json<Data<ApiKeyView>>)> {
    let held = caller.scopes.to_set();
    let scopes = request.scopes.unwrap_or_else(|| held.clone());
    if let Some(lacking) = scopes.difference(&held).next() {
        return Err(Error::Forbidden(format!("scopes: this API key lacks `{lacking}`, so it cannot grant it")));
    }
    let key = create_key(state.store.as_ref(), caller.workspace_id, request.name, scopes, state.clock.now()).await?;
    let view = ApiKeyView { key: Some(key.plaintext), ..ApiKeyView::from(&key.record) };
    Ok((StatusCode::CREATED, axum::Json(Data { data: view })))
}

/// List the workspace's API keys, newest first.
#[utoipa::path(get, path = "", tag = "api-keys", params(PageParams), security(("api_key" = ["keys:write"])),
    responses((status = 200, body = List<ApiKeyView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn list_api_keys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<List<ApiKeyView>>> {
    let page = state.store.list_api_keys(caller.workspace_id, params.page_request()?).await?;
    Ok(axum::Json(List::of(&page)))
}

/// Revoke an API key of the workspace: the next request with it is refused (401).
#[utoipa::path(delete, path = "/{id}", tag = "api-keys", params(("id" = ApiKeyId, Path)), security(("api_key" = ["keys:write"])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete_api_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    PathId(id): PathId<ApiKeyId>,
) -> Result<StatusCode> {
    revoke_key(state.store.as_ref(), id, Some(caller.workspace_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
