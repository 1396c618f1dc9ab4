//! sync-inbox (every minute; SPEC §8): polls each channel whose inbox is due, every source of
//! its platform from the cursor kept for it, and lets each new item arrive. A channel is claimed
//! with a versioned write before it is polled, so two overlapping runs never poll it at once and
//! a run that died leaves it to the next after [`POLL_LEASE`]. Channels are polled
//! [`CONCURRENT_CHANNELS`] at a time, so one slow or failing account never holds up the others;
//! a rate limit backs off that source only; tokens are fresh at the moment of use. The first poll
//! of a source reads back only to the channel's `start_at` (its connection, or a backfill), so a
//! new account brings no flood of history. Each run takes up no new page after its deadline and
//! resumes there next time.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use time::OffsetDateTime;

use crate::model::channels::Channel;
use crate::model::connections::{Connection, ConnectionStatus};
use crate::model::error::{Error, Result};
use crate::model::inbox::{InboxState, SourceCursor};
use crate::model::platforms::ErrorCode;
use crate::ports::platforms::{InboxClient, InboxSource, PollFrom, Polled};
use crate::ports::store::{Condition, Record, Write};
use crate::services::connections::Accounts;
use crate::services::connections::sync::{CallError, with_fresh_token};
use crate::services::inbox::{InboxSettings, RecentPosts, arrive, interaction_of};

/// The most channels one run takes up.
pub const CHANNELS_PER_RUN: usize = 500;
/// How many channels are polled at once.
pub const CONCURRENT_CHANNELS: usize = 8;
/// The most pages of one source read in one run; the rest waits for the next.
const PAGES_PER_SOURCE: usize = 10;
/// How long a run holds a channel it claimed: far longer than a run.
pub const POLL_LEASE: time::Duration = time::Duration::minutes(5);
/// The soonest a rate-limited source is polled again, whatever the platform said.
const MIN_RETRY: time::Duration = time::Duration::minutes(1);
/// When a source that failed otherwise is polled again.
const FAILURE_RETRY: time::Duration = time::Duration::minutes(5);
/// When a DM source the grant does not cover is tried again (the user may grant it).
const DMS_RECHECK: time::Duration = time::Duration::hours(1);
/// When the channel of an ended (expired or revoked) connection is looked at again (a reconnect
/// revives it).
const EXPIRED_RECHECK: time::Duration = time::Duration::minutes(15);

/// What one run of sync-inbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InboxReport {
    /// Channels polled.
    pub channels: usize,
    /// New interactions stored (one event each, where their kind has one).
    pub interactions: usize,
    /// Items seen before (an overlap of two polls, or already pushed): stored once, not again.
    pub duplicates: usize,
    /// Sources left until the platform's rate limit allows.
    pub rate_limited: usize,
    /// Sources whose poll failed otherwise.
    pub failed: usize,
    /// Whether the run stopped at its deadline with work left.
    pub out_of_time: bool,
}

impl InboxReport {
    fn add(mut self, other: Self) -> Self {
        self.channels += other.channels;
        self.interactions += other.interactions;
        self.duplicates += other.duplicates;
        self.rate_limited += other.rate_limited;
        self.failed += other.failed;
        self.out_of_time |= other.out_of_time;
        self
    }
}

/// How polling one source ended.
enum SourceOutcome {
    /// Read up to now (or up to the page limit).
    Read,
    /// Stopped at the run's deadline; due again at once.
    Unfinished,
    RateLimited(OffsetDateTime),
    /// The connection is expired or revoked: the user must reconnect.
    Ended,
    Failed(String),
}

/// Polls every channel due now, until `deadline` or [`CHANNELS_PER_RUN`] channels.
pub async fn sync_inbox(accounts: &Accounts<'_>, settings: &InboxSettings, deadline: Instant) -> Result<InboxReport> {
    let now = accounts.clock.now();
    let due = accounts.store.inbox_due(now, CHANNELS_PER_RUN).await?;
    let polls = stream::iter(due)
        .map(|state| poll_channel(accounts, settings, state, deadline))
        .buffer_unordered(CONCURRENT_CHANNELS);
    Ok(polls.fold(InboxReport::default(), |report, channel| async move { report.add(channel) }).await)
}

/// Polls one channel if this run wins its claim; a failure is logged and the channel is
/// taken up again once its lease runs out.
async fn poll_channel(
    accounts: &Accounts<'_>,
    settings: &InboxSettings,
    state: InboxState,
    deadline: Instant,
) -> InboxReport {
    let mut report = InboxReport::default();
    if Instant::now() >= deadline {
        report.out_of_time = true;
        return report;
    }
    let channel_id = state.channel_id;
    if let Err(error) = poll_claimed(accounts, settings, state, deadline, &mut report).await {
        tracing::error!(%channel_id, %error, "polling a channel's inbox failed; it is tried again after its lease");
        report.failed += 1;
    }
    report
}

async fn poll_claimed(
    accounts: &Accounts<'_>,
    settings: &InboxSettings,
    state: InboxState,
    deadline: Instant,
    report: &mut InboxReport,
) -> Result<()> {
    let now = accounts.clock.now();
    let Some(mut state) = claim(accounts, state, now).await? else {
        return Ok(());
    };
    let Some(channel) = accounts.store.get_channel(state.workspace_id, state.channel_id).await? else {
        return forget(accounts, &state).await;
    };
    let connection = accounts.store.get_connection(state.workspace_id, state.connection_id).await?;
    let client = accounts.platforms.inbox(channel.platform);
    let (Some(connection), Some(client)) = (connection, client) else {
        return forget(accounts, &state).await;
    };
    if connection.status != ConnectionStatus::Active {
        state.next_poll_at = Some(now + EXPIRED_RECHECK);
        return save_polled(accounts, &mut state).await;
    }
    report.channels += 1;
    let posts = RecentPosts::of(accounts.store, &channel).await?;
    let poller =
        Poller { accounts, settings, channel: &channel, connection: &connection, client: client.as_ref(), posts };
    for source in client.sources() {
        let cursor = state.sources.entry(source.name.to_string()).or_default();
        if cursor.next_at.is_some_and(|at| at > now) {
            continue;
        }
        let outcome = poller.read(source, cursor, state.start_at, now, deadline, report).await?;
        if source.dms {
            state.dms_granted = Some(matches!(outcome, SourceOutcome::Read | SourceOutcome::Unfinished));
        }
        let cursor = state.sources.entry(source.name.to_string()).or_default();
        cursor.next_at = match outcome {
            SourceOutcome::Read => Some(now + source.min_interval),
            SourceOutcome::Unfinished => Some(now),
            SourceOutcome::RateLimited(at) => {
                report.rate_limited += 1;
                Some(at)
            }
            SourceOutcome::Ended => {
                state.next_poll_at = Some(now + EXPIRED_RECHECK);
                return save_polled(accounts, &mut state).await;
            }
            SourceOutcome::Failed(message) => {
                tracing::warn!(channel_id = %channel.id, source = source.name, %message, "an inbox source failed");
                report.failed += 1;
                state.last_error = Some(message);
                Some(now + if source.dms { DMS_RECHECK } else { FAILURE_RETRY })
            }
        };
    }
    state.last_polled_at = Some(now);
    state.next_poll_at = Some(next_due(&state, now));
    save_polled(accounts, &mut state).await
}

/// Takes the channel for this run by moving its next poll a lease ahead: `None` if another run
/// took it first (or it is not due after all: the due index lags writes slightly).
async fn claim(accounts: &Accounts<'_>, mut state: InboxState, now: OffsetDateTime) -> Result<Option<InboxState>> {
    if state.next_poll_at.is_none_or(|at| at > now) {
        return Ok(None);
    }
    state.next_poll_at = Some(now + POLL_LEASE);
    match save_state(accounts, &mut state).await {
        Ok(()) => Ok(Some(state)),
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Writes the state as its next version: `Conflict` if another write came first.
async fn save_state(accounts: &Accounts<'_>, state: &mut InboxState) -> Result<()> {
    let expected = state.version;
    state.version += 1;
    accounts.store.update_inbox_state(state, expected).await
}

/// Writes what a poll of a claimed channel found. Losing to another write (a backfill asked for
/// meanwhile, the channel deleted) is not an error: that write stands, and the interactions this
/// poll stored are kept.
async fn save_polled(accounts: &Accounts<'_>, state: &mut InboxState) -> Result<()> {
    match save_state(accounts, state).await {
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(()),
        outcome => outcome,
    }
}

/// Stops polling a channel that is gone (or whose platform is no longer polled).
async fn forget(accounts: &Accounts<'_>, state: &InboxState) -> Result<()> {
    accounts.store.write(Write::Delete(state.key(), Condition::Always)).await.map(drop)
}

/// The soonest any source is due, or a little after now if one is due at once.
fn next_due(state: &InboxState, now: OffsetDateTime) -> OffsetDateTime {
    state.sources.values().filter_map(|cursor| cursor.next_at).min().unwrap_or(now).max(now)
}

/// What polling one channel's sources shares.
struct Poller<'a> {
    accounts: &'a Accounts<'a>,
    settings: &'a InboxSettings,
    channel: &'a Channel,
    connection: &'a Connection,
    client: &'a dyn InboxClient,
    posts: RecentPosts,
}

impl Poller<'_> {
    /// Reads `source` page by page from its cursor, letting each item arrive.
    async fn read(
        &self,
        source: &InboxSource,
        cursor: &mut SourceCursor,
        start_at: OffsetDateTime,
        now: OffsetDateTime,
        deadline: Instant,
        report: &mut InboxReport,
    ) -> Result<SourceOutcome> {
        let recent = self.posts.platform_ids();
        for _ in 0..PAGES_PER_SOURCE {
            if Instant::now() >= deadline {
                report.out_of_time = true;
                return Ok(SourceOutcome::Unfinished);
            }
            let from = match &cursor.cursor {
                Some(position) => PollFrom::Cursor(position.clone()),
                None => PollFrom::Start { since: start_at },
            };
            let outcome = with_fresh_token(self.accounts, self.connection, Some(self.channel), |auth| {
                let (client, from, recent) = (self.client, &from, &recent);
                async move { client.poll(&auth, source, from, recent).await }
            })
            .await;
            let polled = match outcome {
                Ok(polled) => polled,
                Err(CallError::Platform(_, error)) if error.code == ErrorCode::RateLimited => {
                    let wait = error.retry_after.map_or(MIN_RETRY, |after| time_of(after).max(MIN_RETRY));
                    return Ok(SourceOutcome::RateLimited(now + wait));
                }
                Err(CallError::Platform(_, error)) => return Ok(SourceOutcome::Failed(error.message)),
                Err(CallError::Ended { .. }) => return Ok(SourceOutcome::Ended),
                Err(CallError::Internal(error)) => return Err(error),
            };
            let more = polled.more;
            self.take(polled, &from, now, cursor, report).await?;
            if !more {
                return Ok(SourceOutcome::Read);
            }
        }
        Ok(SourceOutcome::Read)
    }

    /// Lets a page's items arrive (on a first poll, only those written since the start) and
    /// moves the cursor past them.
    async fn take(
        &self,
        polled: Polled,
        from: &PollFrom,
        now: OffsetDateTime,
        cursor: &mut SourceCursor,
        report: &mut InboxReport,
    ) -> Result<()> {
        let outbox = self.accounts.outbox();
        for item in polled.items {
            if let PollFrom::Start { since } = from
                && item.created_at < *since
            {
                continue;
            }
            let interaction = interaction_of(item, self.channel, &self.posts, now, self.settings.retention);
            match arrive(&outbox, &interaction).await? {
                true => report.interactions += 1,
                false => report.duplicates += 1,
            }
        }
        if let Some(position) = polled.cursor {
            cursor.cursor = Some(position);
        }
        Ok(())
    }
}

fn time_of(duration: Duration) -> time::Duration {
    time::Duration::try_from(duration).unwrap_or(time::Duration::DAY)
}
