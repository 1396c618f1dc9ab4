//! API-key authentication (SPEC §3): `Authorization: Bearer phk_…`, looked up by its SHA-256
//! and compared in constant time. The resulting [`Caller`] scopes every query to its workspace.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::model::crypto::KeyHash;
use crate::model::error::Error;
use crate::model::ids::WorkspaceId;

/// The authenticated workspace behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub workspace_id: WorkspaceId,
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

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Error> {
        let presented = bearer_token(parts).ok_or(Error::Unauthorized)?;
        let hash = KeyHash::of(presented);
        let key = state.store.find_api_key(&hash).await?.ok_or(Error::Unauthorized)?;
        if !key.hash.matches(&hash) {
            return Err(Error::Unauthorized);
        }
        Ok(Caller { workspace_id: key.workspace_id })
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with("phk_")).then_some(token)
}
