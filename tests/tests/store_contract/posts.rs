//! Posts: round trips, conditional updates, pages and the status filter, the due and metrics-due
//! indexes, and idempotency records.

use super::*;

contract!(
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
);

/// A draft without media, schedule or due time, created at `at`, to one pending target.
pub(crate) fn post_at(workspace: WorkspaceId, at: OffsetDateTime) -> Post {
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

pub(crate) fn post(workspace: WorkspaceId) -> Post {
    post_at(workspace, now())
}

/// A post with every field set: media with and without alt text, and targets pending,
/// published with metrics, and failed with an error and progress.
pub(crate) fn full_post(workspace: WorkspaceId) -> Post {
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
            MediaItem::new("https://cdn.example.com/a.png", Some("A rocket".into())),
            MediaItem::new("https://cdn.example.com/b.mp4", None),
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
pub(crate) fn next_post(post: &Post, change: impl FnOnce(&mut Post)) -> Post {
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
pub(crate) async fn list_all_posts(
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
pub(crate) fn idempotency(workspace: WorkspaceId, key: &str, post: PostId) -> IdempotencyRecord {
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
