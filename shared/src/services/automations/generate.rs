//! generate-content (SPEC §7): one run of an automation. It reads the newest unused entries of
//! the automation's sources, asks the AI provider for one post per target channel — with the
//! instructions, the entries and the channel's platform limit in the prompt — fits each text to
//! its platform, marks the entries used, creates the posts through the posts code path per the
//! publish mode, and finishes the run with automation.run.completed or automation.run.failed.
//!
//! Texts are generated before any entry is marked used, so a provider failure leaves the
//! entries for the next run. An automation with sources but no unused entry fails with that
//! reason rather than posting the same news twice; one without sources writes from its
//! instructions alone.

use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::model::automations::{Automation, EntryRef, FeedEntry, PublishMode, Run, RunStatus, RunTrigger};
use crate::model::channels::Channel;
use crate::model::error::{Error, Result};
use crate::model::ids::RunId;
use crate::model::platforms::Limits;
use crate::model::posts::Post;
use crate::model::webhooks::EventType;
use crate::ports::ai::ChatRequest;
use crate::services::automations::Automations;
use crate::services::fit::{fit, limit_phrase};
use crate::services::posts::{NewPost, channel_limits, create};
use crate::services::webhooks::outbox::emit;

/// How many entries one run writes from, newest first across the sources.
pub const ENTRIES_PER_RUN: usize = 5;
/// How many AI calls one run makes at once.
pub const CONCURRENT_AI_CALLS: usize = 4;
/// How much of an entry's summary goes into the prompt.
const SUMMARY_CHARS: usize = 1_000;

/// A finished run, the posts it created, and why it failed if it did.
pub struct Finished {
    pub run: Run,
    pub posts: Vec<Post>,
    pub failure: Option<Error>,
}

/// Runs `automation` once: records the run, generates and creates its posts, finishes the run
/// and emits its event. `Err` only if the run itself could not be recorded.
pub async fn run_automation(
    automations: &Automations<'_>,
    automation: &Automation,
    trigger: RunTrigger,
) -> Result<Finished> {
    let mut run = Run {
        id: RunId::new(),
        workspace_id: automation.workspace_id,
        automation_id: automation.id,
        status: RunStatus::Running,
        trigger,
        reason: None,
        entries: Vec::new(),
        post_ids: Vec::new(),
        version: 0,
        started_at: automations.clock.now(),
        finished_at: None,
    };
    automations.store.create_run(&run).await?;
    let outcome = generate(automations, automation, &mut run).await;
    let (posts, failure) = match outcome {
        Ok(posts) => (posts, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    finish(automations, &mut run, failure.as_ref()).await?;
    remember_run(automations, automation, run.id).await;
    Ok(Finished { run, posts, failure })
}

/// Generates every post first, then claims the entries, then creates the posts.
async fn generate(automations: &Automations<'_>, automation: &Automation, run: &mut Run) -> Result<Vec<Post>> {
    let channels = target_channels(automations, automation).await?;
    let entries = newest_unused_entries(automations, automation).await?;
    if !automation.source_ids.is_empty() && entries.is_empty() {
        return Err(Error::Unprocessable(
            "the automation's sources have no new entries since its last run; nothing was posted".into(),
        ));
    }
    let texts = write_texts(automations, automation, &entries, &channels).await?;
    claim(automations, run, &entries).await?;
    let now = automations.clock.now();
    let (scheduled_at, draft) = match automation.publish {
        PublishMode::Draft => (None, true),
        PublishMode::Scheduled { offset_minutes } => {
            (Some(now + time::Duration::minutes(i64::from(offset_minutes))), false)
        }
        PublishMode::Immediate => (None, false),
    };
    let mut posts = Vec::with_capacity(channels.len());
    for (channel, text) in channels.iter().zip(texts) {
        let new = NewPost { text, media: Vec::new(), targets: vec![channel.id], scheduled_at, draft };
        let post = create(&automations.posting(), automation.workspace_id, &new).await?;
        run.post_ids.push(post.id);
        posts.push(post);
    }
    Ok(posts)
}

/// One text per channel, fitted to its platform: the AI is asked for every channel at once, at
/// most [`CONCURRENT_AI_CALLS`] at a time, so a run with many channels fits its deadline. The
/// texts come back in the channels' order; the first failure fails them all.
async fn write_texts(
    automations: &Automations<'_>,
    automation: &Automation,
    entries: &[FeedEntry],
    channels: &[Channel],
) -> Result<Vec<String>> {
    let calls: Vec<_> = channels.iter().map(|channel| write_text(automations, automation, entries, channel)).collect();
    futures_util::stream::iter(calls).buffered(CONCURRENT_AI_CALLS).try_collect().await
}

async fn write_text(
    automations: &Automations<'_>,
    automation: &Automation,
    entries: &[FeedEntry],
    channel: &Channel,
) -> Result<String> {
    let limits = channel_limits(automations.store, channel).await?;
    let draft = automations.ai.chat(&prompt(automation, entries, channel, &limits)).await?;
    Ok(fit(automations.ai, channel.platform, limits, draft).await?.text)
}

async fn target_channels(automations: &Automations<'_>, automation: &Automation) -> Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(automation.channel_ids.len());
    for id in &automation.channel_ids {
        let channel = automations.store.get_channel(automation.workspace_id, *id).await?;
        channels.push(channel.ok_or_else(|| {
            Error::Unprocessable(format!("target channel {id} no longer exists; edit the automation's targets"))
        })?);
    }
    Ok(channels)
}

/// The newest [`ENTRIES_PER_RUN`] unused entries across the automation's sources (a deleted
/// source has none).
async fn newest_unused_entries(automations: &Automations<'_>, automation: &Automation) -> Result<Vec<FeedEntry>> {
    let mut entries = Vec::new();
    for source in &automation.source_ids {
        entries.extend(automations.store.unused_feed_entries(automation.workspace_id, *source, ENTRIES_PER_RUN).await?);
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.sort_time()));
    entries.truncate(ENTRIES_PER_RUN);
    Ok(entries)
}

/// Marks the entries used by this run; another run that got one first fails this one.
async fn claim(automations: &Automations<'_>, run: &mut Run, entries: &[FeedEntry]) -> Result<()> {
    let now = automations.clock.now();
    for entry in entries {
        let used = FeedEntry { used_by_run: Some(run.id), used_at: Some(now), ..entry.clone() };
        if !automations.store.claim_feed_entry(&used).await? {
            return Err(Error::Conflict(format!(
                "the entry {} was used by another run at the same time",
                entry.link.as_deref().unwrap_or(&entry.key)
            )));
        }
        run.entries.push(EntryRef {
            source_id: entry.source_id,
            key: entry.key.clone(),
            title: entry.title.clone(),
            link: entry.link.clone(),
        });
    }
    Ok(())
}

/// The request for one channel's post: the rules (platform limit, tone) as the system message;
/// the entries, newest first, then the instructions as the material.
fn prompt(automation: &Automation, entries: &[FeedEntry], channel: &Channel, limits: &Limits) -> ChatRequest {
    let tone = automation.tone.as_deref().map(|tone| format!(" Write in a {tone} tone.")).unwrap_or_default();
    let sources = if entries.is_empty() {
        String::new()
    } else {
        " Base it on the source entries given, newest first, and include the link of the entry you feature.".into()
    };
    let system = format!(
        "You write social-media posts for {platform}. Write one post of {limit}.{tone}{sources} Follow the \
         instructions. Answer with the post only: no preamble, no quotes, no explanation.",
        platform = channel.platform.as_str(),
        limit = limit_phrase(channel.platform, limits),
    );
    let mut paragraphs: Vec<String> = entries.iter().map(entry_paragraph).collect();
    paragraphs.push(format!("Instructions: {}", automation.instructions));
    ChatRequest { system, user: paragraphs.join("\n\n") }
}

fn entry_paragraph(entry: &FeedEntry) -> String {
    let summary: String = entry.summary.as_deref().unwrap_or_default().chars().take(SUMMARY_CHARS).collect();
    [entry.title.as_deref(), entry.link.as_deref(), Some(summary.as_str())]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Records the run's end and emits automation.run.completed or automation.run.failed.
async fn finish(automations: &Automations<'_>, run: &mut Run, failure: Option<&Error>) -> Result<()> {
    let expected_version = run.version;
    run.version += 1;
    run.finished_at = Some(automations.clock.now());
    let (event, data) = match failure {
        None => {
            run.status = RunStatus::Completed;
            let data = json!({
                "run_id": run.id, "automation_id": run.automation_id, "status": run.status,
                "trigger": run.trigger, "post_ids": run.post_ids, "entries": run.entries.len(),
            });
            (EventType::AutomationRunCompleted, data)
        }
        Some(error) => {
            if let Error::Internal(detail) = error {
                tracing::error!(run_id = %run.id, error = %detail, "an automation run failed");
            }
            run.status = RunStatus::Failed;
            run.reason = Some(error.to_string());
            let data = json!({
                "run_id": run.id, "automation_id": run.automation_id, "status": run.status,
                "trigger": run.trigger, "reason": run.reason, "post_ids": run.post_ids,
            });
            (EventType::AutomationRunFailed, data)
        }
    };
    automations.store.update_run(run, expected_version).await?;
    emit(&automations.outbox(), run.workspace_id, event, data).await?;
    Ok(())
}

/// Notes the run on the automation; an edit that raced it wins, the run is kept either way.
async fn remember_run(automations: &Automations<'_>, automation: &Automation, run_id: RunId) {
    let Ok(Some(mut current)) = automations.store.get_automation(automation.workspace_id, automation.id).await else {
        return;
    };
    let expected_version = current.version;
    current.last_run_id = Some(run_id);
    current.version += 1;
    if let Err(error) = automations.store.update_automation(&current, expected_version).await {
        tracing::warn!(%run_id, error = %error, "could not note the run on its automation");
    }
}
