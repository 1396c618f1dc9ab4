//! The dev server's start-up: its generated encryption key, kept under the data directory, and
//! the first workspace, API key and sandbox channels, created and printed once on first start.

use std::io::Write;
use std::path::Path;

use crate::app::AppState;
use crate::config::Config;
use crate::model::channels::Channel;
use crate::model::crypto::EncryptionKey;
use crate::model::error::{Error, Result};
use crate::services::connections::create_sandbox_channels;
use crate::services::workspaces::create_workspace_with_key;

const KEY_FILE: &str = "encryption.key";

/// The configured key, or the one generated on the first start and kept in the data directory.
pub fn encryption_key(config: &Config) -> Result<EncryptionKey> {
    if let Some(key) = &config.encryption_key {
        return Ok(key.clone());
    }
    let path = config.data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => EncryptionKey::from_base64(&text)
            .map_err(|problem| Error::Internal(format!("{} {problem}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => write_new_key(&path),
        Err(error) => Err(Error::internal("reading the dev encryption key", error)),
    }
}

fn write_new_key(path: &Path) -> Result<EncryptionKey> {
    let key = EncryptionKey::generate();
    let io_error = |error| Error::internal("writing the dev encryption key", error);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(key.to_base64().as_bytes()).map_err(io_error)?;
    Ok(key)
}

/// What the first start created: the API key to show once, and the sandbox channels.
pub struct Bootstrap {
    pub api_key: String,
    pub sandbox_channels: Vec<Channel>,
}

/// On the first start (no workspace yet), creates one with an API key and three sandbox
/// channels.
pub async fn bootstrap(state: &AppState) -> Result<Option<Bootstrap>> {
    if state.store.has_workspaces().await? {
        return Ok(None);
    }
    let now = state.clock.now();
    let (workspace, api_key) = create_workspace_with_key(state.store.as_ref(), "Default workspace", now).await?;
    let sandbox_channels = create_sandbox_channels(state.store.as_ref(), &state.secrets, workspace.id, 3, now).await?;
    Ok(Some(Bootstrap { api_key, sandbox_channels }))
}

/// Every HTTP function's routes, as the dev server mounts them on one port.
pub fn http_functions() -> Vec<crate::api::FunctionRoutes> {
    vec![
        crate::api::webhooks::routes(),
        crate::api::posts::routes(),
        crate::api::assist::text_assist_routes(),
        crate::api::assist::media_assist_routes(),
        crate::api::automations::routes(),
        crate::api::automations::generate_content_routes(),
        crate::api::connections::connect_routes(),
        crate::api::connections::sync_routes(),
        crate::api::connections::import_routes(),
        crate::api::connections::connections_routes(),
        crate::api::inbox::inbox_routes(),
        crate::api::platform_webhooks::platform_webhooks_routes(),
        crate::api::keys::routes(),
    ]
}
