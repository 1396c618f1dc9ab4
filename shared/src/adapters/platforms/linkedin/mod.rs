//! The LinkedIn adapter (versioned `/rest` Posts API, Rest.li 2.0) posting as the channel's
//! person or organization URN: images through `POST /rest/images?action=initializeUpload` and a
//! `PUT` of the bytes to the returned upload URL, the post through `POST /rest/posts` (its URN
//! comes back in `x-restli-id`) with its commentary in little text, deletion through
//! `DELETE /rest/posts/{urn}`, and reactions and comments of organization posts through
//! `GET /rest/socialMetadata/{urn}` (reading a member's own posts takes `r_member_social`, which
//! LinkedIn grants to select developers only: their figures are reported as unavailable).
//! Members connect through 3-legged OAuth
//! with OpenID Connect: consent and tokens on www.linkedin.com (`/oauth/v2/authorization`,
//! `/oauth/v2/accessToken`, `/oauth/v2/revoke`; refresh tokens only for apps LinkedIn approved
//! for them), the member from `GET /v2/userinfo`, and the organizations they administer from
//! `GET /rest/organizationAcls` and `GET /rest/organizations/{id}`.
//!
//! The inbox reads the comments on an organization's posts (`inbox`).

mod inbox;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::http::{self, ErrorDialect, PlatformMessage, ResetHeader, mentions};
use crate::adapters::platforms::little_text::to_little_text;
use crate::adapters::platforms::media::{self, Image};
use crate::adapters::platforms::oauth::{self, ClientAuth, TokenEndpoint};
use crate::adapters::platforms::versions;
use crate::model::channels::ChannelKind;
use crate::model::platforms::{ErrorCode, Metrics, Platform};
use crate::ports::platforms::connect::{
    AuthorizeRequest, ChannelPage, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, RemoteChannel, TokenGrant,
};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

pub const DEFAULT_BASE_URL: &str = "https://api.linkedin.com";
/// Where consent, tokens and revocation are, unless [`Linkedin::with_oauth_base`] says otherwise.
pub const DEFAULT_OAUTH_BASE: &str = "https://www.linkedin.com";
/// Sign In with OpenID Connect and Share on LinkedIn. Posting as organizations and reading their
/// posts' figures also takes `w_organization_social r_organization_social rw_organization_admin`
/// (Community Management API): see [`Linkedin::with_scopes`].
pub const DEFAULT_SCOPES: &str = "openid profile w_member_social";
/// Organizations read per `organizationAcls` page.
const ACL_PAGE_SIZE: usize = 100;
const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";
const POST_ID_HEADER: &str = "x-restli-id";
const ORGANIZATION_URN: &str = "urn:li:organization:";

pub struct Linkedin {
    http: OutboundClient,
    version: String,
    oauth_base: String,
    scopes: String,
}

impl Linkedin {
    pub fn new(http: OutboundClient) -> Self {
        Self {
            http,
            version: versions::LINKEDIN.version.to_string(),
            oauth_base: DEFAULT_OAUTH_BASE.to_string(),
            scopes: DEFAULT_SCOPES.to_string(),
        }
    }

    /// The `LinkedIn-Version` (YYYYMM) sent on every `/rest` call instead of the pinned one.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Where `/oauth/v2/…` (consent, tokens, revocation) is: a fake in tests.
    pub fn with_oauth_base(mut self, url: impl Into<String>) -> Self {
        self.oauth_base = url.into();
        self
    }

    /// The space-separated scopes asked for, as the app's LinkedIn products allow.
    pub fn with_scopes(mut self, scopes: impl Into<String>) -> Self {
        self.scopes = scopes.into();
        self
    }

    fn oauth_endpoint<'a>(&'a self, path: &str, app: &'a OAuthApp) -> TokenEndpoint<'a> {
        let url = http::endpoint(&self.oauth_base, path);
        TokenEndpoint { http: &self.http, url, app, client_auth: ClientAuth::Form }
    }

    /// One page of the member's approved administrator roles, from `start`. Without an
    /// organization scope LinkedIn answers 403: `None`, the member has none to post as.
    async fn administered_page(&self, auth: &ChannelAuth, start: usize) -> Result<Option<Vec<String>>, PlatformError> {
        let (start, count) = (start.to_string(), ACL_PAGE_SIZE.to_string());
        let request = self.rest(auth, Method::GET, "/rest/organizationAcls").await?.query(&[
            ("q", "roleAssignee"),
            ("role", "ADMINISTRATOR"),
            ("state", "APPROVED"),
            ("start", &start),
            ("count", &count),
        ]);
        let response = self.http.execute(request, http::MAX_API_BODY).await.map_err(http::transport_error)?;
        match response.status {
            403 => Ok(None),
            _ if !response.is_success() => Err(http::error_from::<Dialect>(&response)),
            _ => {
                let acls: Elements<Acl> = http::parse_json(&response)?;
                Ok(Some(acls.elements.into_iter().map(|acl| acl.organization).collect()))
            }
        }
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

    /// The organization's name, from `GET /rest/organizations/{id}`.
    async fn organization(&self, auth: &ChannelAuth, urn: &str) -> Result<RemoteChannel, PlatformError> {
        let id = urn.strip_prefix(ORGANIZATION_URN).ok_or_else(|| {
            PlatformError::new(ErrorCode::PlatformError, format!("LinkedIn listed `{urn}`, not an organization URN"))
        })?;
        let path = format!("/rest/organizations/{}", encode_urn(id));
        let request = self.rest(auth, Method::GET, &path).await?;
        let organization: Organization = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(RemoteChannel {
            platform_channel_id: urn.to_string(),
            name: organization.localized_name,
            kind: ChannelKind::Organization,
            channel_token: None,
        })
    }

    async fn content(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Option<Content>, PlatformError> {
        let mut images = Vec::with_capacity(post.media.len());
        for image in media::fetch_images(&self.http, &post.media, &Platform::Linkedin.limits().images).await? {
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
            commentary: to_little_text(&post.text),
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

    /// Reactions (every kind counts as a like) and comments of an organization's post; a
    /// member's post has no figures Posthorn may read.
    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        if !auth.platform_channel_id.starts_with(ORGANIZATION_URN) {
            return Ok(Metrics::default());
        }
        let path = format!("/rest/socialMetadata/{}", encode_urn(platform_post_id));
        let request = self.rest(auth, Method::GET, &path).await?;
        let metadata: SocialMetadata = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Metrics {
            views: None,
            likes: Some(metadata.reaction_summaries.values().map(|summary| summary.count).sum()),
            comments: Some(metadata.comment_summary.map_or(0, |summary| summary.count)),
            shares: None,
        })
    }
}

#[async_trait]
impl Connector for Linkedin {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    /// LinkedIn documents PKCE for native clients only, not for the web flow used here.
    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: false }
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        let page = http::endpoint(&self.oauth_base, "/oauth/v2/authorization");
        let query = oauth::authorization_query(request.app, request.redirect_uri, &self.scopes, request.state, None);
        oauth::url_with_query(&page, &query)
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        let form =
            [("grant_type", "authorization_code"), ("code", exchange.code), ("redirect_uri", exchange.redirect_uri)];
        self.oauth_endpoint("/oauth/v2/accessToken", exchange.app).grant(&form).await
    }

    async fn refresh(
        &self,
        app: &OAuthApp,
        _auth: &ChannelAuth,
        refresh_token: Option<&str>,
    ) -> Result<TokenGrant, PlatformError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", oauth::stored_refresh_token(refresh_token)?)];
        self.oauth_endpoint("/oauth/v2/accessToken", app).grant(&form).await
    }

    /// The OpenID Connect userinfo: LinkedIn has no handle to give, so the name stands for one.
    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let url = http::endpoint(&auth.base_url, "/v2/userinfo");
        let request = http::authorized(&self.http, Method::GET, &url, &auth.access_token).await?;
        let member: UserInfo = http::send_json::<Dialect, _>(&self.http, request).await?;
        Ok(Profile {
            platform_user_id: member.sub.clone(),
            username: member.name.clone().unwrap_or(member.sub),
            display_name: member.name,
            avatar_url: member.picture,
            profile_url: None,
        })
    }

    /// The member (`urn:li:person:{sub}`), then each organization they administer: a page is
    /// one `organizationAcls` page read (no channel) or one organization read, and the cursor
    /// carries the organizations found but not read yet.
    async fn list_channels(
        &self,
        auth: &ChannelAuth,
        profile: &Profile,
        from: Option<&str>,
    ) -> Result<ChannelPage, PlatformError> {
        let (mut channels, mut listing) = match from {
            None => {
                let mut person = RemoteChannel::the_account(profile, ChannelKind::Profile);
                person.platform_channel_id = format!("urn:li:person:{}", profile.platform_user_id);
                (vec![person], Listing { unread: Vec::new(), next_acls: Some(0) })
            }
            Some(cursor) => (Vec::new(), Listing::decode(cursor)?),
        };
        match (listing.unread.is_empty(), listing.next_acls) {
            (false, _) => {
                let urn = listing.unread.remove(0);
                channels.push(self.organization(auth, &urn).await?);
            }
            (true, Some(start)) => {
                let found = self.administered_page(auth, start).await?.unwrap_or_default();
                listing.next_acls = (found.len() == ACL_PAGE_SIZE).then_some(start + ACL_PAGE_SIZE);
                listing.unread = found;
            }
            (true, None) => {}
        }
        Ok(ChannelPage { channels, next: listing.encode() })
    }

    async fn revoke(
        &self,
        app: &OAuthApp,
        auth: &ChannelAuth,
        _refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        self.oauth_endpoint("/oauth/v2/revoke", app).post(&[("token", &auth.access_token)]).await.map(drop)
    }
}

/// Where a listing of a member's channels stands, as the cursor of its next page.
#[derive(Serialize, Deserialize)]
struct Listing {
    /// Organizations the member administers, found but not read yet.
    unread: Vec<String>,
    /// Where the next `organizationAcls` page starts; `None` once the last was read.
    next_acls: Option<usize>,
}

impl Listing {
    fn decode(cursor: &str) -> Result<Self, PlatformError> {
        serde_json::from_str(cursor).map_err(|e| {
            PlatformError::new(ErrorCode::PlatformError, format!("not a LinkedIn channel listing cursor: {e}"))
        })
    }

    /// The cursor of the next page, unless the listing is done.
    fn encode(&self) -> Option<String> {
        let done = self.unread.is_empty() && self.next_acls.is_none();
        (!done).then(|| json!({ "unread": self.unread, "next_acls": self.next_acls }).to_string())
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
    commentary: String,
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
struct UserInfo {
    sub: String,
    name: Option<String>,
    picture: Option<String>,
}

#[derive(Deserialize)]
struct Elements<T> {
    elements: Vec<T>,
}

/// One role of the member: `{"organization": "urn:li:organization:123", "role", "state", …}`.
#[derive(Deserialize)]
struct Acl {
    organization: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    localized_name: String,
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

/// `{"reactionSummaries": {"LIKE": {"reactionType": "LIKE", "count": 3}, …}, "commentSummary":
/// {"count": 2, "topLevelCount": 1}, "commentsState": "OPEN", "entity": "urn:li:share:…"}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SocialMetadata {
    #[serde(default)]
    reaction_summaries: std::collections::HashMap<String, Counted>,
    comment_summary: Option<Counted>,
}

#[derive(Deserialize)]
struct Counted {
    count: u64,
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

    /// Only a 401 (a refused token) is an expired connection: a 403 "Not enough permissions"
    /// means the app lacks a product or scope, which reconnecting does not grant.
    fn classify(status: u16, message: &PlatformMessage) -> ErrorCode {
        let text = &message.text;
        match status {
            403 if is_permission(message) => ErrorCode::PlatformError,
            _ if mentions(text, &["too long", "exceeds", "length"]) => ErrorCode::ContentTooLong,
            _ if mentions(text, &["image", "media", "upload"]) => ErrorCode::InvalidMedia,
            403 | 409 | 422 => ErrorCode::ContentRejected,
            _ if mentions(text, &["duplicate"]) => ErrorCode::ContentRejected,
            _ => ErrorCode::PlatformError,
        }
    }
}

fn is_permission(message: &PlatformMessage) -> bool {
    message.kind.as_deref() == Some("ACCESS_DENIED") || mentions(&message.text, &["permission", "not enough"])
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
