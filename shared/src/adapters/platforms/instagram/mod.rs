//! Instagram over its Graph API content publishing flow: a media container per image (children
//! of a CAROUSEL container when there are several), polled until FINISHED, then published, with
//! the permalink read back; likes and comments as metrics, views and shares from insights.
//! A failure after the container exists carries its id, so a retry publishes that container
//! instead of posting twice (SPEC §7). Instagram's API cannot delete published media.
//!
//! Accounts connect through Business Login for Instagram, matching the API at
//! [`DEFAULT_BASE_URL`]: the authorization window and the code exchange on api.instagram.com,
//! Meta's long-lived tokens (`meta_login`, grants `ig_exchange_token` / `ig_refresh_token`),
//! and the professional account from `GET /me` as the one channel. Instagram Login documents
//! no revocation endpoint.
//!
//! Comments arrive by push; they are answered through the Graph API (`inbox`).

mod inbox;

use async_trait::async_trait;
use serde::Deserialize;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::container::{ContainerApi, Polling};
use crate::adapters::platforms::graph::Graph;
use crate::adapters::platforms::meta_login::LongLivedLogin;
use crate::adapters::platforms::versions::{META_GRAPH, meta_graph_version};
use crate::model::channels::ChannelKind;
use crate::model::platforms::{ErrorCode, Metrics, Platform};
use crate::ports::platforms::connect::{
    AuthorizeRequest, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, TokenGrant,
};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

/// Instagram API with Instagram Login (`instagram_business_*` permissions); accounts connected
/// through Facebook Login use `https://graph.facebook.com/{version}` instead.
pub const DEFAULT_BASE_URL: &str = concat!("https://graph.instagram.com/", meta_graph_version!());
/// Where the authorization window (`/oauth/authorize`) and the code exchange
/// (`/oauth/access_token`) are, unless [`Instagram::with_oauth_base`] says otherwise.
pub const DEFAULT_OAUTH_BASE: &str = "https://api.instagram.com";
/// Reading the profile, publishing, and the insights metrics come from.
pub const SCOPES: &str =
    "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights";

const LOGIN: LongLivedLogin =
    LongLivedLogin { scopes: SCOPES, exchange_grant: "ig_exchange_token", refresh_grant: "ig_refresh_token" };

pub struct Instagram {
    http: OutboundClient,
    polling: Polling,
    oauth_base: String,
    graph_version: String,
}

/// `GET /me?fields=user_id,username,name,profile_picture_url`: `user_id` is the professional
/// account's id that publishing takes, `id` the app-scoped one.
#[derive(Deserialize)]
struct Me {
    id: String,
    user_id: Option<String>,
    username: String,
    name: Option<String>,
    profile_picture_url: Option<String>,
}

/// `status_code` is IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED; `status` says why.
const CONTAINERS: ContainerApi = ContainerApi {
    platform: Platform::Instagram,
    create_edge: "media",
    text_field: "caption",
    image_media_type: None,
    status_field: "status_code",
    detail_field: "status",
    publish_edge: "media_publish",
};

#[derive(Deserialize)]
struct Counts {
    like_count: Option<u64>,
    comments_count: Option<u64>,
}

impl Instagram {
    pub fn new(http: OutboundClient) -> Self {
        Self {
            http,
            polling: Polling::default(),
            oauth_base: DEFAULT_OAUTH_BASE.to_string(),
            graph_version: META_GRAPH.version.to_string(),
        }
    }

    /// The Graph API version called, whatever version a connection was made at.
    pub fn with_graph_version(mut self, version: impl Into<String>) -> Self {
        self.graph_version = version.into();
        self
    }

    fn graph<'a>(&'a self, auth: &'a ChannelAuth) -> Graph<'a> {
        Graph::at_version(&self.http, auth, &self.graph_version)
    }

    /// Where the authorization window and the code exchange are: a fake in tests.
    pub fn with_oauth_base(mut self, url: impl Into<String>) -> Self {
        self.oauth_base = url.into();
        self
    }

    /// How the container's processing is waited for (tests wait less).
    pub fn with_polling(mut self, polling: Polling) -> Self {
        self.polling = polling;
        self
    }
}

#[async_trait]
impl PlatformClient for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        CONTAINERS.publish(&self.graph(auth), self.polling, post).await
    }

    async fn delete(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<(), PlatformError> {
        Err(PlatformError::new(
            ErrorCode::PlatformError,
            "Instagram's API does not support deleting published media; delete the post in the Instagram app",
        ))
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let graph = self.graph(auth);
        let counts: Counts = graph.get(&[platform_post_id], &[("fields", "like_count,comments_count")]).await?;
        let insights = graph.insights(platform_post_id, "views,shares").await?;
        Ok(Metrics {
            views: insights.get("views").copied(),
            likes: counts.like_count,
            comments: counts.comments_count,
            shares: insights.get("shares").copied(),
        })
    }
}

#[async_trait]
impl Connector for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: false }
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        LOGIN.authorization_url(&self.oauth_base, request)
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        LOGIN.exchange_code(&self.http, &self.oauth_base, exchange).await
    }

    async fn refresh(&self, _: &OAuthApp, auth: &ChannelAuth, _: Option<&str>) -> Result<TokenGrant, PlatformError> {
        LOGIN.refresh(&self.http, &auth.base_url, &auth.access_token).await
    }

    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let fields = [("fields", "user_id,username,name,profile_picture_url")];
        let me: Me = self.graph(auth).get(&["me"], &fields).await?;
        Ok(Profile {
            profile_url: Some(format!("https://www.instagram.com/{}", me.username)),
            platform_user_id: me.user_id.unwrap_or(me.id),
            username: me.username,
            display_name: me.name,
            avatar_url: me.profile_picture_url,
        })
    }

    fn account_kind(&self) -> ChannelKind {
        ChannelKind::Account
    }

    async fn revoke(&self, _: &OAuthApp, _: &ChannelAuth, _refresh_token: Option<&str>) -> Result<(), PlatformError> {
        Ok(())
    }
}
