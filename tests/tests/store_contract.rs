//! The Store contract: every case is written once against `&dyn Store` and run against each
//! adapter — SQLite in memory, SQLite in a file, and DynamoDB on the moto server (a fresh table
//! per test). Adapter-specific checks (table setup, reopening a file) follow the contract.

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, TimeToLiveStatus};
use posthorn::adapters::dynamo::DynamoStore;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::model::automations::{
    Automation, EntryRef, FeedEntry, PublishMode, Run, RunStatus, RunTrigger, Schedule, Source,
};
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::{Connection, ConnectionStatus, SealedApp};
use posthorn::model::connections::{InstanceApp, OAuthState};
use posthorn::model::crypto::{EncryptionKey, KeyHash, Sealed, SecretBox};
use posthorn::model::error::Error;
use posthorn::model::ids::{
    ApiKeyId, AutomationId, ChannelId, ConnectionId, DeliveryId, EventId, PostId, RunId, SourceId, WebhookId,
    WorkspaceId,
};
use posthorn::model::platforms::{ErrorCode, MediaItem, Metrics, Platform};
use posthorn::model::posts::{
    IdempotencyRecord, MetricsSample, Post, PostStatus, Target, TargetError, TargetMetrics, TargetStatus,
};
use posthorn::model::webhooks::{
    Attempt, Delivery, DeliveryStatus, Event, EventFilter, EventType, RetiringSecret, WebhookEndpoint,
};
use posthorn::model::workspaces::{ApiKey, NewApiKey, Workspace};
use posthorn::ports::store::{DeliveryCounts, DeliveryFilter, Page, PageRequest, Store};
use posthorn::services::automations::claim_slot;
use posthorn_testkit::aws;
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

/// A store under test and whatever must outlive it.
struct Fixture {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(aws::unique_name("posthorn-store")))
    }
}

async fn sqlite_in_memory() -> Fixture {
    Fixture { store: Box::new(SqliteStore::in_memory().expect("open in-memory SQLite")), _dir: None }
}

async fn sqlite_file() -> Fixture {
    let dir = TempDir::new();
    let store = SqliteStore::open(&dir.0.join("nested/store.db")).expect("open SQLite file");
    Fixture { store: Box::new(store), _dir: Some(dir) }
}

async fn dynamo_store() -> DynamoStore {
    let store = DynamoStore::new(aws::dynamodb().await, aws::unique_name("posthorn-store"));
    store.ensure_table().await.expect("create the table");
    store
}

async fn dynamodb() -> Fixture {
    Fixture { store: Box::new(dynamo_store().await), _dir: None }
}

/// One `#[tokio::test]` per contract case and adapter, named `<adapter>::<case>`.
macro_rules! contract {
    (adapters: [$($adapter:ident),+ $(,)?], cases: $cases:tt) => {
        $(contract!(@adapter $adapter, $cases);)+
    };
    (@adapter $adapter:ident, [$($case:ident),+ $(,)?]) => {
        mod $adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    let fixture = super::$adapter().await;
                    super::$case(fixture.store.as_ref()).await;
                }
            )+
        }
    };
}

contract! {
    adapters: [sqlite_in_memory, sqlite_file, dynamodb],
    cases: [
        workspace_round_trips,
        duplicate_workspace_conflicts,
        has_workspaces_once_one_exists,
        api_key_is_found_by_hash,
        duplicate_api_key_hash_conflicts,
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
        deliveries_are_counted_by_outcome_since_a_time,
        overdue_deliveries_are_pending_ones_due_before_the_bound,
        delivery_stops_being_overdue_once_delivered_or_rescheduled,
        connection_round_trips_every_field,
        duplicate_connection_conflicts,
        connection_update_is_conditional_on_its_version,
        connections_are_invisible_to_other_workspaces,
        channel_round_trips_every_field,
        duplicate_channel_conflicts,
        channels_list_newest_first_per_workspace,
        channel_list_rejects_an_invalid_cursor,
        connections_list_newest_first_per_workspace,
        connection_delete_removes_it_in_its_workspace_only,
        connection_channels_are_one_connections_oldest_first,
        channel_update_and_delete_need_the_channel_in_the_workspace,
        oauth_state_is_taken_once_and_only_in_its_workspace,
        concurrent_takes_of_one_oauth_state_get_it_once,
        duplicate_oauth_state_conflicts,
        instance_apps_are_kept_per_workspace_and_key,
        post_round_trips_every_field,
        duplicate_post_conflicts,
        post_update_is_conditional_on_its_version,
        post_delete_removes_it,
        posts_are_invisible_to_other_workspaces,
        posts_list_newest_first_per_workspace,
        posts_filter_by_status_across_pages,
        post_filter_reads_past_many_non_matching_posts,
        post_list_rejects_an_invalid_cursor,
        due_posts_are_oldest_due_first_up_to_now,
        post_leaves_the_due_posts_once_undue_or_later,
        metrics_due_posts_are_oldest_due_first_up_to_now,
        post_leaves_the_metrics_due_posts_once_synced_or_too_old,
        idempotency_key_returns_the_first_record_and_writes_no_second_post,
        idempotency_keys_are_per_workspace,
        expired_idempotency_record_is_replaced,
        concurrent_creates_with_one_key_make_one_post,
        source_round_trips_and_updates_conditionally,
        sources_list_newest_first_and_stay_in_their_workspace,
        sources_due_are_oldest_due_first_across_workspaces,
        feed_entries_are_stored_once_per_source_and_key,
        unused_feed_entries_are_newest_first_and_claimed_once,
        automation_round_trips_updates_conditionally_and_deletes,
        automations_due_are_oldest_due_first_and_a_slot_is_claimed_once,
        run_round_trips_and_updates_conditionally,
    ]
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn sealed(secret: &str) -> Sealed {
    SecretBox::new(&EncryptionKey::generate()).seal(secret)
}

fn workspace() -> Workspace {
    Workspace { id: WorkspaceId::new(), name: "Acme".into(), created_at: now() }
}

/// An endpoint with every optional field empty and the catch-all filter.
fn endpoint(workspace: WorkspaceId) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::new(),
        workspace_id: workspace,
        name: None,
        url: "https://hooks.example.com/posthorn".into(),
        events: EventFilter::All,
        active: true,
        disabled_reason: None,
        secret: sealed("whsec_current"),
        secret_hint: "rent".into(),
        retiring_secret: None,
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
        retiring_secret: Some(RetiringSecret { secret: sealed("whsec_previous"), until: now() + Duration::hours(24) }),
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

/// Every item of a list, reading pages of `limit` with `read`; also returns each page's size.
async fn read_pages<T>(limit: usize, read: impl AsyncFn(PageRequest) -> Page<T>) -> (Vec<T>, Vec<usize>) {
    let (mut items, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None);
    loop {
        let page = read(PageRequest { limit, cursor }).await;
        sizes.push(page.items.len());
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (items, sizes),
        }
    }
}

fn ids(endpoints: &[WebhookEndpoint]) -> Vec<WebhookId> {
    endpoints.iter().map(|e| e.id).collect()
}

async fn workspace_round_trips(store: &dyn Store) {
    let workspace = workspace();
    store.create_workspace(&workspace).await.unwrap();
    assert_eq!(store.get_workspace(workspace.id).await.unwrap(), Some(workspace));
    assert_eq!(store.get_workspace(WorkspaceId::new()).await.unwrap(), None);
}

async fn duplicate_workspace_conflicts(store: &dyn Store) {
    let workspace = workspace();
    store.create_workspace(&workspace).await.unwrap();
    let again = Workspace { name: "Other".into(), ..workspace.clone() };
    let result = store.create_workspace(&again).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_workspace(workspace.id).await.unwrap(), Some(workspace));
}

async fn has_workspaces_once_one_exists(store: &dyn Store) {
    assert!(!store.has_workspaces().await.unwrap());
    store.create_workspace(&workspace()).await.unwrap();
    assert!(store.has_workspaces().await.unwrap());
}

async fn api_key_is_found_by_hash(store: &dyn Store) {
    let key = NewApiKey::generate(WorkspaceId::new(), now());
    store.create_api_key(&key.record).await.unwrap();
    let found = store.find_api_key(&KeyHash::of(&key.plaintext)).await;
    assert_eq!(found.unwrap(), Some(key.record));
    let unknown = store.find_api_key(&KeyHash::of("phk_unknown")).await;
    assert_eq!(unknown.unwrap(), None);
}

async fn duplicate_api_key_hash_conflicts(store: &dyn Store) {
    let key = NewApiKey::generate(WorkspaceId::new(), now()).record;
    store.create_api_key(&key).await.unwrap();
    let same_hash = ApiKey { id: ApiKeyId::new(), workspace_id: WorkspaceId::new(), ..key.clone() };
    let result = store.create_api_key(&same_hash).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.find_api_key(&key.hash).await.unwrap(), Some(key));
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
    store.update_webhook(&updated).await.unwrap();
    let stored = store.get_webhook(original.workspace_id, original.id).await;
    assert_eq!(stored.unwrap(), Some(updated));
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
    let update = store.update_webhook(&missing).await;
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
    let update = store.update_webhook(&hijack).await;
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

fn event(workspace: WorkspaceId, event_type: EventType) -> Event {
    Event {
        id: EventId::new(),
        workspace_id: workspace,
        event_type,
        body: r#"{"event":"post.published","data":{"post_id":"post_1"}}"#.into(),
        created_at: now(),
    }
}

/// A delivery id minted at `at`, as `DeliveryId::new()` would mint it then.
fn delivery_id_at(at: OffsetDateTime) -> DeliveryId {
    format!("{}_{}", DeliveryId::PREFIX, Ulid::from_datetime(at.into())).parse().unwrap()
}

/// A new pending delivery of `event` to `webhook`, created at `created_at` and due then.
fn delivery(event: &Event, webhook: WebhookId, created_at: OffsetDateTime) -> Delivery {
    Delivery {
        id: delivery_id_at(created_at),
        workspace_id: event.workspace_id,
        webhook_id: webhook,
        event_id: event.id,
        event_type: event.event_type,
        status: DeliveryStatus::Pending,
        version: 0,
        attempts: Vec::new(),
        schedule_start: 0,
        next_attempt_at: Some(created_at),
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
        schedule_start: 1,
        next_attempt_at: None,
        updated_at: created_at + Duration::minutes(2),
        ..delivery(event, webhook, created_at)
    }
}

/// `delivery` as `status`, with no attempt due unless it is pending.
fn with_status(delivery: Delivery, status: DeliveryStatus) -> Delivery {
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
fn next_version(delivery: &Delivery, change: impl FnOnce(&mut Delivery)) -> Delivery {
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
    let update = store.update_delivery(&hijack, delivery.version).await;
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
    store.update_delivery(&delivered, original.version).await.unwrap();
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(delivered.clone()));

    let stale = next_version(&original, |d| d.status = DeliveryStatus::Failed);
    let result = store.update_delivery(&stale, original.version).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(delivered.clone()));

    let retried = next_version(&delivered, |d| d.schedule_start = 1);
    store.update_delivery(&retried, delivered.version).await.unwrap();
    assert_eq!(store.get_delivery(workspace, original.id).await.unwrap(), Some(retried));
}

async fn missing_delivery_cannot_be_updated(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let missing = delivery(&event(workspace, EventType::PostPublished), WebhookId::new(), now());
    let result = store.update_delivery(&missing, 0).await;
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

async fn deliveries_are_counted_by_outcome_since_a_time(store: &dyn Store) {
    use DeliveryStatus::{Delivered, Failed, Pending};
    let workspace = WorkspaceId::new();
    let (mine, theirs) = (WebhookId::new(), WebhookId::new());
    let now = now();
    let ago = |minutes: i64| now - Duration::minutes(minutes);
    let made = |webhook: WebhookId, minutes: i64, status: DeliveryStatus| {
        with_status(delivery(&event(workspace, EventType::PostPublished), webhook, ago(minutes)), status)
    };
    let deliveries = [
        made(mine, 60, Delivered),
        made(mine, 61, Delivered),
        made(mine, 120, Failed),
        made(mine, 30, Pending),
        made(mine, 3 * 24 * 60, Delivered),
        made(mine, 8 * 24 * 60, Failed),
        made(theirs, 10, Delivered),
    ];
    store_deliveries(store, &deliveries).await;

    let count = async |webhook: WebhookId, since: OffsetDateTime| {
        store.count_deliveries(workspace, webhook, since).await.unwrap()
    };
    let counts = |delivered, failed| DeliveryCounts { delivered, failed };
    assert_eq!(count(mine, now - Duration::hours(24)).await, counts(2, 1));
    assert_eq!(count(mine, deliveries[2].created_at).await, counts(2, 1), "created exactly at `since` counts");
    assert_eq!(count(mine, now - Duration::days(7)).await, counts(3, 1));
    assert_eq!(count(mine, now - Duration::days(30)).await, counts(3, 2));
    assert_eq!(count(mine, now).await, counts(0, 0));
    assert_eq!(count(theirs, now - Duration::hours(24)).await, counts(1, 0));
    let elsewhere = store.count_deliveries(WorkspaceId::new(), mine, now - Duration::days(30)).await.unwrap();
    assert_eq!(elsewhere, counts(0, 0), "another workspace counts none");
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
        store.update_delivery(update, before.version).await.unwrap();
    }
    assert_eq!(store.overdue_deliveries(bound, 10).await.unwrap(), []);

    let due_again = next_version(&later, |d| d.next_attempt_at = Some(bound - Duration::seconds(1)));
    store.update_delivery(&due_again, later.version).await.unwrap();
    assert_eq!(store.overdue_deliveries(bound, 10).await.unwrap(), [due_again]);
}

/// An id of kind `I` minted at `at`, as `I::new()` would mint it then.
fn id_at<I: std::str::FromStr<Err: std::fmt::Debug>>(prefix: &str, at: OffsetDateTime) -> I {
    format!("{prefix}_{}", Ulid::from_datetime(at.into())).parse().unwrap()
}

/// An active connection with every optional field empty.
fn connection(workspace: WorkspaceId) -> Connection {
    Connection {
        base_url: "https://mastodon.example".into(),
        platform_user_id: "109876".into(),
        username: "acme".into(),
        ..Connection::new(workspace, Platform::Mastodon, sealed("access"), now())
    }
}

/// A connection with every optional field set.
fn full_connection(workspace: WorkspaceId) -> Connection {
    Connection {
        platform: Platform::Linkedin,
        display_name: Some("ACME Corp".into()),
        avatar_url: Some("https://media.example/acme.png".into()),
        profile_url: Some("https://www.linkedin.com/company/acme".into()),
        scopes: vec!["w_member_social".into(), "r_liteprofile".into()],
        refresh_token: Some(sealed("refresh")),
        expires_at: Some(now() + Duration::days(60)),
        app: Some(SealedApp { client_id: "client".into(), client_secret: Some(sealed("secret")) }),
        status: ConnectionStatus::Expired,
        refresh_lease_until: Some(now() + Duration::seconds(60)),
        version: 4,
        ..connection(workspace)
    }
}

/// What a connection looks like after one more write: the next version, with `change` applied.
fn next_connection(connection: &Connection, change: impl FnOnce(&mut Connection)) -> Connection {
    let mut next = connection.clone();
    next.version += 1;
    next.updated_at += Duration::seconds(1);
    change(&mut next);
    next
}

async fn connection_round_trips_every_field(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    for connection in [connection(workspace), full_connection(workspace)] {
        store.create_connection(&connection).await.unwrap();
        assert_eq!(store.get_connection(workspace, connection.id).await.unwrap(), Some(connection));
    }
    assert_eq!(store.get_connection(workspace, ConnectionId::new()).await.unwrap(), None);
}

async fn duplicate_connection_conflicts(store: &dyn Store) {
    let original = connection(WorkspaceId::new());
    store.create_connection(&original).await.unwrap();
    let again = Connection { id: original.id, ..full_connection(original.workspace_id) };
    let result = store.create_connection(&again).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_connection(original.workspace_id, original.id).await.unwrap(), Some(original));
}

async fn connection_update_is_conditional_on_its_version(store: &dyn Store) {
    let original = connection(WorkspaceId::new());
    let workspace = original.workspace_id;
    store.create_connection(&original).await.unwrap();

    let refreshed = next_connection(&original, |c| {
        c.access_token = sealed("access 2");
        c.refresh_token = Some(sealed("refresh 2"));
        c.expires_at = Some(now() + Duration::hours(2));
    });
    store.update_connection(&refreshed, original.version).await.unwrap();
    assert_eq!(store.get_connection(workspace, original.id).await.unwrap(), Some(refreshed.clone()));

    let stale = next_connection(&original, |c| c.status = ConnectionStatus::Expired);
    let result = store.update_connection(&stale, original.version).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_connection(workspace, original.id).await.unwrap(), Some(refreshed.clone()));

    let expired = next_connection(&refreshed, |c| c.status = ConnectionStatus::Expired);
    store.update_connection(&expired, refreshed.version).await.unwrap();
    assert_eq!(store.get_connection(workspace, original.id).await.unwrap(), Some(expired));

    let missing = connection(workspace);
    let result = store.update_connection(&missing, missing.version).await;
    assert!(matches!(result, Err(Error::NotFound("connection"))), "{result:?}");
    assert_eq!(store.get_connection(workspace, missing.id).await.unwrap(), None, "an update must not create");
}

async fn connections_are_invisible_to_other_workspaces(store: &dyn Store) {
    let (owner, intruder) = (WorkspaceId::new(), WorkspaceId::new());
    let original = connection(owner);
    store.create_connection(&original).await.unwrap();

    assert_eq!(store.get_connection(intruder, original.id).await.unwrap(), None);
    let hijack = next_connection(&original, |c| c.workspace_id = intruder);
    let result = store.update_connection(&hijack, original.version).await;
    assert!(matches!(result, Err(Error::NotFound("connection"))), "{result:?}");
    assert_eq!(store.get_connection(owner, original.id).await.unwrap(), Some(original), "the owner's copy is intact");
}

/// A channel of `connection` without a token of its own, created at `at`.
fn channel_at(connection: &Connection, at: OffsetDateTime) -> Channel {
    Channel {
        id: id_at(ChannelId::PREFIX, at),
        workspace_id: connection.workspace_id,
        connection_id: connection.id,
        platform: connection.platform,
        platform_channel_id: "did:plc:acme".into(),
        name: "Acme".into(),
        kind: ChannelKind::Account,
        channel_token: None,
        created_at: at,
    }
}

fn channel(workspace: WorkspaceId) -> Channel {
    channel_at(&connection(workspace), now())
}

/// A channel with every optional field set.
fn full_channel(workspace: WorkspaceId) -> Channel {
    Channel {
        platform: Platform::Facebook,
        kind: ChannelKind::Page,
        channel_token: Some(sealed("page token")),
        ..channel(workspace)
    }
}

fn channel_ids(channels: &[Channel]) -> Vec<ChannelId> {
    channels.iter().map(|c| c.id).collect()
}

async fn channel_round_trips_every_field(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    for channel in [channel(workspace), full_channel(workspace)] {
        store.create_channel(&channel).await.unwrap();
        assert_eq!(store.get_channel(workspace, channel.id).await.unwrap(), Some(channel.clone()));
        assert_eq!(store.get_channel(WorkspaceId::new(), channel.id).await.unwrap(), None, "scoped by workspace");
    }
    assert_eq!(store.get_channel(workspace, ChannelId::new()).await.unwrap(), None);
}

async fn duplicate_channel_conflicts(store: &dyn Store) {
    let original = channel(WorkspaceId::new());
    store.create_channel(&original).await.unwrap();
    let again = Channel { id: original.id, ..full_channel(original.workspace_id) };
    let result = store.create_channel(&again).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_channel(original.workspace_id, original.id).await.unwrap(), Some(original));
}

/// `count` channels of one connection in `workspace`, created a second apart from `start`.
async fn create_channels(store: &dyn Store, workspace: WorkspaceId, start: OffsetDateTime, count: i64) -> Vec<Channel> {
    let connection = connection(workspace);
    let mut created = Vec::new();
    for i in 0..count {
        let channel = channel_at(&connection, start + Duration::seconds(i));
        store.create_channel(&channel).await.unwrap();
        created.push(channel);
    }
    created
}

async fn channels_list_newest_first_per_workspace(store: &dyn Store) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let start = now() - Duration::hours(1);
    let mut created = create_channels(store, mine, start, 5).await;
    create_channels(store, theirs, start, 3).await;
    created.reverse();

    let read = async |workspace, limit| {
        read_pages(limit, async |page| store.list_channels(workspace, page).await.unwrap()).await
    };
    let (listed, page_sizes) = read(mine, 2).await;
    assert_eq!(page_sizes, [2, 2, 1]);
    assert_eq!(listed, created, "newest first, whole records");
    let (listed, page_sizes) = read(mine, 5).await;
    assert_eq!((channel_ids(&listed), page_sizes), (channel_ids(&created), vec![5]));
    let (listed, page_sizes) = read(WorkspaceId::new(), 5).await;
    assert!(listed.is_empty());
    assert_eq!(page_sizes, [0]);
}

async fn channel_list_rejects_an_invalid_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    create_channels(store, workspace, now(), 1).await;
    for cursor in ["garbage", "", &WorkspaceId::new().to_string(), "ch_not-a-ulid"] {
        let page = PageRequest { limit: 5, cursor: Some(cursor.to_string()) };
        let result = store.list_channels(workspace, page).await;
        assert!(
            matches!(&result, Err(Error::BadRequest(message)) if message == "invalid cursor"),
            "cursor {cursor:?}: {result:?}"
        );
    }
}

async fn connections_list_newest_first_per_workspace(store: &dyn Store) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let start = now() - Duration::hours(1);
    let mut created = Vec::new();
    for i in 0..5 {
        let at = start + Duration::seconds(i);
        let connection = Connection { id: id_at(ConnectionId::PREFIX, at), ..connection(mine) };
        store.create_connection(&connection).await.unwrap();
        created.push(connection);
    }
    store.create_connection(&connection(theirs)).await.unwrap();
    created.reverse();

    let (listed, page_sizes) = read_pages(2, async |page| store.list_connections(mine, page).await.unwrap()).await;
    assert_eq!(page_sizes, [2, 2, 1]);
    assert_eq!(listed, created, "newest first, whole records");
    let page = PageRequest { limit: 5, cursor: Some("garbage".into()) };
    assert!(matches!(store.list_connections(mine, page).await, Err(Error::BadRequest(_))));
}

async fn connection_delete_removes_it_in_its_workspace_only(store: &dyn Store) {
    let original = connection(WorkspaceId::new());
    store.create_connection(&original).await.unwrap();
    let result = store.delete_connection(WorkspaceId::new(), original.id).await;
    assert!(matches!(result, Err(Error::NotFound("connection"))), "{result:?}");
    store.delete_connection(original.workspace_id, original.id).await.unwrap();
    assert_eq!(store.get_connection(original.workspace_id, original.id).await.unwrap(), None);
    let again = store.delete_connection(original.workspace_id, original.id).await;
    assert!(matches!(again, Err(Error::NotFound("connection"))), "{again:?}");
}

async fn connection_channels_are_one_connections_oldest_first(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let start = now() - Duration::hours(1);
    let (mine, other) = (connection(workspace), connection(workspace));
    let mut created = Vec::new();
    for i in 0..3 {
        let channel = channel_at(&mine, start + Duration::seconds(2 * i));
        store.create_channel(&channel).await.unwrap();
        created.push(channel);
        store.create_channel(&channel_at(&other, start + Duration::seconds(2 * i + 1))).await.unwrap();
    }
    assert_eq!(store.connection_channels(workspace, mine.id).await.unwrap(), created);
    assert_eq!(store.connection_channels(WorkspaceId::new(), mine.id).await.unwrap(), []);
    assert_eq!(store.connection_channels(workspace, ConnectionId::new()).await.unwrap(), []);
}

async fn channel_update_and_delete_need_the_channel_in_the_workspace(store: &dyn Store) {
    let original = channel(WorkspaceId::new());
    store.create_channel(&original).await.unwrap();
    let renamed =
        Channel { name: "Acme (new)".into(), channel_token: Some(sealed("page token 2")), ..original.clone() };
    store.update_channel(&renamed).await.unwrap();
    assert_eq!(store.get_channel(original.workspace_id, original.id).await.unwrap(), Some(renamed.clone()));

    let hijack = Channel { workspace_id: WorkspaceId::new(), ..renamed.clone() };
    assert!(matches!(store.update_channel(&hijack).await, Err(Error::NotFound("channel"))));
    let missing = channel(original.workspace_id);
    assert!(matches!(store.update_channel(&missing).await, Err(Error::NotFound("channel"))));
    assert_eq!(store.get_channel(missing.workspace_id, missing.id).await.unwrap(), None, "an update must not create");

    assert!(matches!(store.delete_channel(WorkspaceId::new(), original.id).await, Err(Error::NotFound("channel"))));
    store.delete_channel(original.workspace_id, original.id).await.unwrap();
    assert_eq!(store.get_channel(original.workspace_id, original.id).await.unwrap(), None);
    assert!(matches!(store.delete_channel(original.workspace_id, original.id).await, Err(Error::NotFound("channel"))));
}

/// A consent in progress, expiring in ten minutes (whole seconds, as stored).
fn oauth_state(workspace: WorkspaceId) -> OAuthState {
    OAuthState {
        state: Ulid::new().to_string(),
        workspace_id: workspace,
        platform: Platform::Mastodon,
        redirect_uri: "https://app.example/callback?from=posthorn".into(),
        base_url: "https://mastodon.example".into(),
        pkce_verifier: Some(sealed("verifier")),
        expires_at: (now() + Duration::minutes(10)).replace_nanosecond(0).unwrap(),
    }
}

async fn oauth_state_is_taken_once_and_only_in_its_workspace(store: &dyn Store) {
    let pending = oauth_state(WorkspaceId::new());
    store.create_oauth_state(&pending).await.unwrap();
    let expired = OAuthState {
        pkce_verifier: None,
        expires_at: pending.expires_at - Duration::hours(1),
        ..oauth_state(pending.workspace_id)
    };
    store.create_oauth_state(&expired).await.unwrap();

    assert_eq!(store.take_oauth_state(WorkspaceId::new(), &pending.state).await.unwrap(), None);
    assert_eq!(store.take_oauth_state(pending.workspace_id, &pending.state).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.take_oauth_state(pending.workspace_id, &pending.state).await.unwrap(), None, "single use");
    assert_eq!(
        store.take_oauth_state(pending.workspace_id, &expired.state).await.unwrap(),
        Some(expired),
        "expired states are returned for the caller to refuse"
    );
    assert_eq!(store.take_oauth_state(pending.workspace_id, "never-issued").await.unwrap(), None);
}

async fn concurrent_takes_of_one_oauth_state_get_it_once(store: &dyn Store) {
    let pending = oauth_state(WorkspaceId::new());
    store.create_oauth_state(&pending).await.unwrap();
    let take = || store.take_oauth_state(pending.workspace_id, &pending.state);
    let (a, b, c, d) = tokio::join!(take(), take(), take(), take());
    let taken: Vec<OAuthState> = [a, b, c, d].into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(taken, [pending]);
}

async fn duplicate_oauth_state_conflicts(store: &dyn Store) {
    let pending = oauth_state(WorkspaceId::new());
    store.create_oauth_state(&pending).await.unwrap();
    let result = store.create_oauth_state(&OAuthState { platform: Platform::Sandbox, ..pending.clone() }).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.take_oauth_state(pending.workspace_id, &pending.state).await.unwrap(), Some(pending));
}

async fn instance_apps_are_kept_per_workspace_and_key(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let app = InstanceApp {
        workspace_id: workspace,
        platform: Platform::Mastodon,
        base_url: "https://mastodon.example".into(),
        redirect_uri: "https://app.example/callback".into(),
        app: SealedApp { client_id: "client-1".into(), client_secret: Some(sealed("secret-1")) },
        created_at: now(),
    };
    let key = InstanceApp::key(Platform::Mastodon, &app.base_url, &app.redirect_uri);
    assert_eq!(key, app.own_key());
    assert_eq!(store.get_instance_app(workspace, &key).await.unwrap(), None);
    store.put_instance_app(&app).await.unwrap();
    assert_eq!(store.get_instance_app(workspace, &key).await.unwrap(), Some(app.clone()));
    assert_eq!(store.get_instance_app(WorkspaceId::new(), &key).await.unwrap(), None);
    let other_uri = InstanceApp::key(Platform::Mastodon, &app.base_url, "https://app.example/other");
    assert_eq!(store.get_instance_app(workspace, &other_uri).await.unwrap(), None);

    let replaced = InstanceApp { app: SealedApp { client_id: "client-2".into(), client_secret: None }, ..app };
    store.put_instance_app(&replaced).await.unwrap();
    assert_eq!(store.get_instance_app(workspace, &key).await.unwrap(), Some(replaced));
}

/// A draft without media, schedule or due time, created at `at`, to one pending target.
fn post_at(workspace: WorkspaceId, at: OffsetDateTime) -> Post {
    Post {
        id: id_at(PostId::PREFIX, at),
        workspace_id: workspace,
        text: "Hello, fediverse".into(),
        media: Vec::new(),
        status: PostStatus::Draft,
        scheduled_at: None,
        targets: vec![Target::pending(ChannelId::new(), Platform::Mastodon)],
        due_at: None,
        retried_count: 0,
        metrics_due_at: None,
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

fn post(workspace: WorkspaceId) -> Post {
    post_at(workspace, now())
}

/// A post with every field set: media with and without alt text, and targets pending,
/// published with metrics, and failed with an error and progress.
fn full_post(workspace: WorkspaceId) -> Post {
    let at = now();
    let published = Target {
        status: TargetStatus::Published,
        platform_post_id: Some("3kq2x".into()),
        url: Some("https://bsky.app/profile/acme/post/3kq2x".into()),
        published_at: Some(at + Duration::seconds(3)),
        attempts: 1,
        metrics: Some(TargetMetrics {
            latest: Metrics { views: Some(1200), likes: Some(31), comments: None, shares: Some(0) },
            synced_at: at + Duration::minutes(30),
            history: vec![
                MetricsSample {
                    at: at + Duration::minutes(15),
                    figures: Metrics { views: Some(3), ..Metrics::default() },
                },
                MetricsSample {
                    at: at + Duration::minutes(30),
                    figures: Metrics { views: Some(1200), likes: Some(31), comments: None, shares: Some(0) },
                },
            ],
        }),
        ..Target::pending(ChannelId::new(), Platform::Bluesky)
    };
    let failed = Target {
        status: TargetStatus::Failed,
        error: Some(TargetError { code: ErrorCode::RateLimited, message: "slow down".into() }),
        progress: Some("container:17841".into()),
        attempts: 3,
        ..Target::pending(ChannelId::new(), Platform::Instagram)
    };
    Post {
        text: "Launch day 🚀 with \"quotes\" and\nnew lines".into(),
        media: vec![
            MediaItem { url: "https://cdn.example.com/a.png".into(), alt: Some("A rocket".into()) },
            MediaItem { url: "https://cdn.example.com/b.mp4".into(), alt: None },
        ],
        status: PostStatus::Partial,
        scheduled_at: Some(at + Duration::hours(1)),
        targets: vec![Target::pending(ChannelId::new(), Platform::Mastodon), published, failed],
        due_at: Some(at + Duration::hours(1)),
        retried_count: 2,
        metrics_due_at: Some(at + Duration::minutes(45)),
        version: 9,
        updated_at: at + Duration::minutes(5),
        ..post_at(workspace, at)
    }
}

/// What a post looks like after one more write: the next version, with `change` applied.
fn next_post(post: &Post, change: impl FnOnce(&mut Post)) -> Post {
    let mut next = post.clone();
    next.version += 1;
    next.updated_at += Duration::seconds(1);
    change(&mut next);
    next
}

fn post_ids(posts: &[Post]) -> Vec<PostId> {
    posts.iter().map(|p| p.id).collect()
}

/// Creates `posts` in order, without idempotency records.
async fn store_posts(store: &dyn Store, posts: &[Post]) {
    for post in posts {
        assert_eq!(store.create_post(post, None).await.unwrap(), None);
    }
}

/// Every post of `workspace` with `status`, reading pages of `limit`; also each page's size.
async fn list_all_posts(
    store: &dyn Store,
    workspace: WorkspaceId,
    status: Option<PostStatus>,
    limit: usize,
) -> (Vec<Post>, Vec<usize>) {
    read_pages(limit, async |page| store.list_posts(workspace, status, page).await.unwrap()).await
}

async fn post_round_trips_every_field(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    for post in [post(workspace), full_post(workspace)] {
        assert_eq!(store.create_post(&post, None).await.unwrap(), None);
        assert_eq!(store.get_post(workspace, post.id).await.unwrap(), Some(post));
    }
    assert_eq!(store.get_post(workspace, PostId::new()).await.unwrap(), None);
}

async fn duplicate_post_conflicts(store: &dyn Store) {
    let original = post(WorkspaceId::new());
    store_posts(store, std::slice::from_ref(&original)).await;
    let again = Post { id: original.id, ..full_post(original.workspace_id) };
    let result = store.create_post(&again, None).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    let key = idempotency(original.workspace_id, "fresh key", again.id);
    let result = store.create_post(&again, Some(&key)).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "with a fresh key: {result:?}");
    assert_eq!(store.get_post(original.workspace_id, original.id).await.unwrap(), Some(original.clone()));

    let other = post(original.workspace_id);
    let replay = Some(IdempotencyRecord { post_id: other.id, ..key.clone() });
    assert_eq!(store.create_post(&other, replay.as_ref()).await.unwrap(), None, "the failed create wrote no record");
}

async fn post_update_is_conditional_on_its_version(store: &dyn Store) {
    let original = post(WorkspaceId::new());
    let workspace = original.workspace_id;
    store_posts(store, std::slice::from_ref(&original)).await;

    let full = full_post(workspace);
    let edited = next_post(&original, |p| {
        p.text = full.text.clone();
        p.media = full.media.clone();
        p.status = PostStatus::Scheduled;
        p.scheduled_at = full.scheduled_at;
        p.due_at = full.due_at;
        p.targets = full.targets.clone();
    });
    store.update_post(&edited, original.version).await.unwrap();
    assert_eq!(store.get_post(workspace, original.id).await.unwrap(), Some(edited.clone()));

    let stale = next_post(&original, |p| p.status = PostStatus::Cancelled);
    let result = store.update_post(&stale, original.version).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.get_post(workspace, original.id).await.unwrap(), Some(edited.clone()));

    let claimed = next_post(&edited, |p| p.status = PostStatus::Publishing);
    store.update_post(&claimed, edited.version).await.unwrap();
    assert_eq!(store.get_post(workspace, original.id).await.unwrap(), Some(claimed));

    let missing = post(workspace);
    let result = store.update_post(&missing, missing.version).await;
    assert!(matches!(result, Err(Error::NotFound("post"))), "{result:?}");
    assert_eq!(store.get_post(workspace, missing.id).await.unwrap(), None, "an update must not create");
}

async fn post_delete_removes_it(store: &dyn Store) {
    let post = post(WorkspaceId::new());
    store_posts(store, std::slice::from_ref(&post)).await;
    store.delete_post(post.workspace_id, post.id).await.unwrap();
    assert_eq!(store.get_post(post.workspace_id, post.id).await.unwrap(), None);
    let again = store.delete_post(post.workspace_id, post.id).await;
    assert!(matches!(again, Err(Error::NotFound("post"))), "{again:?}");
    let result = store.update_post(&next_post(&post, |_| {}), post.version).await;
    assert!(matches!(result, Err(Error::NotFound("post"))), "a deleted post is not updated: {result:?}");
}

async fn posts_are_invisible_to_other_workspaces(store: &dyn Store) {
    let (owner, intruder) = (WorkspaceId::new(), WorkspaceId::new());
    let original = full_post(owner);
    store_posts(store, std::slice::from_ref(&original)).await;

    assert_eq!(store.get_post(intruder, original.id).await.unwrap(), None);
    let hijack = next_post(&original, |p| p.workspace_id = intruder);
    let update = store.update_post(&hijack, original.version).await;
    assert!(matches!(update, Err(Error::NotFound("post"))), "{update:?}");
    let delete = store.delete_post(intruder, original.id).await;
    assert!(matches!(delete, Err(Error::NotFound("post"))), "{delete:?}");
    let (listed, _) = list_all_posts(store, intruder, None, 10).await;
    assert!(listed.is_empty());
    assert_eq!(store.get_post(owner, original.id).await.unwrap(), Some(original), "the owner's copy is intact");
}

/// Posts of `workspace` with these statuses, created a second apart from an hour ago.
fn posts_with(workspace: WorkspaceId, statuses: &[PostStatus]) -> Vec<Post> {
    let start = now() - Duration::hours(1);
    (0..)
        .zip(statuses)
        .map(|(i, &status)| Post { status, ..post_at(workspace, start + Duration::seconds(i)) })
        .collect()
}

async fn posts_list_newest_first_per_workspace(store: &dyn Store) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let mut created = posts_with(mine, &[PostStatus::Draft; 7]);
    store_posts(store, &created).await;
    store_posts(store, &posts_with(theirs, &[PostStatus::Draft; 3])).await;
    created.reverse();

    let (listed, page_sizes) = list_all_posts(store, mine, None, 3).await;
    assert_eq!(page_sizes, [3, 3, 1]);
    assert_eq!(listed, created, "newest first, whole records");
    let (listed, page_sizes) = list_all_posts(store, mine, None, 7).await;
    assert_eq!((post_ids(&listed), page_sizes), (post_ids(&created), vec![7]));

    let first = store.list_posts(mine, None, PageRequest { limit: 2, cursor: None }).await.unwrap();
    let cursor = first.next_cursor.expect("more pages follow");
    assert_eq!(cursor, created[1].id.to_string());
    store.delete_post(mine, created[1].id).await.unwrap();
    let rest = store.list_posts(mine, None, PageRequest { limit: 2, cursor: Some(cursor) }).await.unwrap();
    assert_eq!(post_ids(&rest.items), post_ids(&created[2..4]), "continues after a deleted cursor");
}

async fn posts_filter_by_status_across_pages(store: &dyn Store) {
    use PostStatus::{Draft, Failed, Published, Scheduled};
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let shapes = [Published, Failed, Published, Draft, Published, Scheduled, Failed, Published, Published];
    let mut created = posts_with(mine, &shapes);
    store_posts(store, &created).await;
    store_posts(store, &posts_with(theirs, &shapes)).await;
    created.reverse();

    for status in PostStatus::ALL {
        let expected: Vec<_> = created.iter().filter(|p| p.status == status).cloned().collect();
        let (listed, page_sizes) = list_all_posts(store, mine, Some(status), 2).await;
        assert_eq!(listed, expected, "{status:?}");
        let mut expected_sizes = vec![2; expected.len() / 2];
        if expected.len() % 2 == 1 || expected.is_empty() {
            expected_sizes.push(expected.len() % 2);
        }
        assert_eq!(page_sizes, expected_sizes, "{status:?}");
    }
}

async fn post_filter_reads_past_many_non_matching_posts(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let statuses: Vec<_> =
        (0..130).map(|i| if [0, 64, 129].contains(&i) { PostStatus::Failed } else { PostStatus::Published }).collect();
    let created = posts_with(workspace, &statuses);
    store_posts(store, &created).await;
    let (listed, page_sizes) = list_all_posts(store, workspace, Some(PostStatus::Failed), 2).await;
    assert_eq!(post_ids(&listed), [created[129].id, created[64].id, created[0].id]);
    assert_eq!(page_sizes, [2, 1]);
}

async fn post_list_rejects_an_invalid_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    store_posts(store, &[post(workspace)]).await;
    for cursor in ["garbage", "", &WorkspaceId::new().to_string(), "post_not-a-ulid"] {
        for status in [None, Some(PostStatus::Draft)] {
            let page = PageRequest { limit: 5, cursor: Some(cursor.to_string()) };
            let result = store.list_posts(workspace, status, page).await;
            assert!(
                matches!(&result, Err(Error::BadRequest(message)) if message == "invalid cursor"),
                "cursor {cursor:?}, {status:?}: {result:?}"
            );
        }
    }
}

/// Posts in two workspaces around `now`: three due (the last exactly at `now`), oldest due
/// first, and others that are not (due later, or with no due time).
fn due_around(now: OffsetDateTime) -> (Vec<Post>, Vec<Post>) {
    let (first, second) = (WorkspaceId::new(), WorkspaceId::new());
    let due = |workspace, offset: Duration| {
        let post = post_at(workspace, now - Duration::hours(1) + offset);
        Post { status: PostStatus::Scheduled, scheduled_at: Some(now + offset), due_at: Some(now + offset), ..post }
    };
    let due_now = vec![
        due(second, -Duration::minutes(10)),
        Post { status: PostStatus::Publishing, ..due(first, -Duration::minutes(5)) },
        due(second, Duration::ZERO),
    ];
    let not_due = vec![
        due(first, Duration::nanoseconds(1)),
        due(second, Duration::minutes(1)),
        Post { status: PostStatus::Draft, due_at: None, ..due(first, -Duration::minutes(30)) },
        Post { status: PostStatus::Published, due_at: None, ..due(second, -Duration::minutes(20)) },
    ];
    (due_now, not_due)
}

async fn due_posts_are_oldest_due_first_up_to_now(store: &dyn Store) {
    let now = now();
    let (due, not_due) = due_around(now);
    store_posts(store, &not_due).await;
    store_posts(store, &due[1..]).await;
    store_posts(store, &due[..1]).await;

    assert_eq!(store.due_posts(now, 10).await.unwrap(), due, "oldest due first, whole records, any workspace");
    assert_eq!(post_ids(&store.due_posts(now, 2).await.unwrap()), post_ids(&due[..2]));
    assert_eq!(store.due_posts(now, 0).await.unwrap(), []);
    let earlier = store.due_posts(now - Duration::minutes(6), 10).await.unwrap();
    assert_eq!(post_ids(&earlier), [due[0].id]);
    assert_eq!(store.due_posts(now - Duration::hours(1), 10).await.unwrap(), []);
    let later = store.due_posts(now + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(post_ids(&later), [due[0].id, due[1].id, due[2].id, not_due[0].id, not_due[1].id]);
}

async fn post_leaves_the_due_posts_once_undue_or_later(store: &dyn Store) {
    let now = now();
    let (due, _) = due_around(now);
    store_posts(store, &due).await;

    let published = next_post(&due[0], |p| {
        p.status = PostStatus::Published;
        p.due_at = None;
    });
    let leased = next_post(&due[1], |p| p.due_at = Some(now + Duration::minutes(5)));
    let cancelled = next_post(&due[2], |p| {
        p.status = PostStatus::Cancelled;
        p.due_at = None;
    });
    for (update, before) in [(&published, &due[0]), (&leased, &due[1]), (&cancelled, &due[2])] {
        store.update_post(update, before.version).await.unwrap();
    }
    assert_eq!(store.due_posts(now, 10).await.unwrap(), []);

    let lease_over = store.due_posts(now + Duration::minutes(5), 10).await.unwrap();
    assert_eq!(lease_over, std::slice::from_ref(&leased), "due again when its lease ends");
    let rescheduled = next_post(&leased, |p| p.due_at = Some(now - Duration::seconds(1)));
    store.update_post(&rescheduled, leased.version).await.unwrap();
    assert_eq!(store.due_posts(now, 10).await.unwrap(), std::slice::from_ref(&rescheduled));
    store.delete_post(rescheduled.workspace_id, rescheduled.id).await.unwrap();
    assert_eq!(store.due_posts(now, 10).await.unwrap(), [], "a deleted post is not due");
}

/// Published posts in two workspaces with metrics due an hour and ten minutes ago and exactly at
/// `now`, then two due later (by a nanosecond, by 15 minutes) and one never.
fn metrics_due_around(now: OffsetDateTime) -> (Vec<Post>, Vec<Post>) {
    let (first, second) = (WorkspaceId::new(), WorkspaceId::new());
    let published = |workspace, offset: Duration| Post {
        status: PostStatus::Published,
        metrics_due_at: Some(now + offset),
        ..post_at(workspace, now - Duration::days(1) + offset)
    };
    let due = vec![
        published(first, -Duration::hours(1)),
        published(second, -Duration::minutes(10)),
        published(first, Duration::ZERO),
    ];
    let not_due = vec![
        published(second, Duration::nanoseconds(1)),
        published(first, Duration::minutes(15)),
        Post { metrics_due_at: None, ..published(first, Duration::minutes(20)) },
    ];
    (due, not_due)
}

async fn metrics_due_posts_are_oldest_due_first_up_to_now(store: &dyn Store) {
    let now = now();
    let (due, not_due) = metrics_due_around(now);
    store_posts(store, &not_due).await;
    store_posts(store, &due[1..]).await;
    store_posts(store, &due[..1]).await;

    assert_eq!(store.metrics_due_posts(now, 10).await.unwrap(), due, "oldest due first, whole records, any workspace");
    assert_eq!(post_ids(&store.metrics_due_posts(now, 2).await.unwrap()), post_ids(&due[..2]));
    assert_eq!(store.metrics_due_posts(now, 0).await.unwrap(), []);
    assert_eq!(post_ids(&store.metrics_due_posts(now - Duration::minutes(30), 10).await.unwrap()), [due[0].id]);
    let later = store.metrics_due_posts(now + Duration::hours(1), 10).await.unwrap();
    assert_eq!(post_ids(&later), [due[0].id, due[1].id, due[2].id, not_due[0].id, not_due[1].id]);
    assert_eq!(store.due_posts(now + Duration::hours(1), 10).await.unwrap(), [], "not due for publishing");
}

async fn post_leaves_the_metrics_due_posts_once_synced_or_too_old(store: &dyn Store) {
    let now = now();
    let (due, _) = metrics_due_around(now);
    store_posts(store, &due).await;

    let synced = next_post(&due[0], |p| p.metrics_due_at = Some(now + Duration::minutes(15)));
    let too_old = next_post(&due[1], |p| p.metrics_due_at = None);
    let retried = next_post(&due[2], |p| {
        p.status = PostStatus::Publishing;
        p.due_at = Some(now - Duration::seconds(1));
    });
    for (update, before) in [(&synced, &due[0]), (&too_old, &due[1]), (&retried, &due[2])] {
        store.update_post(update, before.version).await.unwrap();
    }
    assert_eq!(store.metrics_due_posts(now, 10).await.unwrap(), std::slice::from_ref(&retried));
    assert_eq!(store.due_posts(now, 10).await.unwrap(), std::slice::from_ref(&retried), "due in both indexes");
    let next_run = store.metrics_due_posts(now + Duration::minutes(15), 10).await.unwrap();
    assert_eq!(post_ids(&next_run), [retried.id, synced.id]);
    store.delete_post(retried.workspace_id, retried.id).await.unwrap();
    assert_eq!(store.metrics_due_posts(now, 10).await.unwrap(), [], "a deleted post is not due");
}

/// An idempotency record of `key` in `workspace` for `post`, expiring in a day.
fn idempotency(workspace: WorkspaceId, key: &str, post: PostId) -> IdempotencyRecord {
    IdempotencyRecord {
        workspace_id: workspace,
        key: key.into(),
        fingerprint: format!("sha256:{post}"),
        post_id: post,
        expires_at: now() + Duration::hours(24),
    }
}

async fn idempotency_key_returns_the_first_record_and_writes_no_second_post(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let first = post(workspace);
    let record = idempotency(workspace, "order-42/create", first.id);
    assert_eq!(store.create_post(&first, Some(&record)).await.unwrap(), None);

    let second = full_post(workspace);
    let replay = idempotency(workspace, "order-42/create", second.id);
    assert_eq!(store.create_post(&second, Some(&replay)).await.unwrap(), Some(record.clone()));
    assert_eq!(store.create_post(&second, Some(&replay)).await.unwrap(), Some(record), "every replay");
    assert_eq!(store.get_post(workspace, second.id).await.unwrap(), None, "no second post");
    let (listed, _) = list_all_posts(store, workspace, None, 10).await;
    assert_eq!(listed, [first]);
    assert_eq!(store.due_posts(now() + Duration::days(1), 10).await.unwrap(), [], "nor a due one");

    let unkeyed = post(workspace);
    assert_eq!(store.create_post(&unkeyed, None).await.unwrap(), None);
    let other_key = post(workspace);
    let record = idempotency(workspace, "order-43/create", other_key.id);
    assert_eq!(store.create_post(&other_key, Some(&record)).await.unwrap(), None);
    assert_eq!(list_all_posts(store, workspace, None, 10).await.0.len(), 3);
}

async fn idempotency_keys_are_per_workspace(store: &dyn Store) {
    let (mine, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let (my_post, their_post) = (post(mine), post(theirs));
    let my_record = idempotency(mine, "same-key", my_post.id);
    assert_eq!(store.create_post(&my_post, Some(&my_record)).await.unwrap(), None);
    let their_record = idempotency(theirs, "same-key", their_post.id);
    assert_eq!(store.create_post(&their_post, Some(&their_record)).await.unwrap(), None);
    assert_eq!(store.get_post(theirs, their_post.id).await.unwrap(), Some(their_post.clone()));

    let replay = post(theirs);
    let replay_record = idempotency(theirs, "same-key", replay.id);
    assert_eq!(store.create_post(&replay, Some(&replay_record)).await.unwrap(), Some(their_record));
    let replay = post(mine);
    let replay_record = idempotency(mine, "same-key", replay.id);
    assert_eq!(store.create_post(&replay, Some(&replay_record)).await.unwrap(), Some(my_record));
}

async fn expired_idempotency_record_is_replaced(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let old = post(workspace);
    let expired = IdempotencyRecord { expires_at: now() - Duration::seconds(1), ..idempotency(workspace, "k", old.id) };
    assert_eq!(store.create_post(&old, Some(&expired)).await.unwrap(), None);

    let new = post(workspace);
    let record = idempotency(workspace, "k", new.id);
    assert_eq!(store.create_post(&new, Some(&record)).await.unwrap(), None, "the expired record is replaced");
    assert_eq!(store.get_post(workspace, new.id).await.unwrap(), Some(new.clone()));

    let replay = post(workspace);
    let replay_record = idempotency(workspace, "k", replay.id);
    assert_eq!(store.create_post(&replay, Some(&replay_record)).await.unwrap(), Some(record), "the new one holds");
    assert_eq!(store.get_post(workspace, replay.id).await.unwrap(), None);
    assert_eq!(store.get_post(workspace, old.id).await.unwrap(), Some(old), "the old post stays");
}

async fn concurrent_creates_with_one_key_make_one_post(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let posts: Vec<_> = (0..4).map(|_| post(workspace)).collect();
    let records: Vec<_> = posts.iter().map(|p| idempotency(workspace, "racing", p.id)).collect();
    let create = |i: usize| store.create_post(&posts[i], Some(&records[i]));
    let (a, b, c, d) = tokio::join!(create(0), create(1), create(2), create(3));
    let outcomes = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];

    let winners: Vec<_> = (0..4).filter(|&i| outcomes[i].is_none()).collect();
    let [winner] = winners[..] else { panic!("exactly one create must win: {outcomes:?}") };
    for outcome in outcomes.iter().flatten() {
        assert_eq!(outcome, &records[winner], "every loser gets the winner's record");
    }
    let (listed, _) = list_all_posts(store, workspace, None, 10).await;
    assert_eq!(listed, [posts[winner].clone()], "exactly one post");
}

#[tokio::test]
async fn dynamodb_ensure_table_is_idempotent_even_when_racing() {
    let table = aws::unique_name("posthorn-store");
    let store = DynamoStore::new(aws::dynamodb().await, &table);
    let (first, second) = tokio::join!(store.ensure_table(), store.ensure_table());
    first.unwrap();
    second.unwrap();
    store.create_workspace(&workspace()).await.unwrap();
    store.ensure_table().await.unwrap();
    assert!(store.has_workspaces().await.unwrap());
}

#[tokio::test]
async fn dynamodb_table_has_the_indexes_and_ttl() {
    let client = aws::dynamodb().await;
    let table = aws::unique_name("posthorn-store");
    DynamoStore::new(client.clone(), &table).ensure_table().await.unwrap();

    let description = client.describe_table().table_name(&table).send().await;
    let description = description.unwrap().table.expect("a table description");
    let mut indexes: Vec<_> = description
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let keys: Vec<_> = index.key_schema().iter().map(|k| k.attribute_name()).collect();
            (index.index_name().unwrap_or_default(), keys.join("/"))
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, [("GSI1", "GSI1PK/GSI1SK".into()), ("GSI2", "GSI2PK/GSI2SK".into())]);
    let billing = description.billing_mode_summary().and_then(|b| b.billing_mode());
    assert_eq!(billing, Some(&BillingMode::PayPerRequest));

    let ttl = client.describe_time_to_live().table_name(&table).send().await;
    let ttl = ttl.unwrap().time_to_live_description.expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn dynamodb_items_carry_their_keys() {
    let client = aws::dynamodb().await;
    let table = aws::unique_name("posthorn-store");
    let store = DynamoStore::new(client.clone(), &table);
    store.ensure_table().await.unwrap();
    let workspace = workspace();
    store.create_workspace(&workspace).await.unwrap();
    let endpoint = endpoint(workspace.id);
    store.create_webhook(&endpoint).await.unwrap();

    let item = client
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("WS#{}", workspace.id)))
        .key("SK", AttributeValue::S("WORKSPACE".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the workspace item");
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    assert_eq!(text("GSI1PK").as_deref(), Some("WORKSPACES"));
    assert_eq!(text("GSI1SK"), Some(workspace.id.to_string()));
    assert_eq!(text("name").as_deref(), Some("Acme"));

    let webhooks = client
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :sk)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("WS#{}", workspace.id)))
        .expression_attribute_values(":sk", AttributeValue::S("WEBHOOK#".into()))
        .send()
        .await
        .unwrap();
    let [webhook] = webhooks.items() else {
        panic!("expected one webhook item: {webhooks:?}");
    };
    assert_eq!(webhook.get("SK"), Some(&AttributeValue::S(format!("WEBHOOK#{}", endpoint.id))));
    assert!(!webhook.contains_key("GSI1PK"), "sparse index keys are left out");
}

#[tokio::test]
async fn dynamodb_delivery_has_the_sweep_index_keys_only_while_pending() {
    let client = aws::dynamodb().await;
    let table = aws::unique_name("posthorn-store");
    let store = DynamoStore::new(client.clone(), &table);
    store.ensure_table().await.unwrap();
    let event = event(WorkspaceId::new(), EventType::PostPublished);
    let pending = delivery(&event, WebhookId::new(), now());
    store.create_event(&event, std::slice::from_ref(&pending)).await.unwrap();
    let read = async || {
        client
            .get_item()
            .table_name(&table)
            .key("PK", AttributeValue::S(format!("WS#{}", event.workspace_id)))
            .key("SK", AttributeValue::S(format!("DELIVERY#{}", pending.id)))
            .send()
            .await
            .unwrap()
            .item
            .expect("the delivery item")
    };

    let item = read().await;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    assert_eq!(text("GSI1PK"), Some(format!("WS#{}#WEBHOOK#{}", event.workspace_id, pending.webhook_id)));
    assert_eq!(text("GSI1SK"), Some(pending.id.to_string()));
    assert_eq!(text("GSI2PK").as_deref(), Some("PENDING_DELIVERY"));
    let due = text("GSI2SK").expect("a due key");
    assert!(due.ends_with(&format!("Z#{}", pending.id)) && due.len() == "2025-01-01T00:00:00.000000000Z#".len() + 30);
    assert_eq!(item.get("version"), Some(&AttributeValue::N("0".into())));

    let delivered = next_version(&pending, |d| {
        d.status = DeliveryStatus::Delivered;
        d.next_attempt_at = None;
    });
    store.update_delivery(&delivered, pending.version).await.unwrap();
    let item = read().await;
    assert!(!item.contains_key("GSI2PK") && !item.contains_key("GSI2SK"), "sweep keys are left out: {item:?}");
    assert!(item.contains_key("GSI1PK"), "still listed by endpoint");
}

#[tokio::test]
async fn dynamodb_post_has_the_due_index_keys_only_while_due() {
    let client = aws::dynamodb().await;
    let table = aws::unique_name("posthorn-store");
    let store = DynamoStore::new(client.clone(), &table);
    store.ensure_table().await.unwrap();
    let post = full_post(WorkspaceId::new());
    store.create_post(&post, None).await.unwrap();
    let read = async || {
        client
            .get_item()
            .table_name(&table)
            .key("PK", AttributeValue::S(format!("WS#{}", post.workspace_id)))
            .key("SK", AttributeValue::S(format!("POST#{}", post.id)))
            .send()
            .await
            .unwrap()
            .item
            .expect("the post item")
    };

    let item = read().await;
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    assert_eq!(text("GSI2PK").as_deref(), Some("DUE_POST"));
    let due = text("GSI2SK").expect("a due key");
    assert!(due.ends_with(&format!("Z#{}", post.id)) && due.len() == "2025-01-01T00:00:00.000000000Z#".len() + 31);
    assert_eq!(text("GSI1PK").as_deref(), Some("METRICS_DUE"));
    let metrics_due = text("GSI1SK").expect("a metrics due key");
    assert!(metrics_due.ends_with(&format!("Z#{}", post.id)) && metrics_due < due, "{metrics_due} {due}");

    let published = next_post(&post, |p| {
        p.status = PostStatus::Published;
        p.due_at = None;
        p.metrics_due_at = None;
    });
    store.update_post(&published, post.version).await.unwrap();
    let item = read().await;
    let keys = ["GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"];
    assert!(keys.iter().all(|key| !item.contains_key(*key)), "due keys are left out: {item:?}");
}

#[tokio::test]
async fn dynamodb_idempotency_record_carries_a_numeric_ttl() {
    let client = aws::dynamodb().await;
    let table = aws::unique_name("posthorn-store");
    let store = DynamoStore::new(client.clone(), &table);
    store.ensure_table().await.unwrap();
    let post = post(WorkspaceId::new());
    let record = IdempotencyRecord {
        expires_at: OffsetDateTime::from_unix_timestamp(4_102_444_800).unwrap() + Duration::milliseconds(1),
        ..idempotency(post.workspace_id, "ttl", post.id)
    };
    store.create_post(&post, Some(&record)).await.unwrap();

    let item = client
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("WS#{}", post.workspace_id)))
        .key("SK", AttributeValue::S("IDEMPOTENCY#ttl".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the idempotency item");
    assert_eq!(item.get("expires_at"), Some(&AttributeValue::N("4102444801".into())), "rounded up to the second");
    assert_eq!(item.get("valid_until"), Some(&AttributeValue::S("2100-01-01T00:00:00.001000000Z".into())));
    let replay = post_at(post.workspace_id, now());
    let outcome = store.create_post(&replay, Some(&idempotency(post.workspace_id, "ttl", replay.id))).await;
    assert_eq!(outcome.unwrap(), Some(record), "the exact expiry is read back");
}

#[tokio::test]
async fn dynamodb_errors_name_the_operation_and_table() {
    let table = aws::unique_name("posthorn-missing");
    let store = DynamoStore::new(aws::dynamodb().await, &table);
    let result = store.get_workspace(WorkspaceId::new()).await;
    match result {
        Err(Error::Internal(detail)) => {
            assert!(detail.contains("GetItem"), "{detail}");
            assert!(detail.contains(&table), "{detail}");
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_file_keeps_records_across_reopening() {
    let dir = TempDir::new();
    let path = dir.0.join("store.db");
    let workspace = workspace();
    SqliteStore::open(&path).unwrap().create_workspace(&workspace).await.unwrap();
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.get_workspace(workspace.id).await.unwrap(), Some(workspace));
}

/// A database made before posts had `metrics_due_at` opens, keeps its posts, and gains the
/// column and its index.
#[tokio::test]
async fn sqlite_file_from_before_metrics_gains_the_metrics_column() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("store.db");
    let old = Post { status: PostStatus::Published, ..post(WorkspaceId::new()) };
    let mut record = serde_json::to_value(&old).unwrap();
    record.as_object_mut().unwrap().remove("metrics_due_at");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE posts (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, status TEXT NOT NULL,
             version INTEGER NOT NULL, due_at TEXT, record TEXT NOT NULL);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO posts (id, workspace_id, status, version, record) VALUES (?1, ?2, 'published', 0, ?3)",
        [old.id.to_string(), old.workspace_id.to_string(), record.to_string()],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get_post(old.workspace_id, old.id).await.unwrap(), Some(old.clone()));
    let due = next_post(&old, |p| p.metrics_due_at = Some(now()));
    store.update_post(&due, old.version).await.unwrap();
    assert_eq!(store.metrics_due_posts(now(), 10).await.unwrap(), [due]);
    assert!(SqliteStore::open(&path).is_ok(), "opening again adds nothing twice");
}

#[tokio::test]
async fn sqlite_files_opened_twice_still_make_one_post_per_key() {
    let dir = TempDir::new();
    let path = dir.0.join("store.db");
    let (first, second) = (SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap());
    let workspace = WorkspaceId::new();
    let posts = [post(workspace), post(workspace)];
    let records = [idempotency(workspace, "shared", posts[0].id), idempotency(workspace, "shared", posts[1].id)];
    let (a, b) =
        tokio::join!(first.create_post(&posts[0], Some(&records[0])), second.create_post(&posts[1], Some(&records[1])));
    let outcomes = [a.unwrap(), b.unwrap()];
    let winner = usize::from(outcomes[0].is_some());
    assert_eq!(outcomes[1 - winner], Some(records[winner].clone()), "{outcomes:?}");
    let (listed, _) = list_all_posts(&second, workspace, None, 10).await;
    assert_eq!(listed, [posts[winner].clone()]);
}

// Automations: sources, feed entries, automations and runs.

fn source_at(workspace: WorkspaceId, at: OffsetDateTime) -> Source {
    Source {
        id: id_at(SourceId::PREFIX, at),
        workspace_id: workspace,
        url: "https://blog.example.com/feed.xml".into(),
        name: Some("Blog".into()),
        fetch_interval_minutes: 15,
        etag: None,
        last_modified: None,
        last_fetched_at: None,
        last_error: None,
        consecutive_failures: 0,
        next_fetch_at: Some(at),
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

async fn source_round_trips_and_updates_conditionally(store: &dyn Store) {
    let source = source_at(WorkspaceId::new(), now());
    store.create_source(&source).await.unwrap();
    assert!(matches!(store.create_source(&source).await, Err(Error::Conflict(_))));
    assert_eq!(store.get_source(source.workspace_id, source.id).await.unwrap(), Some(source.clone()));

    let fetched = Source {
        etag: Some("\"v2\"".into()),
        last_modified: Some("Mon, 23 Nov 2026 10:00:00 GMT".into()),
        last_fetched_at: Some(now()),
        last_error: Some("not a feed".into()),
        consecutive_failures: 2,
        next_fetch_at: Some(now() + Duration::minutes(30)),
        version: 1,
        ..source.clone()
    };
    store.update_source(&fetched, 0).await.unwrap();
    assert_eq!(store.get_source(source.workspace_id, source.id).await.unwrap(), Some(fetched.clone()));
    assert!(matches!(store.update_source(&fetched, 0).await, Err(Error::Conflict(_))));
    let missing = source_at(source.workspace_id, now());
    assert!(matches!(store.update_source(&missing, 0).await, Err(Error::NotFound(_))));
    store.delete_source(source.workspace_id, source.id).await.unwrap();
    assert_eq!(store.get_source(source.workspace_id, source.id).await.unwrap(), None);
    assert!(matches!(store.delete_source(source.workspace_id, source.id).await, Err(Error::NotFound(_))));
}

async fn sources_list_newest_first_and_stay_in_their_workspace(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let start = now();
    let mut sources = Vec::new();
    for minute in 0..5 {
        let source = source_at(workspace, start + Duration::minutes(minute));
        store.create_source(&source).await.unwrap();
        sources.push(source);
    }
    store.create_source(&source_at(WorkspaceId::new(), start)).await.unwrap();
    let (listed, sizes) = read_pages(2, async |page| store.list_sources(workspace, page).await.unwrap()).await;
    sources.reverse();
    assert_eq!(listed, sources);
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(store.get_source(WorkspaceId::new(), sources[0].id).await.unwrap(), None);
    let invalid = PageRequest { limit: 2, cursor: Some("wh_nope".into()) };
    assert!(matches!(store.list_sources(workspace, invalid).await, Err(Error::BadRequest(_))));
}

async fn sources_due_are_oldest_due_first_across_workspaces(store: &dyn Store) {
    let now = now();
    let due = [
        Source { next_fetch_at: Some(now - Duration::minutes(10)), ..source_at(WorkspaceId::new(), now) },
        Source { next_fetch_at: Some(now), ..source_at(WorkspaceId::new(), now) },
    ];
    let later = Source { next_fetch_at: Some(now + Duration::minutes(1)), ..source_at(WorkspaceId::new(), now) };
    let paused = Source { next_fetch_at: None, ..source_at(WorkspaceId::new(), now) };
    for source in [&later, &due[1], &paused, &due[0]] {
        store.create_source(source).await.unwrap();
    }
    assert_eq!(store.sources_due(now, 10).await.unwrap(), due);
    assert_eq!(store.sources_due(now, 1).await.unwrap(), due[..1]);
    let fetched = Source { next_fetch_at: Some(now + Duration::hours(1)), version: 1, ..due[0].clone() };
    store.update_source(&fetched, 0).await.unwrap();
    assert_eq!(store.sources_due(now, 10).await.unwrap(), due[1..]);
}

fn entry(source: &Source, key: &str, published_minutes_ago: Option<i64>) -> FeedEntry {
    let at = now();
    FeedEntry {
        workspace_id: source.workspace_id,
        source_id: source.id,
        key: key.into(),
        title: Some(format!("Title of {key}")),
        link: Some(format!("https://blog.example.com/{key}")),
        summary: Some("A summary".into()),
        published_at: published_minutes_ago.map(|minutes| at - Duration::minutes(minutes)),
        first_seen_at: at,
        used_by_run: None,
        used_at: None,
    }
}

async fn feed_entries_are_stored_once_per_source_and_key(store: &dyn Store) {
    let source = source_at(WorkspaceId::new(), now());
    let other = source_at(source.workspace_id, now());
    let long_key = format!("https://blog.example.com/{}", "very-long-path/".repeat(200));
    let first = [entry(&source, "a", Some(5)), entry(&source, &long_key, Some(3))];
    assert_eq!(store.upsert_feed_entries(&first).await.unwrap(), 2);
    assert_eq!(store.upsert_feed_entries(&first).await.unwrap(), 0, "idempotent");
    let changed = FeedEntry { title: Some("Edited".into()), ..first[0].clone() };
    let again = [changed, entry(&source, "b", Some(1)), entry(&other, "a", Some(5))];
    assert_eq!(store.upsert_feed_entries(&again).await.unwrap(), 2, "same key on another source is new");
    assert_eq!(store.upsert_feed_entries(&[]).await.unwrap(), 0);
    let unused = store.unused_feed_entries(source.workspace_id, source.id, 10).await.unwrap();
    assert_eq!(unused.len(), 3);
    assert_eq!(unused.iter().find(|e| e.key == "a").unwrap().title.as_deref(), Some("Title of a"), "kept as stored");
    assert!(unused.iter().any(|e| e.key == long_key));
}

async fn unused_feed_entries_are_newest_first_and_claimed_once(store: &dyn Store) {
    let source = source_at(WorkspaceId::new(), now());
    let entries =
        [entry(&source, "old", Some(60)), entry(&source, "unpublished", None), entry(&source, "new", Some(1))];
    store.upsert_feed_entries(&entries).await.unwrap();
    let keys = |entries: Vec<FeedEntry>| entries.into_iter().map(|e| e.key).collect::<Vec<_>>();
    let unused = store.unused_feed_entries(source.workspace_id, source.id, 10).await.unwrap();
    assert_eq!(keys(unused.clone()), ["unpublished", "new", "old"], "by published time, else first seen");
    assert_eq!(unused[0], entries[1], "whole records");
    assert_eq!(keys(store.unused_feed_entries(source.workspace_id, source.id, 1).await.unwrap()), ["unpublished"]);
    assert_eq!(store.unused_feed_entries(WorkspaceId::new(), source.id, 10).await.unwrap(), []);

    let used = |run| FeedEntry { used_by_run: Some(run), used_at: Some(now()), ..entries[2].clone() };
    let (first, second) = (used(RunId::new()), used(RunId::new()));
    let (a, b) = tokio::join!(store.claim_feed_entry(&first), store.claim_feed_entry(&second));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|won| **won).count(), 1, "one run gets the entry");
    assert_eq!(
        keys(store.unused_feed_entries(source.workspace_id, source.id, 10).await.unwrap()),
        ["unpublished", "old"]
    );
    assert_eq!(store.upsert_feed_entries(&entries).await.unwrap(), 0, "a used entry stays used");
    assert_eq!(store.unused_feed_entries(source.workspace_id, source.id, 10).await.unwrap().len(), 2);
    let missing = FeedEntry { used_by_run: Some(RunId::new()), ..entry(&source, "missing", None) };
    assert!(matches!(store.claim_feed_entry(&missing).await, Err(Error::NotFound(_))));
}

fn automation_at(workspace: WorkspaceId, at: OffsetDateTime) -> Automation {
    Automation {
        id: id_at(AutomationId::PREFIX, at),
        workspace_id: workspace,
        name: "Release notes".into(),
        instructions: "Share the newest release.".into(),
        tone: Some("friendly".into()),
        channel_ids: vec![ChannelId::new(), ChannelId::new()],
        source_ids: vec![SourceId::new()],
        schedule: Some(Schedule::new("*/5 * * * *", "Europe/Berlin").unwrap()),
        publish: PublishMode::Scheduled { offset_minutes: 30 },
        next_run_at: Some(at),
        last_slot: None,
        last_run_id: None,
        version: 0,
        created_at: at,
        updated_at: at,
    }
}

async fn automation_round_trips_updates_conditionally_and_deletes(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let automation = automation_at(workspace, now());
    store.create_automation(&automation).await.unwrap();
    assert!(matches!(store.create_automation(&automation).await, Err(Error::Conflict(_))));
    assert_eq!(store.get_automation(workspace, automation.id).await.unwrap(), Some(automation.clone()));
    assert_eq!(store.get_automation(WorkspaceId::new(), automation.id).await.unwrap(), None);

    let edited =
        Automation { schedule: None, next_run_at: None, publish: PublishMode::Draft, version: 1, ..automation.clone() };
    store.update_automation(&edited, 0).await.unwrap();
    assert_eq!(store.get_automation(workspace, automation.id).await.unwrap(), Some(edited.clone()));
    assert!(matches!(store.update_automation(&edited, 0).await, Err(Error::Conflict(_))));
    let second = automation_at(workspace, now() + Duration::seconds(1));
    store.create_automation(&second).await.unwrap();
    let page = store.list_automations(workspace, PageRequest { limit: 10, cursor: None }).await.unwrap();
    assert_eq!(page.items, [second.clone(), edited.clone()]);
    store.delete_automation(workspace, automation.id).await.unwrap();
    assert!(matches!(store.delete_automation(workspace, automation.id).await, Err(Error::NotFound(_))));
    assert!(matches!(store.update_automation(&edited, 1).await, Err(Error::NotFound(_))));
}

async fn automations_due_are_oldest_due_first_and_a_slot_is_claimed_once(store: &dyn Store) {
    let now = now();
    let due = Automation { next_run_at: Some(now - Duration::minutes(3)), ..automation_at(WorkspaceId::new(), now) };
    let later = Automation { next_run_at: Some(now + Duration::minutes(3)), ..automation_at(WorkspaceId::new(), now) };
    let manual = Automation { schedule: None, next_run_at: None, ..automation_at(WorkspaceId::new(), now) };
    for automation in [&later, &manual, &due] {
        store.create_automation(automation).await.unwrap();
    }
    assert_eq!(store.automations_due(now, 10).await.unwrap(), std::slice::from_ref(&due));

    let (a, b) = tokio::join!(claim_slot(store, due.clone(), now), claim_slot(store, due.clone(), now));
    let claims: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(claims.len(), 1, "one process-queue run gets the slot");
    let (claimed, slot) = &claims[0];
    assert_eq!(*slot, due.next_run_at.unwrap());
    assert_eq!(claimed.last_slot, Some(*slot));
    assert!(claimed.next_run_at.unwrap() > now);
    assert_eq!(store.automations_due(now, 10).await.unwrap(), []);
    assert_eq!(store.get_automation(due.workspace_id, due.id).await.unwrap().as_ref(), Some(claimed));
}

async fn run_round_trips_and_updates_conditionally(store: &dyn Store) {
    let run = Run {
        id: RunId::new(),
        workspace_id: WorkspaceId::new(),
        automation_id: AutomationId::new(),
        status: RunStatus::Running,
        trigger: RunTrigger::Schedule,
        reason: None,
        entries: vec![EntryRef {
            source_id: SourceId::new(),
            key: "guid-1".into(),
            title: Some("Title".into()),
            link: Some("https://blog.example.com/1".into()),
        }],
        post_ids: Vec::new(),
        version: 0,
        started_at: now(),
        finished_at: None,
    };
    store.create_run(&run).await.unwrap();
    assert!(matches!(store.create_run(&run).await, Err(Error::Conflict(_))));
    assert_eq!(store.get_run(run.workspace_id, run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(store.get_run(WorkspaceId::new(), run.id).await.unwrap(), None);
    let finished = Run {
        status: RunStatus::Failed,
        reason: Some("the AI provider is failing".into()),
        post_ids: vec![PostId::new()],
        finished_at: Some(now()),
        version: 1,
        ..run.clone()
    };
    store.update_run(&finished, 0).await.unwrap();
    assert_eq!(store.get_run(run.workspace_id, run.id).await.unwrap(), Some(finished.clone()));
    assert!(matches!(store.update_run(&finished, 0).await, Err(Error::Conflict(_))));
}
