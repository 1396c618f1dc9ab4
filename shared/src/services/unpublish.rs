//! Unpublishing (`POST /v1/posts/{id}/unpublish`, SPEC §8): a published post deleted from the
//! platforms it is live on — the chosen channels, or all — through each platform's adapter, all
//! targets at once with tokens fresh at the moment of use. Each target records when it was
//! deleted or why it could not be (Instagram's API cannot delete), the others proceed, and
//! `post.unpublished` fires with the post's new state in one transaction. Posthorn's own record
//! stays: `DELETE /v1/posts/{id}` is what removes that.

use std::collections::HashMap;

use futures_util::future::join_all;
use serde_json::json;
use time::OffsetDateTime;

use crate::model::error::{Error, Result};
use crate::model::ids::{ChannelId, ConnectionId, PostId, WorkspaceId};
use crate::model::platforms::ErrorCode;
use crate::model::posts::{Post, PostStatus, Target, TargetError, TargetStatus};
use crate::model::webhooks::EventType;
use crate::ports::platforms::PlatformError;
use crate::services::connections::Accounts;
use crate::services::connections::sync::with_fresh_token;
use crate::services::posts::commit_change;
use crate::services::publish::target_account;

/// How often the post's write is re-read and re-applied after losing to another write.
const WRITE_ATTEMPTS: usize = 5;

/// What deleting one target from its platform gave.
struct Outcome {
    channel_id: ChannelId,
    account: Option<ConnectionId>,
    result: std::result::Result<OffsetDateTime, TargetError>,
}

/// Deletes `post` from the platforms of `channels` (every live target when `None`) and records
/// what each did. Returns the post as stored.
pub async fn unpublish(
    accounts: &Accounts<'_>,
    workspace: WorkspaceId,
    id: PostId,
    channels: Option<&[ChannelId]>,
) -> Result<Post> {
    let post = accounts.store.get_post(workspace, id).await?.ok_or(Error::NotFound("post"))?;
    if !matches!(post.status, PostStatus::Published | PostStatus::Partial) {
        return Err(Error::Conflict(format!(
            "only published or partial posts can be unpublished; this one is {}",
            post.status.as_str()
        )));
    }
    let chosen = chosen_targets(&post, channels)?;
    if chosen.is_empty() {
        return Err(Error::Conflict("no target of this post is live on its platform".into()));
    }
    let outcomes = join_all(chosen.iter().map(|target| delete_target(accounts, &post, target))).await;
    record(accounts, workspace, id, &outcomes).await
}

/// The live targets among `channels` (each must be a target of the post), or all of them.
fn chosen_targets(post: &Post, channels: Option<&[ChannelId]>) -> Result<Vec<Target>> {
    let not_a_target = |id: &&ChannelId| !post.targets.iter().any(|target| target.channel_id == **id);
    if let Some(stray) = channels.and_then(|channels| channels.iter().find(not_a_target)) {
        return Err(Error::bad_request(format!("channel_ids: {stray} is not a target of this post")));
    }
    let wanted = |target: &Target| channels.is_none_or(|channels| channels.contains(&target.channel_id));
    Ok(post.targets.iter().filter(|target| wanted(target) && live(target)).cloned().collect())
}

fn live(target: &Target) -> bool {
    target.status == TargetStatus::Published && target.platform_post_id.is_some() && target.unpublished_at.is_none()
}

async fn delete_target(accounts: &Accounts<'_>, post: &Post, target: &Target) -> Outcome {
    let failed = |account, error: PlatformError| Outcome {
        channel_id: target.channel_id,
        account,
        result: Err(TargetError { code: error.code, message: error.message }),
    };
    let (channel, connection) = match target_account(accounts, post, target).await {
        Ok(account) => account,
        Err(error) => return failed(None, error),
    };
    let Some(client) = accounts.platforms.get(target.platform) else {
        let error = PlatformError::new(ErrorCode::PlatformError, "no adapter for this platform is configured");
        return failed(Some(connection.id), error);
    };
    let platform_post_id = target.platform_post_id.as_deref().unwrap_or_default();
    let deleted = with_fresh_token(accounts, &connection, Some(&channel), |auth| async move {
        client.delete(&auth, platform_post_id).await
    })
    .await;
    match deleted {
        Ok(()) => {
            Outcome { channel_id: target.channel_id, account: Some(connection.id), result: Ok(accounts.clock.now()) }
        }
        Err(error) => failed(Some(connection.id), error.into()),
    }
}

/// Writes each target's outcome on the post with post.unpublished (when any was deleted), again
/// from a fresh read while another write gets in first.
async fn record(accounts: &Accounts<'_>, workspace: WorkspaceId, id: PostId, outcomes: &[Outcome]) -> Result<Post> {
    let by_channel: HashMap<ChannelId, &Outcome> = outcomes.iter().map(|o| (o.channel_id, o)).collect();
    for _ in 0..WRITE_ATTEMPTS {
        let mut post = accounts.store.get_post(workspace, id).await?.ok_or(Error::NotFound("post"))?;
        for target in &mut post.targets {
            if let Some(outcome) = by_channel.get(&target.channel_id) {
                match &outcome.result {
                    Ok(at) => {
                        target.unpublished_at = Some(*at);
                        target.unpublish_error = None;
                    }
                    Err(error) => target.unpublish_error = Some(error.clone()),
                }
            }
        }
        let unpublished: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_ok()).collect();
        if unpublished.is_empty() {
            let expected = post.version;
            post.version += 1;
            post.updated_at = accounts.clock.now();
            match accounts.store.update_post(&post, expected).await {
                Ok(()) => return Ok(post),
                Err(Error::Conflict(_)) => continue,
                Err(error) => return Err(error),
            }
        }
        let data = json!({
            "post_id": id,
            "account_id": account_of(&post, &unpublished),
            "unpublished_count": unpublished.len(),
            "results": outcomes.iter().map(|o| json!({
                "channel_id": o.channel_id,
                "unpublished": o.result.is_ok(),
                "error": o.result.as_ref().err(),
            })).collect::<Vec<_>>(),
        });
        match commit_change(&accounts.outbox(), &mut post, EventType::PostUnpublished, data).await {
            Ok(()) => return Ok(post),
            Err(Error::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict("the post kept changing while it was unpublished; read it and try again".into()))
}

/// The one account the post was unpublished from, or `None` when it is now unpublished
/// everywhere it was live (or from several accounts at once).
fn account_of(post: &Post, unpublished: &[&Outcome]) -> Option<ConnectionId> {
    let everywhere = post.targets.iter().all(|target| !live(target));
    let mut accounts = unpublished.iter().filter_map(|o| o.account);
    let first = accounts.next()?;
    (!everywhere && accounts.all(|account| account == first)).then_some(first)
}
