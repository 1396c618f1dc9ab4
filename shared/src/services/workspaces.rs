//! Workspaces and their API keys: creating them (the admin CLI, the keys API, the dev server's
//! first start), authenticating a presented key, and revoking one.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use crate::model::crypto::KeyHash;
use crate::model::error::{Error, Result, RetryAfter};
use crate::model::ids::{ApiKeyId, WorkspaceId};
use crate::model::usage::{KeyUsage, Limited, RateLimits, seconds_to_next_minute};
use crate::model::workspaces::{ApiKey, NewApiKey, Scope, Workspace, check_name, check_scopes};
use crate::ports::store::Store;

/// What the first key of a workspace is called.
const FIRST_KEY_NAME: &str = "First key";

/// Creates a workspace with no key.
pub async fn create_workspace(store: &dyn Store, name: &str, now: OffsetDateTime) -> Result<Workspace> {
    check_name("name", name)?;
    let workspace = Workspace { id: WorkspaceId::new(), name: name.trim().to_string(), created_at: now };
    store.create_workspace(&workspace).await?;
    Ok(workspace)
}

/// Creates a workspace and its first API key, which holds every scope; the plaintext key is
/// returned to show once.
pub async fn create_workspace_with_key(
    store: &dyn Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<(Workspace, String)> {
    let workspace = create_workspace(store, name, now).await?;
    let key = create_key(store, workspace.id, Some(FIRST_KEY_NAME.into()), Scope::every(), now).await?;
    Ok((workspace, key.plaintext))
}

/// Creates a key of an existing workspace; `NotFound` if there is no such workspace.
pub async fn create_key(
    store: &dyn Store,
    workspace: WorkspaceId,
    name: Option<String>,
    scopes: BTreeSet<Scope>,
    now: OffsetDateTime,
) -> Result<NewApiKey> {
    if let Some(name) = &name {
        check_name("name", name)?;
    }
    check_scopes(&scopes)?;
    if store.get_workspace(workspace).await?.is_none() {
        return Err(Error::NotFound("workspace"));
    }
    let key = NewApiKey::generate(workspace, name.map(|name| name.trim().to_string()), scopes, now);
    store.create_api_key(&key.record).await?;
    Ok(key)
}

/// The stored key behind a presented one (compared in constant time), or `Unauthorized`. A key
/// stored before keys had scopes is saved again with every scope, so that it is listed from now on.
pub async fn authenticate(store: &dyn Store, presented: &str) -> Result<ApiKey> {
    let hash = KeyHash::of(presented);
    let key = store.find_api_key(&hash).await?.ok_or(Error::Unauthorized)?;
    if !key.hash.matches(&hash) {
        return Err(Error::Unauthorized);
    }
    if key.predates_scopes() {
        let migrated = ApiKey { scopes: Some(Scope::every()), ..key.clone() };
        return match store.replace_api_key(&migrated).await {
            Ok(()) => Ok(migrated),
            Err(Error::NotFound(_)) => Err(Error::Unauthorized),
            Err(error) => Err(error),
        };
    }
    Ok(key)
}

/// Counts a request of a limited kind against the key's limit for this minute: past the limit,
/// `TooManyRequests` with the seconds until the next minute.
pub async fn admit(
    store: &dyn Store,
    key: (WorkspaceId, ApiKeyId),
    limited: Limited,
    limits: &RateLimits,
    now: OffsetDateTime,
) -> Result<()> {
    let limit = limits.per_minute(limited);
    if limit == 0 {
        return Ok(());
    }
    let count = store.count_key_usage(&KeyUsage::empty(key.0, key.1, limited, now)).await?;
    if count <= i64::from(limit) {
        return Ok(());
    }
    let retry_after = seconds_to_next_minute(now);
    let message =
        format!("this API key is limited to {limit} {} per minute; retry in {retry_after} s", limited.described());
    Err(Error::TooManyRequests(message, RetryAfter(retry_after)))
}

/// Revokes the key with this id (of `workspace` only, when given): the next request with it is
/// refused. `NotFound` if there is no such key there.
pub async fn revoke_key(store: &dyn Store, id: ApiKeyId, workspace: Option<WorkspaceId>) -> Result<ApiKey> {
    let key = store
        .get_api_key(id)
        .await?
        .filter(|key| workspace.is_none_or(|workspace| key.workspace_id == workspace))
        .ok_or(Error::NotFound("API key"))?;
    store.delete_api_key(&key).await?;
    Ok(key)
}
