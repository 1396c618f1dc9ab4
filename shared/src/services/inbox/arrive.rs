//! What every interaction goes through on arrival: built from the platform's item with its
//! stable id, linked to the Posthorn post it answers, then stored and announced in one
//! transaction — or recognised as already stored and left alone.

use std::collections::HashMap;

use serde_json::json;
use time::OffsetDateTime;

use crate::model::channels::Channel;
use crate::model::error::{Error, Result};
use crate::model::ids::{InteractionId, PostId};
use crate::model::inbox::{Content, Interaction, InteractionMetadata, InteractionView};
use crate::model::posts::TargetStatus;
use crate::ports::platforms::RemoteInteraction;
use crate::ports::store::{Condition, Outcome, PageRequest, Record, Store, Write};
use crate::services::webhooks::outbox::{Outbox, commit};

/// How many of a workspace's newest posts are looked through for the one a reply answers.
const RECENT_POSTS: usize = 100;

/// The platform ids of a channel's recently published posts, and the posts they are.
#[derive(Debug, Clone, Default)]
pub struct RecentPosts(HashMap<String, PostId>);

impl RecentPosts {
    /// The channel's targets among the workspace's newest posts that were published.
    pub async fn of(store: &dyn Store, channel: &Channel) -> Result<Self> {
        let page =
            store.list_posts(channel.workspace_id, None, PageRequest { limit: RECENT_POSTS, cursor: None }).await?;
        let published = page.items.iter().flat_map(|post| {
            post.targets
                .iter()
                .filter(|target| target.channel_id == channel.id && target.status == TargetStatus::Published)
                .filter_map(move |target| target.platform_post_id.clone().map(|id| (id, post.id)))
        });
        Ok(Self(published.collect()))
    }

    pub fn platform_ids(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    fn post_of(&self, platform_id: &str) -> Option<PostId> {
        self.0.get(platform_id).copied()
    }
}

/// The interaction `item` is on `channel`, kept until `now + retention`.
pub fn interaction_of(
    item: RemoteInteraction,
    channel: &Channel,
    posts: &RecentPosts,
    now: OffsetDateTime,
    retention: time::Duration,
) -> Interaction {
    let platform = channel.platform.as_str();
    let post_id = item.in_reply_to.as_deref().and_then(|id| posts.post_of(id));
    let parent_id = match post_id {
        Some(_) => None,
        None => item.in_reply_to.as_deref().map(|id| InteractionId::of(platform, channel.id, id)),
    };
    Interaction {
        id: InteractionId::of(platform, channel.id, &item.platform_id),
        workspace_id: channel.workspace_id,
        kind: item.kind,
        platform: channel.platform,
        account_id: channel.connection_id,
        channel_id: channel.id,
        post_id,
        parent_id,
        author: item.author,
        content: Content { text: item.text, media: item.media },
        direction: item.direction,
        received_at: item.created_at,
        platform_url: item.url,
        metadata: InteractionMetadata { referral: item.referral },
        platform_id: item.platform_id,
        reply_handle: item.reply_handle,
        stored_at: now,
        expires_at: now + retention,
    }
    .bounded()
}

/// Stores `interaction` and fires its event, both or neither. Returns whether it was new:
/// an interaction already stored (seen by an earlier poll, or pushed) is left as it is; one
/// stored so long ago that it expired is new again.
pub async fn arrive(outbox: &Outbox<'_>, interaction: &Interaction) -> Result<bool> {
    let write = Write::Put(interaction.document()?, Condition::AbsentOrExpiredBy(outbox.clock.now()));
    let Some(event_type) = interaction.event_type() else {
        return Ok(outbox.store.write(write).await? == Outcome::Written);
    };
    let data = json!(InteractionView::from(interaction));
    match commit(outbox, vec![write], interaction.workspace_id, event_type, data).await {
        Ok(_) => Ok(true),
        Err(Error::Conflict(_)) => Ok(false),
        Err(error) => Err(error),
    }
}
