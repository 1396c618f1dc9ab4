//! Automations: sources, feed entries, automations and runs.

use super::*;

contract!(
    source_round_trips_and_updates_conditionally,
    sources_list_newest_first_and_stay_in_their_workspace,
    sources_due_are_oldest_due_first_across_workspaces,
    feed_entries_are_stored_once_per_source_and_key,
    unused_feed_entries_are_newest_first_and_claimed_once,
    automation_round_trips_updates_conditionally_and_deletes,
    automations_due_are_oldest_due_first_and_a_slot_is_claimed_once,
    run_round_trips_and_updates_conditionally,
);

pub(crate) fn source_at(workspace: WorkspaceId, at: OffsetDateTime) -> Source {
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

pub(crate) fn entry(source: &Source, key: &str, published_minutes_ago: Option<i64>) -> FeedEntry {
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

pub(crate) fn automation_at(workspace: WorkspaceId, at: OffsetDateTime) -> Automation {
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
