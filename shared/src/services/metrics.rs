//! sync-post-metrics (every 15 minutes): reads the engagement figures of published targets
//! younger than the configured age through their platform adapters, keeps the latest figures
//! and the history of their changes on the post, and fires post.metrics.updated when they
//! changed. A rate-limited connection is left alone until the next run (or the platform's
//! `Retry-After`); tokens are fresh at the moment of use (`with_fresh_token`), so a connection
//! is expired only when its refresh is refused for good, and token.expired fires once. Each run stops at its deadline and after a bounded number of posts.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::model::connections::ConnectionStatus;
use crate::model::error::{Error, Result};
use crate::model::ids::{ChannelId, ConnectionId};
use crate::model::platforms::{ErrorCode, Metrics};
use crate::model::posts::{Post, PostStatus, Target, TargetMetrics, TargetStatus};
use crate::model::times::rfc3339;
use crate::model::webhooks::EventType;
use crate::ports::platforms::PlatformError;
use crate::services::connections::Accounts;
use crate::services::connections::sync::{CallError, with_fresh_token};
use crate::services::publish::{save, target_account};
use crate::services::webhooks::outbox::emit;

/// Which published posts sync-post-metrics reads, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// How long after publishing a target's figures are still read.
    pub max_age: time::Duration,
    /// The least time between two readings of one target; also the dev server's period for
    /// sync-post-metrics (EventBridge runs it every 15 minutes).
    pub interval: time::Duration,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { max_age: time::Duration::days(7), interval: time::Duration::minutes(15) }
    }
}

/// How many posts one run reads figures for at most.
pub const POSTS_PER_RUN: usize = 500;
/// How many due posts are read from the store at a time.
const BATCH: usize = 50;
/// A target read less than this before its interval is up is read now anyway, so a run that
/// fires a little early does not push it back by a whole interval.
const EARLY_SLACK: time::Duration = time::Duration::minutes(1);
/// The soonest a post is read again after a rate limit.
const MIN_RETRY: time::Duration = time::Duration::minutes(1);
/// How many times a write that lost to a concurrent edit is re-read and retried.
const WRITE_ATTEMPTS: usize = 3;

/// What one run of sync-post-metrics did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MetricsReport {
    /// Due posts taken up (including those left for later: publishing, out of time).
    pub posts: usize,
    /// Targets whose figures were read.
    pub targets_read: usize,
    /// Posts whose figures changed (one post.metrics.updated each).
    pub posts_changed: usize,
    /// Targets skipped because their connection was rate limited.
    pub rate_limited: usize,
    /// Connections this run ended: expired (one token.expired each) or revoked (one
    /// account.disconnected each).
    pub connections_expired: usize,
    /// Targets whose read failed otherwise; tried again at the next interval.
    pub failed: usize,
    /// Whether the run stopped at its deadline with due posts left.
    pub out_of_time: bool,
}

/// The state one run keeps across posts: connections not to call again this run.
#[derive(Default)]
struct Run {
    report: MetricsReport,
    /// Rate-limited connections and when they may be called again.
    rate_limited: HashMap<ConnectionId, OffsetDateTime>,
    expired: HashSet<ConnectionId>,
}

/// What reading one target's figures gave.
enum Reading {
    Figures(Metrics),
    /// Rate limited; read again no sooner than this.
    RetryAt(OffsetDateTime),
    /// Nothing this time (expired connection, other failure); read at the next interval.
    Nothing,
}

/// Reads the figures of every post due for a metrics sync, until `deadline` or
/// [`POSTS_PER_RUN`] posts.
pub async fn sync_post_metrics(
    accounts: &Accounts<'_>,
    settings: &MetricsSettings,
    deadline: Instant,
) -> Result<MetricsReport> {
    let now = accounts.clock.now();
    let mut run = Run::default();
    let mut seen = HashSet::new();
    'batches: while run.report.posts < POSTS_PER_RUN {
        let batch = accounts.store.metrics_due_posts(now, BATCH + seen.len()).await?;
        let fresh: Vec<Post> = batch.into_iter().filter(|post| seen.insert(post.id)).collect();
        if fresh.is_empty() {
            break;
        }
        for post in fresh {
            if Instant::now() >= deadline || run.report.posts >= POSTS_PER_RUN {
                run.report.out_of_time = Instant::now() >= deadline;
                break 'batches;
            }
            run.report.posts += 1;
            let post_id = post.id;
            if let Err(error) = sync_post(accounts, settings, post, now, &mut run).await {
                tracing::error!(%post_id, error = %error, "syncing a post's metrics failed; it is tried at the next run");
            }
        }
    }
    Ok(run.report)
}

/// Reads the due targets of one post, then records what was read.
async fn sync_post(
    accounts: &Accounts<'_>,
    settings: &MetricsSettings,
    post: Post,
    now: OffsetDateTime,
    run: &mut Run,
) -> Result<()> {
    if !settled(&post) {
        return Ok(());
    }
    let mut readings = HashMap::new();
    for target in post.targets.iter().filter(|target| target_due(target, settings, now)) {
        let reading = read_target(accounts, &post, target, now, run).await;
        readings.insert(target.channel_id, reading);
    }
    record(accounts, settings, post, &readings, now, &mut run.report).await
}

/// Only a published or partial post is written here: a post being (re)published belongs to
/// process-queue until it settles, which makes it due again.
fn settled(post: &Post) -> bool {
    matches!(post.status, PostStatus::Published | PostStatus::Partial)
}

/// Whether a target is published, young enough, and was last read at least an interval ago.
fn target_due(target: &Target, settings: &MetricsSettings, now: OffsetDateTime) -> bool {
    live(target, settings, now)
        && target.metrics.as_ref().is_none_or(|metrics| metrics.synced_at + settings.interval <= now + EARLY_SLACK)
}

/// Whether a target is published with a platform id, less than `max_age` ago.
fn live(target: &Target, settings: &MetricsSettings, now: OffsetDateTime) -> bool {
    target.status == TargetStatus::Published
        && target.unpublished_at.is_none()
        && target.platform_post_id.is_some()
        && target.published_at.is_some_and(|at| at + settings.max_age > now)
}

/// Reads one target's figures through its platform adapter, handling rate limits and expired
/// tokens for its connection.
async fn read_target(
    accounts: &Accounts<'_>,
    post: &Post,
    target: &Target,
    now: OffsetDateTime,
    run: &mut Run,
) -> Reading {
    let (channel, connection) = match target_account(accounts, post, target).await {
        Ok(account) => account,
        Err(error) => return failed(post, target, &error, run),
    };
    if connection.status != ConnectionStatus::Active || run.expired.contains(&connection.id) {
        return Reading::Nothing;
    }
    if let Some(retry_at) = run.rate_limited.get(&connection.id) {
        run.report.rate_limited += 1;
        return Reading::RetryAt(*retry_at);
    }
    let Some(client) = accounts.platforms.get(target.platform) else {
        let error = PlatformError::new(ErrorCode::PlatformError, "no adapter for this platform is configured");
        return failed(post, target, &error, run);
    };
    let connection_id = connection.id;
    let platform_post_id = target.platform_post_id.as_deref().unwrap_or_default();
    let outcome = with_fresh_token(accounts, &connection, Some(&channel), |auth| async move {
        client.metrics(&auth, platform_post_id).await
    })
    .await;
    match outcome {
        Ok(figures) => {
            run.report.targets_read += 1;
            Reading::Figures(figures)
        }
        Err(CallError::Platform(_, error)) if error.code == ErrorCode::RateLimited => {
            let retry_at = now + retry_delay(error.retry_after);
            run.report.rate_limited += 1;
            run.rate_limited.insert(connection_id, retry_at);
            Reading::RetryAt(retry_at)
        }
        Err(CallError::Ended { ended_now, .. }) => {
            run.expired.insert(connection_id);
            run.report.connections_expired += usize::from(ended_now);
            Reading::Nothing
        }
        Err(error) => failed(post, target, &PlatformError::from(error), run),
    }
}

fn failed(post: &Post, target: &Target, error: &PlatformError, run: &mut Run) -> Reading {
    run.report.failed += 1;
    tracing::warn!(post_id = %post.id, channel_id = %target.channel_id, error = %error, "reading a target's metrics failed");
    Reading::Nothing
}

/// How long to leave a rate-limited connection alone: the platform's `Retry-After`, at least
/// [`MIN_RETRY`].
fn retry_delay(retry_after: Option<Duration>) -> time::Duration {
    retry_after.and_then(|delay| time::Duration::try_from(delay).ok()).map_or(MIN_RETRY, |delay| delay.max(MIN_RETRY))
}

/// Writes the readings onto the post and moves its next sync on, conditional on its version: a
/// concurrent edit wins, and the readings are applied again to the post as it now is.
async fn record(
    accounts: &Accounts<'_>,
    settings: &MetricsSettings,
    mut post: Post,
    readings: &HashMap<ChannelId, Reading>,
    now: OffsetDateTime,
    report: &mut MetricsReport,
) -> Result<()> {
    for _ in 0..WRITE_ATTEMPTS {
        let changed = apply(&mut post, readings, now);
        post.metrics_due_at = next_due(&post, readings, settings, now);
        match save(accounts, &mut post).await {
            Ok(()) => {
                if changed {
                    report.posts_changed += 1;
                    emit(
                        &accounts.outbox(),
                        post.workspace_id,
                        EventType::PostMetricsUpdated,
                        metrics_data(&post, readings),
                    )
                    .await?;
                }
                return Ok(());
            }
            Err(Error::Conflict(_)) => match accounts.store.get_post(post.workspace_id, post.id).await? {
                Some(fresh) if settled(&fresh) => post = fresh,
                _ => return Ok(()),
            },
            Err(Error::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
    Err(Error::Conflict(format!("post {} kept changing while its metrics were saved", post.id)))
}

/// Records each reading on its target; returns whether any figures changed.
fn apply(post: &mut Post, readings: &HashMap<ChannelId, Reading>, now: OffsetDateTime) -> bool {
    let mut changed = false;
    for target in &mut post.targets {
        if let Some(Reading::Figures(figures)) = readings.get(&target.channel_id) {
            changed |= TargetMetrics::record(&mut target.metrics, *figures, now);
        }
    }
    changed
}

/// When the post is next due: an interval after its least recently read live target, or sooner
/// after a rate limit; `None` once no target is young enough to read.
fn next_due(
    post: &Post,
    readings: &HashMap<ChannelId, Reading>,
    settings: &MetricsSettings,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let live: Vec<&Target> = post.targets.iter().filter(|target| live(target, settings, now)).collect();
    let regular = live
        .iter()
        .map(|target| target.metrics.as_ref().map_or(now, |metrics| metrics.synced_at.max(now - settings.interval)))
        .min()?
        + settings.interval;
    let retry = live
        .iter()
        .filter_map(|target| match readings.get(&target.channel_id) {
            Some(Reading::RetryAt(at)) => Some(*at),
            _ => None,
        })
        .min();
    Some(retry.map_or(regular, |retry| retry.min(regular)).max(now + MIN_RETRY))
}

/// The `data` of post.metrics.updated: the post's totals, and each read target's figures with
/// whether they changed.
fn metrics_data(post: &Post, readings: &HashMap<ChannelId, Reading>) -> Value {
    let targets: Vec<Value> = post
        .targets
        .iter()
        .filter_map(|target| {
            let metrics = target.metrics.as_ref()?;
            let read = matches!(readings.get(&target.channel_id), Some(Reading::Figures(_)));
            let changed = read && metrics.history.last().is_some_and(|sample| sample.at == metrics.synced_at);
            Some(json!({
                "channel_id": target.channel_id,
                "platform": target.platform,
                "platform_post_id": target.platform_post_id,
                "metrics": metrics.latest,
                "changed": changed,
                "synced_at": rfc3339(metrics.synced_at),
            }))
        })
        .collect();
    json!({"post_id": post.id, "metrics": total_metrics(post), "targets": targets})
}

/// Each figure summed over the targets that have it; a figure no target offers stays `None`,
/// and a post with no figures yet has none.
pub fn total_metrics(post: &Post) -> Option<Metrics> {
    let add = |total: Option<u64>, figure: Option<u64>| match (total, figure) {
        (Some(total), Some(figure)) => Some(total.saturating_add(figure)),
        (total, figure) => total.or(figure),
    };
    post.targets.iter().filter_map(|target| target.metrics.as_ref()).map(|metrics| metrics.latest).reduce(
        |total, figures| Metrics {
            views: add(total.views, figures.views),
            likes: add(total.likes, figures.likes),
            comments: add(total.comments, figures.comments),
            shares: add(total.shares, figures.shares),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::{PostId, WorkspaceId};
    use crate::model::platforms::Platform;

    fn settings() -> MetricsSettings {
        MetricsSettings::default()
    }

    fn published(at: OffsetDateTime) -> Target {
        Target {
            status: TargetStatus::Published,
            platform_post_id: Some("1".into()),
            published_at: Some(at),
            ..Target::pending(ChannelId::new(), Platform::Mastodon)
        }
    }

    fn post(targets: Vec<Target>, now: OffsetDateTime) -> Post {
        Post {
            id: PostId::new(),
            workspace_id: WorkspaceId::new(),
            text: "hello".into(),
            media: Vec::new(),
            status: PostStatus::Published,
            scheduled_at: None,
            targets,
            due_at: None,
            retried_count: 0,
            metrics_due_at: Some(now),
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    fn figures(views: u64) -> Metrics {
        Metrics { views: Some(views), likes: Some(1), comments: None, shares: None }
    }

    #[test]
    fn a_target_is_due_when_young_and_not_read_for_an_interval() {
        let now = OffsetDateTime::now_utc();
        let mut target = published(now - time::Duration::hours(1));
        assert!(target_due(&target, &settings(), now), "never read");
        TargetMetrics::record(&mut target.metrics, figures(1), now - time::Duration::minutes(5));
        assert!(!target_due(&target, &settings(), now), "read five minutes ago");
        assert!(target_due(&target, &settings(), now + time::Duration::seconds(9 * 60 + 30)), "within the slack");
        let old = published(now - time::Duration::days(8));
        assert!(!target_due(&old, &settings(), now), "older than the age limit");
        let failed = Target { status: TargetStatus::Failed, ..published(now) };
        assert!(!target_due(&failed, &settings(), now));
    }

    #[test]
    fn history_grows_only_when_figures_change_and_keeps_the_newest() {
        let start = OffsetDateTime::now_utc();
        let mut metrics = None;
        assert!(TargetMetrics::record(&mut metrics, figures(1), start));
        assert!(!TargetMetrics::record(&mut metrics, figures(1), start + time::Duration::minutes(15)));
        let known = metrics.as_ref().unwrap();
        assert_eq!((known.history.len(), known.synced_at), (1, start + time::Duration::minutes(15)));
        for step in 2..=60 {
            assert!(TargetMetrics::record(&mut metrics, figures(step), start + time::Duration::hours(step as i64)));
        }
        let known = metrics.unwrap();
        assert_eq!(known.history.len(), crate::model::posts::METRICS_HISTORY_LEN);
        assert_eq!(known.history.last().unwrap().figures, figures(60));
        assert_eq!(known.history.first().unwrap().figures, figures(13));
    }

    #[test]
    fn totals_add_what_each_target_offers() {
        let now = OffsetDateTime::now_utc();
        let mut first = published(now);
        let mut second = published(now);
        TargetMetrics::record(&mut first.metrics, figures(10), now);
        let only_likes = Metrics { likes: Some(4), ..Metrics::default() };
        TargetMetrics::record(&mut second.metrics, only_likes, now);
        let totals = total_metrics(&post(vec![first, second, published(now)], now)).unwrap();
        assert_eq!(totals, Metrics { views: Some(10), likes: Some(5), comments: None, shares: None });
        assert_eq!(total_metrics(&post(vec![published(now)], now)), None);
    }

    #[test]
    fn next_due_follows_the_interval_a_rate_limit_and_the_age_limit() {
        let now = OffsetDateTime::now_utc();
        let mut target = published(now - time::Duration::hours(1));
        TargetMetrics::record(&mut target.metrics, figures(1), now);
        let channel = target.channel_id;
        let young = post(vec![target.clone()], now);
        assert_eq!(next_due(&young, &HashMap::new(), &settings(), now), Some(now + settings().interval));

        let retry = HashMap::from([(channel, Reading::RetryAt(now + time::Duration::minutes(2)))]);
        assert_eq!(next_due(&young, &retry, &settings(), now), Some(now + time::Duration::minutes(2)));

        let old = post(vec![published(now - time::Duration::days(7))], now);
        assert_eq!(next_due(&old, &HashMap::new(), &settings(), now), None);
    }

    #[test]
    fn a_retry_after_is_honoured_but_never_below_a_minute() {
        assert_eq!(retry_delay(None), MIN_RETRY);
        assert_eq!(retry_delay(Some(Duration::from_secs(5))), MIN_RETRY);
        assert_eq!(retry_delay(Some(Duration::from_secs(600))), time::Duration::minutes(10));
    }
}
