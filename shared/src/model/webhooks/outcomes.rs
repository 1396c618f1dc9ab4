//! An endpoint's delivery outcomes, counted per hour: what its stats are read from, in at most
//! one small record per hour of the window rather than a scan of its deliveries.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::ids::{WebhookId, WorkspaceId};
use crate::model::webhooks::{Delivery, DeliveryStatus};

/// The longest window the stats show.
pub const STATS_WINDOW: Duration = Duration::days(7);
/// How long an hour's counts are kept: the window, plus a day so that an hour never expires
/// while a window can still reach it.
pub const OUTCOMES_KEPT: Duration = Duration::days(8);

/// How many of an endpoint's deliveries created in one hour (UTC) ended delivered or failed.
/// A delivery counts in the hour it was created and moves between the counts as its status
/// does. The move is an atomic addition made only after the delivery's own (conditional) write
/// succeeded, not one transaction with it: a transaction would make every settle of a busy
/// endpoint contend for one counter record and fail on conflicts. The trade-off: a crash (or a
/// failed addition) between the two loses that one change of the counts; a refused or repeated
/// delivery write adds nothing, so a change is never counted twice. The counts are
/// informational, and otherwise equal a count of those deliveries by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyOutcomes {
    pub workspace_id: WorkspaceId,
    pub webhook_id: WebhookId,
    /// The start of the hour.
    #[serde(with = "time::serde::rfc3339")]
    pub hour: OffsetDateTime,
    pub delivered: i64,
    pub failed: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The counted fields of [`HourlyOutcomes`], as changes to add to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeChange {
    pub delivered: i64,
    pub failed: i64,
}

impl OutcomeChange {
    fn of(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Delivered => Self { delivered: 1, failed: 0 },
            DeliveryStatus::Failed => Self { delivered: 0, failed: 1 },
            DeliveryStatus::Pending => Self::default(),
        }
    }

    /// What a delivery going from status `was` to `now` changes.
    pub fn between(was: DeliveryStatus, now: DeliveryStatus) -> Self {
        let (was, now) = (Self::of(was), Self::of(now));
        Self { delivered: now.delivered - was.delivered, failed: now.failed - was.failed }
    }

    pub fn is_none(self) -> bool {
        self == Self::default()
    }
}

/// The start of the UTC hour `at` falls in.
pub fn hour_of(at: OffsetDateTime) -> OffsetDateTime {
    let seconds = at.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(seconds - seconds.rem_euclid(3600)).unwrap_or(at)
}

impl HourlyOutcomes {
    /// The counts of `delivery`'s hour, with nothing counted yet.
    pub fn empty_for(delivery: &Delivery) -> Self {
        let hour = hour_of(delivery.created_at);
        Self {
            workspace_id: delivery.workspace_id,
            webhook_id: delivery.webhook_id,
            hour,
            delivered: 0,
            failed: 0,
            expires_at: hour + OUTCOMES_KEPT,
        }
    }
}

/// Delivered and failed deliveries, summed over hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub delivered: u64,
    pub failed: u64,
}

impl DeliveryCounts {
    /// The sums of the `hours` that start at or after the hour of `since`: the window is whole
    /// hours, so it reaches up to an hour further back than `since`.
    pub fn since(hours: &[HourlyOutcomes], since: OffsetDateTime) -> Self {
        let from = hour_of(since);
        let (delivered, failed) = hours
            .iter()
            .filter(|counts| counts.hour >= from)
            .fold((0_i64, 0_i64), |(delivered, failed), counts| (delivered + counts.delivered, failed + counts.failed));
        // Never negative unless a count was lost (an hour's record expired early): show 0 then.
        Self { delivered: u64::try_from(delivered).unwrap_or(0), failed: u64::try_from(failed).unwrap_or(0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_status_change_moves_a_delivery_between_the_counts() {
        use DeliveryStatus::{Delivered, Failed, Pending};
        assert_eq!(OutcomeChange::between(Pending, Delivered), OutcomeChange { delivered: 1, failed: 0 });
        assert_eq!(OutcomeChange::between(Pending, Failed), OutcomeChange { delivered: 0, failed: 1 });
        assert_eq!(OutcomeChange::between(Failed, Pending), OutcomeChange { delivered: 0, failed: -1 });
        assert!(OutcomeChange::between(Pending, Pending).is_none());
    }

    #[test]
    fn hours_start_on_the_hour_in_utc() {
        assert_eq!(hour_of(datetime!(2026-03-23 18:59:59.9 UTC)), datetime!(2026-03-23 18:00 UTC));
        assert_eq!(hour_of(datetime!(2026-03-23 18:00 UTC)), datetime!(2026-03-23 18:00 UTC));
        assert_eq!(hour_of(datetime!(2026-03-23 20:30 +02:00)), datetime!(2026-03-23 18:00 UTC));
    }

    #[test]
    fn counts_sum_the_hours_of_the_window() {
        let at = |hour: OffsetDateTime, delivered, failed| HourlyOutcomes {
            workspace_id: WorkspaceId::new(),
            webhook_id: WebhookId::new(),
            hour,
            delivered,
            failed,
            expires_at: hour + OUTCOMES_KEPT,
        };
        let hours = [
            at(datetime!(2026-03-23 16:00 UTC), 5, 1),
            at(datetime!(2026-03-23 17:00 UTC), 2, 0),
            at(datetime!(2026-03-23 18:00 UTC), 1, 3),
        ];
        let since = |at| DeliveryCounts::since(&hours, at);
        assert_eq!(since(datetime!(2026-03-23 17:30 UTC)), DeliveryCounts { delivered: 3, failed: 3 });
        assert_eq!(since(datetime!(2026-03-23 00:00 UTC)), DeliveryCounts { delivered: 8, failed: 4 });
        assert_eq!(since(datetime!(2026-03-23 19:00 UTC)), DeliveryCounts::default());
        let lost = [at(datetime!(2026-03-23 18:00 UTC), -1, 0)];
        assert_eq!(DeliveryCounts::since(&lost, datetime!(2026-03-23 18:00 UTC)), DeliveryCounts::default());
    }
}
