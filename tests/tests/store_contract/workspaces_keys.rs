//! Workspaces and API keys: round trips, duplicates, and the index that tells whether any workspace exists.

use super::*;

contract!(
    workspace_round_trips,
    duplicate_workspace_conflicts,
    has_workspaces_once_one_exists,
    api_key_is_found_by_hash,
    duplicate_api_key_hash_conflicts,
    api_keys_list_by_workspace_newest_first_and_are_found_by_id,
    a_deleted_api_key_is_gone,
    workspaces_list_newest_first,
);

async fn api_keys_list_by_workspace_newest_first_and_are_found_by_id(store: &dyn Store) {
    let (workspace, other) = (WorkspaceId::new(), WorkspaceId::new());
    let mut made = Vec::new();
    for n in 0..5 {
        let key = NewApiKey::generate(workspace, Some(format!("key {n}")), [Scope::PostsRead].into(), now()).record;
        store.create_api_key(&key).await.unwrap();
        made.push(key);
    }
    store.create_api_key(&NewApiKey::generate(other, None, Scope::every(), now()).record).await.unwrap();
    let (listed, sizes) = read_pages(2, async |page| store.list_api_keys(workspace, page).await.unwrap()).await;
    made.reverse();
    assert_eq!(listed, made);
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(store.get_api_key(made[3].id).await.unwrap(), Some(made[3].clone()));
    assert_eq!(store.get_api_key(ApiKeyId::new()).await.unwrap(), None);
}

async fn a_deleted_api_key_is_gone(store: &dyn Store) {
    let key = NewApiKey::generate(WorkspaceId::new(), None, Scope::every(), now()).record;
    store.create_api_key(&key).await.unwrap();
    store.delete_api_key(&key).await.unwrap();
    assert_eq!(store.find_api_key(&key.hash).await.unwrap(), None);
    assert_eq!(store.get_api_key(key.id).await.unwrap(), None);
    assert!(
        store.list_api_keys(key.workspace_id, PageRequest { limit: 10, cursor: None }).await.unwrap().items.is_empty()
    );
    assert!(matches!(store.delete_api_key(&key).await, Err(Error::NotFound(_))));
    assert!(matches!(store.replace_api_key(&key).await, Err(Error::NotFound(_))));
}

async fn workspaces_list_newest_first(store: &dyn Store) {
    let mut made = Vec::new();
    for _ in 0..3 {
        let workspace = workspace();
        store.create_workspace(&workspace).await.unwrap();
        made.push(workspace);
    }
    made.reverse();
    let (listed, _) = read_pages(2, async |page| store.list_workspaces(page).await.unwrap()).await;
    assert_eq!(listed, made);
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
    let key = NewApiKey::generate(WorkspaceId::new(), None, Scope::every(), now());
    store.create_api_key(&key.record).await.unwrap();
    let found = store.find_api_key(&KeyHash::of(&key.plaintext)).await;
    assert_eq!(found.unwrap(), Some(key.record));
    let unknown = store.find_api_key(&KeyHash::of("phk_unknown")).await;
    assert_eq!(unknown.unwrap(), None);
}

async fn duplicate_api_key_hash_conflicts(store: &dyn Store) {
    let key = NewApiKey::generate(WorkspaceId::new(), None, Scope::every(), now()).record;
    store.create_api_key(&key).await.unwrap();
    let same_hash = ApiKey { id: ApiKeyId::new(), workspace_id: WorkspaceId::new(), ..key.clone() };
    let result = store.create_api_key(&same_hash).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(store.find_api_key(&key.hash).await.unwrap(), Some(key));
}
