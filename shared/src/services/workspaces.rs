//! Creating a workspace with its first API key (the dev server's first start, tests).

use time::OffsetDateTime;

use crate::model::error::Result;
use crate::model::ids::WorkspaceId;
use crate::model::workspaces::{NewApiKey, Workspace};
use crate::ports::store::Store;

/// Creates a workspace and its first API key; the plaintext key is returned to show once.
pub async fn create_workspace_with_key(
    store: &dyn Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<(Workspace, String)> {
    let workspace = Workspace { id: WorkspaceId::new(), name: name.to_string(), created_at: now };
    store.create_workspace(&workspace).await?;
    let key = NewApiKey::generate(workspace.id, now);
    store.create_api_key(&key.record).await?;
    Ok((workspace, key.plaintext))
}
