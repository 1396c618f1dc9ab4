//! API-key authentication and authorization (SPEC §3, §9): `Authorization: Bearer phk_…`,
//! looked up by its SHA-256 and compared in constant time, then checked for the scope the
//! operation declares in its OpenAPI security requirement (`security(("api_key" =
//! ["posts:read"]))`), which [`ScopeTable`] reads from the document of the router serving it.
//! The resulting [`Caller`] scopes every query to its workspace.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use utoipa::openapi::OpenApi;

use crate::app::AppState;
use crate::model::error::Error;
use crate::model::ids::{ApiKeyId, WorkspaceId};
use crate::model::usage::Limited;
use crate::model::workspaces::{Scope, ScopeSet};
use crate::services::workspaces::{admit, authenticate};

/// The security scheme every authenticated operation names.
pub const SECURITY_SCHEME: &str = "api_key";

/// The authenticated key behind a request, holding the scope its operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub workspace_id: WorkspaceId,
    pub key_id: ApiKeyId,
    pub scopes: ScopeSet,
}

impl Caller {
    /// Checks a workspace named in a request body: naming another workspace is a 403.
    pub fn ensure_workspace(&self, named: Option<WorkspaceId>) -> Result<(), Error> {
        match named {
            Some(other) if other != self.workspace_id => {
                Err(Error::Forbidden(format!("this API key does not belong to workspace {other}")))
            }
            _ => Ok(()),
        }
    }
}

impl Caller {
    /// Counts this request against the key's per-minute limit of `limited` requests: a 429
    /// with `Retry-After` past it.
    pub async fn admit(&self, state: &AppState, limited: Limited) -> Result<(), Error> {
        let key = (self.workspace_id, self.key_id);
        admit(state.store.as_ref(), key, limited, &state.rate_limits, state.clock.now()).await
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Error> {
        let required = required_scope(parts)?;
        let presented = bearer_token(parts).ok_or(Error::Unauthorized)?;
        let key = authenticate(state.store.as_ref(), presented).await?;
        if !key.allows(required) {
            return Err(Error::Forbidden(format!("this API key lacks the `{required}` scope this operation needs")));
        }
        Ok(Caller { workspace_id: key.workspace_id, key_id: key.id, scopes: key.granted().into_iter().collect() })
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with("phk_")).then_some(token)
}

/// The scope the matched operation declares.
fn required_scope(parts: &Parts) -> Result<Scope, Error> {
    let path = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
    let table = parts.extensions.get::<Arc<ScopeTable>>();
    let (Some(path), Some(table)) = (path, table) else {
        return Err(Error::Internal("an authenticated route is served without its scope table".into()));
    };
    table
        .scope(&parts.method, path)
        .ok_or_else(|| Error::Internal(format!("{} {path} declares no scope", parts.method)))
}

/// The scope each operation of a router declares, by method and path as the router matches it.
#[derive(Debug, Default)]
pub struct ScopeTable(HashMap<(Method, String), Scope>);

impl ScopeTable {
    /// Reads each operation's `api_key` security requirement; with `root_prefix`, the operations
    /// under it are found at the root too (a function URL serves its routes there).
    pub fn of(document: &OpenApi, root_prefix: Option<&str>) -> Self {
        let mut table = HashMap::new();
        for (path, method, scope) in declared_scopes(document) {
            if let Some(below) = root_prefix.and_then(|prefix| path.strip_prefix(prefix)) {
                let at_root = if below.is_empty() { "/".to_string() } else { below.to_string() };
                table.insert((method.clone(), at_root), scope);
            }
            table.insert((method, path), scope);
        }
        Self(table)
    }

    fn scope(&self, method: &Method, path: &str) -> Option<Scope> {
        let trimmed = path.strip_suffix('/').filter(|rest| !rest.is_empty()).unwrap_or(path);
        self.0
            .get(&(method.clone(), path.to_string()))
            .or_else(|| self.0.get(&(method.clone(), trimmed.to_string())))
            .copied()
    }
}

/// Every operation that names a scope of the `api_key` scheme: (path, method, scope).
pub fn declared_scopes(document: &OpenApi) -> Vec<(String, Method, Scope)> {
    let Ok(serde_json::Value::Object(paths)) = serde_json::to_value(&document.paths) else {
        return Vec::new();
    };
    let mut scopes = Vec::new();
    for (path, item) in paths {
        let Some(operations) = item.as_object() else { continue };
        for (method, operation) in operations {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let requirements = operation["security"].as_array().into_iter().flatten();
            let named = requirements.filter_map(|requirement| requirement[SECURITY_SCHEME].as_array()).flatten();
            if let Some(scope) = named.filter_map(|name| name.as_str().and_then(Scope::parse)).next() {
                scopes.push((path.clone(), method, scope));
            }
        }
    }
    scopes
}
