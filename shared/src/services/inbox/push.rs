//! What a platform pushed (SPEC §8), after its signature was checked: each comment, mention or
//! message arrives on every channel that is the account or page it was sent to (one per
//! workspace that connected it) through the same `arrive` as a polled one, so a delivery Meta
//! retries, or an item both pushed and polled, is stored and announced once. News of a DM the
//! account sent fires `dm.status.*` once per DM and status (a [`DmStatusMark`] written with the
//! event); a Facebook read receipt, which names no message, marks read every DM sent to that
//! reader up to its watermark.

use std::collections::HashMap;

use serde_json::json;

use time::OffsetDateTime;

use crate::model::channels::Channel;
use crate::model::error::{Error, Result};
use crate::model::ids::{ChannelId, InteractionId};
use crate::model::inbox::{Direction, DmStatusMark, InteractionKind};
use crate::model::times::rfc3339;
use crate::model::webhooks::EventType;
use crate::ports::platforms::{DmStatus, PushBatch, PushedItem};
use crate::ports::store::{Condition, InteractionFilter, PageRequest, Record, Write};
use crate::services::connections::Accounts;
use crate::services::inbox::{InboxSettings, RecentPosts, arrive, interaction_of};
use crate::services::webhooks::outbox::commit;

/// How far back from its watermark a read receipt is applied.
const READ_RECEIPT_REACH: time::Duration = time::Duration::days(7);
/// The DMs a read receipt is looked for among.
const READ_RECEIPT_PAGE: usize = 100;

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
                    match announce(accounts, settings, &channel, id, *status, *at).await? {
                        true => report.statuses += 1,
                        false => report.duplicates += 1,
                    }
                }
                PushedItem::ReadUpTo { reader, watermark } => {
                    for id in sent_to(accounts, &channel, reader, *watermark).await? {
                        match announce(accounts, settings, &channel, id, DmStatus::Read, *watermark).await? {
                            true => report.statuses += 1,
                            false => report.duplicates += 1,
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Fires `dm.status.<status>` for the DM `id` unless it was fired before; whether it fired.
async fn announce(
    accounts: &Accounts<'_>,
    settings: &InboxSettings,
    channel: &Channel,
    id: InteractionId,
    status: DmStatus,
    at: OffsetDateTime,
) -> Result<bool> {
    let now = accounts.clock.now();
    let mark = DmStatusMark {
        workspace_id: channel.workspace_id,
        interaction_id: id,
        status: status.as_str().to_string(),
        expires_at: now + settings.retention,
    };
    let once = Write::Put(mark.document()?, Condition::AbsentOrExpiredBy(now));
    let data = json!({"interaction_id": id, "status": status.as_str(), "at": rfc3339(at)});
    match commit(&accounts.outbox(), vec![once], channel.workspace_id, status_event(status), data).await {
        Ok(_) => Ok(true),
        Err(Error::Conflict(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// The DMs the channel sent to `reader` in the week up to `watermark`, newest first (a page of
/// the inbox at most): what a Facebook read receipt covers.
async fn sent_to(
    accounts: &Accounts<'_>,
    channel: &Channel,
    reader: &str,
    watermark: OffsetDateTime,
) -> Result<Vec<InteractionId>> {
    let filter = InteractionFilter {
        kind: Some(InteractionKind::Dm),
        channel: Some(channel.id),
        since: Some(watermark - READ_RECEIPT_REACH),
        ..InteractionFilter::default()
    };
    let page = PageRequest { limit: READ_RECEIPT_PAGE, cursor: None };
    let dms = accounts.store.list_interactions(channel.workspace_id, filter, page).await?.items;
    Ok(dms
        .into_iter()
        .filter(|dm| dm.direction == Direction::Outbound && dm.received_at <= watermark)
        .filter(|dm| dm.reply_handle.as_deref() == Some(reader))
        .map(|dm| dm.id)
        .collect())
}

fn status_event(status: DmStatus) -> EventType {
    match status {
        DmStatus::Sent => EventType::DmStatusSent,
        DmStatus::Delivered => EventType::DmStatusDelivered,
        DmStatus::Read => EventType::DmStatusRead,
        DmStatus::Failed => EventType::DmStatusFailed,
    }
}
