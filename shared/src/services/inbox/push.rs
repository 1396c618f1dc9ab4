//! What a platform pushed (SPEC §8), after its signature was checked: each comment, mention or
//! message arrives on every channel that is the account or page it was sent to (one per
//! workspace that connected it) through the same `arrive` as a polled one, so a delivery Meta
//! retries, or an item both pushed and polled, is stored and announced once. News of a DM the
//! account sent fires `dm.status.*`; like every event, it may come twice when the platform
//! retries, so receivers deduplicate on `(interaction_id, status)`.

use std::collections::HashMap;

use serde_json::json;

use crate::model::error::Result;
use crate::model::ids::{ChannelId, InteractionId};
use crate::model::times::rfc3339;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{DmStatus, PushBatch, PushedItem};
use crate::services::connections::Accounts;
use crate::services::inbox::{InboxSettings, RecentPosts, arrive, interaction_of};
use crate::services::webhooks::outbox::emit;

/// What one push did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    /// New interactions stored.
    pub stored: usize,
    /// Items stored before (a retried delivery, or already polled).
    pub duplicates: usize,
    /// DM statuses announced.
    pub statuses: usize,
    /// Items for an account no workspace has connected.
    pub unknown_accounts: usize,
    /// Entries of a kind Posthorn does not read.
    pub ignored: usize,
}

/// Lets every item of `batch` arrive on the channels it is for.
pub async fn receive(accounts: &Accounts<'_>, settings: &InboxSettings, batch: PushBatch) -> Result<PushReport> {
    let mut report = PushReport { ignored: batch.ignored, ..PushReport::default() };
    let mut posts: HashMap<ChannelId, RecentPosts> = HashMap::new();
    let outbox = accounts.outbox();
    for pushed in batch.items {
        let channels = accounts.store.channels_on_platform(pushed.platform, &pushed.to).await?;
        if channels.is_empty() {
            report.unknown_accounts += 1;
        }
        for channel in channels {
            match &pushed.what {
                PushedItem::Interaction(item) => {
                    let recent = match posts.get(&channel.id) {
                        Some(recent) => recent.clone(),
                        None => RecentPosts::of(accounts.store, &channel).await?,
                    };
                    let now = accounts.clock.now();
                    let interaction = interaction_of(item.as_ref().clone(), &channel, &recent, now, settings.retention);
                    posts.insert(channel.id, recent);
                    match arrive(&outbox, &interaction).await? {
                        true => report.stored += 1,
                        false => report.duplicates += 1,
                    }
                }
                PushedItem::Status { platform_id, status, at } => {
                    let id = InteractionId::of(channel.platform.as_str(), channel.id, platform_id);
                    let data = json!({"interaction_id": id, "status": status.as_str(), "at": rfc3339(*at)});
                    emit(&outbox, channel.workspace_id, status_event(*status), data).await?;
                    report.statuses += 1;
                }
            }
        }
    }
    Ok(report)
}

fn status_event(status: DmStatus) -> EventType {
    match status {
        DmStatus::Sent => EventType::DmStatusSent,
        DmStatus::Delivered => EventType::DmStatusDelivered,
        DmStatus::Read => EventType::DmStatusRead,
        DmStatus::Failed => EventType::DmStatusFailed,
    }
}
