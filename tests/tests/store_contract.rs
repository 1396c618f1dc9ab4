//! The Store contract: every case is written once against `&dyn Store` and run against each
//! adapter — SQLite in memory, SQLite in a file, and DynamoDB on the moto server (a fresh table
//! per test). Adapter-specific checks (table setup, reopening a file) follow the contract.

use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, TimeToLiveStatus};
use posthorn::Error;
use posthorn::crypto::{EncryptionKey, KeyHash, Sealed, SecretBox};
use posthorn::ids::{ApiKeyId, WebhookId, WorkspaceId};
use posthorn::store::{DynamoStore, PageRequest, SqliteStore, Store};
use posthorn::webhooks::{EventFilter, EventType, RetiringSecret, WebhookEndpoint};
use posthorn::workspaces::{ApiKey, NewApiKey, Workspace};
use posthorn_testkit::aws;
use time::{Duration, OffsetDateTime};

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
    let (mut items, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None);
    loop {
        let page = store.list_webhooks(workspace, PageRequest { limit, cursor }).await.unwrap();
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
