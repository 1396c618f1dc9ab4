//! process-queue's second step: running the automations whose schedule is due. Each due slot is
//! claimed with a conditional write first, so of concurrent runs exactly one runs it; a slot
//! whose sources have nothing new since the last run is passed over quietly (no run, no
//! `automation.run.failed` every minute), while an automation without sources always runs.

use std::time::Instant;

use crate::model::automations::{Automation, RunTrigger};
use crate::model::error::Result;
use crate::services::automations::Automations;
use crate::services::automations::claim_slot;
use crate::services::automations::generate::run_automation;

/// How many due automations one run takes up.
const AUTOMATIONS_PER_RUN: usize = 50;

/// What the automations step of one process-queue run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleReport {
    pub completed: usize,
    pub failed: usize,
    /// Slots passed over because the sources had no new entries.
    pub nothing_new: usize,
    /// Whether due automations were left for the next run because time ran out.
    pub out_of_time: bool,
}

/// Runs the automations due now, starting none after `deadline`.
pub async fn run_due_automations(automations: &Automations<'_>, deadline: Instant) -> Result<ScheduleReport> {
    let now = automations.clock.now();
    let mut report = ScheduleReport::default();
    for automation in automations.store.automations_due(now, AUTOMATIONS_PER_RUN).await? {
        if Instant::now() >= deadline {
            report.out_of_time = true;
            break;
        }
        let Some((automation, slot)) = claim_slot(automations.store, automation, now).await? else { continue };
        if !has_new_entries(automations, &automation).await? {
            report.nothing_new += 1;
            continue;
        }
        let finished = run_automation(automations, &automation, RunTrigger::Schedule).await?;
        match finished.failure {
            None => report.completed += 1,
            Some(error) => {
                tracing::info!(automation = %automation.id, %slot, %error, "scheduled run failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Whether a run would have something to write from: no sources (instructions alone), or an
/// unused entry in one of them.
async fn has_new_entries(automations: &Automations<'_>, automation: &Automation) -> Result<bool> {
    if automation.source_ids.is_empty() {
        return Ok(true);
    }
    for source in &automation.source_ids {
        if !automations.store.unused_feed_entries(automation.workspace_id, *source, 1).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}
