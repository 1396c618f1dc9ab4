//! Automations (SPEC §7): the generate-content run that turns an automation's instructions and
//! its sources' newest entries into one post per target channel, and the scheduler that claims
//! each due cron slot once and runs it.

mod generate;
mod scheduler;

pub use generate::{CONCURRENT_AI_CALLS, ENTRIES_PER_RUN, Finished, run_automation};
pub use scheduler::{ScheduleReport, run_due_automations};

use time::OffsetDateTime;

use tokio::sync::Notify;

use crate::model::automations::Automation;
use crate::model::error::{Error, Result};
use crate::ports::ai::AiProvider;
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::Store;
use crate::services::posts::Posting;
use crate::services::webhooks::outbox::Outbox;

/// What running automations needs: the AI provider that writes the texts, and what creating
/// posts needs (the store, the outbox, the publisher's wake-up).
#[derive(Clone, Copy)]
pub struct Automations<'a> {
    pub ai: &'a dyn AiProvider,
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
    pub wake_publisher: &'a Notify,
}

impl<'a> Automations<'a> {
    pub fn posting(&self) -> Posting<'a> {
        Posting { store: self.store, queue: self.queue, clock: self.clock, wake_publisher: self.wake_publisher }
    }

    pub fn outbox(&self) -> Outbox<'a> {
        self.posting().outbox()
    }
}

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
