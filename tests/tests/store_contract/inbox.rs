//! The inbox: interactions written once under their stable id, listed newest first with every
//! filter and across pages, kept for their retention; and the inbox states sync-inbox claims,
//! due by their next poll.

use posthorn::model::ids::InteractionId;
use posthorn::model::inbox::{
    Author, Content, Direction, InboxState, Interaction, InteractionKind, InteractionMetadata, SourceCursor,
};
use posthorn::ports::store::{Condition, InteractionFilter, Outcome, Record, Write};

use super::*;

contract!(
    interaction_round_trips_and_is_written_once,
    interactions_list_newest_first_with_every_filter,
    interactions_page_with_since_and_a_cursor,
    interactions_are_invisible_to_other_workspaces,
    interaction_list_rejects_a_cursor_of_a_missing_interaction,
    an_interaction_expires_with_its_retention,
    inbox_states_are_due_by_their_next_poll_and_claimed_once,
);

fn interaction_at(workspace: WorkspaceId, kind: InteractionKind, platform_id: &str, at: OffsetDateTime) -> Interaction {
    let channel = ChannelId::new();
    Interaction {
        id: InteractionId::of("mastodon", channel, platform_id),
        workspace_id: workspace,
        kind,
        platform: Platform::Mastodon,
        account_id: ConnectionId::new(),
        channel_id: channel,
        post_id: None,
        parent_id: None,
        author: Author { id: "109999".into(), name: "Ada".into(), username: Some("ada".into()), avatar_url: None },
        content: Content { text: format!("item {platform_id}"), media: Vec::new() },
        direction: Direction::Inbound,
        received_at: at,
        platform_url: Some(format!("https://mastodon.social/@ada/{platform_id}")),
        metadata: InteractionMetadata::default(),
        platform_id: platform_id.into(),
        reply_handle: Some("thread-root".into()),
        stored_at: at,
        expires_at: at + Duration::days(90),
    }
}

async fn put_new(store: &dyn Store, interaction: &Interaction) -> Outcome {
    store.write(Write::Put(interaction.document().unwrap(), Condition::Absent)).await.unwrap()
}

async fn interaction_round_trips_and_is_written_once(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let mut interaction = interaction_at(workspace, InteractionKind::Comment, "1", now());
    interaction.post_id = Some(PostId::new());
    interaction.parent_id = Some(InteractionId::of("mastodon", interaction.channel_id, "0"));
    interaction.metadata.referral = Some(serde_json::json!({"source": "ADS"}));
    assert_eq!(put_new(store, &interaction).await, Outcome::Written);
    let stored = store.get_interaction(workspace, interaction.id).await.unwrap().unwrap();
    assert_eq!(stored.id, interaction.id);
    assert_eq!(stored.post_id, interaction.post_id);
    assert_eq!(stored.parent_id, interaction.parent_id);
    assert_eq!(stored.metadata, interaction.metadata);
    assert_eq!(stored.reply_handle, interaction.reply_handle);
    assert_eq!(stored.received_at.unix_timestamp(), interaction.received_at.unix_timestamp());

    let mut again = interaction.clone();
    again.content.text = "seen twice".into();
    assert_eq!(put_new(store, &again).await, Outcome::Refused { item: 0 }, "the same item is stored once");
    let kept = store.get_interaction(workspace, interaction.id).await.unwrap().unwrap();
    assert_eq!(kept.content.text, interaction.content.text);
}

async fn interactions_list_newest_first_with_every_filter(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let start = now() - Duration::hours(1);
    let comment = interaction_at(workspace, InteractionKind::Comment, "1", start);
    let mut mention = interaction_at(workspace, InteractionKind::Mention, "2", start + Duration::minutes(1));
    mention.account_id = comment.account_id;
    let mut dm = interaction_at(workspace, InteractionKind::Dm, "3", start + Duration::minutes(2));
    dm.post_id = Some(PostId::new());
    for interaction in [&comment, &mention, &dm] {
        put_new(store, interaction).await;
    }
    let list = |filter: InteractionFilter| async move {
        let page = store.list_interactions(workspace, filter, PageRequest { limit: 10, cursor: None }).await.unwrap();
        page.items.iter().map(|i| i.platform_id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(list(InteractionFilter::default()).await, ["3", "2", "1"]);
    assert_eq!(list(InteractionFilter { kind: Some(InteractionKind::Mention), ..Default::default() }).await, ["2"]);
    assert_eq!(list(InteractionFilter { account: Some(comment.account_id), ..Default::default() }).await, ["2", "1"]);
    assert_eq!(list(InteractionFilter { channel: Some(dm.channel_id), ..Default::default() }).await, ["3"]);
    assert_eq!(list(InteractionFilter { post: dm.post_id, ..Default::default() }).await, ["3"]);
    let since = InteractionFilter { since: Some(start + Duration::minutes(1)), ..Default::default() };
    assert_eq!(list(since).await, ["3", "2"]);
    let both = InteractionFilter {
        kind: Some(InteractionKind::Comment),
        account: Some(comment.account_id),
        ..Default::default()
    };
    assert_eq!(list(both).await, ["1"]);
}

async fn interactions_page_with_since_and_a_cursor(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let start = now() - Duration::hours(2);
    for minute in 0..25 {
        let at = start + Duration::minutes(minute);
        put_new(store, &interaction_at(workspace, InteractionKind::Comment, &minute.to_string(), at)).await;
    }
    let since = InteractionFilter { since: Some(start + Duration::minutes(5)), ..Default::default() };
    let (items, sizes) =
        read_pages(7, async |page| store.list_interactions(workspace, since, page).await.unwrap()).await;
    let ids: Vec<String> = items.iter().map(|i| i.platform_id.clone()).collect();
    let expected: Vec<String> = (5..25).rev().map(|minute: i32| minute.to_string()).collect();
    assert_eq!(ids, expected, "newest first, none older than since, none twice");
    assert_eq!(sizes, [7, 7, 6]);
}

async fn interactions_are_invisible_to_other_workspaces(store: &dyn Store) {
    let (ours, theirs) = (WorkspaceId::new(), WorkspaceId::new());
    let interaction = interaction_at(ours, InteractionKind::Dm, "1", now());
    put_new(store, &interaction).await;
    assert!(store.get_interaction(theirs, interaction.id).await.unwrap().is_none());
    let page = store.list_interactions(theirs, InteractionFilter::default(), PageRequest { limit: 10, cursor: None });
    assert!(page.await.unwrap().items.is_empty());
}

async fn interaction_list_rejects_a_cursor_of_a_missing_interaction(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    for cursor in ["int_01JD8Z3QK5V7Y2W9X4T6R8P0MG", "post_01JD8Z3QK5V7Y2W9X4T6R8P0MG", "garbage"] {
        let page = PageRequest { limit: 10, cursor: Some(cursor.into()) };
        let error = store.list_interactions(workspace, InteractionFilter::default(), page).await.unwrap_err();
        assert!(matches!(error, Error::BadRequest(_)), "{cursor}: {error:?}");
    }
}

async fn an_interaction_expires_with_its_retention(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let mut expired = interaction_at(workspace, InteractionKind::Comment, "1", now() - Duration::days(91));
    expired.expires_at = now() - Duration::days(1);
    let kept = interaction_at(workspace, InteractionKind::Comment, "2", now() - Duration::days(89));
    let document = expired.document().unwrap();
    assert_eq!(document.expires_at, Some(expired.expires_at), "the store is told when it may forget it");
    put_new(store, &expired).await;
    put_new(store, &kept).await;
    assert!(store.get_interaction(workspace, expired.id).await.unwrap().is_none(), "expired is gone");
    let page =
        store.list_interactions(workspace, InteractionFilter::default(), PageRequest { limit: 10, cursor: None });
    let listed: Vec<InteractionId> = page.await.unwrap().items.iter().map(|i| i.id).collect();
    assert_eq!(listed, [kept.id]);
    let again = Write::Put(expired.document().unwrap(), Condition::AbsentOrExpiredBy(now()));
    assert_eq!(store.write(again).await.unwrap(), Outcome::Written, "an expired item seen again is stored anew");
}

fn inbox_state(workspace: WorkspaceId, next_poll_at: Option<OffsetDateTime>) -> InboxState {
    let mut state = InboxState::new(
        workspace,
        ConnectionId::new(),
        ChannelId::new(),
        Platform::Mastodon,
        now() - Duration::hours(1),
    );
    state.next_poll_at = next_poll_at;
    state.sources.insert(
        "notifications".into(),
        SourceCursor { cursor: Some("34975861".into()), next_at: Some(now() + Duration::seconds(30)) },
    );
    state.dms_granted = Some(false);
    state
}

async fn inbox_states_are_due_by_their_next_poll_and_claimed_once(store: &dyn Store) {
    let workspace = WorkspaceId::new();
    let later = inbox_state(workspace, Some(now() - Duration::minutes(1)));
    let earlier = inbox_state(workspace, Some(now() - Duration::minutes(5)));
    let future = inbox_state(workspace, Some(now() + Duration::minutes(5)));
    let parked = inbox_state(workspace, None);
    for state in [&later, &earlier, &future, &parked] {
        store.write(Write::Put(state.document().unwrap(), Condition::Absent)).await.unwrap();
    }
    let due: Vec<ChannelId> = store.inbox_due(now(), 10).await.unwrap().iter().map(|s| s.channel_id).collect();
    let ours: Vec<ChannelId> =
        due.into_iter().filter(|id| [later.channel_id, earlier.channel_id].contains(id)).collect();
    assert_eq!(ours, [earlier.channel_id, later.channel_id], "longest due first; the future and parked ones not");

    let stored = store.get_inbox_state(workspace, earlier.channel_id).await.unwrap().unwrap();
    assert_eq!(stored, earlier);
    let mut claimed = stored.clone();
    claimed.version += 1;
    claimed.next_poll_at = Some(now() + Duration::minutes(5));
    store.update_inbox_state(&claimed, stored.version).await.unwrap();
    let second = store.update_inbox_state(&claimed, stored.version).await.unwrap_err();
    assert!(matches!(second, Error::Conflict(_)), "a second claim of the same version loses: {second:?}");
    let due_now = store.inbox_due(now(), 10).await.unwrap();
    assert!(due_now.iter().all(|state| state.channel_id != earlier.channel_id), "a claimed channel is not due");
}
