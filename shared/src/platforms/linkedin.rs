//! The LinkedIn adapter (versioned `/rest` Posts API, Rest.li 2.0) posting as the channel's
//! person or organization URN: images through `POST /rest/images?action=initializeUpload` and a
//! `PUT` of the bytes to the returned upload URL, the post through `POST /rest/posts` (its URN
//! comes back in `x-restli-id`), deletion through `DELETE /rest/posts/{urn}`, and likes and
//! comments through `GET /rest/socialActions/{urn}`.

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use super::media::{self, Image};
use super::{ChannelAuth, ErrorCode, Metrics, Platform, PlatformClient, PlatformError, PublishRequest, Published};
use crate::outbound::OutboundClient;

pub const DEFAULT_BASE_URL: &str = "https://api.linkedin.com";
/// The `LinkedIn-Version` (YYYYMM) sent unless [`Linkedin::with_version`] says otherwise; LinkedIn
/// serves each version for about a year.
pub const DEFAULT_VERSION: &str = "202510";
const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";
const POST_ID_HEADER: &str = "x-restli-id";

pub struct Linkedin {
    http: OutboundClient,
    version: String,
}

impl Linkedin {
    pub fn new(http: OutboundClient) -> Self {
        Self { http, version: DEFAULT_VERSION.to_string() }
    }

    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// A `/rest` request with the token and the version headers.
    async fn rest(&self, auth: &ChannelAuth, method: Method, path: &str) -> Result<RequestBuilder, PlatformError> {
        let url = http::endpoint(&auth.base_url, path);
        Ok(http::authorized(&self.http, method, &url, &auth.access_token)
            .await?
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION))
    }

    async fn upload(&self, auth: &ChannelAuth, image: Image) -> Result<PostImage, PlatformError> {
        let body = json!({ "initializeUploadRequest": { "owner": auth.platform_channel_id } });
        let request = self.rest(auth, Method::POST, "/rest/images?action=initializeUpload").await?.json(&body);
        let response = http::send::<Dialect>(&self.http, request).await.map_err(http::as_media_error)?;
        let upload: Value<InitializedUpload> = http::parse_json(&response)?;
        let put = http::authorized(&self.http, Method::PUT, &upload.value.upload_url, &auth.access_token)
            .await?
            .header(CONTENT_TYPE, image.media_type.as_str())
            .body(image.bytes);
        http::send::<Dialect>(&self.http, put).await.map_err(http::as_media_error)?;
        Ok(PostImage { id: upload.value.image, alt_text: image.alt })
    }

    async fn content(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Option<Content>, PlatformError> {
        let mut images = Vec::with_capacity(post.media.len());
        for image in media::fetch_images(&self.http, &post.media).await? {
            images.push(self.upload(auth, image).await?);
        }
        Ok(match images.len() {
            0 => None,
            1 => images.pop().map(Content::Media),
            _ => Some(Content::MultiImage { images }),
        })
    }
}

#[async_trait]
impl PlatformClient for Linkedin {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let body = NewPost {
            author: &auth.platform_channel_id,
            commentary: &post.text,
            visibility: "PUBLIC",
            distribution: Distribution {
                feed_distribution: "MAIN_FEED",
                target_entities: Vec::new(),
                third_party_distribution_channels: Vec::new(),
            },
            content: self.content(auth, post).await?,
            lifecycle_state: "PUBLISHED",
            is_reshare_disabled_by_author: false,
        };
        let request = self.rest(auth, Method::POST, "/rest/posts").await?.json(&body);
        let response = http::send::<Dialect>(&self.http, request).await?;
        let urn = response.headers.get(POST_ID_HEADER).and_then(|value| value.to_str().ok()).ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, format!("the post was created without an {POST_ID_HEADER}"))
        })?;
        Ok(Published { platform_post_id: urn.to_string(), url: Some(post_url(urn)) })
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        let path = format!("/rest/posts/{}", encode_urn(platform_post_id));
        let request = self.rest(auth, Method::DELETE, &path).await?.header("X-RestLi-Method", "DELETE");
        http::send::<Dialect>(&self.http, request).await.map(drop)
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let path = format!("/rest/socialActions/{}", encode_urn(platform_post_id));
        let request = self.rest(auth, Method::GET, &path).await?;
        let actions: SocialActions = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Metrics {
            views: None,
            likes: actions.likes_summary.map(|likes| likes.total_likes),
            comments: actions.comments_summary.map(|comments| comments.aggregated_total_comments),
            shares: None,
        })
    }
}

/// The public page of a post.
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}")
}

/// A URN as one path segment (`urn:li:share:1` → `urn%3Ali%3Ashare%3A1`).
fn encode_urn(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewPost<'a> {
    author: &'a str,
    commentary: &'a str,
    visibility: &'static str,
    distribution: Distribution,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content>,
    lifecycle_state: &'static str,
    is_reshare_disabled_by_author: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Distribution {
    feed_distribution: &'static str,
    target_entities: Vec<String>,
    third_party_distribution_channels: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Content {
    Media(PostImage),
    MultiImage { images: Vec<PostImage> },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostImage {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alt_text: Option<String>,
}

#[derive(Deserialize)]
struct Value<T> {
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializedUpload {
    upload_url: String,
    image: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SocialActions {
    likes_summary: Option<LikesSummary>,
    comments_summary: Option<CommentsSummary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LikesSummary {
    total_likes: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentsSummary {
    aggregated_total_comments: u64,
}

/// LinkedIn errors are `{"message", "status", "serviceErrorCode", "code"?}`.
struct Dialect;

impl ErrorDialect for Dialect {
    const RESET: ResetHeader = ResetHeader::None;

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let text = body.get("message")?.as_str()?;
        let kind = body.get("code").and_then(|c| c.as_str()).map(str::to_string);
        Some(PlatformMessage::new(kind, text))
    }

    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let text = &message.text;
        match status {
            _ if mentions(text, &["token"]) => ErrorCode::AuthExpired,
            403 if mentions(text, &["permission", "access_denied", "not enough"]) => ErrorCode::AuthExpired,
            _ if mentions(text, &["too long", "exceeds", "length"]) => ErrorCode::ContentTooLong,
            _ if mentions(text, &["image", "media", "upload"]) => ErrorCode::InvalidMedia,
            403 | 409 | 422 => ErrorCode::ContentRejected,
            _ if mentions(text, &["duplicate"]) => ErrorCode::ContentRejected,
            _ => ErrorCode::PlatformError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_one_encoded_segment() {
        assert_eq!(encode_urn("urn:li:share:6844785523593134080"), "urn%3Ali%3Ashare%3A6844785523593134080");
    }

    #[test]
    fn content_serializes_as_media_or_multi_image() {
        let one = Content::Media(PostImage { id: "urn:li:image:1".into(), alt_text: Some("a".into()) });
        assert_eq!(serde_json::to_value(one).unwrap(), json!({"media": {"id": "urn:li:image:1", "altText": "a"}}));
        let images = vec![PostImage { id: "urn:li:image:1".into(), alt_text: None }];
        let many = serde_json::to_value(Content::MultiImage { images }).unwrap();
        assert_eq!(many, json!({"multiImage": {"images": [{"id": "urn:li:image:1"}]}}));
    }
}
