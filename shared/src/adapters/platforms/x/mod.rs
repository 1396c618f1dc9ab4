//! The X adapter (API v2) with the user's OAuth 2.0 bearer token: images through
//! `POST /2/media/upload` (alt text through `POST /2/media/metadata`), a video through the
//! chunked upload, streamed and resumable (`video`), posts through
//! `POST /2/tweets`, deletion through `DELETE /2/tweets/:id`, and public metrics through
//! `GET /2/tweets/:id?tweet.fields=public_metrics`. Accounts connect through OAuth 2.0
//! Authorization Code with PKCE (<https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code>):
//! consent on x.com, tokens from `POST /2/oauth2/token` (refresh tokens are single-use: each
//! refresh returns the next one), the user from `GET /2/users/me`, revocation through
//! `POST /2/oauth2/revoke`.
//!
//! The inbox reads the mentions timeline and DM events (`inbox`).

mod inbox;
mod video;

pub use video::VideoUpload;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::multipart::Form;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use crate::adapters::platforms::media::{self, Image};
use crate::adapters::platforms::oauth::{self, ClientAuth, TokenEndpoint};
use crate::model::platforms::{ErrorCode, MediaKind, Metrics, Platform};
use crate::ports::platforms::connect::{
    AuthorizeRequest, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, TokenGrant,
};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

pub const DEFAULT_BASE_URL: &str = "https://api.x.com";
/// Where the consent page is, unless [`X::with_oauth_base`] says otherwise.
pub const DEFAULT_OAUTH_BASE: &str = "https://x.com";
/// Posting with images, reading the profile, metrics and mentions, a refresh token
/// (`offline.access`), and reading and answering DMs (`dm.read dm.write`).
pub const SCOPES: &str = "tweet.read tweet.write users.read offline.access media.write dm.read dm.write";
/// The media category of images attached to posts.
const IMAGE_CATEGORY: &str = "tweet_image";

pub struct X {
    http: OutboundClient,
    oauth_base: String,
    video: VideoUpload,
}

impl X {
    pub fn new(http: OutboundClient) -> Self {
        Self { http, oauth_base: DEFAULT_OAUTH_BASE.to_string(), video: VideoUpload::default() }
    }

    /// How videos are cut into segments and how many one try uploads (tests use small ones).
    pub fn with_video_upload(mut self, upload: VideoUpload) -> Self {
        self.video = upload;
        self
    }

    /// Where the consent page (`/i/oauth2/authorize`) is: a fake in tests.
    pub fn with_oauth_base(mut self, url: impl Into<String>) -> Self {
        self.oauth_base = url.into();
        self
    }

    fn token_endpoint<'a>(&'a self, base_url: &str, path: &str, app: &'a OAuthApp) -> TokenEndpoint<'a> {
        let url = http::endpoint(base_url, path);
        TokenEndpoint { http: &self.http, url, app, client_auth: ClientAuth::BasicOrPublic }
    }

    async fn upload(&self, auth: &ChannelAuth, image: Image) -> Result<String, PlatformError> {
        let (file, alt) = image.into_file_part()?;
        let form = Form::new().part("media", file).text("media_category", IMAGE_CATEGORY);
        let url = http::endpoint(&auth.base_url, "/2/media/upload");
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.multipart(form);
        let response = http::send::<Dialect>(&self.http, request).await.map_err(http::as_media_error)?;
        let uploaded: Data<UploadedMedia> = http::parse_json(&response)?;
        if let Some(alt) = alt {
            self.describe(auth, &uploaded.data.id, &alt).await?;
        }
        Ok(uploaded.data.id)
    }

    async fn describe(&self, auth: &ChannelAuth, media_id: &str, alt: &str) -> Result<(), PlatformError> {
        let url = http::endpoint(&auth.base_url, "/2/media/metadata");
        let body = json!({ "id": media_id, "metadata": { "alt_text": { "text": alt } } });
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.json(&body);
        http::send::<Dialect>(&self.http, request).await.map(drop).map_err(http::as_media_error)
    }

    async fn create_tweet(&self, auth: &ChannelAuth, tweet: &NewTweet<'_>) -> Result<Published, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/2/tweets");
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.json(tweet);
        let created: Data<Created> = http::send_json::<Dialect, _>(&self.http, request).await?;
        let url = format!("https://x.com/i/web/status/{}", created.data.id);
        Ok(Published { platform_post_id: created.data.id, url: Some(url) })
    }

    async fn tweet(&self, auth: &ChannelAuth, id: &str) -> Result<Tweet, PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/2/tweets/{id}"));
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token)
            .await?
            .query(&[("tweet.fields", "public_metrics")]);
        let found: Lookup = http::send_json::<Dialect, _>(&self.http, request).await?;
        match (found.data, found.errors) {
            (Some(tweet), _) => Ok(tweet),
            (None, errors) => Err(PlatformError::new(ErrorCode::PlatformError, problems_text(&errors, id))),
        }
    }
}

#[async_trait]
impl PlatformClient for X {
    fn platform(&self) -> Platform {
        Platform::X
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let mut media_ids = Vec::with_capacity(post.media.len());
        if let Some(clip) = post.media.iter().find(|item| item.kind == Some(MediaKind::Video)) {
            let step = post.resume_from.as_deref().and_then(video::VideoStep::parse);
            let uploader = video::Uploader { http: &self.http, auth, upload: self.video };
            media_ids.push(uploader.advance(clip, step).await?);
        } else {
            for image in media::fetch_images(&self.http, &post.media, &Platform::X.limits().images).await? {
                media_ids.push(self.upload(auth, image).await?);
            }
        }
        let media = (!media_ids.is_empty()).then_some(MediaIds { media_ids });
        self.create_tweet(auth, &NewTweet { text: &post.text, media, reply: None }).await
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/2/tweets/{platform_post_id}"));
        let request = http::authorized(&self.http, Method::DELETE, &url, &auth.access_token).await?;
        let answer: Data<Deleted> = http::send_json::<Dialect, _>(&self.http, request).await?;
        if answer.data.deleted {
            Ok(())
        } else {
            Err(PlatformError::new(ErrorCode::PlatformError, format!("post {platform_post_id} was not deleted")))
        }
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let figures = self.tweet(auth, platform_post_id).await?.public_metrics;
        Ok(Metrics {
            views: figures.impression_count,
            likes: Some(figures.like_count),
            comments: Some(figures.reply_count),
            shares: Some(figures.repost_count + figures.quote_count),
        })
    }
}

#[async_trait]
impl Connector for X {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: true }
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        let challenge = request
            .pkce_challenge
            .ok_or_else(|| PlatformError::new(ErrorCode::PlatformError, "X requires a PKCE code challenge"))?;
        let page = http::endpoint(&self.oauth_base, "/i/oauth2/authorize");
        let query =
            oauth::authorization_query(request.app, request.redirect_uri, SCOPES, request.state, Some(challenge));
        oauth::url_with_query(&page, &query)
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        let verifier = exchange
            .pkce_verifier
            .ok_or_else(|| PlatformError::new(ErrorCode::PlatformError, "X requires the PKCE code verifier"))?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("code_verifier", verifier),
        ];
        self.token_endpoint(exchange.base_url, "/2/oauth2/token", exchange.app).grant(&form).await
    }

    async fn refresh(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", oauth::stored_refresh_token(refresh_token)?)];
        self.token_endpoint(&auth.base_url, "/2/oauth2/token", app).grant(&form).await
    }

    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/2/users/me");
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token)
            .await?
            .query(&[("user.fields", "profile_image_url,name,username")]);
        let me: Data<User> = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Profile {
            profile_url: Some(format!("https://x.com/{}", me.data.username)),
            platform_user_id: me.data.id,
            username: me.data.username,
            display_name: me.data.name,
            avatar_url: me.data.profile_image_url,
        })
    }

    async fn revoke(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        _refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        let form = [("token", auth.access_token.as_str()), ("token_type_hint", "access_token")];
        let response = self.token_endpoint(&auth.base_url, "/2/oauth2/revoke", app).post(&form).await?;
        let answer: Revoked = http::parse_json(&response)?;
        if answer.revoked {
            Ok(())
        } else {
            Err(PlatformError::new(ErrorCode::PlatformError, "X answered that the token was not revoked"))
        }
    }
}

/// The details of the `errors` X returns beside (or instead of) `data`.
fn problems_text(errors: &[Problem], id: &str) -> String {
    let details: Vec<&str> = errors.iter().filter_map(Problem::text).collect();
    if details.is_empty() { format!("post {id} was not found") } else { details.join("; ") }
}

#[derive(Serialize)]
struct NewTweet<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<MediaIds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<InReplyTo<'a>>,
}

#[derive(Serialize)]
struct InReplyTo<'a> {
    in_reply_to_tweet_id: &'a str,
}

#[derive(Serialize)]
struct MediaIds {
    media_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct UploadedMedia {
    id: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: String,
    name: Option<String>,
    profile_image_url: Option<String>,
}

#[derive(Deserialize)]
struct Revoked {
    revoked: bool,
}

#[derive(Deserialize)]
struct Deleted {
    deleted: bool,
}

#[derive(Deserialize)]
struct Lookup {
    data: Option<Tweet>,
    #[serde(default)]
    errors: Vec<Problem>,
}

#[derive(Deserialize)]
struct Tweet {
    public_metrics: PublicMetrics,
}

/// `PostPublicMetrics` of X's OpenAPI document: reposts are `repost_count` (formerly
/// `retweet_count`, still read from older answers).
#[derive(Deserialize)]
struct PublicMetrics {
    #[serde(default, alias = "retweet_count")]
    repost_count: u64,
    #[serde(default)]
    reply_count: u64,
    #[serde(default)]
    like_count: u64,
    #[serde(default)]
    quote_count: u64,
    impression_count: Option<u64>,
}

/// One entry of an `errors` array: v2 problems have `detail`/`title`, v1.1-style errors `message`.
#[derive(Deserialize)]
struct Problem {
    detail: Option<String>,
    message: Option<String>,
    title: Option<String>,
}

impl Problem {
    fn text(&self) -> Option<&str> {
        self.detail.as_deref().or(self.message.as_deref()).or(self.title.as_deref())
    }
}

/// X errors are RFC 7807-style problems (`title`, `detail`, `type`), sometimes with an `errors`
/// array of details, or v1.1-style `{"errors": [{"code", "message"}]}`.
struct Dialect;

impl ErrorDialect for Dialect {
    const RESET: ResetHeader = ResetHeader::EpochSeconds("x-rate-limit-reset");

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let title = body.get("title").and_then(|t| t.as_str()).map(str::to_string);
        let first_error = body.pointer("/errors/0").and_then(|e| e.get("message").or_else(|| e.get("detail")));
        let detail = first_error.or_else(|| body.get("detail")).and_then(|d| d.as_str());
        let text = detail.map(str::to_string).or_else(|| title.clone())?;
        Some(PlatformMessage::new(title, text))
    }

    /// A refused token is a 401; a 403 is the content or a permission the app or token lacks,
    /// never an expired connection.
    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let text = &message.text;
        match status {
            _ if mentions(text, &["too long", "length"]) => ErrorCode::ContentTooLong,
            400 if mentions(text, &["media"]) => ErrorCode::InvalidMedia,
            403 if mentions(text, &["not permitted", "unsupported authentication", "client-not-enrolled"]) => {
                ErrorCode::PlatformError
            }
            403 => ErrorCode::ContentRejected,
            413 => ErrorCode::InvalidMedia,
            _ => ErrorCode::PlatformError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: serde_json::Value) -> PlatformMessage {
        Dialect::message(&body).unwrap()
    }

    #[test]
    fn problems_and_v1_errors_are_read() {
        let problem = read(
            json!({"title": "Forbidden", "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "status": 403}),
        );
        assert_eq!(problem.text, "You are not allowed to create a Tweet with duplicate content.");
        assert_eq!(Dialect::classify(403, &problem), ErrorCode::ContentRejected);
        let v1 = read(json!({"errors": [{"code": 88, "message": "Rate limit exceeded"}]}));
        assert_eq!(v1.text, "Rate limit exceeded");
    }
}
