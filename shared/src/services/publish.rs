//! The publishing pipeline (SPEC §5): process-queue takes due posts, claims each with a
//! conditional write so one run alone publishes it, publishes every pending target once —
//! recording each result before the next target, so a crash never re-posts one that succeeded —
//! then settles the post's status and fires its event.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::error::{Error, Result};
use crate::model::platforms::ErrorCode;
use crate::model::posts::{Post, PostStatus, Target, TargetError, TargetStatus};
use crate::model::webhooks::EventType;
use crate::ports::platforms::{PlatformError, PublishRequest, Published};
use crate::services::connections::Accounts;
use crate::services::connections::sync::with_fresh_token;
use crate::services::posts::commit_change;

/// How long a claim holds a post: a run that dies mid-post frees it after this.
pub const PUBLISH_LEASE: time::Duration = time::Duration::minutes(5);
/// A rate-limited target waits for the platform at most this long before it is failed.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
const MAX_TARGET_ATTEMPTS: u32 = 3;

/// Publishes up to `limit` due posts, taking up no post or target after `deadline`; returns how
/// many posts this run claimed. What is left stays due for the next run.
pub async fn publish_due(accounts: &Accounts<'_>, limit: usize, deadline: Instant) -> Result<usize> {
    let now = accounts.clock.now();
    let mut claimed = 0;
    for post in accounts.store.due_posts(now, limit).await? {
        if Instant::now() >= deadline {
            tracing::info!(claimed, "out of time: the remaining due posts wait for the next run");
            break;
        }
        if let Some(post) = claim(accounts, post, now).await? {
            claimed += 1;
            let post_id = post.id;
            if let Err(error) = publish(accounts, post, deadline).await {
                tracing::error!(%post_id, error = %error, "publishing a post failed; it is retried after its lease");
            }
        }
    }
    Ok(claimed)
}

/// Moves a due post to `publishing` for [`PUBLISH_LEASE`]; `None` if another run got it.
async fn claim(accounts: &Accounts<'_>, mut post: Post, now: OffsetDateTime) -> Result<Option<Post>> {
    if !matches!(post.status, PostStatus::Scheduled | PostStatus::Publishing) {
        return Ok(None);
    }
    post.status = PostStatus::Publishing;
    post.due_at = Some(now + PUBLISH_LEASE);
    match save(accounts, &mut post).await {
        Ok(()) => Ok(Some(post)),
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Publishes every pending target of a claimed post, then settles it. After `deadline` no
/// further target is taken up: the post stays due, and the next run publishes the rest.
async fn publish(accounts: &Accounts<'_>, mut post: Post, deadline: Instant) -> Result<()> {
    let mut wait: Option<Duration> = None;
    for index in 0..post.targets.len() {
        if post.targets[index].status != TargetStatus::Pending {
            continue;
        }
        if Instant::now() >= deadline {
            // Due again at once for the untaken targets (a rate-limited one comes back early
            // with them, within its bounded attempts).
            wait = Some(Duration::ZERO);
            break;
        }
        let outcome = publish_target(accounts, &post, &post.targets[index]).await;
        let now = accounts.clock.now();
        if let Some(delay) = record(&mut post.targets[index], outcome, now) {
            wait = Some(wait.map_or(delay, |shortest| shortest.min(delay)));
        }
        save(accounts, &mut post).await?;
    }
    match wait {
        Some(delay) => {
            post.due_at = Some(accounts.clock.now() + delay);
            save(accounts, &mut post).await
        }
        None => settle(accounts, post).await,
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

async fn publish_target(accounts: &Accounts<'_>, post: &Post, target: &Target) -> Result<Published, PlatformError> {
    let (channel, connection) = target_account(accounts, post, target).await?;
    let client = accounts.platforms.get(target.platform).ok_or_else(|| {
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
    let published = with_fresh_token(accounts, &connection, Some(&channel), |auth| {
        let request = &request;
        async move { client.publish(&auth, request).await }
    })
    .await?;
    Ok(published)
}

/// The channel `target` goes to and the connection it belongs to.
pub async fn target_account(
    accounts: &Accounts<'_>,
    post: &Post,
    target: &Target,
) -> Result<(Channel, Connection), PlatformError> {
    let gone =
        |what: &str| PlatformError::new(ErrorCode::PlatformError, format!("the {what} of this target was deleted"));
    let channel = accounts
        .store
        .get_channel(post.workspace_id, target.channel_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| gone("channel"))?;
    let connection = accounts
        .store
        .get_connection(post.workspace_id, channel.connection_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| gone("connection"))?;
    Ok((channel, connection))
}

/// A store or decryption failure, as the target's error.
fn internal(error: Error) -> PlatformError {
    PlatformError::new(ErrorCode::PlatformError, error.to_string())
}

/// Sets the final status, clears the lease, makes a post with a published target due for its
/// first metrics sync, and fires post.published / partial / failed.
async fn settle(accounts: &Accounts<'_>, mut post: Post) -> Result<()> {
    let published = post.targets.iter().filter(|target| target.status == TargetStatus::Published).count();
    let (status, event) = match published {
        0 => (PostStatus::Failed, EventType::PostFailed),
        n if n == post.targets.len() => (PostStatus::Published, EventType::PostPublished),
        _ => (PostStatus::Partial, EventType::PostPartial),
    };
    post.status = status;
    post.due_at = None;
    if published > 0 {
        post.metrics_due_at = Some(accounts.clock.now());
    }
    let data = outcome_data(&post);
    commit_change(&accounts.outbox(), &mut post, event, data).await
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
pub async fn save(accounts: &Accounts<'_>, post: &mut Post) -> Result<()> {
    let expected_version = post.version;
    post.version += 1;
    post.updated_at = accounts.clock.now();
    accounts.store.update_post(post, expected_version).await
}
