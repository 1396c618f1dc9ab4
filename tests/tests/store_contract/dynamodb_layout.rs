//! The DynamoDB adapter's own checks: the table, its indexes and TTL, and the attributes items carry.

use super::*;
use crate::posts::{full_post, idempotency, next_post, post, post_at};
use crate::webhooks_deliveries::{delivery, endpoint, event, next_version};

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
    store.update_delivery(&delivered, pending.version, pending.status).await.unwrap();
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
