//! The connect flow: the consent URL with a single-use `state` (bound to the workspace, valid
//! for [`STATE_LIFETIME`]) and a PKCE challenge where the platform takes one; then the callback,
//! which takes the state, exchanges the code (or a Bluesky app password) for tokens, reads the
//! profile and stores the connection — updating the one of the same account on a reconnect — and
//! emits account.connected. A failure at any step stores nothing.

use time::OffsetDateTime;

use crate::adapters::platforms::pkce::{Pkce, new_state};
use crate::model::connections::{Connection, ConnectionStatus, SealedApp};
use crate::model::connections::{InstanceApp, OAuthState};
use crate::model::error::{Error, Result};
use crate::model::ids::{ConnectionId, WorkspaceId};
use crate::model::platforms::InstanceLimits;
use crate::model::platforms::Platform;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{
    AuthorizeRequest, ChannelAuth, CodeExchange, ConnectMethod, Connector, OAuthApp, PlatformError, Profile, TokenGrant,
};
use crate::ports::store::{Condition, PageRequest, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::events;
use crate::services::connections::record::{
    apply_grant, configured_app, connector, no_app, open_app, seal_app, update_committing,
};
use crate::services::webhooks::outbox::commit;

/// How long a consent may take.
pub const STATE_LIFETIME: time::Duration = time::Duration::minutes(10);
const MAX_URL_CHARS: usize = 2_000;

/// Where to send the user, and the state the callback must bring back.
pub struct Authorization {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: OffsetDateTime,
}

/// The consent URL for `platform`, with a new state stored for the callback.
pub async fn authorize(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    platform: Platform,
    redirect_uri: &str,
    base_url: Option<&str>,
) -> Result<Authorization> {
    let connector = connector(accounts, platform)?;
    let ConnectMethod::OAuth { pkce } = connector.method() else {
        return Err(Error::bad_request(format!(
            "{} connects with an app password: POST /functions/v1/connect with identifier and app_password",
            platform.as_str()
        )));
    };
    check_url("redirect_uri", redirect_uri)?;
    let base_url = base_url_for(accounts, connector.as_ref(), base_url)?;
    let (app, _) = app_for(accounts, workspace, connector.as_ref(), &base_url, redirect_uri).await?;
    let pkce = pkce.then(Pkce::generate);
    let value = new_state();
    let request = AuthorizeRequest {
        app: &app,
        base_url: &base_url,
        redirect_uri,
        state: &value,
        pkce_challenge: pkce.as_ref().map(|pair| pair.challenge.as_str()),
    };
    let authorization_url = connector.authorization_url(&request).map_err(|e| refused(platform, &e))?;
    let expires_at = (accounts.clock.now() + STATE_LIFETIME).replace_nanosecond(0).unwrap_or(accounts.clock.now());
    let record = OAuthState {
        state: value.clone(),
        workspace_id: workspace,
        platform,
        redirect_uri: redirect_uri.to_string(),
        base_url,
        pkce_verifier: pkce.map(|pair| accounts.secrets.seal(&pair.verifier)),
        expires_at,
    };
    accounts.store.create_oauth_state(&record).await?;
    Ok(Authorization { authorization_url, state: value, expires_at })
}

/// What the callback brings: a code and the state (OAuth), or an identifier and app password.
pub struct Callback {
    pub platform: Platform,
    pub code: Option<String>,
    pub state: Option<String>,
    pub identifier: Option<String>,
    pub app_password: Option<String>,
    pub base_url: Option<String>,
}

/// The stored connection, and whether it is new (not a reconnect).
pub struct Connected {
    pub connection: Connection,
    pub created: bool,
}

/// Completes a connection: tokens, profile, the stored record, account.connected.
pub async fn complete(accounts: &Accounts<'_>, workspace: WorkspaceId, callback: Callback) -> Result<Connected> {
    let platform = callback.platform;
    let connector = connector(accounts, platform)?;
    let granted = match connector.method() {
        ConnectMethod::OAuth { .. } => exchange_code(accounts, workspace, connector.as_ref(), &callback).await?,
        ConnectMethod::AppPassword => sign_in(accounts, connector.as_ref(), &callback).await?,
    };
    let auth = ChannelAuth {
        base_url: granted.base_url.clone(),
        access_token: granted.grant.access_token.clone(),
        platform_channel_id: String::new(),
    };
    let profile = connector.profile(&auth).await.map_err(|e| refused(platform, &e))?;
    let instance_limits = instance_limits(connector.as_ref(), &auth).await;
    store(accounts, workspace, platform, granted, profile, instance_limits).await
}

/// The instance's own text limits; an instance that does not say keeps the platform's, rather
/// than failing the connection.
async fn instance_limits(connector: &dyn Connector, auth: &ChannelAuth) -> Option<InstanceLimits> {
    connector.instance_limits(auth).await.unwrap_or_else(|error| {
        tracing::warn!(platform = connector.platform().as_str(), error = %error, "the instance's limits could not be read");
        None
    })
}

/// Tokens and where they are valid.
struct Granted {
    grant: TokenGrant,
    base_url: String,
    /// The instance's client, to keep on the connection (Mastodon).
    app: Option<SealedApp>,
}

async fn exchange_code(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    connector: &dyn Connector,
    callback: &Callback,
) -> Result<Granted> {
    let platform = callback.platform;
    let value = required("state", callback.state.as_deref())?;
    let code = required("code", callback.code.as_deref())?;
    let pending = accounts
        .store
        .take_oauth_state(workspace, value)
        .await?
        .ok_or_else(|| Error::bad_request("state is unknown or was already used; start the connection again"))?;
    if pending.platform != platform {
        return Err(Error::bad_request(format!(
            "state was issued for {}, not {}",
            pending.platform.as_str(),
            platform.as_str()
        )));
    }
    if pending.expires_at <= accounts.clock.now() {
        return Err(Error::bad_request("state expired; start the connection again"));
    }
    let (app, stored_app) = app_for(accounts, workspace, connector, &pending.base_url, &pending.redirect_uri).await?;
    let verifier = pending.pkce_verifier.as_ref().map(|sealed| accounts.secrets.open(sealed)).transpose()?;
    let exchange = CodeExchange {
        app: &app,
        base_url: &pending.base_url,
        redirect_uri: &pending.redirect_uri,
        code,
        identifier: None,
        pkce_verifier: verifier.as_deref(),
    };
    let grant = connector.exchange_code(&exchange).await.map_err(|e| refused(platform, &e))?;
    Ok(Granted { grant, base_url: pending.base_url, app: stored_app })
}

async fn sign_in(accounts: &Accounts<'_>, connector: &dyn Connector, callback: &Callback) -> Result<Granted> {
    let identifier = required("identifier", callback.identifier.as_deref())?;
    let password = required("app_password", callback.app_password.as_deref())?;
    let base_url = base_url_for(accounts, connector, callback.base_url.as_deref())?;
    let app = no_app();
    let exchange = CodeExchange {
        app: &app,
        base_url: &base_url,
        redirect_uri: "",
        code: password,
        identifier: Some(identifier),
        pkce_verifier: None,
    };
    let grant = connector.exchange_code(&exchange).await.map_err(|e| refused(callback.platform, &e))?;
    Ok(Granted { grant, base_url, app: None })
}

/// Stores the connection: the workspace's connection of the same account is updated (its
/// refresh token kept if the grant has none), else a new one is created.
async fn store(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    platform: Platform,
    granted: Granted,
    profile: Profile,
    instance_limits: Option<InstanceLimits>,
) -> Result<Connected> {
    let now = accounts.clock.now();
    let fill = |connection: &mut Connection| {
        apply_grant(accounts.secrets, connection, &granted.grant, now);
        set_profile(connection, &profile);
        connection.instance_limits = instance_limits;
        connection.base_url = granted.base_url.clone();
        if granted.app.is_some() {
            connection.app = granted.app.clone();
        }
        connection.status = ConnectionStatus::Active;
        connection.refresh_lease_until = None;
    };
    if let Some(existing) = find_account(accounts, workspace, platform, &profile.platform_user_id).await? {
        let refill = |connection: &mut Connection| {
            fill(connection);
            true
        };
        let reconnected =
            |connection: &Connection| Some((EventType::AccountConnected, events::connected(connection, true)));
        let (connection, _) = update_committing(accounts, workspace, existing, refill, reconnected).await?;
        return Ok(Connected { connection, created: false });
    }
    let access_token = accounts.secrets.seal(&granted.grant.access_token);
    let mut connection = Connection::new(workspace, platform, access_token, now);
    fill(&mut connection);
    let creation = Write::Put(connection.document()?, Condition::Absent);
    let data = events::connected(&connection, false);
    commit(&accounts.outbox(), vec![creation], workspace, EventType::AccountConnected, data).await?;
    Ok(Connected { connection, created: true })
}

/// Copies what the platform says about the account onto the connection.
pub fn set_profile(connection: &mut Connection, profile: &Profile) {
    connection.platform_user_id = profile.platform_user_id.clone();
    connection.username = profile.username.clone();
    connection.display_name = profile.display_name.clone();
    connection.avatar_url = profile.avatar_url.clone();
    connection.profile_url = profile.profile_url.clone();
}

/// The workspace's connection of this account on this platform, if any.
async fn find_account(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    platform: Platform,
    platform_user_id: &str,
) -> Result<Option<ConnectionId>> {
    let mut cursor = None;
    loop {
        let page = accounts.store.list_connections(workspace, PageRequest { limit: 100, cursor }).await?;
        let found = page.items.iter().find(|c| c.platform == platform && c.platform_user_id == platform_user_id);
        if let Some(connection) = found {
            return Ok(Some(connection.id));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(None);
        }
    }
}

/// The API to connect at: the user's instance where the platform lets them choose one (Mastodon,
/// Bluesky), else the configured or default one.
fn base_url_for(accounts: &Accounts<'_>, connector: &dyn Connector, chosen: Option<&str>) -> Result<String> {
    let platform = connector.platform();
    match chosen {
        Some(url) if matches!(platform, Platform::Mastodon | Platform::Bluesky) => {
            check_url("base_url", url)?;
            Ok(url.trim_end_matches('/').to_string())
        }
        Some(_) => Err(Error::bad_request(format!(
            "base_url is accepted for mastodon and bluesky only, not {}",
            platform.as_str()
        ))),
        None => Ok(accounts.platforms.base_url(platform).unwrap_or_else(|| connector.default_base_url()).to_string()),
    }
}

/// The OAuth client for a consent at `base_url`: the configured one, or the one registered on
/// that instance (registered now if there is none yet). Also returns the latter sealed, to keep
/// on the connection.
async fn app_for(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    connector: &dyn Connector,
    base_url: &str,
    redirect_uri: &str,
) -> Result<(OAuthApp, Option<SealedApp>)> {
    let platform = connector.platform();
    if let Some(app) = accounts.platforms.app(platform) {
        return Ok((app.clone(), None));
    }
    let key = InstanceApp::key(platform, base_url, redirect_uri);
    if let Some(stored) = accounts.store.get_instance_app(workspace, &key).await? {
        return Ok((open_app(accounts, &stored.app)?, Some(stored.app)));
    }
    let Some(app) = connector.register_app(base_url, redirect_uri).await.map_err(|e| refused(platform, &e))? else {
        return configured_app(accounts, platform).map(|app| (app, None));
    };
    let sealed = seal_app(accounts.secrets, &app);
    let record = InstanceApp {
        workspace_id: workspace,
        platform,
        base_url: base_url.to_string(),
        redirect_uri: redirect_uri.to_string(),
        app: sealed.clone(),
        created_at: accounts.clock.now(),
    };
    accounts.store.put_instance_app(&record).await?;
    Ok((app, Some(sealed)))
}

fn required<'a>(field: &str, value: Option<&'a str>) -> Result<&'a str> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| Error::bad_request(format!("{field} is required")))
}

/// An absolute http(s) URL of sensible length.
fn check_url(field: &str, value: &str) -> Result<()> {
    let parsed = url::Url::parse(value).map_err(|_| Error::bad_request(format!("{field} must be an absolute URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || value.len() > MAX_URL_CHARS {
        return Err(Error::bad_request(format!(
            "{field} must be an http(s) URL of at most {MAX_URL_CHARS} characters"
        )));
    }
    Ok(())
}

/// The platform refused a step of the connection: a 400 with its reason.
fn refused(platform: Platform, error: &PlatformError) -> Error {
    Error::bad_request(format!("{} refused the connection: {}", platform.as_str(), error.message))
}
