//! Connecting a Bluesky account: no OAuth, an app password. `com.atproto.server.createSession`
//! (identifier + app password) gives an access and a refresh JWT; `refreshSession`, called with
//! the refresh JWT as bearer, rotates both (the old refresh JWT is then spent);
//! `getSession` (+ `app.bsky.actor.getProfile` for the display name and avatar) reads the
//! account; `deleteSession`, again with the refresh JWT, ends the session. The account's DID is
//! its one channel.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::adapters::platforms::Bluesky;
use crate::adapters::platforms::bluesky::{DEFAULT_BASE_URL, Dialect};
use crate::adapters::platforms::http;
use crate::model::platforms::{ErrorCode, Platform};
use crate::ports::platforms::{
    AuthorizeRequest, ChannelAuth, CodeExchange, ConnectMethod, Connector, OAuthApp, PlatformError, Profile, TokenGrant,
};

impl Bluesky {
    /// A POST of an XRPC procedure with `token` as bearer and an optional JSON body.
    async fn procedure<T: for<'de> Deserialize<'de>>(
        &self,
        base_url: &str,
        method: &str,
        token: Option<&str>,
        body: Option<&CreateSession<'_>>,
    ) -> Result<Option<T>, PlatformError> {
        let url = http::endpoint(base_url, &format!("/xrpc/{method}"));
        let mut request = self.http.request(Method::POST, &url).await.map_err(http::transport_error)?;
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = http::send::<Dialect>(&self.http, request).await?;
        if response.body.is_empty() { Ok(None) } else { http::parse_json(&response).map(Some) }
    }

    async fn session(
        &self,
        base_url: &str,
        method: &str,
        token: Option<&str>,
        body: Option<&CreateSession<'_>>,
    ) -> Result<TokenGrant, PlatformError> {
        let session: Session = self.procedure(base_url, method, token, body).await?.ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, format!("{method} answered with no session"))
        })?;
        Ok(TokenGrant {
            expires_in: lifetime(&session.access_jwt),
            access_token: session.access_jwt,
            refresh_token: Some(session.refresh_jwt),
            scopes: Vec::new(),
        })
    }

    async fn query<T: for<'de> Deserialize<'de>>(
        &self,
        auth: &ChannelAuth,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<T, PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/xrpc/{method}"));
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?.query(query);
        http::send_json::<Dialect, _>(&self.http, request).await
    }
}

#[async_trait]
impl Connector for Bluesky {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::AppPassword
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, _request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        Err(PlatformError::new(ErrorCode::PlatformError, "bluesky connects with an app password, not a consent page"))
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        let identifier = exchange.identifier.ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, "bluesky needs the handle the app password belongs to")
        })?;
        let body = CreateSession { identifier, password: exchange.code };
        self.session(exchange.base_url, "com.atproto.server.createSession", None, Some(&body)).await
    }

    async fn refresh(
        &self,
        _app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError> {
        let refresh_token = refresh_token
            .ok_or_else(|| PlatformError::new(ErrorCode::AuthExpired, "the session has no refresh token"))?;
        self.session(&auth.base_url, "com.atproto.server.refreshSession", Some(refresh_token), None).await
    }

    /// The session's DID and handle; the display name and avatar where the PDS can reach an
    /// AppView for the profile (a bare PDS cannot, and the account is still usable).
    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let session: SessionInfo = self.query(auth, "com.atproto.server.getSession", &[]).await?;
        let details = self.query::<ActorProfile>(auth, "app.bsky.actor.getProfile", &[("actor", &session.did)]).await;
        let details = match details {
            Ok(details) => details,
            Err(error) if error.code == ErrorCode::AuthExpired => return Err(error),
            Err(_) => ActorProfile::default(),
        };
        Ok(Profile {
            profile_url: Some(format!("https://bsky.app/profile/{}", session.handle)),
            platform_user_id: session.did,
            username: session.handle,
            display_name: details.display_name.filter(|name| !name.is_empty()),
            avatar_url: details.avatar,
        })
    }

    async fn revoke(
        &self,
        _app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        let Some(refresh_token) = refresh_token else {
            return Ok(());
        };
        self.procedure::<serde_json::Value>(
            &auth.base_url,
            "com.atproto.server.deleteSession",
            Some(refresh_token),
            None,
        )
        .await
        .map(drop)
    }
}

/// How long a JWT is valid from now, read from its `exp` claim (the signature is the PDS's
/// business; this only schedules the refresh).
fn lifetime(jwt: &str) -> Option<Duration> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()?;
    let left = claims.exp - OffsetDateTime::now_utc().unix_timestamp();
    Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
}

#[derive(Serialize)]
struct CreateSession<'a> {
    identifier: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_jwt: String,
    refresh_jwt: String,
}

#[derive(Deserialize)]
struct SessionInfo {
    did: String,
    handle: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActorProfile {
    display_name: Option<String>,
    avatar: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    exp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lifetime_from_the_exp_claim() {
        let exp = OffsetDateTime::now_utc().unix_timestamp() + 7200;
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"scope":"com.atproto.access","exp":{exp}}}"#));
        let left = lifetime(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln")).unwrap();
        assert!(left > Duration::from_secs(7100) && left <= Duration::from_secs(7200), "{left:?}");
        assert_eq!(lifetime("not-a-jwt"), None);
    }
}
