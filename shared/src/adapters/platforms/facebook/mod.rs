//! Facebook Pages over the Graph API: text posts on the page feed, one photo as a photo post,
//! several photos uploaded unpublished and attached to one feed post; delete; and reactions,
//! comments and shares as metrics. The channel's token is the page access token.
//!
//! Accounts connect through Facebook Login (`meta_login`): the dialog at
//! `www.facebook.com/{version}/dialog/oauth`, a long-lived user token, the user from `GET /me`,
//! their pages with each page's own token from `GET /me/accounts` (a page token obtained with a
//! long-lived user token does not expire), and revocation through `DELETE /me/permissions`.
//!
//! Comments arrive by push; they are answered through the Graph API (`inbox`).

mod inbox;

use async_trait::async_trait;
use serde::Deserialize;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::graph::{self, Graph};
use crate::adapters::platforms::meta_login::FacebookLogin;
use crate::adapters::platforms::oauth;
use crate::adapters::platforms::versions::{META_GRAPH, meta_graph_version};
use crate::model::channels::ChannelKind;
use crate::model::platforms::{MediaItem, Metrics, Platform};
use crate::ports::platforms::connect::{
    AuthorizeRequest, ChannelPage, CodeExchange, ConnectMethod, Connector, OAuthApp, Profile, RemoteChannel, TokenGrant,
};
use crate::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

pub const DEFAULT_BASE_URL: &str = concat!("https://graph.facebook.com/", meta_graph_version!());
/// Where the login dialog is, at the Graph API's version, unless
/// [`Facebook::with_oauth_base`] says otherwise.
pub const DEFAULT_OAUTH_BASE: &str = concat!("https://www.facebook.com/", meta_graph_version!());
/// Listing the user's pages, posting on them and reading their engagement; pages owned through a
/// business portfolio are listed only with `business_management`.
pub const SCOPES: &str = "pages_show_list,pages_read_engagement,pages_manage_posts,business_management";
/// Pages read per `/me/accounts` page.
const ACCOUNTS_PAGE_SIZE: &str = "100";

const METRIC_FIELDS: &str = "reactions.summary(total_count),comments.summary(total_count),shares";

pub struct Facebook {
    http: OutboundClient,
    oauth_base: String,
    graph_version: String,
}

/// `GET /me?fields=id,name,picture`.
#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
    picture: Option<Picture>,
}

#[derive(Deserialize)]
struct Picture {
    data: PictureData,
}

#[derive(Deserialize)]
struct PictureData {
    url: Option<String>,
}

/// One page of `GET /me/accounts`: the pages with their tokens, and where the next page starts.
#[derive(Deserialize)]
struct Accounts {
    data: Vec<Page>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Page {
    id: String,
    name: String,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

impl Accounts {
    /// The `after` cursor, when Meta says a next page exists. The cursor is read rather than
    /// the `next` URL, so the user's token only ever goes to the configured API.
    fn after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.clone()
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// `POST /{page-id}/photos` answers the photo's id and, when published, its post's id.
#[derive(Deserialize)]
struct PhotoCreated {
    id: String,
    post_id: Option<String>,
}

#[derive(Deserialize)]
struct Summary {
    total_count: u64,
}

#[derive(Deserialize)]
struct Counted {
    summary: Summary,
}

#[derive(Deserialize)]
struct Shares {
    count: u64,
}

#[derive(Deserialize)]
struct Engagement {
    reactions: Option<Counted>,
    comments: Option<Counted>,
    shares: Option<Shares>,
}

impl Facebook {
    pub fn new(http: OutboundClient) -> Self {
        Self { http, oauth_base: DEFAULT_OAUTH_BASE.to_string(), graph_version: META_GRAPH.version.to_string() }
    }

    /// The Graph API version called, whatever version a connection was made at.
    pub fn with_graph_version(mut self, version: impl Into<String>) -> Self {
        self.graph_version = version.into();
        self
    }

    fn graph<'a>(&'a self, auth: &'a ChannelAuth) -> Graph<'a> {
        Graph::at_version(&self.http, auth, &self.graph_version)
    }

    /// Where the login dialog (`/dialog/oauth`) is: a fake in tests.
    pub fn with_oauth_base(mut self, url: impl Into<String>) -> Self {
        self.oauth_base = url.into();
        self
    }

    fn login<'a>(&'a self, base_url: &'a str, app: &'a OAuthApp) -> FacebookLogin<'a> {
        FacebookLogin { http: &self.http, base_url, app }
    }

    async fn post_text(graph: &Graph<'_>, message: &str) -> Result<String, PlatformError> {
        let created: Created = graph.post(&[graph.channel(), "feed"], &[("message", message)]).await?;
        Ok(created.id)
    }

    async fn post_photo(graph: &Graph<'_>, caption: &str, image: &MediaItem) -> Result<String, PlatformError> {
        let form = [("url", image.url.as_str()), ("caption", caption)];
        let created: PhotoCreated = graph.post(&[graph.channel(), "photos"], &form).await?;
        Ok(created.post_id.unwrap_or(created.id))
    }

    async fn post_album(graph: &Graph<'_>, message: &str, images: &[MediaItem]) -> Result<String, PlatformError> {
        let mut attached = Vec::with_capacity(images.len());
        for (index, image) in images.iter().enumerate() {
            let photo_id = Self::upload_unpublished(graph, image).await?;
            attached
                .push((format!("attached_media[{index}]"), serde_json::json!({ "media_fbid": photo_id }).to_string()));
        }
        let mut form = vec![("message", message)];
        form.extend(attached.iter().map(|(key, value)| (key.as_str(), value.as_str())));
        let created: Created = graph.post(&[graph.channel(), "feed"], &form).await?;
        Ok(created.id)
    }

    async fn upload_unpublished(graph: &Graph<'_>, image: &MediaItem) -> Result<String, PlatformError> {
        let form = [("url", image.url.as_str()), ("published", "false")];
        let created: PhotoCreated = graph.post(&[graph.channel(), "photos"], &form).await?;
        Ok(created.id)
    }
}

#[async_trait]
impl PlatformClient for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        graph::check_limits(Platform::Facebook, post)?;
        let graph = self.graph(auth);
        let post_id = match post.media.as_slice() {
            [] => Self::post_text(&graph, &post.text).await?,
            [image] => Self::post_photo(&graph, &post.text, image).await?,
            images => Self::post_album(&graph, &post.text, images).await?,
        };
        let url = Some(format!("https://www.facebook.com/{post_id}"));
        Ok(Published { platform_post_id: post_id, url })
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        self.graph(auth).delete(&[platform_post_id]).await
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let graph = self.graph(auth);
        let engagement: Engagement = graph.get(&[platform_post_id], &[("fields", METRIC_FIELDS)]).await?;
        Ok(Metrics {
            views: None,
            likes: engagement.reactions.map(|reactions| reactions.summary.total_count),
            comments: engagement.comments.map(|comments| comments.summary.total_count),
            shares: Some(engagement.shares.map_or(0, |shares| shares.count)),
        })
    }
}

#[async_trait]
impl Connector for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn method(&self) -> ConnectMethod {
        ConnectMethod::OAuth { pkce: false }
    }

    fn default_base_url(&self) -> &str {
        DEFAULT_BASE_URL
    }

    fn authorization_url(&self, request: &AuthorizeRequest<'_>) -> Result<String, PlatformError> {
        let page = format!("{}/dialog/oauth", graph::with_version(&self.oauth_base, &self.graph_version));
        let query = oauth::authorization_query(request.app, request.redirect_uri, SCOPES, request.state, None);
        oauth::url_with_query(&page, &query)
    }

    async fn exchange_code(&self, exchange: &CodeExchange<'_>) -> Result<TokenGrant, PlatformError> {
        self.login(exchange.base_url, exchange.app).exchange_code(exchange.redirect_uri, exchange.code).await
    }

    async fn refresh(&self, app: &OAuthApp, auth: &ChannelAuth, _: Option<&str>) -> Result<TokenGrant, PlatformError> {
        let base_url = graph::with_version(&auth.base_url, &self.graph_version);
        self.login(&base_url, app).extend(&auth.access_token).await
    }

    /// Facebook has no handles: the name stands for one.
    async fn profile(&self, auth: &ChannelAuth) -> Result<Profile, PlatformError> {
        let me: Me = self.graph(auth).get(&["me"], &[("fields", "id,name,picture")]).await?;
        Ok(Profile {
            platform_user_id: me.id,
            username: me.name.clone(),
            display_name: Some(me.name),
            avatar_url: me.picture.and_then(|picture| picture.data.url),
            profile_url: None,
        })
    }

    /// The pages the user can post on, each with its own page token: one page of results of
    /// `GET /me/accounts`, from Meta's `after` cursor.
    async fn list_channels(
        &self,
        auth: &ChannelAuth,
        _: &Profile,
        from: Option<&str>,
    ) -> Result<ChannelPage, PlatformError> {
        let mut query = vec![("fields", "id,name,access_token"), ("limit", ACCOUNTS_PAGE_SIZE)];
        query.extend(from.map(|cursor| ("after", cursor)));
        let accounts: Accounts = self.graph(auth).get(&["me", "accounts"], &query).await?;
        let next = accounts.after();
        let channels = accounts
            .data
            .into_iter()
            .map(|page| RemoteChannel {
                platform_channel_id: page.id,
                name: page.name,
                kind: ChannelKind::Page,
                channel_token: page.access_token,
            })
            .collect();
        Ok(ChannelPage { channels, next })
    }

    async fn revoke(
        &self,
        _: &OAuthApp,
        auth: &ChannelAuth,
        _refresh_token: Option<&str>,
    ) -> Result<(), PlatformError> {
        self.graph(auth).delete(&["me", "permissions"]).await
    }
}
