//! Webhook endpoints, events and deliveries: round trips, conditional updates, pages and filters,
//! and the overdue-delivery index.

use super::*;

contract!(
    webhook_round_trips_every_field,
    webhook_update_replaces_the_record,
    webhook_delete_removes_it,
    duplicate_webhook_conflicts,
    missing_webhook_cannot_be_updated_or_deleted,
    webhooks_are_invisible_to_other_workspaces,
    list_pages_newest_first_without_gaps,
    list_of_exactly_limit_items_has_no_next_cursor,
    list_of_nothing_is_empty,
    list_continues_after_a_deleted_cursor,
    invalid_cursor_is_a_bad_request,
    event_and_deliveries_round_trip_every_field,
    duplicate_event_conflicts_and_writes_nothing,
    malformed_event_writes_are_refused,
    events_and_deliveries_are_invisible_to_other_workspaces,
    delivery_update_is_conditional_on_its_version,
    missing_delivery_cannot_be_updated,
    deliveries_list_newest_first_per_endpoint,
    deliveries_filter_by_status_and_event_type,
    delivery_filter_reads_past_many_non_matching_deliveries,
    delivery_list_rejects_an_invalid_cursor,
    overdue_deliveries_are_pending_ones_due_before_the_bound,
    delivery_stops_being_overdue_once_delivered_or_rescheduled,
);

/// An endpoint with every optional field empty and the catch-all filter.
pub(crate) fn endpoint(workspace: WorkspaceId) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::new(),
        workspace_id: workspace,
        name: None,
        url: "https://hooks.example.com/posthorn".into(),
        events: EventFilter::All,
        active: true,
        disabled_reason: None,
        enabled_reason: None,
        enabled_at: None,
        auto_recover: true,
        probe: None,
        secret: sealed("whsec_current"),
        secret_hint: "rent".into(),
        retiring_secret: None,
        version: 0,
        created_at: now(),
        updated_at: now(),
    }
}

/// An endpoint with every optional field set.
fn full_endpoint(workspace: WorkspaceId) -> WebhookEndpoint {
    WebhookEndpoint {
        name: Some("Production receiver".into()),
        events: EventFilter::Only(vec![EventType::PostPublished, EventType::TokenExpired]),
        active: false,
        disabled_reason: Some("the last 20 deliveries failed".into()),
        enabled_reason: Some("recovered".into()),
        enabled_at: Some(now() - Duration::minutes(1)),
        auto_recover: false,
        probe: Some(Probe {
            next_at: now() + Duration::minutes(5),
            delay_seconds: 300,
            failing_since: now() - Duration::hours(4),
            disabled_at: now(),
        }),
        retiring_secret: Some(RetiringSecret { secret: sealed("whsec_previous"), until: now() + Duration::hours(24) }),
        version: 3,
        ..endpoint(workspace)
    }
}

/// `count` endpoints of `workspace`, created oldest first with strictly increasing ids.
async fn create_endpoints(store: &dyn Store, workspace: WorkspaceId, count: usize) -> Vec<WebhookEndpoint> {
    let mut created = Vec::new();
    for _ in 0..count {
        // ULIDs made within one millisecond do not sort by creation.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let endpoint = endpoint(workspace);
        store.create_webhook(&endpoint).await.unwrap();
        created.push(endpoint);
    }
    created
}

/// Every endpoint of `workspace`, reading pages of `limit`; also returns each page's size.
async fn list_all(store: &dyn Store, workspace: WorkspaceId, limit: usize) -> (Vec<WebhookEndpoint>, Vec<usize>) {
    read_pages(limit, async |page| store.list_webhooks(workspace, page).await.unwrap()).await
}

fn ids(endpoints: &[WebhookEndpoint]) -> Vec<WebhookId> {
    endpoints.iter().map(|e| e.id).collect()
}

async fn webhook_round_trips_every_field(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    for endpoint in [endpoint(workspace), full_endpoint(workspace)] {
        store.create_webhook(&endpoint).await.unwrap();
        let stored = store.get_webhook(workspace, endpoint.id).await.unwrap();
        assert_eq!(stored, Some(endpoint));
    }
}

async fn webhook_update_replaces_the_record(store: &dyn Store) {
    let original = endpoint(WorkspaceId::new());
    store.create_webhook(&original).await.unwrap();
    let updated = WebhookEndpoint {
        id: original.id,
        workspace_id: original.workspace_id,
        created_at: original.created_at,
        ..full_endpoint(original.workspace_id)
    };
    store.update_webhook(&updated, original.version).await.unwrap();
    let stored = store.get_webhook(original.workspace_id, original.id).await;
    assert_eq!(stored.unwrap(), Some(updated.clone()));

    let stale = WebhookEndpoint { active: true, version: 4, ..updated.clone() };
    let lost = store.update_webhook(&stale, original.version).await;
    assert!(matches!(lost, Err(Error::Conflict(_))), "a write over a version that was replaced: {lost:?}");
    let stored = store.get_webhook(original.workspace_id, original.id).await;
    assert_eq!(stored.unwrap(), Some(updated), "the newer write stays");
}

async fn webhook_delete_removes_it(store: &dyn Store) {
    let endpoint = endpoint(WorkspaceId::new());
    store.create_webhook(&endpoint).await.unwrap();
    store.delete_webhook(endpoint.workspace_id, endpoint.id).await.unwrap();
    let stored = store.get_webhook(endpoint.workspace_id, endpoint.id).await;
    assert_eq!(stored.unwrap(), None);
    let again = store.delete_webhook(endpoint.workspace_id, endpoint.id).await;
    assert!(matches!(again, Err(Error::NotFound("webhook"))), "{again:?}");
}

async fn duplicate_webhook_conflicts(store: &dyn Store) {
    let endpoint = endpoint(WorkspaceId::new());
    store.create_webhook(&endpoint).await.unwrap();
    let result = store.create_webhook(&full_endpoint_with_id(&endpoint)).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    let stored = store.get_webhook(endpoint.workspace_id, endpoint.id).await;
    assert_eq!(stored.unwrap(), Some(endpoint));
}

/// A different record under the id and workspace of `endpoint`.
fn full_endpoint_with_id(endpoint: &WebhookEndpoint) -> WebhookEndpoint {
    WebhookEndpoint { id: endpoint.id, ..full_endpoint(endpoint.workspace_id) }
}

async fn missing_webhook_cannot_be_updated_or_deleted(store: &dyn Store) {
    let missing = endpoint(WorkspaceId::new());
    let update = store.update_webhook(&missing, 0).await;
    assert!(matches!(update, Err(Error::NotFound("webhook"))), "{update:?}");
    let delete = store.delete_webhook(missing.workspace_id, missing.id).await;
    assert!(matches!(delete, Err(Error::NotFound("webhook"))), "{delete:?}");
    let stored = store.get_webhook(missing.workspace_id, missing.id).await;
    assert_eq!(stored.unwrap(), None, "an update must not create");
}

async fn webhooks_are_invisible_to_other_workspaces(store: &dyn Store) {
    let endpoint = endpoint(WorkspaceId::new());
    store.create_webhook(&endpoint).await.unwrap();
    let intruder = WorkspaceId::new();

    assert_eq!(store.get_webhook(intruder, endpoint.id).await.unwrap(), None);
    let hijack = WebhookEndpoint { workspace_id: intruder, ..full_endpoint_with_id(&endpoint) };
    let update = store.update_webhook(&hijack, endpoint.version).await;
    assert!(matches!(update, Err(Error::NotFound("webhook"))), "{update:?}");
    let delete = store.delete_webhook(intruder, endpoint.id).await;
    assert!(matches!(delete, Err(Error::NotFound("webhook"))), "{delete:?}");

    let stored = store.get_webhook(endpoint.workspace_id, endpoint.id).await;
    assert_eq!(stored.unwrap(), Some(endpoint), "the owner's copy is intact");
}

async fn list_pages_newest_first_without_gaps(store: &dyn Store) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let mut created = Vec::new();
    for _ in 0..7 {
        created.extend(create_endpoints(store, mine, 1).await);
        create_endpoints(store, theirs, 1).await;
    }
    created.reverse();

    let (listed, page_sizes) = list_all(store, mine, 3).await;
    assert_eq!(page_sizes, [3, 3, 1]);
    assert_eq!(ids(&listed), ids(&created));
    assert_eq!(listed, created, "list returns whole records");
}

async fn list_of_exactly_limit_items_has_no_next_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let mut created = create_endpoints(store, workspace, 3).await;
    created.reverse();
    let page = store.list_webhooks(workspace, PageRequest { limit: 3, cursor: None }).await.unwrap();
    assert_eq!(ids(&page.items), ids(&created));
    assert_eq!(page.next_cursor, None);
}

async fn list_of_nothing_is_empty(store: &dyn Store) {
    create_endpoints(store, WorkspaceId::new(), 2).await;
    let (listed, page_sizes) = list_all(store, WorkspaceId::new(), 20).await;
    assert!(listed.is_empty());
    assert_eq!(page_sizes, [0]);
}

async fn list_continues_after_a_deleted_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let created = create_endpoints(store, workspace, 5).await;
    let first = store.list_webhooks(workspace, PageRequest { limit: 2, cursor: None }).await.unwrap();
    let cursor = first.next_cursor.expect("more pages follow");
    assert_eq!(cursor, created[3].id.to_string());
    store.delete_webhook(workspace, created[3].id).await.unwrap();

    let rest = store.list_webhooks(workspace, PageRequest { limit: 10, cursor: Some(cursor) }).await.unwrap();
    assert_eq!(ids(&rest.items), [created[2].id, created[1].id, created[0].id]);
    assert_eq!(rest.next_cursor, None);
}

async fn invalid_cursor_is_a_bad_request(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    create_endpoints(store, workspace, 1).await;
    for cursor in ["garbage", "", &WorkspaceId::new().to_string(), "wh_not-a-ulid"] {
        let page = PageRequest { limit: 5, cursor: Some(cursor.to_string()) };
        let result = store.list_webhooks(workspace, page).await;
        assert!(
            matches!(&result, Err(Error::BadRequest(message)) if message == "invalid cursor"),
            "cursor {cursor:?}: {result:?}"
        );
    }
}

pub(crate) fn event(workspace: WorkspaceId, event_type: EventType) -> Event {
    Event {
        id: EventId::new(),
        workspace_id: workspace,
        event_type,
        body: r#"{"event":"post.published","data":{"post_id":"post_1"}}"#.into(),
        created_at: now(),
        fanout: Vec::new(),
    }
}

/// A delivery id minted at `at`, as `DeliveryId::new()` would mint it then.
fn delivery_id_at(at: OffsetDateTime) -> DeliveryId {
    format!("{}_{}", DeliveryId::PREFIX, Ulid::from_datetime(at.into())).parse().unwrap()
}

/// A new pending delivery of `event` to `webhook`, created at `created_at` and due then.
pub(crate) fn delivery(event: &Event, webhook: WebhookId, created_at: OffsetDateTime) -> Delivery {
    Delivery {
        id: delivery_id_at(created_at),
        workspace_id: event.workspace_id,
        webhook_id: webhook,
        event_id: event.id,
        event_type: event.event_type,
        status: DeliveryStatus::Pending,
        version: 0,
        attempts: Vec::new(),
        attempts_dropped: 0,
        schedule_start: 0,
        next_attempt_at: Some(created_at),
        recovery: None,
        created_at,
        updated_at: created_at,
    }
}

/// A delivery with every field set, and attempts with and without their optional fields.
fn full_delivery(event: &Event, webhook: WebhookId, created_at: OffsetDateTime) -> Delivery {
    Delivery {
        status: DeliveryStatus::Failed,
        version: 7,
        attempts: vec![
            Attempt {
                at: created_at + Duration::seconds(1),
                status_code: Some(503),
                duration_ms: 1234,
                error: Some("HTTP 503".into()),
                response_body: Some("{\"busy\":true}".into()),
            },
            Attempt {
                at: created_at + Duration::minutes(1),
                status_code: None,
                duration_ms: 0,
                error: None,
                response_body: None,
            },
        ],
        attempts_dropped: 3,
        schedule_start: 1,
        next_attempt_at: None,
        recovery: Some(RecoveryId::new()),
        updated_at: created_at + Duration::minutes(2),
        ..delivery(event, webhook, created_at)
    }
}

/// `delivery` as `status`, with no attempt due unless it is pending.
pub(crate) fn with_status(delivery: Delivery, status: DeliveryStatus) -> Delivery {
    let next_attempt_at = delivery.next_attempt_at.filter(|_| status == DeliveryStatus::Pending);
    Delivery { status, next_attempt_at, ..delivery }
}

/// Stores `deliveries` one event each, in order.
async fn store_deliveries(store: &dyn Store, deliveries: &[Delivery]) {
    for delivery in deliveries {
        let event = Event { id: delivery.event_id, ..event(delivery.workspace_id, delivery.event_type) };
        store.create_event(&event, std::slice::from_ref(delivery)).await.unwrap();
    }
}

/// `count` deliveries of one new event each, to `webhook`, created a second apart from `start`.
fn deliveries_from(workspace: WorkspaceId, webhook: WebhookId, start: OffsetDateTime, count: usize) -> Vec<Delivery> {
    (0..count)
        .map(|i| {
            let event = event(workspace, EventType::PostPublished);
            delivery(&event, webhook, start + Duration::seconds(i64::try_from(i).unwrap()))
        })
        .collect()
}

/// Every delivery of `webhook` matching `filter`, reading pages of `limit`; also each page's size.
async fn list_all_deliveries(
    store: &dyn Store,
    workspace: WorkspaceId,
    webhook: WebhookId,
    filter: DeliveryFilter,
    limit: usize,
) -> (Vec<Delivery>, Vec<usize>) {
    read_pages(limit, async |page| store.list_deliveries(workspace, webhook, filter, page).await.unwrap()).await
}

fn delivery_ids(deliveries: &[Delivery]) -> Vec<DeliveryId> {
    deliveries.iter().map(|d| d.id).collect()
}

/// What a delivery looks like after one more write: the next version, with `change` applied.
pub(crate) fn next_version(delivery: &Delivery, change: impl FnOnce(&mut Delivery)) -> Delivery {
    let mut next = delivery.clone();
    next.version += 1;
    next.updated_at += Duration::seconds(1);
    change(&mut next);
    next
}

async fn event_and_deliveries_round_trip_every_field(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let event = event(workspace, EventType::PostPublished);
    let deliveries = [delivery(&event, WebhookId::new(), now()), full_delivery(&event, WebhookId::new(), now())];
    store.create_event(&event, &deliveries).await.unwrap();

    assert_eq!(store.get_event(workspace, event.id).await.unwrap(), Some(event));
    for delivery in deliveries {
        assert_eq!(store.get_delivery(workspace, delivery.id).await.unwrap(), Some(delivery));
    }
    let lonely = self::event(workspace, EventType::WebhookTest);
    store.create_event(&lonely, &[]).await.unwrap();
    assert_eq!(store.get_event(workspace, lonely.id).await.unwrap(), Some(lonely), "an event may reach no endpoint");
    assert_eq!(store.get_event(workspace, EventId::new()).await.unwrap(), None);
    assert_eq!(store.get_delivery(workspace, DeliveryId::new()).await.unwrap(), None);
}

async fn duplicate_event_conflicts_and_writes_nothing(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let original = event(workspace, EventType::PostPublished);
    let first = delivery(&original, WebhookId::new(), now());
    store.create_event(&original, std::slice::from_ref(&first)).await.unwrap();

    let again = Event { body: "{}".into(), ..original.clone() };
    let newcomer = delivery(&again, WebhookId::new(), now() + Duration::seconds(1));
    let result = store.create_event(&again, std::slice::from_ref(&newcomer)).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_delivery(workspace, newcomer.id).await.unwrap(), None, "no delivery of a failed create");
    assert_eq!(store.get_event(workspace, original.id).await.unwrap(), Some(original.clone()));

    let fresh = event(workspace, EventType::PostFailed);
    let clean = delivery(&fresh, WebhookId::new(), now() + Duration::seconds(2));
    let reused = Delivery { event_id: fresh.id, ..first.clone() };
    let result = store.create_event(&fresh, &[clean.clone(), reused]).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "a reused delivery id: {result:?}");
    assert_eq!(store.get_event(workspace, fresh.id).await.unwrap(), None, "no event of a failed create");
    assert_eq!(store.get_delivery(workspace, clean.id).await.unwrap(), None, "no sibling of a failed create");
    assert_eq!(store.get_delivery(workspace, first.id).await.unwrap(), Some(first));
}

async fn malformed_event_writes_are_refused(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let event = event(workspace, EventType::PostPublished);
    let deliveries: Vec<_> = (0..100).map(|_| delivery(&event, WebhookId::new(), now())).collect();
    let result = store.create_event(&event, &deliveries).await;
    assert!(matches!(&result, Err(Error::Internal(message)) if message.contains("99")), "{result:?}");
    assert_eq!(store.get_event(workspace, event.id).await.unwrap(), None);
    assert_eq!(store.get_delivery(workspace, deliveries[0].id).await.unwrap(), None);

    let stray = delivery(&self::event(WorkspaceId::new(), EventType::PostPublished), WebhookId::new(), now());
    let result = store.create_event(&event, &[deliveries[0].clone(), stray.clone()]).await;
    assert!(matches!(&result, Err(Error::Internal(message)) if message.contains(&stray.id.to_string())), "{result:?}");
    assert_eq!(store.get_event(workspace, event.id).await.unwrap(), None);
    assert_eq!(store.get_delivery(stray.workspace_id, stray.id).await.unwrap(), None);

    store.create_event(&event, &deliveries[..99]).await.unwrap();
    assert_eq!(store.get_delivery(workspace, deliveries[98].id).await.unwrap(), Some(deliveries[98].clone()));
}

async fn events_and_deliveries_are_invisible_to_other_workspaces(store: &dyn Store) {
    let (owner, intruder) = (WorkspaceId::new(), WorkspaceId::new());
    let event = event(owner, EventType::PostPublished);
    let delivery = delivery(&event, WebhookId::new(), now());
    store.create_event(&event, std::slice::from_ref(&delivery)).await.unwrap();

    assert_eq!(store.get_event(intruder, event.id).await.unwrap(), None);
    assert_eq!(store.get_delivery(intruder, delivery.id).await.unwrap(), None);
    let hijack = next_version(&delivery, |d| {
        d.workspace_id = intruder;
        d.status = DeliveryStatus::Failed;
    });
    let update = store.update_delivery(&hijack, delivery.version, delivery.status).await;
    assert!(matches!(update, Err(Error::NotFound("delivery"))), "{update:?}");
    assert_eq!(store.get_delivery(owner, delivery.id).await.unwrap(), Some(delivery), "the owner's copy is intact");
}

async fn delivery_update_is_conditional_on_its_version(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let event = event(workspace, EventType::PostPublished);
    let original = delivery(&event, WebhookId::new(), now());
    store.create_event(&event, std::slice::from_ref(&original)).await.unwrap();

    let delivered = next_version(&original, |d| {
        d.status = DeliveryStatus::Delivered;
        d.next_attempt_at = None;
        d.attempts.push(full_delivery(&event, d.webhook_id, d.created_at).attempts[0].clone());
    });
    store.update_delivery(&delivered, original.version, original.status).await.unwrap();
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(delivered.clone()));

    let stale = next_version(&original, |d| d.status = DeliveryStatus::Failed);
    let result = store.update_delivery(&stale, original.version, original.status).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(delivered.clone()));

    let retried = next_version(&delivered, |d| d.schedule_start = 1);
    store.update_delivery(&retried, delivered.version, delivered.status).await.unwrap();
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(retried));
}

async fn missing_delivery_cannot_be_updated(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let missing = delivery(&event(workspace, EventType::PostPublished), WebhookId::new(), now());
    let result = store.update_delivery(&missing, 0, DeliveryStatus::Pending).await;
    assert!(matches!(result, Err(Error::NotFound("delivery"))), "{result:?}");
    assert_eq!(store.get_delivery(workspace, missing.id).await.unwrap(), None, "an update must not create");
}

async fn deliveries_list_newest_first_per_endpoint(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let (mine, theirs) = (WebhookId::new(), WebhookId::new());
    let start = now() - Duration::hours(1);
    let mut created = Vec::new();
    for i in 0..7 {
        let event = event(workspace, EventType::PostPublished);
        let at = start + Duration::seconds(i);
        let pair = [delivery(&event, mine, at), delivery(&event, theirs, at + Duration::milliseconds(5))];
        store.create_event(&event, &pair).await.unwrap();
        created.push(pair[0].clone());
    }
    created.reverse();

    let (listed, page_sizes) = list_all_deliveries(store, workspace, mine, DeliveryFilter::default(), 3).await;
    assert_eq!(page_sizes, [3, 3, 1]);
    assert_eq!(delivery_ids(&listed), delivery_ids(&created));
    assert_eq!(listed, created, "list returns whole records");

    let (exact, page_sizes) = list_all_deliveries(store, workspace, mine, DeliveryFilter::default(), 7).await;
    assert_eq!((exact.len(), page_sizes), (7, vec![7]), "no empty page after exactly `limit` items");
    let (theirs_listed, _) = list_all_deliveries(store, workspace, theirs, DeliveryFilter::default(), 20).await;
    assert!(theirs_listed.iter().all(|d| d.webhook_id == theirs) && theirs_listed.len() == 7);
    let (elsewhere, page_sizes) =
        list_all_deliveries(store, WorkspaceId::new(), mine, DeliveryFilter::default(), 20).await;
    assert!(elsewhere.is_empty(), "another workspace sees none");
    assert_eq!(page_sizes, [0]);
}

async fn deliveries_filter_by_status_and_event_type(store: &dyn Store) {
    use DeliveryStatus::{Delivered, Failed, Pending};
    use EventType::{PostFailed, PostPublished};
    let workspace = WorkspaceId::new();
    let (mine, theirs) = (WebhookId::new(), WebhookId::new());
    let start = now() - Duration::hours(1);
    let shapes = [
        (Delivered, PostPublished),
        (Failed, PostFailed),
        (Delivered, PostPublished),
        (Failed, PostPublished),
        (Pending, PostFailed),
        (Delivered, PostPublished),
        (Failed, PostFailed),
    ];
    let mut created = Vec::new();
    for (i, (status, event_type)) in (0..).zip(shapes) {
        let event = event(workspace, event_type);
        let at = start + Duration::seconds(i);
        let pair = [with_status(delivery(&event, mine, at), status), with_status(delivery(&event, theirs, at), status)];
        store.create_event(&event, &pair).await.unwrap();
        created.push(pair[0].clone());
    }
    created.reverse();

    let filters = [
        DeliveryFilter { status: Some(Failed), event_type: None },
        DeliveryFilter { status: None, event_type: Some(PostFailed) },
        DeliveryFilter { status: Some(Failed), event_type: Some(PostFailed) },
        DeliveryFilter { status: Some(Pending), event_type: Some(PostPublished) },
    ];
    for filter in filters {
        let expected: Vec<_> = created
            .iter()
            .filter(|d| filter.status.is_none_or(|s| d.status == s))
            .filter(|d| filter.event_type.is_none_or(|t| d.event_type == t))
            .cloned()
            .collect();
        let (listed, page_sizes) = list_all_deliveries(store, workspace, mine, filter, 2).await;
        assert_eq!(listed, expected, "{filter:?}");
        let full_pages = expected.len() / 2;
        let mut expected_sizes = vec![2; full_pages];
        if expected.len() % 2 == 1 || expected.is_empty() {
            expected_sizes.push(expected.len() % 2);
        }
        assert_eq!(page_sizes, expected_sizes, "{filter:?}");
    }
}

async fn delivery_filter_reads_past_many_non_matching_deliveries(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    let start = now() - Duration::hours(1);
    let mut all = Vec::new();
    for (batch, offset) in [(99, 0), (51, 99)] {
        let event = event(workspace, EventType::PostPublished);
        let deliveries: Vec<_> = (offset..offset + batch)
            .map(|i| {
                let status = if [0, 75, 149].contains(&i) { DeliveryStatus::Failed } else { DeliveryStatus::Delivered };
                with_status(delivery(&event, webhook, start + Duration::seconds(i)), status)
            })
            .collect();
        store.create_event(&event, &deliveries).await.unwrap();
        all.extend(deliveries);
    }
    let failed = DeliveryFilter { status: Some(DeliveryStatus::Failed), event_type: None };
    let (listed, page_sizes) = list_all_deliveries(store, workspace, webhook, failed, 2).await;
    assert_eq!(delivery_ids(&listed), [all[149].id, all[75].id, all[0].id]);
    assert_eq!(page_sizes, [2, 1]);
}

async fn delivery_list_rejects_an_invalid_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let webhook = WebhookId::new();
    store_deliveries(store, &deliveries_from(workspace, webhook, now(), 2)).await;
    for cursor in ["garbage", "", &webhook.to_string(), "dlv_not-a-ulid"] {
        let page = PageRequest { limit: 5, cursor: Some(cursor.to_string()) };
        let result = store.list_deliveries(workspace, webhook, DeliveryFilter::default(), page).await;
        assert!(
            matches!(&result, Err(Error::BadRequest(message)) if message == "invalid cursor"),
            "cursor {cursor:?}: {result:?}"
        );
    }
}

/// Deliveries in two workspaces around `bound`: three pending ones overdue, and others that are
/// not (due later or at `bound`, finished, or with no attempt due).
fn around(bound: OffsetDateTime) -> (Vec<Delivery>, Vec<Delivery>) {
    let (first, second) = (WorkspaceId::new(), WorkspaceId::new());
    let due = |workspace, minutes: i64, status| {
        let created_at = bound - Duration::hours(1) + Duration::seconds(minutes);
        let delivery = delivery(&event(workspace, EventType::PostPublished), WebhookId::new(), created_at);
        Delivery { status, next_attempt_at: Some(bound + Duration::minutes(minutes)), ..delivery }
    };
    let overdue = vec![
        due(second, -10, DeliveryStatus::Pending),
        due(first, -5, DeliveryStatus::Pending),
        due(second, -1, DeliveryStatus::Pending),
    ];
    let not_due = vec![
        due(first, 0, DeliveryStatus::Pending),
        due(first, 1, DeliveryStatus::Pending),
        due(second, -20, DeliveryStatus::Delivered),
        due(first, -20, DeliveryStatus::Failed),
        Delivery { next_attempt_at: None, ..due(first, -30, DeliveryStatus::Pending) },
        with_status(due(second, -30, DeliveryStatus::Failed), DeliveryStatus::Failed),
    ];
    (overdue, not_due)
}

async fn overdue_deliveries_are_pending_ones_due_before_the_bound(store: &dyn Store) {
    let bound = now();
    let (overdue, not_due) = around(bound);
    store_deliveries(store, &not_due).await;
    store_deliveries(store, &overdue).await;

    assert_eq!(store.overdue_deliveries(bound, 10).await.unwrap(), overdue, "oldest due first, whole records");
    assert_eq!(delivery_ids(&store.overdue_deliveries(bound, 2).await.unwrap()), delivery_ids(&overdue[..2]));
    assert_eq!(store.overdue_deliveries(bound, 0).await.unwrap(), []);
    let earlier = store.overdue_deliveries(bound - Duration::minutes(6), 10).await.unwrap();
    assert_eq!(delivery_ids(&earlier), [overdue[0].id]);
}

async fn delivery_stops_being_overdue_once_delivered_or_rescheduled(store: &dyn Store) {
    let bound = now();
    let (overdue, _) = around(bound);
    store_deliveries(store, &overdue).await;

    let delivered = next_version(&overdue[0], |d| {
        d.status = DeliveryStatus::Delivered;
        d.next_attempt_at = None;
    });
    let later = next_version(&overdue[1], |d| d.next_attempt_at = Some(bound + Duration::minutes(5)));
    let failed = next_version(&overdue[2], |d| d.status = DeliveryStatus::Failed);
    for (update, before) in [(&delivered, &overdue[0]), (&later, &overdue[1]), (&failed, &overdue[2])] {
        store.update_delivery(update, before.version, before.status).await.unwrap();
    }
    assert_eq!(store.overdue_deliveries(bound, 10).await.unwrap(), []);

    let due_again = next_version(&later, |d| d.next_attempt_at = Some(bound - Duration::seconds(1)));
    store.update_delivery(&due_again, later.version, later.status).await.unwrap();
    assert_eq!(store.overdue_deliveries(bound, 10).await.unwrap(), [due_again]);
}
