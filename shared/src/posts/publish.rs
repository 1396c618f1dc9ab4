//! The publishing pipeline (SPEC §5): process-queue takes due posts, claims each with a
//! conditional write so one run alone publishes it, publishes every pending target once —
//! recording each result before the next target, so a crash never re-posts one that succeeded —
//! then settles the post's status and fires its event.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::model::{Post, PostStatus, Target, TargetError, TargetStatus};
use crate::app::AppState;
use crate::channels::{Channel, Connection, ConnectionStatus};
use crate::error::{Error, Result};
use crate::platforms::{ChannelAuth, ErrorCode, PlatformError, PublishRequest, Published};
use crate::webhooks::EventType;
use crate::webhooks::outbox::emit;

/// How long a claim holds a post: a run that dies mid-post frees it after this.
pub const PUBLISH_LEASE: time::Duration = time::Duration::minutes(5);
/// A rate-limited target waits for the platform at most this long before it is failed.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
const MAX_TARGET_ATTEMPTS: u32 = 3;

/// Publishes up to `limit` due posts; returns how many this run claimed.
pub async fn publish_due(state: &AppState, limit: usize) -> Result<usize> {
    let now = state.clock.now();
    let mut claimed = 0;
    for post in state.store.due_posts(now, limit).await? {
        if let Some(post) = claim(state, post, now).await? {
            claimed += 1;
            let post_id = post.id;
            if let Err(error) = publish(state, post).await {
                tracing::error!(%post_id, error = %error, "publishing a post failed; it is retried after its lease");
            }
        }
    }
    Ok(claimed)
}

/// Moves a due post to `publishing` for [`PUBLISH_LEASE`]; `None` if another run got it.
async fn claim(state: &AppState, mut post: Post, now: OffsetDateTime) -> Result<Option<Post>> {
    if !matches!(post.status, PostStatus::Scheduled | PostStatus::Publishing) {
        return Ok(None);
    }
    post.status = PostStatus::Publishing;
    post.due_at = Some(now + PUBLISH_LEASE);
    match save(state, &mut post).await {
        Ok(()) => Ok(Some(post)),
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Publishes every pending target of a claimed post, then settles it.
async fn publish(state: &AppState, mut post: Post) -> Result<()> {
    let mut wait: Option<Duration> = None;
    for index in 0..post.targets.len() {
        if post.targets[index].status != TargetStatus::Pending {
            continue;
        }
        let outcome = publish_target(state, &post, &post.targets[index]).await;
        let now = state.clock.now();
        if let Some(delay) = record(&mut post.targets[index], outcome, now) {
            wait = Some(wait.map_or(delay, |shortest| shortest.min(delay)));
        }
        save(state, &mut post).await?;
    }
    match wait {
        Some(delay) => {
            post.due_at = Some(state.clock.now() + delay);
            save(state, &mut post).await
        }
        None => settle(state, post).await,
    }
}

/// Records a target's outcome; returns the wait before trying it again, if it will be.
fn record(target: &mut Target, outcome: Result<Published, PlatformError>, now: OffsetDateTime) -> Option<Duration> {
    target.attempts += 1;
    match outcome {
        Ok(published) => {
            target.status = TargetStatus::Published;
            target.platform_post_id = Some(published.platform_post_id);
            target.url = published.url;
            target.error = None;
            target.published_at = Some(now);
            target.progress = None;
            None
        }
        Err(error) => {
            let resume_in = error.resumes_after();
            let rate_limit_wait = error.retry_after.filter(|delay| {
                error.code == ErrorCode::RateLimited
                    && *delay <= MAX_RATE_LIMIT_WAIT
                    && target.attempts < MAX_TARGET_ATTEMPTS
            });
            let retry_in = resume_in.or(rate_limit_wait);
            target.error = Some(TargetError { code: error.code, message: error.message });
            // Adapters hand back the step on every error that may resume from it, so an error
            // without one (an unusable media container) makes the next try start over.
            target.progress = error.progress;
            if retry_in.is_none() {
                target.status = TargetStatus::Failed;
            }
            retry_in
        }
    }
}

async fn publish_target(state: &AppState, post: &Post, target: &Target) -> Result<Published, PlatformError> {
    let auth = channel_auth(state, post, target).await?;
    let client = state.platforms.get(target.platform).ok_or_else(|| {
        PlatformError::new(
            ErrorCode::PlatformError,
            format!("no adapter for {} is configured", target.platform.as_str()),
        )
    })?;
    let request = PublishRequest {
        target_key: format!("{}:{}", post.id, target.channel_id),
        text: post.text.clone(),
        media: post.media.clone(),
        resume_from: target.progress.clone(),
    };
    client.publish(&auth, &request).await
}

/// The base URL, token and channel id to publish `target` with.
async fn channel_auth(state: &AppState, post: &Post, target: &Target) -> Result<ChannelAuth, PlatformError> {
    let (channel, connection) = target_account(state, post, target).await?;
    if connection.status == ConnectionStatus::Expired {
        return Err(PlatformError::new(ErrorCode::AuthExpired, "the connection expired; reconnect the account"));
    }
    account_auth(state, channel, connection)
}

/// The channel `target` goes to and the connection it belongs to.
pub(super) async fn target_account(
    state: &AppState,
    post: &Post,
    target: &Target,
) -> Result<(Channel, Connection), PlatformError> {
    let gone =
        |what: &str| PlatformError::new(ErrorCode::PlatformError, format!("the {what} of this target was deleted"));
    let channel = state
        .store
        .get_channel(post.workspace_id, target.channel_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| gone("channel"))?;
    let connection = state
        .store
        .get_connection(post.workspace_id, channel.connection_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| gone("connection"))?;
    Ok((channel, connection))
}

/// The base URL, token and channel id to act as `channel` with.
pub(super) fn account_auth(
    state: &AppState,
    channel: Channel,
    connection: Connection,
) -> Result<ChannelAuth, PlatformError> {
    let sealed = channel.channel_token.as_ref().unwrap_or(&connection.access_token);
    Ok(ChannelAuth {
        base_url: connection.base_url,
        access_token: state.secrets.open(sealed).map_err(internal)?,
        platform_channel_id: channel.platform_channel_id,
    })
}

/// A store or decryption failure, as the target's error.
fn internal(error: Error) -> PlatformError {
    PlatformError::new(ErrorCode::PlatformError, error.to_string())
}

/// Sets the final status, clears the lease, makes a post with a published target due for its
/// first metrics sync, and fires post.published / partial / failed.
async fn settle(state: &AppState, mut post: Post) -> Result<()> {
    let published = post.targets.iter().filter(|target| target.status == TargetStatus::Published).count();
    let (status, event) = match published {
        0 => (PostStatus::Failed, EventType::PostFailed),
        n if n == post.targets.len() => (PostStatus::Published, EventType::PostPublished),
        _ => (PostStatus::Partial, EventType::PostPartial),
    };
    post.status = status;
    post.due_at = None;
    if published > 0 {
        post.metrics_due_at = Some(state.clock.now());
    }
    save(state, &mut post).await?;
    emit(state, post.workspace_id, event, outcome_data(&post)).await?;
    Ok(())
}

/// The `data` of post.published / partial / failed (SPEC §4): counts and per-target results.
pub fn outcome_data(post: &Post) -> Value {
    let published = post.targets.iter().filter(|target| target.status == TargetStatus::Published).count();
    let failed = post.targets.iter().filter(|target| target.status == TargetStatus::Failed).count();
    let results: Vec<Value> = post.targets.iter().map(target_result).collect();
    let mut data = json!({
        "post_id": post.id,
        "status": post.status,
        "failed": failed,
        "total": post.targets.len(),
        "results": results,
    });
    if post.status != PostStatus::Failed {
        data["published"] = json!(published);
    }
    data
}

fn target_result(target: &Target) -> Value {
    match (&target.status, &target.error) {
        (TargetStatus::Published, _) => json!({
            "channel_id": target.channel_id, "platform": target.platform, "status": "published",
            "platform_post_id": target.platform_post_id, "url": target.url,
        }),
        (status, error) => json!({
            "channel_id": target.channel_id, "platform": target.platform, "status": status, "error": error,
        }),
    }
}

/// Writes `post` as its next version: `Conflict` if someone else wrote it since it was read.
pub(super) async fn save(state: &AppState, post: &mut Post) -> Result<()> {
    let expected_version = post.version;
    post.version += 1;
    post.updated_at = state.clock.now();
    state.store.update_post(post, expected_version).await
}
