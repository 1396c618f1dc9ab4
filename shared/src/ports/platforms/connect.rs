//! Connecting accounts (SPEC §6–7): the half of a platform adapter that turns a user's consent
//! into tokens — where to send the user, how a code (or, on Bluesky, an app password) becomes
//! tokens, how tokens are refreshed and revoked, whose profile they open, and which channels
//! (profiles, pages, organizations, accounts) that profile can post to.

use std::time::Duration;

use async_trait::async_trait;

use crate::model::channels::ChannelKind;
use crate::model::platforms::InstanceLimits;
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, PlatformError};

/// Posthorn's OAuth client on one platform (from configuration) or on one Mastodon instance
/// (registered there through its apps API).
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub client_id: String,
    /// `None` for public clients (PKCE only).
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// How an account of the platform is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectMethod {
    /// OAuth 2 authorization code; `pkce` says whether the platform takes an S256 challenge
    /// (required on X, supported on Mastodon, LinkedIn and others).
    OAuth { pkce: bool },
    /// An identifier and an app password exchanged for a session (Bluesky).
    AppPassword,
}

/// Where to send the user to consent.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    pub app: &'a OAuthApp,
    /// The platform's (or instance's) base URL.
    pub base_url: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// The S256 challenge, when the platform takes PKCE.
    pub pkce_challenge: Option<&'a str>,
}

/// What the platform redirected back with, to exchange for tokens.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    pub app: &'a OAuthApp,
    pub base_url: &'a str,
    pub redirect_uri: &'a str,
    /// The authorization code; on Bluesky, the app password.
    pub code: &'a str,
    /// On Bluesky, the handle or DID the app password belongs to.
    pub identifier: Option<&'a str>,
    pub pkce_verifier: Option<&'a str>,
}

/// Tokens a platform granted. `refresh_token` is `None` when the platform did not send one:
/// a stored refresh token is then kept, never dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Lifetime of the access token, when the platform says.
    pub expires_in: Option<Duration>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The connected account as the platform describes it (seed 002's profile fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub platform_user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub profile_url: Option<String>,
}

/// A channel the platform lists for a connection.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteChannel {
    pub platform_channel_id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// A token of the channel's own (Facebook page tokens).
    pub channel_token: Option<String>,
}

impl RemoteChannel {
    /// The connected account itself as the one channel it posts to (Mastodon, Bluesky, X,
    /// Threads profiles; Instagram professional accounts).
    pub fn the_account(profile: &Profile, kind: ChannelKind) -> Self {
        Self {
            platform_channel_id: profile.platform_user_id.clone(),
            name: profile.display_name.clone().unwrap_or_else(|| format!("@{}", profile.username)),
            kind,
            channel_token: None,
        }
    }
}

/// One page of the channels the platform lists, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPage {
    pub channels: Vec<RemoteChannel>,
    /// Where the next page starts (opaque to all but the connector); `None` on the last page.
    pub next: Option<String>,
}

impl ChannelPage {
    /// The only page: a platform that lists its channels in one go.
    pub fn only(channels: Vec<RemoteChannel>) -> Self {
        Self { channels, next: None }
    }
}

impl std::fmt::Debug for RemoteChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteChannel")
            .field("platform_channel_id", &self.platform_channel_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One platform's connector. A refresh the platform rejects for good (`invalid_grant` or its
/// equivalent) is an `ErrorCode::AuthExpired` error; other failures keep their usual codes.
#[async_trait]
pub trait Connector: Send + Sync {
    fn platform(&self) -> Platform;
    fn method(&self) -> ConnectMethod;
    /// The platform's base URL when the user names none (Mastodon instances and Bluesky PDSes
    /// are chosen by the user).
    fn default_base_url(&self) -> &str;
    /// The consent page to send the user to. Only for `ConnectMethod::OAuth`.
    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError>;
    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError>;
    /// New tokens for a connection. `refresh_token` is the stored one; platforms without refresh
    /// tokens (Meta) exchange the current access token (`auth.access_token`) instead.
    async fn refresh(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError>;
    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError>;
    /// One page of the channels the connection can post to, from `from` (a page's `next`; `None`
    /// for the first). A page costs at most one call to the platform, so that import-channels
    /// can stop between pages when its time runs out and resume from there. By default the
    /// account itself is the one channel, of kind [`account_kind`](Self::account_kind).
    async fn list_channels(
        &self,
        _auth: &ChannelAuth,
        profile: &Profile,
        _from: Option<&str>,
    ) -> Result<ChannelPage, PlatformError> {
        Ok(ChannelPage::only(vec![RemoteChannel::the_account(profile, self.account_kind())]))
    }

    /// What the account is as a channel, on platforms where it is the only one.
    fn account_kind(&self) -> ChannelKind {
        ChannelKind::Profile
    }
    /// Revokes the grant at the platform, where it allows; `Ok` where it has no revocation.
    /// `refresh_token` is the stored one: revoking it ends the whole grant on OAuth platforms
    /// that have one, and Bluesky ends a session only with it.
    async fn revoke(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<(), PlatformError>;
    /// Registers Posthorn's OAuth client on an instance, for platforms whose apps are per
    /// instance (Mastodon: `POST /api/v1/apps`). `None` where the app comes from configuration.
    async fn register_app(&self, _base_url: &str, _redirect_uri: &str) -> Result<Option<OAuthApp>, PlatformError> {
        Ok(None)
    }

    /// The text limits of the connection's own instance, read at connect and kept on the
    /// connection, for platforms whose instances each set theirs (Mastodon); `None` where the
    /// platform's limits hold for every account.
    async fn instance_limits(&self, _auth: &ChannelAuth) -> Result<Option<InstanceLimits>, PlatformError> {
        Ok(None)
    }
}
