//! Keeping a connection's tokens fresh (SPEC §7): tokens expiring within [`REFRESH_MARGIN`] are
//! refreshed by one sync at a time — it first takes a lease on the connection with a conditional
//! write, and every other sync waits for it and then uses the tokens it stored — so a single-use
//! refresh token (X, TikTok, Bluesky) is never spent twice. A refresh the platform rejects for
//! good marks the connection expired and emits token.expired, once: only the write that moves the
//! connection from active to expired emits.

use std::time::Duration;

use time::OffsetDateTime;

use crate::model::connections::{Connection, ConnectionStatus};
use crate::model::error::{Error, Result};
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::platforms::ErrorCode;
use crate::model::webhooks::EventType;
use crate::ports::platforms::PlatformError;
use crate::services::connections::Accounts;
use crate::services::connections::connect::set_profile;
use crate::services::connections::events;
use crate::services::connections::record::{
    app_of, apply_grant, auth_of, connector, get, platform_failed, refresh_token_of, save, update_with,
};
use crate::services::webhooks::outbox::emit;

/// Tokens expiring sooner than this are refreshed.
pub const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);
/// How long a refresh may hold a connection; a sync that died is overtaken after it.
const REFRESH_LEASE: time::Duration = time::Duration::seconds(60);
const LEASE_POLL: Duration = Duration::from_millis(50);
/// How long a sync waits for another one's refresh.
const MAX_LEASE_WAIT: Duration = Duration::from_secs(30);

/// Refreshes the tokens if they expire soon, re-reads the profile and stores both.
pub async fn sync(accounts: &Accounts<'_>, workspace: WorkspaceId, id: ConnectionId) -> Result<Connection> {
    let connection = fresh_connection(accounts, workspace, id).await?;
    let connector = connector(accounts, connection.platform)?;
    let profile = match connector.profile(&auth_of(accounts, &connection)?).await {
        Ok(profile) => profile,
        Err(error) if error.code == ErrorCode::AuthExpired => {
            return Err(expire(accounts, &connection, &error).await?);
        }
        Err(error) => return Err(platform_failed(connection.platform, &error)),
    };
    update_with(accounts, workspace, id, |connection| {
        set_profile(connection, &profile);
        true
    })
    .await
}

/// The connection with tokens valid beyond the margin, refreshed under the lease if need be.
pub async fn fresh_connection(accounts: &Accounts<'_>, workspace: WorkspaceId, id: ConnectionId) -> Result<Connection> {
    let started = tokio::time::Instant::now();
    loop {
        let connection = get(accounts, workspace, id).await?;
        if connection.status == ConnectionStatus::Expired {
            return Err(expired_error(&connection));
        }
        let now = accounts.clock.now();
        if !needs_refresh(&connection, now) {
            return Ok(connection);
        }
        if connection.refresh_lease_until.is_some_and(|until| until > now) {
            if started.elapsed() > MAX_LEASE_WAIT {
                return Err(Error::Conflict(format!("a refresh of connection {id} is still running; try again")));
            }
            tokio::time::sleep(LEASE_POLL).await;
            continue;
        }
        let mut claimed = connection;
        claimed.refresh_lease_until = Some(now + REFRESH_LEASE);
        match save(accounts, &mut claimed).await {
            Ok(()) => return refresh(accounts, claimed).await,
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
}

fn needs_refresh(connection: &Connection, now: OffsetDateTime) -> bool {
    connection.expires_at.is_some_and(|at| at - now < REFRESH_MARGIN)
}

/// Refreshes a connection this sync holds the lease of, and releases it.
async fn refresh(accounts: &Accounts<'_>, claimed: Connection) -> Result<Connection> {
    let connector = connector(accounts, claimed.platform)?;
    let app = app_of(accounts, connector.as_ref(), &claimed)?;
    let refresh_token = refresh_token_of(accounts, &claimed)?;
    let outcome = connector.refresh(&app, &auth_of(accounts, &claimed)?, refresh_token.as_deref()).await;
    let now = accounts.clock.now();
    match outcome {
        Ok(grant) => {
            update_with(accounts, claimed.workspace_id, claimed.id, |connection| {
                apply_grant(accounts.secrets, connection, &grant, now);
                connection.refresh_lease_until = None;
                true
            })
            .await
        }
        Err(error) if error.code == ErrorCode::AuthExpired => Err(expire(accounts, &claimed, &error).await?),
        Err(error) => {
            release(accounts, &claimed).await?;
            Err(platform_failed(claimed.platform, &error))
        }
    }
}

/// Drops this sync's lease, unless a reconnect replaced the tokens meanwhile.
async fn release(accounts: &Accounts<'_>, claimed: &Connection) -> Result<()> {
    update_with(accounts, claimed.workspace_id, claimed.id, |connection| {
        let ours = connection.refresh_lease_until == claimed.refresh_lease_until;
        connection.refresh_lease_until = None;
        ours
    })
    .await
    .map(drop)
}

/// Marks the connection expired — unless a reconnect gave it new tokens meanwhile — and emits
/// token.expired if this call is the one that expired it. Returns the error for the caller.
async fn expire(accounts: &Accounts<'_>, seen: &Connection, error: &PlatformError) -> Result<Error> {
    let mut expired_now = false;
    let connection = update_with(accounts, seen.workspace_id, seen.id, |connection| {
        let same_tokens = connection.access_token == seen.access_token;
        expired_now = same_tokens && connection.status == ConnectionStatus::Active;
        if same_tokens {
            connection.status = ConnectionStatus::Expired;
            connection.refresh_lease_until = None;
        }
        expired_now
    })
    .await?;
    if expired_now {
        let data = events::token_expired(&connection, &error.message);
        emit(&accounts.outbox(), connection.workspace_id, EventType::TokenExpired, data).await?;
    }
    Ok(Error::Unprocessable(format!(
        "connection {} expired: {} said {}; reconnect the account",
        seen.id,
        seen.platform.as_str(),
        error.message
    )))
}

fn expired_error(connection: &Connection) -> Error {
    Error::Unprocessable(format!("connection {} has expired; reconnect the account", connection.id))
}
