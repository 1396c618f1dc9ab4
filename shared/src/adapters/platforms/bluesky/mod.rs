//! The Bluesky adapter (AT Protocol) against the channel's PDS (`auth.base_url`) with the
//! session's access JWT: images as blobs (`com.atproto.repo.uploadBlob`), the post as an
//! `app.bsky.feed.post` record in the repo of the channel's DID (`com.atproto.repo.createRecord`)
//! with link, mention and tag facets at UTF-8 byte offsets (`bluesky_richtext`; handles resolved
//! through `com.atproto.identity.resolveHandle`) and an `app.bsky.embed.images` embed carrying
//! alt text. The post id kept is the record's `at://` URI; its rkey deletes it. The inbox
//! (notifications and chat) is in [`inbox`].

mod inbox;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::adapters::outbound::{FullResponse, OutboundClient};
use crate::adapters::platforms::bluesky_richtext::{self, ByteSlice, Facet, Feature, Found};
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use crate::adapters::platforms::language;
use crate::adapters::platforms::media::{self, Image};
use crate::model::platforms::{ErrorCode, Metrics, Platform};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

pub const DEFAULT_BASE_URL: &str = "https://bsky.social";
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

pub struct Bluesky {
    pub(super) http: OutboundClient,
}

impl Bluesky {
    pub fn new(http: OutboundClient) -> Self {
        Self { http }
    }

    /// A call of XRPC `method` on the channel's PDS with the session's access JWT.
    async fn xrpc(&self, auth: &ChannelAuth, verb: Method, method: &str) -> Result<RequestBuilder, PlatformError> {
        let url = http::endpoint(&auth.base_url, &format!("/xrpc/{method}"));
        http::authorized(&self.http, verb, &url, &auth.access_token).await
    }

    async fn upload_blob(&self, auth: &ChannelAuth, image: Image) -> Result<EmbeddedImage, PlatformError> {
        let request = self
            .xrpc(auth, Method::POST, "com.atproto.repo.uploadBlob")
            .await?
            .header(CONTENT_TYPE, image.media_type.as_str())
            .body(image.bytes);
        let response = http::send::<Dialect>(&self.http, request).await.map_err(http::as_media_error)?;
        let uploaded: UploadedBlob = http::parse_json(&response)?;
        let aspect_ratio = image.dimensions.map(|(width, height)| AspectRatio { width, height });
        Ok(EmbeddedImage { alt: image.alt.unwrap_or_default(), image: uploaded.blob, aspect_ratio })
    }

    async fn embed(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Option<Embed>, PlatformError> {
        if post.media.is_empty() {
            return Ok(None);
        }
        let mut images = Vec::with_capacity(post.media.len());
        for image in media::fetch_images(&self.http, &post.media, &Platform::Bluesky.limits().images).await? {
            images.push(self.upload_blob(auth, image).await?);
        }
        Ok(Some(Embed { kind: "app.bsky.embed.images", images }))
    }

    /// The text's facets; a mention whose handle does not resolve is left as plain text, as
    /// the official clients leave it.
    async fn facets(&self, auth: &ChannelAuth, text: &str) -> Vec<Facet> {
        let mut facets = Vec::new();
        for (range, found) in bluesky_richtext::detect(text) {
            let feature = match found {
                Found::Link { uri } => Feature::Link { uri },
                Found::Tag { tag } => Feature::Tag { tag },
                Found::Mention { handle } => match self.resolve_handle(auth, &handle).await {
                    Some(did) => Feature::Mention { did },
                    None => continue,
                },
            };
            facets.push(Facet { index: ByteSlice::from(range), features: vec![feature] });
        }
        facets
    }

    async fn resolve_handle(&self, auth: &ChannelAuth, handle: &str) -> Option<String> {
        let request =
            self.xrpc(auth, Method::GET, "com.atproto.identity.resolveHandle").await.ok()?.query(&[("handle", handle)]);
        let resolved: ResolvedHandle = http::send_json::<Dialect, _>(&self.http, request).await.ok()?;
        Some(resolved.did)
    }

    async fn xrpc_post<B: Serialize>(
        &self,
        auth: &ChannelAuth,
        method: &str,
        body: &B,
    ) -> Result<FullResponse, PlatformError> {
        let request = self.xrpc(auth, Method::POST, method).await?.json(body);
        http::send::<Dialect>(&self.http, request).await
    }

    /// Posts `text` as an `app.bsky.feed.post` of the channel's repo: with its facets and
    /// language, and the embed or the thread it answers, if any.
    async fn create_post(
        &self,
        auth: &ChannelAuth,
        text: &str,
        embed: Option<Embed>,
        reply: Option<ReplyRef>,
    ) -> Result<Published, PlatformError> {
        let record = PostRecord {
            kind: POST_COLLECTION,
            text,
            created_at: now_rfc3339(),
            facets: self.facets(auth, text).await,
            langs: language::detect(text).into_iter().collect(),
            embed,
            reply,
        };
        let body = CreateRecord { repo: &auth.platform_channel_id, collection: POST_COLLECTION, record };
        let response = self.xrpc_post(auth, "com.atproto.repo.createRecord", &body).await?;
        let created: CreatedRecord = http::parse_json(&response)?;
        let uri = AtUri::parse(&created.uri)?;
        Ok(Published { url: Some(uri.web_url()), platform_post_id: created.uri })
    }
}

#[async_trait]
impl PlatformClient for Bluesky {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let embed = self.embed(auth, post).await?;
        self.create_post(auth, &post.text, embed, None).await
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        let uri = AtUri::parse(platform_post_id)?;
        let body = DeleteRecord { repo: &uri.repo, collection: &uri.collection, rkey: &uri.rkey };
        self.xrpc_post(auth, "com.atproto.repo.deleteRecord", &body).await.map(drop)
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let request =
            self.xrpc(auth, Method::GET, "app.bsky.feed.getPosts").await?.query(&[("uris", platform_post_id)]);
        let found: Posts = http::send_json::<Dialect, _>(&self.http, request).await?;
        let post = found.posts.into_iter().next().ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, format!("post {platform_post_id} was not found"))
        })?;
        Ok(Metrics {
            views: None,
            likes: Some(post.like_count),
            comments: Some(post.reply_count),
            shares: Some(post.repost_count + post.quote_count),
        })
    }
}

/// An `at://<did>/<collection>/<rkey>` record URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtUri {
    pub repo: String,
    pub collection: String,
    pub rkey: String,
}

impl AtUri {
    pub fn parse(uri: &str) -> Result<Self, PlatformError> {
        let invalid = || PlatformError::new(ErrorCode::PlatformError, format!("`{uri}` is not an at:// record URI"));
        let path = uri.strip_prefix("at://").ok_or_else(invalid)?;
        let mut parts = path.splitn(3, '/');
        let mut next = || parts.next().filter(|part| !part.is_empty()).map(str::to_string).ok_or_else(invalid);
        Ok(Self { repo: next()?, collection: next()?, rkey: next()? })
    }

    /// The post's page on bsky.app.
    pub fn web_url(&self) -> String {
        format!("https://bsky.app/profile/{}/post/{}", self.repo, self.rkey)
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

#[derive(Serialize)]
struct CreateRecord<'a> {
    repo: &'a str,
    collection: &'static str,
    record: PostRecord<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostRecord<'a> {
    #[serde(rename = "$type")]
    kind: &'static str,
    text: &'a str,
    created_at: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    facets: Vec<Facet>,
    /// The text's language, where it can be told (`app.bsky.feed.post#langs`), so feeds and
    /// readers' language filters find the post.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    langs: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embed: Option<Embed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<ReplyRef>,
}

/// The thread a post answers (`app.bsky.feed.post#replyRef`): its first post and the post
/// answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ReplyRef {
    root: StrongRef,
    parent: StrongRef,
}

/// A record by URI and content hash (`com.atproto.repo.strongRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

#[derive(Serialize)]
struct Embed {
    #[serde(rename = "$type")]
    kind: &'static str,
    images: Vec<EmbeddedImage>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbeddedImage {
    alt: String,
    image: Blob,
    /// Lets clients lay the image out before loading it (`app.bsky.embed.defs#aspectRatio`).
    #[serde(skip_serializing_if = "Option::is_none")]
    aspect_ratio: Option<AspectRatio>,
}

#[derive(Serialize)]
struct AspectRatio {
    width: u32,
    height: u32,
}

/// A blob reference exactly as `uploadBlob` returned it, to put in the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob {
    #[serde(rename = "$type")]
    kind: String,
    #[serde(rename = "ref")]
    reference: BlobLink,
    mime_type: String,
    size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BlobLink {
    #[serde(rename = "$link")]
    link: String,
}

#[derive(Deserialize)]
struct UploadedBlob {
    blob: Blob,
}

#[derive(Deserialize)]
struct ResolvedHandle {
    did: String,
}

#[derive(Deserialize)]
struct CreatedRecord {
    uri: String,
}

#[derive(Serialize)]
struct DeleteRecord<'a> {
    repo: &'a str,
    collection: &'a str,
    rkey: &'a str,
}

#[derive(Deserialize)]
struct Posts {
    posts: Vec<PostView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    #[serde(default)]
    like_count: u64,
    #[serde(default)]
    repost_count: u64,
    #[serde(default)]
    quote_count: u64,
    #[serde(default)]
    reply_count: u64,
}

/// XRPC errors are `{"error": "<Name>", "message": "…"}`; expired sessions are a 400
/// `ExpiredToken` on the PDS.
pub(super) struct Dialect;

/// Whether the PDS refused a call because the session's grant does not cover it: an app password
/// made without "allow access to your direct messages" calling `chat.bsky.*` is answered
/// `InvalidToken` "Bad token method" (the PDS's `pipethrough.ts`; "Bad token scope" before
/// 2025). Refreshing cannot fix that, so it is no expired session.
fn is_outside_the_grant(message: &PlatformMessage) -> bool {
    message.kind.as_deref() == Some("InvalidToken") && mentions(&message.text, &["bad token method", "bad token scope"])
}

impl ErrorDialect for Dialect {
    const RESET: ResetHeader = ResetHeader::EpochSeconds("ratelimit-reset");

    fn message(body: &serde_json::Value) -> Option<PlatformMessage> {
        let name = body.get("error")?.as_str()?;
        let text = body.get("message").and_then(|m| m.as_str()).unwrap_or(name);
        Some(PlatformMessage::new(Some(name.to_string()), text))
    }

    fn decide(_body: &serde_json::Value, message: &PlatformMessage) -> Option<ErrorCode> {
        is_outside_the_grant(message).then_some(ErrorCode::PlatformError)
    }

    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let name = message.kind.as_deref().unwrap_or_default();
        match name {
            "ExpiredToken" | "InvalidToken" | "AuthMissing" | "AuthenticationRequired" => ErrorCode::AuthExpired,
            "RateLimitExceeded" => ErrorCode::RateLimited,
            "BlobTooLarge" | "InvalidMimeType" => ErrorCode::InvalidMedia,
            _ if is_about_text_length(&message.text) => ErrorCode::ContentTooLong,
            "InvalidRequest" if is_about_record_media(&message.text) => ErrorCode::InvalidMedia,
            "InvalidRequest" if mentions(&message.text, &["record"]) => ErrorCode::ContentRejected,
            _ if status == 413 => ErrorCode::InvalidMedia,
            _ if status == 403 => ErrorCode::ContentRejected,
            _ => ErrorCode::PlatformError,
        }
    }
}

/// The PDS's lexicon validation names the value's path: `… grapheme too big (maximum 300, got
/// 301) at $.record.text`; older versions said `Record/text must not be longer than …`.
fn is_about_text_length(message: &str) -> bool {
    mentions(message, &["longer than", "too long", "too big"]) && mentions(message, &["text", "grapheme"])
}

/// An `Invalid app.bsky.feed.post record` about the embed: the images, not the words.
fn is_about_record_media(message: &str) -> bool {
    mentions(message, &["record"]) && mentions(message, &["embed", "blob", "image", "mimetype"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pds_lexicon_errors_say_what_was_refused() {
        let classify = |text: &str| Dialect::classify(400, &PlatformMessage::new(Some("InvalidRequest".into()), text));
        let long = "Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) at $.record.text";
        assert_eq!(classify(long), ErrorCode::ContentTooLong);
        let big = "Invalid app.bsky.feed.post record: $.record.embed.images[0].image blob too big";
        assert_eq!(classify(big), ErrorCode::InvalidMedia);
        assert_eq!(
            classify("Invalid app.bsky.feed.post record: must have the property \"createdAt\""),
            ErrorCode::ContentRejected
        );
    }

    #[test]
    fn a_grant_without_dm_access_is_no_expired_session() {
        let refused = |text: &str| {
            let body = format!(r#"{{"error":"InvalidToken","message":"{text}"}}"#);
            let response = FullResponse { status: 400, headers: Default::default(), body: body.into_bytes() };
            http::error_from::<Dialect>(&response).code
        };
        assert_eq!(refused("Bad token method"), ErrorCode::PlatformError);
        assert_eq!(refused("Bad token scope"), ErrorCode::PlatformError);
        assert_eq!(refused("Token could not be verified"), ErrorCode::AuthExpired);
    }

    #[test]
    fn at_uris_are_split_into_repo_collection_and_rkey() {
        let uri = AtUri::parse("at://did:plc:abc/app.bsky.feed.post/3kq2").unwrap();
        assert_eq!(uri.rkey, "3kq2");
        assert_eq!(uri.web_url(), "https://bsky.app/profile/did:plc:abc/post/3kq2");
        assert!(AtUri::parse("3kq2").is_err());
    }
}
