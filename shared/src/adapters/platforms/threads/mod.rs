//! Threads over its Graph-style API: a TEXT, IMAGE or CAROUSEL media container (carousel items
//! made first), its status checked until FINISHED, then published, with the permalink read back;
//! delete; and views, likes, replies, reposts and quotes from insights. A failure after the
//! container exists carries its id, so a retry publishes that container instead of posting
//! twice (SPEC §7).
//!
//! Accounts connect through the Threads authorization window on threads.net and Meta's
//! long-lived tokens (`meta_login`, grants `th_exchange_token` / `th_refresh_token`); the
//! profile from `GET /me` is the one channel. Threads documents no revocation endpoint.
//!
//! The inbox reads replies to the account's posts and its mentions (`inbox`).

mod inbox;

pub(crate) use inbox::pushed_reply;

use async_trait::async_trait;
use serde::Deserialize;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::container::{ContainerApi, Polling};
use crate::adapters::platforms::graph::{self, Graph};
use crate::adapters::platforms::meta_login::LongLivedLogin;
use crate::model::platforms::{Metrics, Platform};
use crate::ports::platforms::connect::{
    AuthorizeRequest, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, TokenGrant,
};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

pub const DEFAULT_BASE_URL: &str = "https://graph.threads.net/v1.0";
/// Where the authorization window is, unless [`Threads::with_oauth_base`] says otherwise.
pub const DEFAULT_OAUTH_BASE: &str = "https://threads.net";
/// Reading the profile, publishing, the insights metrics come from, deleting (Threads
/// allows 100 deletes per profile per 24 hours,
/// <https://developers.facebook.com/docs/threads/posts/delete-posts>), and the inbox: reading
/// and answering replies, reading mentions.
pub const SCOPES: &str = "threads_basic,threads_content_publish,threads_manage_insights,threads_delete,\
threads_read_replies,threads_manage_replies,threads_manage_mentions";

const LOGIN: LongLivedLogin =
    LongLivedLogin { scopes: SCOPES, exchange_grant: "th_exchange_token", refresh_grant: "th_refresh_token" };

const METRICS: &str = "views,likes,replies,reposts,quotes";

pub struct Threads {
    http: OutboundClient,
    polling: Polling,
    oauth_base: String,
}

/// `GET /me?fields=id,username,name,threads_profile_picture_url`.
#[derive(Deserialize)]
struct Me {
    id: String,
    username: String,
    name: Option<String>,
    threads_profile_picture_url: Option<String>,
}

/// `status` is IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED; `error_message` says why.
const CONTAINERS: ContainerApi = ContainerApi {
    platform: Platform::Threads,
    create_edge: "threads",
    text_field: "text",
    image_media_type: Some("IMAGE"),
    status_field: "status",
    detail_field: "error_message",
    publish_edge: "threads_publish",
};

impl Threads {
    pub fn new(http: OutboundClient) -> Self {
        Self { http, polling: Polling::default(), oauth_base: DEFAULT_OAUTH_BASE.to_string() }
    }

    /// Where the authorization window (`/oauth/authorize`) is: a fake in tests.
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
impl PlatformClient for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        CONTAINERS.publish(&Graph::new(&self.http, auth), self.polling, post).await
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        Graph::new(&self.http, auth).delete(&[platform_post_id]).await
    }

    /// Reposts and quotes both count as shares.
    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let insights = Graph::new(&self.http, auth).insights(platform_post_id, METRICS).await?;
        let metric = |name: &str| insights.get(name).copied();
        let shares = match (metric("reposts"), metric("quotes")) {
            (None, None) => None,
            (reposts, quotes) => Some(reposts.unwrap_or(0) + quotes.unwrap_or(0)),
        };
        Ok(Metrics { views: metric("views"), likes: metric("likes"), comments: metric("replies"), shares })
    }
}

#[async_trait]
impl Connector for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
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

    /// The code is exchanged at the API's own host (`graph.threads.net/oauth/access_token`).
    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        LOGIN.exchange_code(&self.http, graph::unversioned(exchange.base_url), exchange).await
    }

    async fn refresh(&self, _: &OAuthApp, auth: &ChannelAuth, _: Option<&str>) -> Result<TokenGrant, PlatformError> {
        LOGIN.refresh(&self.http, &auth.base_url, &auth.access_token).await
    }

    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let fields = [("fields", "id,username,name,threads_profile_picture_url")];
        let me: Me = Graph::new(&self.http, auth).get(&["me"], &fields).await?;
        Ok(Profile {
            profile_url: Some(format!("https://www.threads.net/@{}", me.username)),
            platform_user_id: me.id,
            username: me.username,
            display_name: me.name,
            avatar_url: me.threads_profile_picture_url,
        })
    }

    async fn revoke(&self, _: &OAuthApp, _: &ChannelAuth, _refresh_token: Option<&str>) -> Result<(), PlatformError> {
        Ok(())
    }
}
