//! The Mastodon adapter: statuses on the channel's instance (`auth.base_url`) with the user's
//! bearer token. Images go up through `POST /api/v2/media` (alt text as `description`); an upload
//! still processing (202) is polled at `GET /api/v1/media/:id`, boundedly, until it has its `url`.
//! Statuses carry the target's key as `Idempotency-Key`, so a retried publish posts once while
//! two posts with the same text are two statuses.
//!
//! Connecting: Posthorn registers itself on each instance (`POST /api/v1/apps`), sends the user
//! to `/oauth/authorize` with an S256 PKCE challenge (Mastodon 4.3+; older instances ignore
//! it), exchanges the code at `POST /oauth/token`, reads the account from
//! `GET /api/v1/accounts/verify_credentials` and revokes with `POST /oauth/revoke`. The
//! account itself is the one channel.
//!
//! The inbox is read from notifications (`inbox`).

mod inbox;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::multipart::Form;
use serde::Deserialize;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use crate::adapters::platforms::media::{self, Image};
use crate::adapters::platforms::oauth::{self, authorization_query, client_fields, url_with_query};
use crate::model::platforms::InstanceLimits;
use crate::model::platforms::limits::{MASTODON_DEFAULT_MAX_CHARACTERS, MASTODON_DEFAULT_URL_WEIGHT};
use crate::model::platforms::{ErrorCode, Metrics, Platform};
use crate::ports::platforms::{
    AuthorizeRequest, ChannelAuth, CodeExchange, ConnectMethod, Connector, OAuthApp, PlatformClient, PlatformError,
    Profile, PublishRequest, Published, TokenGrant,
};

pub const DEFAULT_BASE_URL: &str = "https://mastodon.social";
/// What Posthorn asks of an account: read it and its statuses, post statuses and media.
pub const SCOPES: &str = "read write";
const APP_NAME: &str = "Posthorn";

/// How often, and how many times, an upload still processing is checked.
const PROCESSING_POLL_INTERVAL: Duration = Duration::from_millis(500);
const PROCESSING_POLL_ATTEMPTS: u32 = 20;

pub struct Mastodon {
    http: OutboundClient,
}

impl Mastodon {
    pub fn new(http: OutboundClient) -> Self {
        Self { http }
    }

    async fn upload(&self, auth: &ChannelAuth, image: Image) -> Result<String, PlatformError> {
        let (file, alt) = image.into_file_part()?;
        let mut form = Form::new().part("file", file);
        if let Some(alt) = alt {
            form = form.text("description", alt);
        }
        let url = http::endpoint(&auth.base_url, "/api/v2/media");
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.multipart(form);
        let response = http::send::<Dialect>(&self.http, request).await.map_err(http::as_media_error)?;
        let attachment: Attachment = http::parse_json(&response)?;
        match attachment.url {
            Some(_) => Ok(attachment.id),
            None => self.wait_until_processed(auth, attachment.id).await,
        }
    }

    /// Polls an attachment until the instance has processed it (it then has a `url`).
    async fn wait_until_processed(&self, auth: &ChannelAuth, id: String) -> Result<String, PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/api/v1/media/{id}"));
        for _ in 0..PROCESSING_POLL_ATTEMPTS {
            tokio::time::sleep(PROCESSING_POLL_INTERVAL).await;
            let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?;
            let response = http::send::<Dialect>(&self.http, request).await.map_err(http::as_media_error)?;
            if http::parse_json::<Attachment>(&response)?.url.is_some() {
                return Ok(id);
            }
        }
        let waited = PROCESSING_POLL_INTERVAL * PROCESSING_POLL_ATTEMPTS;
        Err(PlatformError::new(
            ErrorCode::PlatformUnavailable,
            format!("media {id} was still processing after {}s", waited.as_secs()),
        ))
    }

    async fn status(&self, auth: &ChannelAuth, id: &str) -> Result<Status, PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/api/v1/statuses/{id}"));
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?;
        http::send_json::<Dialect, _>(&self.http, request).await
    }
}

#[async_trait]
impl PlatformClient for Mastodon {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let mut media_ids = Vec::with_capacity(post.media.len());
        for image in media::fetch_images(&self.http, &post.media, &Platform::Mastodon.limits().images).await? {
            media_ids.push(self.upload(auth, image).await?);
        }
        let url = http::endpoint(&auth.base_url, "/api/v1/statuses");
        let body = NewStatus { status: &post.text, media_ids };
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token)
            .await?
            .header("Idempotency-Key", &post.target_key)
            .json(&body);
        let status: Status = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Published { platform_post_id: status.id, url: status.url })
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/api/v1/statuses/{platform_post_id}"));
        let request = http::authorized(&self.http, Method::DELETE, &url, &auth.access_token).await?;
        http::send::<Dialect>(&self.http, request).await.map(drop)
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let status = self.status(auth, platform_post_id).await?;
        Ok(Metrics {
            views: None,
            likes: Some(status.favourites_count),
            comments: Some(status.replies_count),
            shares: Some(status.reblogs_count),
        })
    }
}

#[async_trait]
impl Connector for Mastodon {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: true }
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        let query =
            authorization_query(request.app, request.redirect_uri, SCOPES, request.state, request.pkce_challenge);
        url_with_query(&http::endpoint(request.base_url, "/oauth/authorize"), &query)
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        let mut form = client_fields(exchange.app);
        form.extend([
            ("grant_type", "authorization_code"),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("scope", SCOPES),
        ]);
        if let Some(verifier) = exchange.pkce_verifier {
            form.push(("code_verifier", verifier));
        }
        oauth::token_request(&self.http, &http::endpoint(exchange.base_url, "/oauth/token"), &form).await
    }

    async fn refresh(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError> {
        let refresh_token = refresh_token.ok_or_else(|| {
            PlatformError::new(ErrorCode::AuthExpired, "the instance issued no refresh token; reconnect the account")
        })?;
        let mut form = client_fields(app);
        form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh_token)]);
        oauth::token_request(&self.http, &http::endpoint(&auth.base_url, "/oauth/token"), &form).await
    }

    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/api/v1/accounts/verify_credentials");
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?;
        let account: Account = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Profile {
            platform_user_id: account.id,
            username: account.username,
            display_name: account.display_name.filter(|name| !name.is_empty()),
            avatar_url: account.avatar,
            profile_url: account.url,
        })
    }

    async fn revoke(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        _refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        let mut form = client_fields(app);
        form.push(("token", auth.access_token.as_str()));
        oauth::form_request(&self.http, &http::endpoint(&auth.base_url, "/oauth/revoke"), &form).await
    }

    async fn register_app(&self, base_url: &str, redirect_uri: &str) -> Result<Option<OAuthApp>, PlatformError> {
        let url = http::endpoint(base_url, "/api/v1/apps");
        let body = NewApp { client_name: APP_NAME, redirect_uris: redirect_uri, scopes: SCOPES };
        let request = self.http.request(Method::POST, &url).await.map_err(http::transport_error)?.json(&body);
        let app: RegisteredApp = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Some(OAuthApp { client_id: app.client_id, client_secret: Some(app.client_secret) }))
    }

    /// `configuration.statuses` of `GET /api/v2/instance`: the instance's status length and
    /// what a link counts (<https://docs.joinmastodon.org/methods/instance/#v2>).
    async fn instance_limits(&self, auth: &ChannelAuth) -> Result<Option<InstanceLimits>, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/api/v2/instance");
        let request = self.http.request(Method::GET, &url).await.map_err(http::transport_error)?;
        let instance: Instance = http::send_json::<Dialect, _>(&self.http, request).await?;
        let statuses = instance.configuration.statuses;
        Ok(Some(InstanceLimits {
            max_characters: statuses.max_characters,
            characters_reserved_per_url: statuses.characters_reserved_per_url,
        }))
    }
}

#[derive(Deserialize)]
struct Instance {
    configuration: InstanceConfiguration,
}

#[derive(Deserialize)]
struct InstanceConfiguration {
    statuses: StatusesConfiguration,
}

#[derive(Deserialize)]
struct StatusesConfiguration {
    #[serde(default = "default_max_characters")]
    max_characters: usize,
    #[serde(default = "default_url_weight")]
    characters_reserved_per_url: usize,
}

fn default_max_characters() -> usize {
    MASTODON_DEFAULT_MAX_CHARACTERS
}

fn default_url_weight() -> usize {
    MASTODON_DEFAULT_URL_WEIGHT
}

#[derive(serde::Serialize)]
struct NewApp<'a> {
    client_name: &'a str,
    redirect_uris: &'a str,
    scopes: &'a str,
}

#[derive(Deserialize)]
struct RegisteredApp {
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    username: String,
    display_name: Option<String>,
    avatar: Option<String>,
    url: Option<String>,
}

#[derive(serde::Serialize)]
struct NewStatus<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    media_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Attachment {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    url: Option<String>,
    #[serde(default)]
    favourites_count: u64,
    #[serde(default)]
    reblogs_count: u64,
    #[serde(default)]
    replies_count: u64,
}

/// Mastodon errors are `{"error": "…"}` (plus `error_description` for OAuth failures).
struct Dialect;

impl ErrorDialect for Dialect {
    const RESET: ResetHeader = ResetHeader::Rfc3339("x-ratelimit-reset");

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let error = body.get("error")?.as_str()?;
        let text = body.get("error_description").and_then(|d| d.as_str()).unwrap_or(error);
        Some(PlatformMessage::new(None, text))
    }

    /// A refused token is a 401; a 403 about scopes is a permission the token lacks, which
    /// is not an expired connection.
    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let text = &message.text;
        match status {
            403 if mentions(text, &["scope"]) => ErrorCode::PlatformError,
            413 => ErrorCode::InvalidMedia,
            422 if mentions(text, &["character limit", "too long"]) => ErrorCode::ContentTooLong,
            422 if mentions(text, &["file", "media"]) => ErrorCode::InvalidMedia,
            403 | 422 => ErrorCode::ContentRejected,
            _ => ErrorCode::PlatformError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, text: &str) -> ErrorCode {
        Dialect::classify(status, &PlatformMessage::new(None, text))
    }

    #[test]
    fn documented_errors_map_to_codes() {
        assert_eq!(classify(422, "Validation failed: Text character limit of 500 exceeded"), ErrorCode::ContentTooLong);
        assert_eq!(classify(422, "Validation failed: File content type is invalid"), ErrorCode::InvalidMedia);
        assert_eq!(classify(403, "This action is outside the authorized scopes"), ErrorCode::PlatformError);
        assert_eq!(classify(403, "Your login is currently disabled"), ErrorCode::ContentRejected);
        assert_eq!(classify(404, "Record not found"), ErrorCode::PlatformError);
    }
}
