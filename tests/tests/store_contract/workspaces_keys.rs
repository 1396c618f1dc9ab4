//! Workspaces and API keys: round trips, duplicates, and the index that tells whether any workspace exists.

use super::*;

contract!(
    workspace_round_trips,
    duplicate_workspace_conflicts,
    has_workspaces_once_one_exists,
    api_key_is_found_by_hash,
    duplicate_api_key_hash_conflicts,
);

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
