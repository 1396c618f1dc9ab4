//! Connections, channels, OAuth states and instance apps.

use super::*;

contract!(
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
    connections_of_one_platform_account_are_found_across_workspaces,
);

/// An active connection with every optional field empty.
pub(crate) fn connection(workspace: WorkspaceId) -> Connection {
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

pub(crate) fn channel(workspace: WorkspaceId) -> Channel {
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
pub(crate) fn oauth_state(workspace: WorkspaceId) -> OAuthState {
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

async fn connections_of_one_platform_account_are_found_across_workspaces(store: &dyn Store) {
    let account = format!("user-{}", ulid::Ulid::new());
    let of = |platform: Platform, user: &str| Connection {
        platform,
        platform_user_id: user.to_string(),
        ..connection(WorkspaceId::new())
    };
    let (first, second) = (of(Platform::Facebook, &account), of(Platform::Facebook, &account));
    for other in [of(Platform::Instagram, &account), of(Platform::Facebook, ""), first.clone(), second.clone()] {
        store.create_connection(&other).await.unwrap();
    }
    let ids = |found: Vec<Connection>| found.into_iter().map(|c| c.id).collect::<std::collections::BTreeSet<_>>();
    let found = store.connections_of_account(Platform::Facebook, &account).await.unwrap();
    assert_eq!(ids(found), [first.id, second.id].into_iter().collect());

    let revoked = next_connection(&first, |c| c.status = ConnectionStatus::Revoked);
    store.update_connection(&revoked, first.version).await.unwrap();
    store.delete_connection(second.workspace_id, second.id).await.unwrap();
    let found = store.connections_of_account(Platform::Facebook, &account).await.unwrap();
    assert_eq!(found, vec![revoked]);
    assert!(store.connections_of_account(Platform::Facebook, "").await.unwrap().is_empty());
}
