//! Recoveries and what they read: the record and its conditional updates, an endpoint's newest
//! recovery, the running ones, an endpoint's failed deliveries by id from a window's start (past
//! DynamoDB's query pages), and the endpoints whose probe is due.

use posthorn::model::webhooks::{InFlight, NewRecovery, Recovery, RecoveryState, RecoveryTrigger};
use posthorn::ports::store::{Condition, Record, Write};

use super::webhooks_deliveries::{delivery, endpoint, event, with_status};
use super::*;

contract!(
    recovery_round_trips_and_updates_conditionally,
    an_endpoints_latest_recovery_is_its_newest,
    only_running_recoveries_are_listed_as_running,
    failed_deliveries_are_read_by_id_from_a_bound_across_pages,
    a_delivery_leaves_the_failures_once_it_is_pending_again,
    endpoints_are_listed_when_their_probe_is_due,
);

fn recovery(workspace: WorkspaceId, webhook: WebhookId) -> Recovery {
    let new = NewRecovery {
        workspace_id: workspace,
        webhook_id: webhook,
        since: now() - Duration::days(1),
        until: now(),
        trigger: RecoveryTrigger::Manual,
    };
    Recovery::new(new, now())
}

async fn create(store: &dyn Store, recovery: &Recovery) {
    store.write(Write::Put(recovery.document().unwrap(), Condition::Absent)).await.unwrap();
}

async fn recovery_round_trips_and_updates_conditionally(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let mut stored = recovery(workspace, WebhookId::new());
    create(store, &stored).await;
    assert_eq!(store.get_recovery(workspace, stored.id).await.unwrap().as_ref(), Some(&stored));
    assert_eq!(store.get_recovery(WorkspaceId::new(), stored.id).await.unwrap(), None, "another workspace's");

    stored.version = 1;
    stored.total = 2;
    stored.cursor = Some(DeliveryId::new());
    stored.in_flight = vec![InFlight { delivery_id: DeliveryId::new(), at: now() }];
    store.update_recovery(&stored, 0).await.unwrap();
    assert_eq!(store.get_recovery(workspace, stored.id).await.unwrap().as_ref(), Some(&stored));
    let stale = store.update_recovery(&stored, 0).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict(_)), "{stale:?}");
    let missing = recovery(workspace, WebhookId::new());
    assert!(matches!(store.update_recovery(&missing, 0).await.unwrap_err(), Error::NotFound(_)));
}

async fn an_endpoints_latest_recovery_is_its_newest(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    assert_eq!(store.latest_recovery(workspace, webhook).await.unwrap(), None);
    let older = recovery(workspace, webhook);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let newer = recovery(workspace, webhook);
    let elsewhere = recovery(workspace, WebhookId::new());
    for recovery in [&newer, &older, &elsewhere] {
        create(store, recovery).await;
    }
    assert_eq!(store.latest_recovery(workspace, webhook).await.unwrap().map(|r| r.id), Some(newer.id));
}

async fn only_running_recoveries_are_listed_as_running(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let running = recovery(workspace, WebhookId::new());
    let mut done = recovery(workspace, WebhookId::new());
    create(store, &running).await;
    create(store, &done).await;
    done.version = 1;
    done.state = RecoveryState::Completed;
    store.update_recovery(&done, 0).await.unwrap();

    let listed: Vec<RecoveryId> =
        store.running_recoveries(now() + Duration::seconds(1), 100).await.unwrap().into_iter().map(|r| r.id).collect();
    assert!(listed.contains(&running.id), "{listed:?}");
    assert!(!listed.contains(&done.id), "{listed:?}");
}

/// 150 failed deliveries between delivered ones, more than one DynamoDB query page of a filter's
/// batch: read from the window's first id in pages of 40, each from the last id read, they come
/// oldest first, each once, and only the failed ones of that endpoint.
async fn failed_deliveries_are_read_by_id_from_a_bound_across_pages(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    let start = now() - Duration::hours(2);
    let before = store_delivery(store, workspace, webhook, start - Duration::minutes(1), DeliveryStatus::Failed).await;
    let mut failed = Vec::new();
    for index in 0..300 {
        let at = start + Duration::seconds(index);
        let status = if index % 2 == 0 { DeliveryStatus::Failed } else { DeliveryStatus::Delivered };
        let delivery = store_delivery(store, workspace, webhook, at, status).await;
        if status == DeliveryStatus::Failed {
            failed.push(delivery.id);
        }
    }
    store_delivery(store, workspace, WebhookId::new(), start, DeliveryStatus::Failed).await;

    let mut read = Vec::new();
    let mut from = DeliveryId::lowest_at(start);
    loop {
        let page = store.failed_deliveries(workspace, webhook, from, 40).await.unwrap();
        let fresh: Vec<DeliveryId> = page.iter().map(|d| d.id).filter(|id| read.last() < Some(id)).collect();
        assert!(page.iter().all(|d| d.status == DeliveryStatus::Failed && d.webhook_id == webhook));
        read.extend(&fresh);
        match fresh.last() {
            Some(last) if page.len() == 40 => from = *last,
            _ => break,
        }
    }
    assert_eq!(read, failed);
    assert!(!read.contains(&before.id), "a delivery before the window is not read");
}

async fn store_delivery(
    store: &dyn Store,
    workspace: WorkspaceId,
    webhook: WebhookId,
    at: OffsetDateTime,
    status: DeliveryStatus,
) -> Delivery {
    let delivery = with_status(delivery(&event(workspace, EventType::PostPublished), webhook, at), status);
    store.write(Write::Put(delivery.document().unwrap(), Condition::Absent)).await.unwrap();
    delivery
}

async fn a_delivery_leaves_the_failures_once_it_is_pending_again(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    let at = now() - Duration::minutes(5);
    let failed = store_delivery(store, workspace, webhook, at, DeliveryStatus::Failed).await;
    let from = DeliveryId::lowest_at(at - Duration::seconds(1));
    assert_eq!(store.failed_deliveries(workspace, webhook, from, 10).await.unwrap().len(), 1);

    let mut pending = failed.clone();
    pending.version += 1;
    pending.status = DeliveryStatus::Pending;
    pending.next_attempt_at = Some(now());
    store.update_delivery(&pending, failed.version, DeliveryStatus::Failed).await.unwrap();
    assert!(store.failed_deliveries(workspace, webhook, from, 10).await.unwrap().is_empty());
}

async fn endpoints_are_listed_when_their_probe_is_due(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let probe = |next_at| Probe { next_at, delay_seconds: 300, failing_since: now(), disabled_at: now() };
    let due =
        WebhookEndpoint { active: false, probe: Some(probe(now() - Duration::seconds(1))), ..endpoint(workspace) };
    let later =
        WebhookEndpoint { active: false, probe: Some(probe(now() + Duration::hours(1))), ..endpoint(workspace) };
    let unprobed = WebhookEndpoint { active: false, ..endpoint(workspace) };
    for endpoint in [&due, &later, &unprobed] {
        store.create_webhook(endpoint).await.unwrap();
    }
    let listed: Vec<WebhookId> = store.probes_due(now(), 100).await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(listed.contains(&due.id), "{listed:?}");
    assert!(!listed.contains(&later.id) && !listed.contains(&unprobed.id), "{listed:?}");

    let mut probed = due.clone();
    probed.version += 1;
    probed.probe = None;
    store.update_webhook(&probed, due.version).await.unwrap();
    let listed: Vec<WebhookId> = store.probes_due(now(), 100).await.unwrap().into_iter().map(|e| e.id).collect();
    assert!(!listed.contains(&due.id), "no longer probed: {listed:?}");
}
