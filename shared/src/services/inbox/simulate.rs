//! The sandbox's inbox (`POST /v1/sandbox/interactions`): an interaction arriving on a sandbox
//! channel as if someone had written it, through the same path as a polled or pushed one, so the
//! whole inbox — events, API, replies — can be tried with no account.

use crate::adapters::platforms::sandbox;
use crate::model::error::{Error, Result};
use crate::model::ids::{ChannelId, PostId, WorkspaceId};
use crate::model::inbox::{AttachedMedia, Author, Direction, Interaction, InteractionKind};
use crate::model::platforms::Platform;
use crate::model::posts::TargetStatus;
use crate::ports::platforms::RemoteInteraction;
use crate::services::connections::Accounts;
use crate::services::inbox::{InboxSettings, RecentPosts, arrive, interaction_of};

/// What arrives.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub channel_id: ChannelId,
    pub kind: InteractionKind,
    pub text: String,
    pub author: Option<Author>,
    pub media: Vec<AttachedMedia>,
    /// The post it answers: one published on the channel.
    pub post_id: Option<PostId>,
}

/// The author of a simulated interaction when the caller names none.
fn sample_author() -> Author {
    Author { id: "sandbox-fan".into(), name: "Sandbox Fan".into(), username: Some("fan".into()), avatar_url: None }
}

/// Lets `simulated` arrive on its sandbox channel and returns it as stored.
pub async fn simulate(
    accounts: &Accounts<'_>,
    settings: &InboxSettings,
    workspace: WorkspaceId,
    simulated: Simulated,
) -> Result<Interaction> {
    if simulated.text.trim().is_empty() && simulated.media.is_empty() {
        return Err(Error::bad_request("text must not be empty"));
    }
    let channel = accounts
        .store
        .get_channel(workspace, simulated.channel_id)
        .await?
        .ok_or_else(|| Error::Unprocessable(format!("channel {} does not exist", simulated.channel_id)))?;
    if channel.platform != Platform::Sandbox {
        return Err(Error::Unprocessable(format!(
            "channel {} is on {}: only sandbox channels take simulated interactions",
            channel.id,
            channel.platform.as_str()
        )));
    }
    let in_reply_to = match simulated.post_id {
        Some(post_id) => Some(published_on(accounts, workspace, post_id, channel.id).await?),
        None => None,
    };
    let now = accounts.clock.now();
    let item = RemoteInteraction {
        kind: simulated.kind,
        direction: Direction::Inbound,
        platform_id: sandbox::new_platform_id(),
        in_reply_to: in_reply_to.clone(),
        author: simulated.author.unwrap_or_else(sample_author),
        text: simulated.text,
        media: simulated.media,
        created_at: now,
        url: None,
        reply_handle: None,
        referral: None,
    };
    let mut interaction = interaction_of(item, &channel, &RecentPosts::default(), now, settings.retention);
    if in_reply_to.is_some() {
        interaction.post_id = simulated.post_id;
        interaction.parent_id = None;
    }
    arrive(&accounts.outbox(), &interaction).await?;
    Ok(interaction)
}

/// The platform id of `post` on `channel`: a 422 unless it was published there.
async fn published_on(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    post: PostId,
    channel: ChannelId,
) -> Result<String> {
    let stored = accounts.store.get_post(workspace, post).await?;
    let target = stored.as_ref().and_then(|post| post.targets.iter().find(|target| target.channel_id == channel));
    match target {
        Some(target) if target.status == TargetStatus::Published => {
            Ok(target.platform_post_id.clone().unwrap_or_default())
        }
        Some(_) => Err(Error::Unprocessable(format!("post {post} is not published on channel {channel} yet"))),
        None if stored.is_some() => Err(Error::Unprocessable(format!("post {post} does not target channel {channel}"))),
        None => Err(Error::Unprocessable(format!("post {post} does not exist"))),
    }
}
