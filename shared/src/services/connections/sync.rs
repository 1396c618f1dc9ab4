//! Keeping a connection's tokens fresh at the moment of use (SPEC §7). Whoever calls a platform
//! for a connection — /sync, import-channels, publishing, metrics — goes through
//! [`with_fresh_token`]: a token expiring within [`REFRESH_MARGIN`] is refreshed first, and a
//! token the platform refuses anyway is refreshed once and the call made once more. Refreshes of
//! one connection never run at once: a refresh first takes a lease on the connection with a
//! conditional write, and every other caller waits for it and then uses the tokens it stored, so
//! a single-use refresh token (X, TikTok, Bluesky) is never spent twice. Only a refresh the
//! platform refuses for good marks the connection expired and emits token.expired, once: only the
//! write that moves the connection from active to expired emits. A token the platform says was
//! revoked (the user removed Posthorn's access there) ends the connection the same way after one
//! refresh attempt, as `revoked`, with account.disconnected (`reason: "revoked_on_platform"`).

use std::future::Future;
use std::time::Duration;

use time::OffsetDateTime;

use crate::model::channels::Channel;
use crate::model::connections::{Connection, ConnectionStatus};
use crate::model::error::{Error, Result};
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::platforms::{ErrorCode, Platform};
use crate::model::webhooks::EventType;
use crate::ports::platforms::{ChannelAuth, PlatformError};
use crate::services::connections::Accounts;
use crate::services::connections::connect::set_profile;
use crate::services::connections::events;
use crate::services::connections::record::{
    app_of, apply_grant, auth_of, connector, get, platform_failed, refresh_token_of, save, update_committing,
    update_with,
};

/// Tokens expiring sooner than this are refreshed.
pub const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);
/// How long a refresh may hold a connection; a sync that died is overtaken after it.
const REFRESH_LEASE: time::Duration = time::Duration::seconds(60);
const LEASE_POLL: Duration = Duration::from_millis(50);
/// How long a caller waits for another one's refresh: that refresh is one platform call.
pub const MAX_LEASE_WAIT: Duration = crate::adapters::outbound::REQUEST_TIMEOUT;

/// Refreshes the tokens if they expire soon, re-reads the profile and stores both.
pub async fn sync(accounts: &Accounts<'_>, workspace: WorkspaceId, id: ConnectionId) -> Result<Connection> {
    let connection = get(accounts, workspace, id).await?;
    let connector = connector(accounts, connection.platform)?;
    let profile = with_fresh_token(accounts, &connection, None, |auth| {
        let connector = connector.clone();
        async move { connector.profile(&auth).await }
    })
    .await?;
    update_with(accounts, workspace, id, |connection| {
        set_profile(connection, &profile);
        true
    })
    .await
}

/// Why a call for a connection failed.
#[derive(Debug)]
pub enum CallError {
    /// The connection is expired or revoked: the user must reconnect. `ended_now` when this call
    /// ended it (and so emitted token.expired or account.disconnected).
    Ended { status: ConnectionStatus, message: String, ended_now: bool },
    /// The platform failed the call, or a refresh for a reason that may pass.
    Platform(Platform, PlatformError),
    /// The store or the sealed secrets failed.
    Internal(Error),
}

impl From<Error> for CallError {
    fn from(error: Error) -> Self {
        Self::Internal(error)
    }
}

/// For the API: an expired connection or a platform's refusal is a 422 saying so.
impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Ended { message, .. } => Error::Unprocessable(message),
            CallError::Platform(platform, error) => platform_failed(platform, &error),
            CallError::Internal(error) => error,
        }
    }
}

/// For a post's target or a metrics reading: the platform's error, `auth_expired` or
/// `auth_revoked` when the connection has ended.
impl From<CallError> for PlatformError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Ended { status: ConnectionStatus::Revoked, message, .. } => {
                PlatformError::new(ErrorCode::AuthRevoked, message)
            }
            CallError::Ended { message, .. } => PlatformError::new(ErrorCode::AuthExpired, message),
            CallError::Platform(_, error) => error,
            CallError::Internal(error) => PlatformError::new(ErrorCode::PlatformError, error.to_string()),
        }
    }
}

/// Calls the platform for `connection` (as `channel`, where a channel has its own token, else as
/// the account) with a token fresh at the moment of use: refreshed first when it expires within
/// [`REFRESH_MARGIN`]; when the platform refuses it all the same, refreshed once more under the
/// lease and the call made once more. A token the platform says was revoked, refused again
/// after that refresh (or with no refresh possible), revokes the connection.
pub async fn with_fresh_token<T, F, Fut>(
    accounts: &Accounts<'_>,
    connection: &Connection,
    channel: Option<&Channel>,
    call: F,
) -> Result<T, CallError>
where
    F: Fn(ChannelAuth) -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    let fresh = fresh_connection(accounts, connection.workspace_id, connection.id).await?;
    let platform = fresh.platform;
    match call(auth_as(accounts, &fresh, channel)?).await {
        Err(refusal) if refusal.code.is_refused_token() => {
            let renewed = refreshed_after_refusal(accounts, &fresh, &refusal).await?;
            match call(auth_as(accounts, &renewed, channel)?).await {
                Err(again) if again.code == ErrorCode::AuthRevoked => {
                    Err(end(accounts, &renewed, ConnectionStatus::Revoked, &again).await?)
                }
                outcome => outcome.map_err(|error| CallError::Platform(platform, error)),
            }
        }
        outcome => outcome.map_err(|error| CallError::Platform(platform, error)),
    }
}

/// The base URL, token and id to call the platform with: the channel's own token where it has
/// one (a Facebook page), else the account's.
fn auth_as(accounts: &Accounts<'_>, connection: &Connection, channel: Option<&Channel>) -> Result<ChannelAuth> {
    let mut auth = auth_of(accounts, connection)?;
    if let Some(channel) = channel {
        if let Some(token) = &channel.channel_token {
            auth.access_token = accounts.secrets.open(token)?;
        }
        auth.platform_channel_id = channel.platform_channel_id.clone();
    }
    Ok(auth)
}

/// The connection with tokens valid beyond the margin, refreshed under the lease if need be.
pub async fn fresh_connection(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
) -> Result<Connection, CallError> {
    refreshed_if(accounts, workspace, id, ConnectionStatus::Expired, needs_refresh).await
}

/// After the platform refused `seen`'s access token: the connection with a new one, refreshed
/// under the lease — or the one another refresh stored meanwhile. A refused refresh ends the
/// connection as expired, or as revoked when the platform said the token was revoked.
async fn refreshed_after_refusal(
    accounts: &Accounts<'_>,
    seen: &Connection,
    refusal: &PlatformError,
) -> Result<Connection, CallError> {
    let ending = match refusal.code {
        ErrorCode::AuthRevoked => ConnectionStatus::Revoked,
        _ => ConnectionStatus::Expired,
    };
    refreshed_if(accounts, seen.workspace_id, seen.id, ending, |connection, _| {
        connection.access_token == seen.access_token
    })
    .await
}

/// The connection, refreshed first under the lease if `stale` says its tokens need it; a
/// refused refresh ends it as `ending`.
async fn refreshed_if(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: ConnectionId,
    ending: ConnectionStatus,
    stale: impl Fn(&Connection, OffsetDateTime) -> bool,
) -> Result<Connection, CallError> {
    let started = tokio::time::Instant::now();
    loop {
        let connection = get(accounts, workspace, id).await?;
        if connection.status != ConnectionStatus::Active {
            let message = ended_message(&connection);
            return Err(CallError::Ended { status: connection.status, message, ended_now: false });
        }
        let now = accounts.clock.now();
        if !stale(&connection, now) {
            return Ok(connection);
        }
        if connection.refresh_lease_until.is_some_and(|until| until > now) {
            if started.elapsed() > MAX_LEASE_WAIT {
                let message = format!("a refresh of connection {id} is still running; try again");
                return Err(CallError::Internal(Error::Conflict(message)));
            }
            tokio::time::sleep(LEASE_POLL).await;
            continue;
        }
        let mut claimed = connection;
        claimed.refresh_lease_until = Some(now + REFRESH_LEASE);
        match save(accounts, &mut claimed).await {
            Ok(()) => return refresh(accounts, claimed, ending).await,
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

fn needs_refresh(connection: &Connection, now: OffsetDateTime) -> bool {
    connection.expires_at.is_some_and(|at| at - now < REFRESH_MARGIN)
}

/// Refreshes a connection this sync holds the lease of, and releases it.
async fn refresh(
    accounts: &Accounts<'_>,
    claimed: Connection,
    ending: ConnectionStatus,
) -> Result<Connection, CallError> {
    let connector = connector(accounts, claimed.platform)?;
    let app = app_of(accounts, connector.as_ref(), &claimed)?;
    let refresh_token = refresh_token_of(accounts, &claimed)?;
    let outcome = connector.refresh(&app, &auth_of(accounts, &claimed)?, refresh_token.as_deref()).await;
    let now = accounts.clock.now();
    match outcome {
        Ok(grant) => {
            let renewed = update_with(accounts, claimed.workspace_id, claimed.id, |connection| {
                apply_grant(accounts.secrets, connection, &grant, now);
                connection.refresh_lease_until = None;
                true
            })
            .await?;
            Ok(renewed)
        }
        Err(error) if error.code == ErrorCode::AuthRevoked => {
            Err(end(accounts, &claimed, ConnectionStatus::Revoked, &error).await?)
        }
        Err(error) if error.code.is_refused_token() => Err(end(accounts, &claimed, ending, &error).await?),
        Err(error) => {
            release(accounts, &claimed).await?;
            Err(CallError::Platform(claimed.platform, error))
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

/// Ends the connection as `ending` (expired or revoked) — unless a reconnect gave it new tokens
/// meanwhile — and fires token.expired or account.disconnected if this call is the one that
/// ended it. Returns the error for the caller.
async fn end(
    accounts: &Accounts<'_>,
    seen: &Connection,
    ending: ConnectionStatus,
    error: &PlatformError,
) -> Result<CallError> {
    let end_if_unchanged = |connection: &mut Connection| {
        let same_tokens = connection.access_token == seen.access_token;
        let ending_now = same_tokens && connection.status == ConnectionStatus::Active;
        if ending_now {
            connection.status = ending;
            connection.refresh_lease_until = None;
        }
        ending_now
    };
    let announce = |connection: &Connection| match ending {
        ConnectionStatus::Revoked => {
            Some((EventType::AccountDisconnected, events::revoked_on_platform(connection, &error.message)))
        }
        _ => Some((EventType::TokenExpired, events::token_expired(connection, &error.message))),
    };
    let (_, ended_now) = update_committing(accounts, seen.workspace_id, seen.id, end_if_unchanged, announce).await?;
    let said = format!("{} said {}", seen.platform.as_str(), error.message);
    let message = match ending {
        ConnectionStatus::Revoked => {
            format!("access to connection {} was revoked on the platform: {said}; reconnect the account", seen.id)
        }
        _ => format!("connection {} expired: {said}; reconnect the account", seen.id),
    };
    Ok(CallError::Ended { status: ending, message, ended_now })
}

fn ended_message(connection: &Connection) -> String {
    match connection.status {
        ConnectionStatus::Revoked => {
            format!("access to connection {} was revoked on the platform; reconnect the account", connection.id)
        }
        _ => format!("connection {} has expired; reconnect the account", connection.id),
    }
}
