//! The Store port: every record Posthorn keeps, behind one trait with a SQLite adapter (dev
//! server, default tests) and a DynamoDB adapter (production). Both pass one contract suite
//! (`tests/tests/store_contract.rs`). Every read and write names its workspace, so no query can
//! return another workspace's rows.

use std::str::FromStr;

use async_trait::async_trait;

use crate::crypto::KeyHash;
use crate::error::{Error, Result};
use crate::ids::{WebhookId, WorkspaceId};
use crate::webhooks::WebhookEndpoint;
use crate::workspaces::{ApiKey, Workspace};

mod dynamo;
mod sqlite;

pub use dynamo::DynamoStore;
pub use sqlite::SqliteStore;

/// Which page of a list to read: newest first, `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The id of the last item of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list. `next_cursor` is `None` exactly when no item follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts a newest-first batch of up to `limit + 1` items, read to learn whether any item
    /// follows, down to one page whose cursor is the id of its last item.
    pub(crate) fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        id_of: impl Fn(&T) -> String,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = items.last().filter(|_| more).map(id_of);
        Self { items, next_cursor }
    }
}

/// The cursor of a page request as the id it must be; anything else is a bad request.
pub(crate) fn parse_cursor<I: FromStr>(cursor: Option<&str>) -> Result<Option<I>> {
    cursor
        .map(|text| {
            text.parse()
                .map_err(|_| Error::bad_request("invalid cursor"))
        })
        .transpose()
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Fails with `Conflict` if the id exists.
    async fn create_workspace(&self, workspace: &Workspace) -> Result<()>;
    async fn get_workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>>;
    /// Whether any workspace exists (the dev server bootstraps one on first start).
    async fn has_workspaces(&self) -> Result<bool>;

    /// Fails with `Conflict` if a key with the same hash exists.
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn find_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>>;

    /// Fails with `Conflict` if the id exists.
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    async fn get_webhook(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
    ) -> Result<Option<WebhookEndpoint>>;
    /// Newest first.
    async fn list_webhooks(
        &self,
        workspace: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<WebhookEndpoint>>;
    /// Replaces the stored endpoint; `NotFound` if it is not in that workspace.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    /// `NotFound` if it is not in that workspace.
    async fn delete_webhook(&self, workspace: WorkspaceId, id: WebhookId) -> Result<()>;
}
