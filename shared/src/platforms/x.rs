//! The X adapter (API v2) with the user's OAuth 2.0 bearer token: images through
//! `POST /2/media/upload` (alt text through `POST /2/media/metadata`), posts through
//! `POST /2/tweets`, deletion through `DELETE /2/tweets/:id`, and public metrics through
//! `GET /2/tweets/:id?tweet.fields=public_metrics`.

use async_trait::async_trait;
use reqwest::Method;
use reqwest::multipart::Form;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use super::media::{self, Image};
use super::{ChannelAuth, ErrorCode, Metrics, Platform, PlatformClient, PlatformError, PublishRequest, Published};
use crate::outbound::OutboundClient;

pub const DEFAULT_BASE_URL: &str = "https://api.x.com";
/// The media category of images attached to posts.
const IMAGE_CATEGORY: &str = "tweet_image";

pub struct X {
    http: OutboundClient,
}

impl X {
    pub fn new(http: OutboundClient) -> Self {
        Self { http }
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
        for image in media::fetch_images(&self.http, &post.media).await? {
            media_ids.push(self.upload(auth, image).await?);
        }
        let body = NewTweet { text: &post.text, media: (!media_ids.is_empty()).then_some(MediaIds { media_ids }) };
        let url = http::endpoint(&auth.base_url, "/2/tweets");
        let request = http::authorized(&self.http, Method::POST, &url, &auth.access_token).await?.json(&body);
        let created: Data<Created> = http::send_json::<Dialect, _>(&self.http, request).await?;
        let url = format!("https://x.com/i/web/status/{}", created.data.id);
        Ok(Published { platform_post_id: created.data.id, url: Some(url) })
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
            shares: Some(figures.retweet_count + figures.quote_count),
        })
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

#[derive(Deserialize)]
struct PublicMetrics {
    #[serde(default)]
    retweet_count: u64,
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

    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let text = &message.text;
        match status {
            _ if mentions(text, &["too long", "length"]) => ErrorCode::ContentTooLong,
            400 if mentions(text, &["media"]) => ErrorCode::InvalidMedia,
            403 if mentions(text, &["token", "unauthorized"]) => ErrorCode::AuthExpired,
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
