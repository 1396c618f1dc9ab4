//! Answering an interaction through its platform (`POST /v1/interactions/{id}/reply`): a reply
//! to a comment or mention, or a DM to the author of a DM, where the platform's API allows it.
//! The answer is recorded as an outbound interaction of the same conversation (and a DM answer
//! fires dm.sent).

use crate::model::error::{Error, Result};
use crate::model::ids::{InteractionId, WorkspaceId};
use crate::model::inbox::{
    Author, Content, Direction, Interaction, InteractionKind, InteractionMetadata, MAX_TEXT_CHARS,
};
use crate::ports::platforms::ReplyTarget;
use crate::services::connections::Accounts;
use crate::services::connections::sync::with_fresh_token;
use crate::services::inbox::{InboxSettings, arrive};

/// Sends `text` as the answer to interaction `id` and returns the answer as recorded.
pub async fn reply(
    accounts: &Accounts<'_>,
    settings: &InboxSettings,
    workspace: WorkspaceId,
    id: InteractionId,
    text: &str,
) -> Result<Interaction> {
    let text = checked_text(text)?;
    let to = accounts.store.get_interaction(workspace, id).await?.ok_or(Error::NotFound("interaction"))?;
    let client =
        accounts.platforms.inbox(to.platform).filter(|client| client.replies_to(to.kind)).ok_or_else(|| {
            Error::Unprocessable(format!(
                "{} does not let apps answer a {} through its API",
                to.platform.as_str(),
                to.kind.as_str()
            ))
        })?;
    let gone = |what: &str| Error::Unprocessable(format!("the {what} this interaction arrived on was removed"));
    let channel = accounts.store.get_channel(workspace, to.channel_id).await?.ok_or_else(|| gone("channel"))?;
    let connection =
        accounts.store.get_connection(workspace, channel.connection_id).await?.ok_or_else(|| gone("account"))?;
    let target = ReplyTarget {
        kind: to.kind,
        platform_id: to.platform_id.clone(),
        author: to.author.clone(),
        reply_handle: to.reply_handle.clone(),
    };
    let sent = with_fresh_token(accounts, &connection, Some(&channel), |auth| {
        let (client, target) = (client.clone(), &target);
        async move { client.reply(&auth, target, text).await }
    })
    .await?;
    let now = accounts.clock.now();
    let answer = Interaction {
        id: InteractionId::of(to.platform.as_str(), channel.id, &sent.platform_post_id),
        workspace_id: workspace,
        kind: if to.kind == InteractionKind::Dm { InteractionKind::Dm } else { InteractionKind::Comment },
        platform: to.platform,
        account_id: connection.id,
        channel_id: channel.id,
        post_id: to.post_id,
        parent_id: Some(to.id),
        author: Author {
            id: connection.platform_user_id.clone(),
            name: connection.display_name.clone().unwrap_or_else(|| connection.username.clone()),
            username: Some(connection.username.clone()),
            avatar_url: connection.avatar_url.clone(),
        },
        content: Content { text: text.to_string(), media: Vec::new() },
        direction: Direction::Outbound,
        received_at: now,
        platform_url: sent.url,
        metadata: InteractionMetadata::default(),
        platform_id: sent.platform_post_id,
        reply_handle: to.reply_handle,
        stored_at: now,
        expires_at: now + settings.retention,
    }
    .bounded();
    arrive(&accounts.outbox(), &answer).await?;
    Ok(answer)
}

fn checked_text(text: &str) -> Result<&str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::bad_request("text must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::bad_request(format!("text must be at most {MAX_TEXT_CHARS} characters")));
    }
    Ok(text)
}
