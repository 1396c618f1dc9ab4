//! Facebook Pages over the Graph API: text posts on the page feed, one photo as a photo post,
//! several photos uploaded unpublished and attached to one feed post; delete; and reactions,
//! comments and shares as metrics. The channel's token is the page access token.

use async_trait::async_trait;
use serde::Deserialize;

use super::graph::{self, Graph};
use super::{ChannelAuth, MediaItem, Metrics, Platform, PlatformClient, PlatformError, PublishRequest, Published};
use crate::outbound::OutboundClient;

pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v21.0";

const METRIC_FIELDS: &str = "reactions.summary(total_count),comments.summary(total_count),shares";

pub struct Facebook {
    http: OutboundClient,
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
        Self { http }
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
        let graph = Graph::new(&self.http, auth);
        let post_id = match post.media.as_slice() {
            [] => Self::post_text(&graph, &post.text).await?,
            [image] => Self::post_photo(&graph, &post.text, image).await?,
            images => Self::post_album(&graph, &post.text, images).await?,
        };
        let url = Some(format!("https://www.facebook.com/{post_id}"));
        Ok(Published { platform_post_id: post_id, url })
    }

    async fn delete(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<(), PlatformError> {
        Graph::new(&self.http, auth).delete(&[platform_post_id]).await
    }

    async fn metrics(&self, auth: &ChannelAuth, platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let graph = Graph::new(&self.http, auth);
        let engagement: Engagement = graph.get(&[platform_post_id], &[("fields", METRIC_FIELDS)]).await?;
        Ok(Metrics {
            views: None,
            likes: engagement.reactions.map(|reactions| reactions.summary.total_count),
            comments: engagement.comments.map(|comments| comments.summary.total_count),
            shares: Some(engagement.shares.map_or(0, |shares| shares.count)),
        })
    }
}
