//! How the Meta platforms turn consent into tokens. Meta grants no refresh tokens: a connection
//! lives on a long-lived user token (about 60 days) that is exchanged again to extend it.
//! Facebook Login trades the code for a short-lived token and that for a long-lived one, both at
//! the Graph API's `GET /oauth/access_token`. Threads and Instagram API with Instagram Login POST
//! the code to `/oauth/access_token`, exchange the short-lived token at the unversioned
//! `GET /access_token` and refresh the long-lived one at `GET /refresh_access_token`. Errors are
//! Meta's (`graph`): code 190 on an exchange or refresh is an expired connection.

use std::time::Duration;

use serde::Deserialize;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::graph;
use crate::adapters::platforms::oauth::{self, split_scopes};
use crate::model::platforms::ErrorCode;
use crate::ports::platforms::PlatformError;
use crate::ports::platforms::connect::{AuthorizeRequest, CodeExchange, OAuthApp, TokenGrant};

/// Meta's exchanges all need the app secret: its apps are confidential clients.
pub(crate) fn app_secret(app: &OAuthApp) -> Result<&str, PlatformError> {
    app.client_secret
        .as_deref()
        .ok_or_else(|| PlatformError::new(ErrorCode::PlatformError, "Meta's token exchanges need the app secret"))
}

/// `{"access_token", "token_type": "bearer", "expires_in"}`.
#[derive(Deserialize)]
struct AccessToken {
    access_token: String,
    expires_in: Option<u64>,
}

impl AccessToken {
    fn into_grant(self, scopes: Vec<String>) -> TokenGrant {
        TokenGrant {
            access_token: self.access_token,
            refresh_token: None,
            expires_in: self.expires_in.map(Duration::from_secs),
            scopes,
        }
    }
}

/// `{"data": [{"permission": "pages_show_list", "status": "granted"}, …]}`.
#[derive(Deserialize)]
struct Permissions {
    data: Vec<Permission>,
}

#[derive(Deserialize)]
struct Permission {
    permission: String,
    status: String,
}

/// Facebook Login's token exchanges, at the versioned Graph API `base_url`.
pub(crate) struct FacebookLogin<'a> {
    pub http: &'a OutboundClient,
    pub base_url: &'a str,
    pub app: &'a OAuthApp,
}

impl FacebookLogin<'_> {
    /// The code for a short-lived user token, that for a long-lived one, and the permissions the
    /// user granted (Facebook's token answers do not list them).
    pub(crate) async fn exchange_code(&self, redirect_uri: &str, code: &str) -> Result<TokenGrant, PlatformError> {
        let query = [
            ("client_id", self.app.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_secret", app_secret(self.app)?),
            ("code", code),
        ];
        let short: AccessToken =
            graph::get_public(self.http, self.base_url, &["oauth", "access_token"], &query).await?;
        let mut grant = self.extend(&short.access_token).await?;
        grant.scopes = self.granted(&grant.access_token).await?;
        Ok(grant)
    }

    /// `GET /me/permissions`: the permissions whose status is `granted`.
    async fn granted(&self, token: &str) -> Result<Vec<String>, PlatformError> {
        let query = [("access_token", token)];
        let permissions: Permissions =
            graph::get_public(self.http, self.base_url, &["me", "permissions"], &query).await?;
        Ok(permissions
            .data
            .into_iter()
            .filter(|permission| permission.status == "granted")
            .map(|permission| permission.permission)
            .collect())
    }

    /// A long-lived user token for `token` (short- or long-lived, still valid).
    pub(crate) async fn extend(&self, token: &str) -> Result<TokenGrant, PlatformError> {
        let query = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", app_secret(self.app)?),
            ("fb_exchange_token", token),
        ];
        let long: AccessToken = graph::get_public(self.http, self.base_url, &["oauth", "access_token"], &query).await?;
        Ok(long.into_grant(Vec::new()))
    }
}

/// The code exchange answer: Threads' `{"access_token", "user_id"}`; Instagram's is the same
/// with `permissions` (a list, or a comma-separated string), or wrapped in a `data` array.
#[derive(Deserialize)]
#[serde(untagged)]
enum CodeAnswer {
    Listed { data: Vec<ShortLived> },
    Flat(ShortLived),
}

#[derive(Deserialize)]
struct ShortLived {
    access_token: String,
    permissions: Option<serde_json::Value>,
}

impl ShortLived {
    fn permissions(&self) -> Vec<String> {
        match &self.permissions {
            Some(serde_json::Value::String(joined)) => split_scopes(joined),
            Some(serde_json::Value::Array(listed)) => {
                listed.iter().filter_map(|permission| permission.as_str().map(str::to_string)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The login of Threads and of Instagram API with Instagram Login: the permissions asked for
/// and one pair of grant types.
pub(crate) struct LongLivedLogin {
    /// Comma-separated.
    pub scopes: &'static str,
    /// `th_exchange_token` or `ig_exchange_token`.
    pub exchange_grant: &'static str,
    /// `th_refresh_token` or `ig_refresh_token`.
    pub refresh_grant: &'static str,
}

impl LongLivedLogin {
    /// The authorization window at `{oauth_base}/oauth/authorize`.
    pub(crate) fn authorization_url(
        &self,
        oauth_base: &str,
        request: &AuthorizeRequest<'_>,
    ) -> Result<String, PlatformError> {
        let page = format!("{}/oauth/authorize", oauth_base.trim_end_matches('/'));
        let query = oauth::authorization_query(request.app, request.redirect_uri, self.scopes, request.state, None);
        oauth::url_with_query(&page, &query)
    }

    /// POSTs the code to `{token_base}/oauth/access_token`, then exchanges the short-lived token
    /// at the API of `exchange.base_url` for a long-lived one.
    pub(crate) async fn exchange_code(
        &self,
        http: &OutboundClient,
        token_base: &str,
        exchange: &CodeExchange<'_>,
    ) -> Result<TokenGrant, PlatformError> {
        let secret = app_secret(exchange.app)?;
        let form = [
            ("client_id", exchange.app.client_id.as_str()),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", exchange.redirect_uri),
            ("code", exchange.code),
        ];
        let answer: CodeAnswer = graph::post_public(http, token_base, &["oauth", "access_token"], &form).await?;
        let short = match answer {
            CodeAnswer::Flat(short) => short,
            CodeAnswer::Listed { data } => data.into_iter().next().ok_or_else(|| {
                PlatformError::new(ErrorCode::PlatformError, "the code exchange answered no access token")
            })?,
        };
        let query =
            [("grant_type", self.exchange_grant), ("client_secret", secret), ("access_token", &short.access_token)];
        let root = graph::unversioned(exchange.base_url);
        let long: AccessToken = graph::get_public(http, root, &["access_token"], &query).await?;
        Ok(long.into_grant(short.permissions()))
    }

    /// A fresh long-lived token for `token` (at least a day old and not yet expired).
    pub(crate) async fn refresh(
        &self,
        http: &OutboundClient,
        base_url: &str,
        token: &str,
    ) -> Result<TokenGrant, PlatformError> {
        let query = [("grant_type", self.refresh_grant), ("access_token", token)];
        let root = graph::unversioned(base_url);
        let long: AccessToken = graph::get_public(http, root, &["refresh_access_token"], &query).await?;
        Ok(long.into_grant(Vec::new()))
    }
}
