//! Each endpoint's hourly outcome counts: the core's addition (from nothing, accumulating,
//! concurrently), and `update_delivery` moving a delivery between the counts as its status
//! changes, only once its own write succeeded.

use std::sync::Arc;

use posthorn::model::webhooks::{DeliveryCounts, HourlyOutcomes, hour_of};
use posthorn::ports::store::{Addition, Record};

use super::*;
use crate::webhooks_deliveries::{delivery, event, next_version, with_status};

contract!(
    an_addition_creates_the_record_then_accumulates,
    a_settle_written_twice_counts_once,
    status_changes_move_deliveries_between_the_counts,
    a_refused_update_counts_nothing,
    a_delivery_past_the_kept_hours_is_not_counted,
);

posthorn_testkit::on_stores!(
    [shared_sqlite => super::shared(crate::sqlite_in_memory().await.store), shared_dynamodb => super::shared(crate::dynamodb().await.store)],
    [concurrent_additions_and_settles_all_count]
);

/// A store that spawned tasks can share.
fn shared(store: Box<dyn Store>) -> Arc<dyn Store> {
    Arc::from(store)
}

fn additions(delivered: i64, failed: i64) -> Vec<Addition> {
    vec![Addition { field: "delivered", amount: delivered }, Addition { field: "failed", amount: failed }]
}

async fn add(store: &dyn Store, counts: &HourlyOutcomes, delivered: i64, failed: i64) {
    store.add(counts.document().unwrap(), additions(delivered, failed)).await.unwrap();
}

/// The middle of the previous hour: deliveries created then are all of one hour, within a day.
fn last_hour() -> OffsetDateTime {
    hour_of(now()) - Duration::minutes(30)
}

/// The counts of the hour a delivery to `webhook` made at `at` falls in.
fn hour_at(workspace: WorkspaceId, webhook: WebhookId, at: OffsetDateTime) -> HourlyOutcomes {
    HourlyOutcomes::empty_for(&delivery(&event(workspace, EventType::PostPublished), webhook, at))
}

async fn hours(store: &dyn Store, workspace: WorkspaceId, webhook: WebhookId) -> Vec<HourlyOutcomes> {
    store.endpoint_outcomes(workspace, webhook, now() - Duration::days(30)).await.unwrap()
}

async fn counts_since(
    store: &dyn Store,
    workspace: WorkspaceId,
    webhook: WebhookId,
    since: Duration,
) -> DeliveryCounts {
    let since = now() - since;
    DeliveryCounts::since(&store.endpoint_outcomes(workspace, webhook, since).await.unwrap(), since)
}

fn counts(delivered: u64, failed: u64) -> DeliveryCounts {
    DeliveryCounts { delivered, failed }
}

async fn an_addition_creates_the_record_then_accumulates(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let empty = hour_at(workspace, WebhookId::new(), last_hour());
    add(store, &empty, 1, 0).await;
    let stored = hours(store, workspace, empty.webhook_id).await;
    assert_eq!(stored, [HourlyOutcomes { delivered: 1, ..empty.clone() }], "every field stored, from zero");

    add(store, &empty, 2, 1).await;
    add(store, &empty, 0, -1).await;
    add(store, &empty, 0, 4).await;
    assert_eq!(hours(store, workspace, empty.webhook_id).await, [HourlyOutcomes { delivered: 3, failed: 4, ..empty }]);
}

/// Stores a pending delivery to `webhook` created at `at`, then settles it as `status`.
async fn settled(
    store: &dyn Store,
    webhook: WebhookId,
    workspace: WorkspaceId,
    at: OffsetDateTime,
    status: DeliveryStatus,
) -> Delivery {
    let event = event(workspace, EventType::PostPublished);
    let pending = delivery(&event, webhook, at);
    store.create_event(&event, std::slice::from_ref(&pending)).await.unwrap();
    let done = with_status(next_version(&pending, |d| d.updated_at = now()), status);
    store.update_delivery(&done, pending.version, pending.status).await.unwrap();
    done
}

async fn status_changes_move_deliveries_between_the_counts(store: &dyn Store) {
    use DeliveryStatus::{Delivered, Failed, Pending};
    let workspace = WorkspaceId::new();
    let (mine, theirs) = (WebhookId::new(), WebhookId::new());
    let (recent, days_ago) = (last_hour(), now() - Duration::days(3));
    for status in [Delivered, Delivered, Failed, Failed, Pending] {
        settled(store, mine, workspace, recent, status).await;
    }
    settled(store, mine, workspace, days_ago, Delivered).await;
    settled(store, mine, workspace, days_ago, Failed).await;
    settled(store, theirs, workspace, recent, Delivered).await;
    assert_eq!(counts_since(store, workspace, mine, Duration::hours(24)).await, counts(2, 2));
    assert_eq!(counts_since(store, workspace, mine, Duration::days(7)).await, counts(3, 3));

    // A manual retry takes a failed delivery out of the failed count, and its success counts it as delivered.
    let failed = settled(store, mine, workspace, recent, Failed).await;
    assert_eq!(counts_since(store, workspace, mine, Duration::hours(24)).await, counts(2, 3));
    let retried = with_status(next_version(&failed, |_| {}), Pending);
    store.update_delivery(&retried, failed.version, Failed).await.unwrap();
    assert_eq!(counts_since(store, workspace, mine, Duration::hours(24)).await, counts(2, 2));
    let delivered = with_status(next_version(&retried, |_| {}), Delivered);
    store.update_delivery(&delivered, retried.version, Pending).await.unwrap();
    assert_eq!(counts_since(store, workspace, mine, Duration::hours(24)).await, counts(3, 2));

    // A write that keeps the status (a claim, a rescheduled attempt) changes no count.
    let rescheduled = next_version(&delivered, |_| {});
    store.update_delivery(&rescheduled, delivered.version, Delivered).await.unwrap();
    assert_eq!(counts_since(store, workspace, mine, Duration::hours(24)).await, counts(3, 2));

    assert_eq!(counts_since(store, workspace, theirs, Duration::days(7)).await, counts(1, 0));
    assert_eq!(counts_since(store, WorkspaceId::new(), mine, Duration::days(7)).await, counts(0, 0));
    let read = store.endpoint_outcomes(workspace, mine, now() - Duration::hours(24)).await.unwrap();
    assert_eq!(read.len(), 1, "only the hours from the window's first are read: {read:?}");
    assert_eq!(read[0].hour, hour_of(recent));
}

async fn a_refused_update_counts_nothing(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let event = event(workspace, EventType::PostPublished);
    let pending = delivery(&event, WebhookId::new(), now());
    store.create_event(&event, std::slice::from_ref(&pending)).await.unwrap();
    let stale = with_status(next_version(&pending, |d| d.version = 5), DeliveryStatus::Delivered);
    let result = store.update_delivery(&stale, 4, DeliveryStatus::Pending).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    let intruder = with_status(next_version(&pending, |d| d.workspace_id = WorkspaceId::new()), DeliveryStatus::Failed);
    let result = store.update_delivery(&intruder, pending.version, DeliveryStatus::Pending).await;
    assert!(matches!(result, Err(Error::NotFound("delivery"))), "{result:?}");
    assert_eq!(hours(store, workspace, pending.webhook_id).await, []);
    assert_eq!(hours(store, intruder.workspace_id, pending.webhook_id).await, []);
}

/// A settle written again (a redelivered message, a second worker with the same read) is
/// refused, and counts once.
async fn a_settle_written_twice_counts_once(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let event = event(workspace, EventType::PostPublished);
    let pending = delivery(&event, WebhookId::new(), last_hour());
    store.create_event(&event, std::slice::from_ref(&pending)).await.unwrap();
    let done = with_status(next_version(&pending, |_| {}), DeliveryStatus::Delivered);
    store.update_delivery(&done, pending.version, DeliveryStatus::Pending).await.unwrap();
    let again = store.update_delivery(&done, pending.version, DeliveryStatus::Pending).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(counts_since(store, workspace, pending.webhook_id, Duration::hours(24)).await, counts(1, 0));
}

async fn a_delivery_past_the_kept_hours_is_not_counted(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    let old = settled(store, webhook, workspace, now() - Duration::days(9), DeliveryStatus::Failed).await;
    assert_eq!(store.get_delivery(workspace, old.id).await.unwrap(), Some(old), "the delivery itself is written");
    assert_eq!(hours(store, workspace, webhook).await, []);
}

/// Many workers settling deliveries of one endpoint in one hour at once, and many additions to
/// one record at once: every one counts.
async fn concurrent_additions_and_settles_all_count(store: Arc<dyn Store>) {
    const EACH: usize = 24;
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    let at = last_hour();
    let mut pending = Vec::new();
    for _ in 0..EACH {
        let event = event(workspace, EventType::PostPublished);
        let delivery = delivery(&event, webhook, at);
        store.create_event(&event, std::slice::from_ref(&delivery)).await.unwrap();
        pending.push(delivery);
    }
    let mut running = tokio::task::JoinSet::new();
    for (i, delivery) in pending.into_iter().enumerate() {
        let settling = store.clone();
        running.spawn(async move {
            let status = if i % 3 == 0 { DeliveryStatus::Failed } else { DeliveryStatus::Delivered };
            let done = with_status(next_version(&delivery, |_| {}), status);
            settling.update_delivery(&done, delivery.version, DeliveryStatus::Pending).await.unwrap();
        });
        let adding = store.clone();
        let counts = hour_at(workspace, webhook, at);
        running.spawn(async move {
            add(adding.as_ref(), &counts, 1, 1).await;
        });
    }
    running.join_all().await;
    let stored = store.endpoint_outcomes(workspace, webhook, now() - Duration::hours(2)).await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let each = i64::try_from(EACH).unwrap();
    assert_eq!((stored[0].delivered, stored[0].failed), (each + each * 2 / 3, each + each / 3));
}
