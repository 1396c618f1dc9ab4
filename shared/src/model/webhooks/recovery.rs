//! Recovering what a receiver missed (SPEC §4): a recovery's record and progress, the rate at
//! which it sends deliveries again, and the backoff of the pings that probe a disabled endpoint.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::ids::{DeliveryId, RecoveryId, WebhookId, WorkspaceId};

/// How many deliveries one recovery has taken up and not seen settle yet, at most: what keeps
/// its record small (a few dozen KB, far below DynamoDB's 400 KB) and its receiver's load bounded
/// whatever the rate.
pub const MAX_IN_FLIGHT: usize = 1_000;
/// How far ahead of now a run schedules sends: longer than the time between two runs (a minute),
/// so sending never pauses between them, and far below the queue's longest delay (15 minutes).
pub const SEND_AHEAD: Duration = Duration::seconds(90);

/// How fast recoveries send and how disabled endpoints are probed (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverySettings {
    /// The most deliveries one recovery sends per second.
    pub rate_per_second: u32,
    /// The wait before the first probe of a disabled endpoint; it doubles after each failed one.
    pub probe_first: Duration,
    /// The longest wait between two probes.
    pub probe_max: Duration,
    /// How long after it was disabled an endpoint is still probed.
    pub probe_for: Duration,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            rate_per_second: 10,
            probe_first: Duration::minutes(5),
            probe_max: Duration::hours(6),
            probe_for: Duration::days(7),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryState {
    /// Deliveries are being sent again.
    Running,
    /// Every failed delivery of the window was sent again.
    Completed,
    /// The endpoint was disabled or deleted before the recovery finished.
    Stopped,
}

/// What started a recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryTrigger {
    /// `POST /v1/webhooks/{id}/recover`.
    Manual,
    /// A probe found a disabled endpoint answering again.
    Automatic,
}

/// A delivery a recovery took up, and when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub delivery_id: DeliveryId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The failed deliveries of one endpoint created in `[since, until)`, each sent once more, oldest
/// first, at most `rate_per_second` a second. The record is where a run resumes: the scan's
/// cursor, the deliveries in flight, and the time the next one may be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub id: RecoveryId,
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub trigger: RecoveryTrigger,
    pub state: RecoveryState,
    pub stopped_reason: Option<String>,
    /// Deliveries taken up so far (all of the window's once the scan is done).
    pub total: u64,
    pub delivered: u64,
    pub failed: u64,
    /// The last delivery taken up; the scan continues after it.
    pub cursor: Option<DeliveryId>,
    /// Whether every failed delivery of the window has been taken up.
    pub scanned: bool,
    pub in_flight: Vec<InFlight>,
    /// The earliest time the next delivery may be sent: the rate bound, kept across runs.
    #[serde(with = "time::serde::rfc3339")]
    pub next_slot: OffsetDateTime,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What a new recovery is of.
pub struct NewRecovery {
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    pub trigger: RecoveryTrigger,
}

impl Recovery {
    pub fn new(new: NewRecovery, now: OffsetDateTime) -> Self {
        Self {
            id: RecoveryId::new(),
            workspace_id: new.workspace_id,
            webhook_id: new.webhook_id,
            since: new.since,
            until: new.until,
            trigger: new.trigger,
            state: RecoveryState::Running,
            stopped_reason: None,
            total: 0,
            delivered: 0,
            failed: 0,
            cursor: None,
            scanned: false,
            in_flight: Vec::new(),
            next_slot: now,
            version: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    /// How many more deliveries may be taken up now: room in flight, and send times within
    /// [`SEND_AHEAD`] of `now` at `rate_per_second`.
    pub fn room(&self, now: OffsetDateTime, rate_per_second: u32) -> usize {
        let start = self.next_slot.max(now);
        let ahead = (now + SEND_AHEAD - start).as_seconds_f64().max(0.0);
        let by_rate = (ahead * f64::from(rate_per_second.max(1))).floor() as usize;
        by_rate.min(MAX_IN_FLIGHT.saturating_sub(self.in_flight.len()))
    }

    /// The send time of the next delivery, spaced `1 / rate_per_second` after the one before.
    pub fn next_send_time(&mut self, now: OffsetDateTime, rate_per_second: u32) -> OffsetDateTime {
        let at = self.next_slot.max(now);
        self.next_slot = at + Duration::seconds_f64(1.0 / f64::from(rate_per_second.max(1)));
        at
    }

    /// Whether the window ends before this delivery's event was made.
    pub fn ends_before(&self, delivery: DeliveryId) -> bool {
        delivery.made_at() >= self.until
    }
}

/// The pings that probe an endpoint Posthorn disabled: when the next is due, the wait after it,
/// and the window of deliveries the endpoint was failing in (what its recovery sends again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    #[serde(with = "time::serde::rfc3339")]
    pub next_at: OffsetDateTime,
    /// The wait before the next probe, in seconds.
    pub delay_seconds: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub failing_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub disabled_at: OffsetDateTime,
}

impl Probe {
    /// The first probe of an endpoint disabled at `now` that had been failing since `failing_since`.
    pub fn first(settings: &RecoverySettings, failing_since: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self {
            next_at: now + settings.probe_first,
            delay_seconds: settings.probe_first.whole_seconds(),
            failing_since,
            disabled_at: now,
        }
    }

    /// The probe after one that failed at `now`: twice the wait, at most `probe_max`; `None` once
    /// the endpoint has been disabled for `probe_for`.
    pub fn after_failure(&self, settings: &RecoverySettings, now: OffsetDateTime) -> Option<Self> {
        let delay = Duration::seconds(self.delay_seconds.saturating_mul(2)).min(settings.probe_max);
        let next_at = now + delay;
        (next_at <= self.disabled_at + settings.probe_for).then_some(Self {
            next_at,
            delay_seconds: delay.whole_seconds(),
            ..*self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn recovery(now: OffsetDateTime) -> Recovery {
        let new = NewRecovery {
            workspace_id: WorkspaceId::new(),
            webhook_id: WebhookId::new(),
            since: now - Duration::days(1),
            until: now,
            trigger: RecoveryTrigger::Manual,
        };
        Recovery::new(new, now)
    }

    #[test]
    fn sends_are_spaced_by_the_rate_and_scheduled_no_further_ahead_than_allowed() {
        let now = datetime!(2026-03-23 18:00 UTC);
        let mut recovery = recovery(now);
        assert_eq!(recovery.room(now, 2), 180, "90 s ahead at 2 a second");
        let times: Vec<_> = (0..3).map(|_| recovery.next_send_time(now, 2)).collect();
        assert_eq!(times, [now, now + Duration::milliseconds(500), now + Duration::seconds(1)]);
        assert_eq!(recovery.room(now, 2), 177);
        let later = now + Duration::seconds(10);
        assert_eq!(recovery.next_send_time(later, 2), later, "no burst to catch up after a pause");
    }

    #[test]
    fn deliveries_in_flight_are_bounded_and_the_record_stays_far_below_400_kb() {
        let now = datetime!(2026-03-23 18:00 UTC);
        let mut recovery = recovery(now);
        assert_eq!(recovery.room(now, 1_000_000), MAX_IN_FLIGHT);
        recovery.in_flight = (0..MAX_IN_FLIGHT).map(|_| InFlight { delivery_id: DeliveryId::new(), at: now }).collect();
        assert_eq!(recovery.room(now, 1_000_000), 0);
        let bytes = serde_json::to_vec(&recovery).unwrap().len();
        assert!(bytes < 150_000, "{bytes} bytes");
    }

    #[test]
    fn probes_back_off_to_the_maximum_and_stop_after_the_probing_period() {
        let settings = RecoverySettings::default();
        let disabled = datetime!(2026-03-23 18:00 UTC);
        let mut probe = Probe::first(&settings, disabled - Duration::hours(4), disabled);
        assert_eq!(probe.next_at, disabled + Duration::minutes(5));
        let mut waits = Vec::new();
        while let Some(next) = probe.after_failure(&settings, probe.next_at) {
            waits.push(next.delay_seconds);
            probe = next;
        }
        assert_eq!(&waits[..4], &[600, 1200, 2400, 4800]);
        assert!(waits[6..].iter().all(|wait| *wait == 6 * 3600), "{waits:?}");
        assert!(probe.next_at <= disabled + Duration::days(7));
        assert!(probe.next_at + Duration::hours(6) > disabled + Duration::days(7));
    }
}
