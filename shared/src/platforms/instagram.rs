//! Instagram over its Graph API content publishing flow: a media container per image (children
//! of a CAROUSEL container when there are several), polled until FINISHED, then published, with
//! the permalink read back; likes and comments as metrics, views and shares from insights.
//! A failure after the container exists carries its id, so a retry publishes that container
//! instead of posting twice (SPEC §7). Instagram's API cannot delete published media.

use async_trait::async_trait;
use serde::Deserialize;

use super::graph::{self, ContainerFlow, Created, Graph, Polling};
use super::{
    ChannelAuth, ErrorCode, MediaItem, Metrics, Platform, PlatformClient, PlatformError, PublishRequest, Published,
};
use crate::outbound::OutboundClient;

/// Instagram API with Instagram Login (`instagram_business_*` permissions); accounts connected
/// through Facebook Login use `https://graph.facebook.com/v21.0` instead.
pub const DEFAULT_BASE_URL: &str = "https://graph.instagram.com/v21.0";

pub struct Instagram {
    http: OutboundClient,
    polling: Polling,
}

/// `status_code` is IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED; `status` says why.
const FLOW: ContainerFlow =
    ContainerFlow { status_field: "status_code", detail_field: "status", publish_edge: "media_publish" };

#[derive(Deserialize)]
struct Counts {
    like_count: Option<u64>,
    comments_count: Option<u64>,
}

impl Instagram {
    pub fn new(http: OutboundClient) -> Self {
        Self { http, polling: Polling::default() }
    }

    /// How the container's processing is waited for (tests wait less).
    pub fn with_polling(mut self, polling: Polling) -> Self {
        self.polling = polling;
        self
    }

    async fn create_container(graph: &Graph<'_>, post: &PublishRequest) -> Result<String, PlatformError> {
        match post.media.as_slice() {
            [image] => Self::create_media(graph, image, &[("caption", post.text.as_str())]).await,
            images => Self::create_carousel(graph, &post.text, images).await,
        }
    }

    async fn create_carousel(graph: &Graph<'_>, caption: &str, images: &[MediaItem]) -> Result<String, PlatformError> {
        let mut children = Vec::with_capacity(images.len());
        for image in images {
            children.push(Self::create_media(graph, image, &[("is_carousel_item", "true")]).await?);
        }
        let children = children.join(",");
        let form = [("media_type", "CAROUSEL"), ("children", children.as_str()), ("caption", caption)];
        let created: Created = graph.post(&[graph.channel(), "media"], &form).await?;
        Ok(created.id)
    }

    async fn create_media(
        graph: &Graph<'_>,
        image: &MediaItem,
        extra: &[(&str, &str)],
    ) -> Result<String, PlatformError> {
        let mut form = vec![("image_url", image.url.as_str())];
        form.extend(image.alt.as_deref().map(|alt| ("alt_text", alt)));
        form.extend_from_slice(extra);
        let created: Created = graph.post(&[graph.channel(), "media"], &form).await?;
        Ok(created.id)
    }
}

#[async_trait]
impl PlatformClient for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let graph = Graph::new(&self.http, auth);
        let container = match &post.resume_from {
            Some(container) => container.clone(),
            None => {
                graph::check_limits(Platform::Instagram, post)?;
                Self::create_container(&graph, post).await?
            }
        };
        FLOW.publish(&graph, self.polling, &container).await.map_err(graph::resumable(&container))
    }

    async fn delete(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<(), PlatformError> {
        Err(PlatformError::new(
            ErrorCode::PlatformError,
            "Instagram's API does not support deleting published media; delete the post in the Instagram app",
        ))
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let graph = Graph::new(&self.http, auth);
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
