//! Posts' changes (SPEC §5). Creating one, for `POST /v1/posts` and generate-content alike:
//! every target checked against its platform's rules before anything is saved, then the post
//! saved whole, then scheduled (post.scheduled) or handed to the publisher at once. Changing or
//! deleting one: the post's next version (or its deletion) and the event it causes are committed
//! together, conditional on the version that was read.

use std::collections::HashSet;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::model::channels::Channel;
use crate::model::connections::ConnectionStatus;
use crate::model::error::{Error, Result};
use crate::model::ids::{ChannelId, PostId, WorkspaceId};
use crate::model::platforms::{Limits, MediaItem};
use crate::model::posts::validate::{MediaContent, TargetReport, check_target};
use crate::model::posts::{MAX_TARGETS, MAX_TEXT_CHARS, Post, PostStatus, Target};
use crate::model::times::rfc3339;
use crate::model::webhooks::EventType;
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::{Condition, Record, Store, Write};
use crate::services::webhooks::outbox::{Outbox, commit, emit};

/// What creating and checking posts needs: the store, the outbox for post.scheduled, and the
/// publisher's wake-up for a post due now (the dev server's process-queue waits on it).
#[derive(Clone, Copy)]
pub struct Posting<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
    pub wake_publisher: &'a Notify,
}

impl<'a> Posting<'a> {
    pub fn outbox(&self) -> Outbox<'a> {
        Outbox { store: self.store, queue: self.queue, clock: self.clock }
    }
}

/// A post as a caller describes it, before it is checked.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub text: String,
    pub media: Vec<MediaItem>,
    pub targets: Vec<ChannelId>,
    pub scheduled_at: Option<OffsetDateTime>,
    pub draft: bool,
}

/// Checks `new` against every target and saves it; then schedules it or wakes the publisher.
pub async fn create(posting: &Posting<'_>, workspace: WorkspaceId, new: &NewPost) -> Result<Post> {
    let post = checked_post(posting, workspace, new).await?;
    posting.store.create_post(&post, None).await?;
    after_create(posting, &post).await?;
    Ok(post)
}

/// The post `new` describes, once every target accepts it; nothing is saved.
pub async fn checked_post(posting: &Posting<'_>, workspace: WorkspaceId, new: &NewPost) -> Result<Post> {
    let channels = target_channels(posting, workspace, &new.targets).await?;
    reject_problems(&checks(posting, &new.text, &new.media, &[], &channels).await?)?;
    new_post(workspace, new, &channels, posting.clock.now())
}

fn new_post(workspace: WorkspaceId, new: &NewPost, channels: &[Channel], now: OffsetDateTime) -> Result<Post> {
    if let Some(at) = new.scheduled_at.filter(|at| *at <= now) {
        return Err(Error::Unprocessable(format!("scheduled_at {at} is in the past")));
    }
    let (status, due_at) = match (new.draft, new.scheduled_at) {
        (true, _) => (PostStatus::Draft, None),
        (false, Some(at)) => (PostStatus::Scheduled, Some(at)),
        (false, None) => (PostStatus::Scheduled, Some(now)),
    };
    Ok(Post {
        id: PostId::new(),
        workspace_id: workspace,
        text: new.text.clone(),
        media: new.media.clone(),
        status,
        scheduled_at: new.scheduled_at,
        targets: channels.iter().map(|channel| Target::pending(channel.id, channel.platform)).collect(),
        due_at,
        retried_count: 0,
        metrics_due_at: None,
        version: 0,
        created_at: now,
        updated_at: now,
    })
}

/// Fires post.scheduled for a future post; an immediate one is handed to the publisher.
pub async fn after_create(posting: &Posting<'_>, post: &Post) -> Result<()> {
    match (post.status, post.scheduled_at) {
        (PostStatus::Scheduled, Some(at)) => {
            let targets: Vec<ChannelId> = post.targets.iter().map(|target| target.channel_id).collect();
            let data =
                json!({"post_id": post.id, "status": post.status, "scheduled_at": rfc3339(at), "targets": targets});
            emit(&posting.outbox(), post.workspace_id, EventType::PostScheduled, data).await?;
        }
        (PostStatus::Scheduled, None) => posting.wake_publisher.notify_one(),
        _ => {}
    }
    Ok(())
}

/// The channels of `targets`, in order; each must exist in the workspace.
pub async fn target_channels(
    posting: &Posting<'_>,
    workspace: WorkspaceId,
    targets: &[ChannelId],
) -> Result<Vec<Channel>> {
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(Error::bad_request(format!("targets must list 1 to {MAX_TARGETS} channel ids")));
    }
    let mut seen = HashSet::new();
    let mut channels = Vec::with_capacity(targets.len());
    for (index, id) in targets.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(Error::bad_request(format!("targets[{index}]: channel {id} is listed twice")));
        }
        let channel = posting.store.get_channel(workspace, *id).await?;
        channels.push(channel.ok_or_else(|| Error::bad_request(format!("targets[{index}]: channel {id} not found")))?);
    }
    Ok(channels)
}

/// Every target's report for this text and media, whose content is `content` item by item
/// (empty when it was not read).
pub async fn checks(
    posting: &Posting<'_>,
    text: &str,
    media: &[MediaItem],
    content: &[MediaContent],
    channels: &[Channel],
) -> Result<Vec<TargetReport>> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::bad_request(format!("text must be at most {MAX_TEXT_CHARS} characters")));
    }
    let mut reports = Vec::with_capacity(channels.len());
    for channel in channels {
        let connection = posting.store.get_connection(channel.workspace_id, channel.connection_id).await?;
        let status = connection.as_ref().map_or(ConnectionStatus::Expired, |connection| connection.status);
        let limits = channel.platform.limits_on(connection.and_then(|connection| connection.instance_limits));
        reports.push(check_target(text, media, content, channel, limits, status));
    }
    Ok(reports)
}

/// The limits of a channel's account: its Mastodon instance's own where they were read at connect.
pub async fn channel_limits(store: &dyn Store, channel: &Channel) -> Result<Limits> {
    let connection = store.get_connection(channel.workspace_id, channel.connection_id).await?;
    Ok(channel.platform.limits_on(connection.and_then(|connection| connection.instance_limits)))
}

/// A 400 naming each target and rule it breaks.
pub fn reject_problems(reports: &[TargetReport]) -> Result<()> {
    let problems: Vec<String> = reports
        .iter()
        .enumerate()
        .flat_map(|(index, report)| {
            report.problems.iter().map(move |problem| {
                format!("targets[{index}] ({} {}): {}", report.platform.as_str(), report.channel_id, problem.message)
            })
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(Error::BadRequest(problems.join("; "))) }
}

/// Writes `post` as its next version together with the event the change causes: both or
/// neither. `Conflict` if the post changed since it was read.
pub async fn commit_change(outbox: &Outbox<'_>, post: &mut Post, event_type: EventType, data: Value) -> Result<()> {
    let write = next_version(post, outbox.clock.now())?;
    commit(outbox, vec![write], post.workspace_id, event_type, data).await.map(drop)
}

/// Deletes `post` together with the event it causes, unless it changed since it was read (a
/// publishing run claimed it): then `Conflict`, and neither happens.
pub async fn commit_delete(outbox: &Outbox<'_>, post: &Post, event_type: EventType, data: Value) -> Result<()> {
    let write = Write::Delete(post.key(), Condition::Version(post.version));
    commit(outbox, vec![write], post.workspace_id, event_type, data).await.map(drop)
}

/// `post` as its next version, written only over the version that was read.
fn next_version(post: &mut Post, now: OffsetDateTime) -> Result<Write> {
    let expected = post.version;
    post.version += 1;
    post.updated_at = now;
    Ok(Write::Put(post.document()?, Condition::Version(expected)))
}
