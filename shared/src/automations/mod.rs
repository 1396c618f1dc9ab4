//! Automations (SPEC §7): instructions, RSS sources and target channels from which
//! generate-content builds one post per channel, on demand or on a cron schedule in an IANA
//! time zone. This module owns the records (sources, feed entries, automations, runs), the
//! schedule, the automations/sources/runs API and the generate-content run.

mod api;
mod generate;
mod ingest;
mod model;
mod schedule;
mod scheduler;

pub use api::routes;
pub use generate::{ENTRIES_PER_RUN, Finished, generate_content_routes, run_automation};
pub use ingest::{FeedReport, fetch_due_sources};
pub use model::{Automation, EntryRef, FeedEntry, PublishMode, Run, RunStatus, RunTrigger, Source};
pub use schedule::Schedule;
pub use scheduler::{ScheduleReport, run_due_automations};

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::store::Store;

/// Claims the slot `automation` is due for: records it as `last_slot` and moves `next_run_at`
/// to the schedule's following time, in one write conditional on the version that was read.
/// Of concurrent process-queue runs exactly one gets `Some(slot)`; the others get `None`.
pub async fn claim_slot(
    store: &dyn Store,
    mut automation: Automation,
    now: OffsetDateTime,
) -> Result<Option<(Automation, OffsetDateTime)>> {
    let Some(slot) = automation.next_run_at.filter(|due| *due <= now) else { return Ok(None) };
    let expected_version = automation.version;
    automation.last_slot = Some(slot);
    automation.next_run_at = automation.schedule.as_ref().and_then(|schedule| schedule.next_after(now.max(slot)));
    automation.version += 1;
    automation.updated_at = now;
    match store.update_automation(&automation, expected_version).await {
        Ok(()) => Ok(Some((automation, slot))),
        Err(Error::Conflict(_) | Error::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}
