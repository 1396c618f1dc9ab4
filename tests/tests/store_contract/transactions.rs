//! Transactions of the generic core: all or nothing over creates, version-conditional replaces
//! and deletes, up to `MAX_ITEMS_PER_TRANSACTION` writes (not one more), each record once.

use posthorn::ports::store::{Condition, MAX_ITEMS_PER_TRANSACTION, Outcome, Record, Write, key_of};

use super::*;
use crate::posts::{next_post, post};
use crate::webhooks_deliveries::endpoint;

contract!(
    a_transaction_of_the_maximum_size_writes_every_item,
    a_transaction_over_the_maximum_is_refused_and_writes_nothing,
    a_transaction_writing_one_record_twice_is_refused,
    a_failed_condition_refuses_the_whole_transaction,
    a_transaction_replaces_deletes_and_creates_together,
);

/// A write creating each of `count` new endpoints of `workspace`.
fn creates(workspace: WorkspaceId, count: usize) -> Vec<Write> {
    (0..count).map(|_| Write::Put(endpoint(workspace).document().unwrap(), Condition::Absent)).collect()
}

async fn stored_endpoints(store: &dyn Store, workspace: WorkspaceId) -> usize {
    read_pages(50, async |page| store.list_webhooks(workspace, page).await.unwrap()).await.0.len()
}

async fn a_transaction_of_the_maximum_size_writes_every_item(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let outcome = store.transact(creates(workspace, MAX_ITEMS_PER_TRANSACTION)).await;
    assert_eq!(outcome.unwrap(), Outcome::Written);
    assert_eq!(stored_endpoints(store, workspace).await, MAX_ITEMS_PER_TRANSACTION);
}

async fn a_transaction_over_the_maximum_is_refused_and_writes_nothing(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let result = store.transact(creates(workspace, MAX_ITEMS_PER_TRANSACTION + 1)).await;
    match result {
        Err(Error::Internal(message)) => {
            assert_eq!(message, "a transaction writes at most 100 items; this one has 101");
        }
        other => panic!("expected the transaction to be refused, got {other:?}"),
    }
    assert_eq!(stored_endpoints(store, workspace).await, 0);
}

async fn a_transaction_writing_one_record_twice_is_refused(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let mut writes = creates(workspace, 2);
    writes.push(writes[0].clone());
    match store.transact(writes).await {
        Err(Error::Internal(message)) => assert!(message.contains("is written twice"), "{message}"),
        other => panic!("expected the transaction to be refused, got {other:?}"),
    }
    assert_eq!(stored_endpoints(store, workspace).await, 0);
}

async fn a_failed_condition_refuses_the_whole_transaction(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let existing = endpoint(workspace);
    store.create_webhook(&existing).await.unwrap();
    let mut writes = creates(workspace, 2);
    writes.insert(1, Write::Put(existing.document().unwrap(), Condition::Absent));
    assert_eq!(store.transact(writes).await.unwrap(), Outcome::Refused { item: 1 });
    assert_eq!(stored_endpoints(store, workspace).await, 1, "neither new endpoint is written");

    let post = post(workspace);
    store.create_post(&post, None).await.unwrap();
    let stale = Write::Put(next_post(&post, |p| p.text = "stale".into()).document().unwrap(), Condition::Version(7));
    let delete = Write::Delete(key_of::<WebhookEndpoint>(workspace, &existing.id), Condition::Present);
    assert_eq!(store.transact(vec![delete, stale]).await.unwrap(), Outcome::Refused { item: 1 });
    assert_eq!(store.get_webhook(workspace, existing.id).await.unwrap(), Some(existing), "the delete is undone");
    assert_eq!(store.get_post(workspace, post.id).await.unwrap(), Some(post));
}

async fn a_transaction_replaces_deletes_and_creates_together(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let (gone, post) = (endpoint(workspace), post(workspace));
    store.create_webhook(&gone).await.unwrap();
    store.create_post(&post, None).await.unwrap();
    let edited = next_post(&post, |p| p.text = "edited".into());
    let created = endpoint(workspace);
    let writes = vec![
        Write::Put(edited.document().unwrap(), Condition::Version(post.version)),
        Write::Delete(key_of::<WebhookEndpoint>(workspace, &gone.id), Condition::Present),
        Write::Put(created.document().unwrap(), Condition::Absent),
    ];
    assert_eq!(store.transact(writes).await.unwrap(), Outcome::Written);
    assert_eq!(store.get_post(workspace, post.id).await.unwrap(), Some(edited));
    assert_eq!(store.get_webhook(workspace, gone.id).await.unwrap(), None);
    assert_eq!(store.get_webhook(workspace, created.id).await.unwrap(), Some(created));
}
