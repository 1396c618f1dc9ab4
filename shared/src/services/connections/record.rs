//! How a connection record changes: a grant sealed into it (a refresh token the platform did not
//! replace is kept), and writes as the next version that re-read and re-apply a change when
//! another write got in first, so no write — least of all a rotated token — is lost. A change
//! that fires an event is written in one transaction with it.

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::model::connections::{Connection, SealedApp};
use crate::model::crypto::SecretBox;
use crate::model::error::{Error, Result};
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::platforms::Platform;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{ChannelAuth, ConnectMethod, Connector, OAuthApp, PlatformError, TokenGrant};
use crate::ports::store::{Condition, Outcome, Record, Write};
use crate::services::connections::Accounts;
use crate::services::webhooks::outbox::commit;

/// How often a change is re-applied after losing a race before the write gives up.
const WRITE_ATTEMPTS: u32 = 10;

/// The connector of `platform`: a 400 where none is registered.
pub fn connector(accounts: &Accounts<'_>, platform: Platform) -> Result<Arc<dyn Connector>> {
    accounts
        .platforms
        .connector(platform)
        .cloned()
        .ok_or_else(|| Error::bad_request(format!("platform {} cannot be connected yet", platform.as_str())))
}

/// Seals `grant` into `connection`: new access token, the new refresh token if the platform sent
/// one (else the stored one stays), expiry and scopes.
pub fn apply_grant(secrets: &SecretBox, connection: &mut Connection, grant: &TokenGrant, now: OffsetDateTime) {
    connection.access_token = secrets.seal(&grant.access_token);
    if let Some(refresh_token) = &grant.refresh_token {
        connection.refresh_token = Some(secrets.seal(refresh_token));
    }
    connection.expires_at = grant.expires_in.map(|lifetime| now + lifetime);
    if !grant.scopes.is_empty() {
        connection.scopes = grant.scopes.clone();
    }
}

/// Writes `connection` as its next version: `Conflict` if it changed since it was read.
pub async fn save(accounts: &Accounts<'_>, connection: &mut Connection) -> Result<()> {
    let expected_version = connection.version;
    connection.version += 1;
    connection.updated_at = accounts.clock.now();
    accounts.store.update_connection(connection, expected_version).await
}

/// Reads the connection, lets `change` edit it and writes it, again from a fresh read while
/// another write gets in first. `change` returns whether there is anything to write.
pub async fn update_with(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
    change: impl FnMut(&mut Connection) -> bool,
) -> Result<Connection> {
    update_committing(accounts, workspace, id, change, |_| None).await.map(|(connection, _)| connection)
}

/// Like [`update_with`], and the event `event` names for the connection as changed is written in
/// the same transaction: both or neither. Returns the connection and whether it was written.
pub async fn update_committing(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
    mut change: impl FnMut(&mut Connection) -> bool,
    event: impl Fn(&Connection) -> Option<(EventType, Value)>,
) -> Result<(Connection, bool)> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut connection = get(accounts, workspace, id).await?;
        if !change(&mut connection) {
            return Ok((connection, false));
        }
        let expected = connection.version;
        connection.version += 1;
        connection.updated_at = accounts.clock.now();
        let write = Write::Put(connection.document()?, Condition::Version(expected));
        let written = match event(&connection) {
            Some((event_type, data)) => {
                commit(&accounts.outbox(), vec![write], workspace, event_type, data).await.map(drop)
            }
            None => match accounts.store.write(write).await? {
                Outcome::Written => Ok(()),
                Outcome::Refused { .. } => Err(Error::Conflict(format!("connection {id} changed meanwhile"))),
            },
        };
        match written {
            Ok(()) => return Ok((connection, true)),
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(format!("connection {id} keeps changing; try again")))
}

pub async fn get(accounts: &Accounts<'_>, workspace: WorkspaceId, id: ConnectionId) -> Result<Connection> {
    accounts.store.get_connection(workspace, id).await?.ok_or(Error::NotFound("connection"))
}

/// The base URL, token and account id to call the platform with for `connection`.
pub fn auth_of(accounts: &Accounts<'_>, connection: &Connection) -> Result<ChannelAuth> {
    Ok(ChannelAuth {
        base_url: connection.base_url.clone(),
        access_token: accounts.secrets.open(&connection.access_token)?,
        platform_channel_id: connection.platform_user_id.clone(),
    })
}

/// The stored refresh token, opened.
pub fn refresh_token_of(accounts: &Accounts<'_>, connection: &Connection) -> Result<Option<String>> {
    connection.refresh_token.as_ref().map(|sealed| accounts.secrets.open(sealed)).transpose()
}

/// The OAuth client `connection` was authorized with: its instance's, or the configured one.
/// App-password platforms have none (an empty client).
pub fn app_of(accounts: &Accounts<'_>, connector: &dyn Connector, connection: &Connection) -> Result<OAuthApp> {
    if let Some(app) = &connection.app {
        return open_app(accounts, app);
    }
    match connector.method() {
        ConnectMethod::AppPassword => Ok(no_app()),
        ConnectMethod::OAuth { .. } => configured_app(accounts, connection.platform),
    }
}

/// The configured client of `platform`; a 400 naming the variables to set if there is none.
pub fn configured_app(accounts: &Accounts<'_>, platform: Platform) -> Result<OAuthApp> {
    accounts.platforms.app(platform).cloned().ok_or_else(|| {
        let name = platform.as_str().to_uppercase();
        Error::bad_request(format!(
            "platform {} is not configured: set POSTHORN_{name}_CLIENT_ID and POSTHORN_{name}_CLIENT_SECRET",
            platform.as_str()
        ))
    })
}

/// The client of an app-password platform, which has none.
pub fn no_app() -> OAuthApp {
    OAuthApp { client_id: String::new(), client_secret: None }
}

pub fn seal_app(secrets: &SecretBox, app: &OAuthApp) -> SealedApp {
    SealedApp { client_id: app.client_id.clone(), client_secret: app.client_secret.as_deref().map(|s| secrets.seal(s)) }
}

pub fn open_app(accounts: &Accounts<'_>, app: &SealedApp) -> Result<OAuthApp> {
    let client_secret = app.client_secret.as_ref().map(|sealed| accounts.secrets.open(sealed)).transpose()?;
    Ok(OAuthApp { client_id: app.client_id.clone(), client_secret })
}

/// A platform call that failed while working on a connection: a 422 with the platform's words.
pub fn platform_failed(platform: Platform, error: &PlatformError) -> Error {
    Error::Unprocessable(format!("{} answered: {}", platform.as_str(), error.message))
}
