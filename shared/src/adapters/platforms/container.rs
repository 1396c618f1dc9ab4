//! Meta's media-container publishing, shared by Instagram and Threads: create a container (one
//! per image, children of a CAROUSEL container when there are several, or a TEXT one on
//! Threads), check its status until FINISHED, publish it and read the post's permalink.
//!
//! Meta advises waiting about 30 seconds before the first status check, then checking at most
//! once a minute for no more than five minutes
//! (<https://developers.facebook.com/docs/threads/troubleshooting#publishing-does-not-return-a-media-id>,
//! <https://developers.facebook.com/docs/instagram-platform/content-publishing#troubleshooting>).
//! Meta fetches the images from their URLs itself; their first bytes are read before any
//! container is made, so an image Meta would refuse (format, size, aspect ratio) fails the
//! target at once with `invalid_media`.
//!
//! No run waits that long: a container not yet ready ends the try with a [`ContainerStep`] kept
//! on the target and a delay ([`PlatformError::not_ready`]); the next run resumes from the step,
//! so the post is never created twice (SPEC §7).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::adapters::platforms::graph::{self, Graph};
use crate::adapters::platforms::media;
use crate::model::platforms::{ErrorCode, MediaItem, Platform};
use crate::ports::platforms::{PlatformError, PublishRequest, Published};

/// When a container's status is checked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// From the container's creation to its first status check.
    pub first_check_after: Duration,
    /// Between two checks.
    pub interval: Duration,
    /// From the container's creation until a container still in progress is given up.
    pub give_up_after: Duration,
}

impl Default for Polling {
    /// Meta's guidance: about 30 seconds, then once a minute, up to five minutes.
    fn default() -> Self {
        Self {
            first_check_after: Duration::from_secs(30),
            interval: Duration::from_secs(60),
            give_up_after: Duration::from_secs(5 * 60),
        }
    }
}

/// How one API names the pieces of its container flow.
pub(crate) struct ContainerApi {
    pub platform: Platform,
    /// The user's edge that creates containers.
    pub create_edge: &'static str,
    /// The form field of the post's text.
    pub text_field: &'static str,
    /// The `media_type` of an image container, where the API wants one.
    pub image_media_type: Option<&'static str>,
    /// The container field holding its status.
    pub status_field: &'static str,
    /// The container field holding Meta's detail about that status.
    pub detail_field: &'static str,
    /// The user's edge that publishes a container.
    pub publish_edge: &'static str,
}

/// The step a container publish reached, as kept on the target: the container and when it was
/// created, written `{container}@{unix seconds}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerStep {
    pub container: String,
    pub created_at: OffsetDateTime,
}

impl ContainerStep {
    /// A stored step; one without its time (kept before steps had one) counts from `now`.
    fn parse(stored: &str, now: OffsetDateTime) -> Self {
        let timed = stored.rsplit_once('@').and_then(|(container, seconds)| {
            let created_at = OffsetDateTime::from_unix_timestamp(seconds.parse().ok()?).ok()?;
            Some(Self { container: container.to_owned(), created_at })
        });
        timed.unwrap_or_else(|| Self { container: stored.to_owned(), created_at: now })
    }

    fn stored(&self) -> String {
        format!("{}@{}", self.container, self.created_at.unix_timestamp())
    }

    fn age(&self, now: OffsetDateTime) -> Duration {
        Duration::try_from(now - self.created_at).unwrap_or_default()
    }

    /// A failure after the container exists: the next try resumes from it, unless the
    /// container itself is unusable (a media error, or processing for too long), when the next
    /// try must make a new one.
    fn kept_on(&self, mut error: PlatformError) -> PlatformError {
        if error.code != ErrorCode::InvalidMedia {
            error.progress = Some(self.stored());
        }
        error
    }
}

/// Where a media container's processing stands, as Instagram's `status_code` and Threads'
/// `status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ContainerStatus {
    InProgress,
    Finished,
    Published,
    Error,
    Expired,
    #[serde(other)]
    Unknown,
}

/// The answer of every creating call: the new object's id.
#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Permalink {
    permalink: Option<String>,
}

impl ContainerApi {
    /// Creates the post's container, or resumes from the step a previous try reached, and
    /// publishes it once it is ready.
    pub(crate) async fn publish(
        &self,
        graph: &Graph<'_>,
        polling: Polling,
        post: &PublishRequest,
    ) -> Result<Published, PlatformError> {
        let step = match &post.resume_from {
            Some(stored) => ContainerStep::parse(stored, OffsetDateTime::now_utc()),
            None => {
                graph::check_limits(self.platform, post)?;
                media::check_at_source(graph.http(), &post.media, self.platform).await?;
                let container = self.create(graph, post).await?;
                ContainerStep { container, created_at: OffsetDateTime::now_utc() }
            }
        };
        self.advance(graph, polling, &step).await.map_err(|error| step.kept_on(error))
    }

    /// Publishes `text` in reply to the post `reply_to_id` (Threads' `reply_to_id`). The
    /// container is checked at once, as no one waits on an answer for half a minute: a text
    /// container is ready at once as a rule; one that is not fails the answer, and answering
    /// again makes a new container (the unpublished one expires).
    pub(crate) async fn publish_reply(
        &self,
        graph: &Graph<'_>,
        text: &str,
        reply_to_id: &str,
    ) -> Result<Published, PlatformError> {
        let form = [("media_type", "TEXT"), (self.text_field, text), ("reply_to_id", reply_to_id)];
        let step =
            ContainerStep { container: self.create_with(graph, &form).await?, created_at: OffsetDateTime::now_utc() };
        let at_once = Polling { first_check_after: Duration::ZERO, ..Polling::default() };
        self.advance(graph, at_once, &step).await
    }

    /// One status check at most: publishes a finished container, or says when to look again.
    async fn advance(
        &self,
        graph: &Graph<'_>,
        polling: Polling,
        step: &ContainerStep,
    ) -> Result<Published, PlatformError> {
        let age = step.age(OffsetDateTime::now_utc());
        if age < polling.first_check_after {
            return Err(self.not_ready(step, polling.first_check_after - age));
        }
        let (status, detail) = self.status(graph, &step.container).await?;
        match status {
            ContainerStatus::InProgress if age >= polling.give_up_after => Err(PlatformError::new(
                ErrorCode::InvalidMedia,
                format!(
                    "{} was still processing the media after {} minutes; a retry starts over",
                    self.platform.as_str(),
                    polling.give_up_after.as_secs() / 60
                ),
            )),
            ContainerStatus::InProgress => Err(self.not_ready(step, polling.interval)),
            status => {
                container_ready(status, detail)?;
                self.publish_container(graph, &step.container).await
            }
        }
    }

    fn not_ready(&self, step: &ContainerStep, after: Duration) -> PlatformError {
        let message =
            format!("{} is processing the media; checked again in {} s", self.platform.as_str(), after.as_secs());
        PlatformError::not_ready(message, step.stored(), after)
    }

    async fn publish_container(&self, graph: &Graph<'_>, container: &str) -> Result<Published, PlatformError> {
        let published: Created =
            graph.post(&[graph.channel(), self.publish_edge], &[("creation_id", container)]).await?;
        let url = permalink(graph, &published.id).await;
        Ok(Published { platform_post_id: published.id, url })
    }

    async fn create(&self, graph: &Graph<'_>, post: &PublishRequest) -> Result<String, PlatformError> {
        let text = post.text.as_str();
        match post.media.as_slice() {
            [] => self.create_with(graph, &[("media_type", "TEXT"), (self.text_field, text)]).await,
            [image] => self.create_image(graph, image, (self.text_field, text)).await,
            images => self.create_carousel(graph, text, images).await,
        }
    }

    async fn create_carousel(
        &self,
        graph: &Graph<'_>,
        text: &str,
        images: &[MediaItem],
    ) -> Result<String, PlatformError> {
        let mut children = Vec::with_capacity(images.len());
        for image in images {
            children.push(self.create_image(graph, image, ("is_carousel_item", "true")).await?);
        }
        let children = children.join(",");
        let form = [("media_type", "CAROUSEL"), ("children", children.as_str()), (self.text_field, text)];
        self.create_with(graph, &form).await
    }

    async fn create_image(
        &self,
        graph: &Graph<'_>,
        image: &MediaItem,
        extra: (&str, &str),
    ) -> Result<String, PlatformError> {
        let mut form: Vec<(&str, &str)> = self.image_media_type.map(|kind| ("media_type", kind)).into_iter().collect();
        form.push(("image_url", image.url.as_str()));
        form.extend(image.alt.as_deref().map(|alt| ("alt_text", alt)));
        form.push(extra);
        self.create_with(graph, &form).await
    }

    async fn create_with(&self, graph: &Graph<'_>, form: &[(&str, &str)]) -> Result<String, PlatformError> {
        let created: Created = graph.post(&[graph.channel(), self.create_edge], form).await?;
        Ok(created.id)
    }

    async fn status(
        &self,
        graph: &Graph<'_>,
        container: &str,
    ) -> Result<(ContainerStatus, Option<String>), PlatformError> {
        let fields = format!("{},{}", self.status_field, self.detail_field);
        let mut read: HashMap<String, serde_json::Value> = graph.get(&[container], &[("fields", &fields)]).await?;
        let status = read
            .remove(self.status_field)
            .and_then(|status| serde_json::from_value(status).ok())
            .unwrap_or(ContainerStatus::Unknown);
        let detail = read.remove(self.detail_field).and_then(|detail| detail.as_str().map(str::to_owned));
        Ok((status, detail))
    }
}

fn container_ready(status: ContainerStatus, detail: Option<String>) -> Result<(), PlatformError> {
    let detail = detail.unwrap_or_default();
    match status {
        ContainerStatus::Finished => Ok(()),
        ContainerStatus::Error | ContainerStatus::Expired => {
            Err(PlatformError::new(ErrorCode::InvalidMedia, format!("the media container is {status:?}: {detail}")))
        }
        ContainerStatus::Published => Err(PlatformError::new(
            ErrorCode::PlatformError,
            "the media container was already published by an earlier try; its post id is unknown",
        )),
        ContainerStatus::InProgress | ContainerStatus::Unknown => Err(PlatformError::new(
            ErrorCode::PlatformError,
            format!("the media container reports an undocumented status: {detail}"),
        )),
    }
}

/// The post is live once published, so a permalink that cannot be read is left out rather than
/// failing the publish.
async fn permalink(graph: &Graph<'_>, media_id: &str) -> Option<String> {
    let read: Permalink = graph.get(&[media_id], &[("fields", "permalink")]).await.ok()?;
    read.permalink
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_the_container_and_its_creation_time() {
        let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let step = ContainerStep { container: "17889".into(), created_at: at };
        assert_eq!(step.stored(), "17889@1790000000");
        let later = at + Duration::from_secs(90);
        assert_eq!(ContainerStep::parse(&step.stored(), later), step);
        assert_eq!(step.age(later), Duration::from_secs(90));
        let earlier = ContainerStep::parse("17889", later);
        assert_eq!((earlier.container.as_str(), earlier.age(later)), ("17889", Duration::ZERO));
    }
}
