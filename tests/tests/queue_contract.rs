//! The Queue contract: every case is written once against `&dyn Queue` and run against each
//! adapter — SQLite in memory, SQLite in a file, and SQS on the moto server (a fresh queue per
//! test, never skipped).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use posthorn::adapters::sqlite::SqliteQueue;
use posthorn::adapters::sqs::SqsQueue;
use posthorn::ports::queue::{Queue, QueueMessage};
use posthorn_testkit::aws::{sqs, unique_name};
use tokio::time::{Instant, sleep};

/// The queues' `max_receives`.
const MAX_RECEIVES: u32 = 3;
const NOW: Duration = Duration::ZERO;
const LONG: Duration = Duration::from_secs(30);
const SECOND: Duration = Duration::from_secs(1);
/// A little more than a second: long enough for a one-second delay or visibility to pass.
const PAST_A_SECOND: Duration = Duration::from_millis(1300);

/// A queue under test and whatever must outlive it.
struct Fixture {
    queue: Box<dyn Queue>,
    _dir: Option<TempDir>,
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite_memory() -> Fixture {
    let queue = SqliteQueue::in_memory("deliveries", MAX_RECEIVES).expect("in-memory queue");
    Fixture { queue: Box::new(queue), _dir: None }
}

async fn sqlite_file() -> Fixture {
    let dir = TempDir(std::env::temp_dir().join(unique_name("posthorn-queue")));
    let queue =
        SqliteQueue::open(&dir.0.join("nested/posthorn.sqlite"), "deliveries", MAX_RECEIVES).expect("file queue");
    Fixture { queue: Box::new(queue), _dir: Some(dir) }
}

async fn sqs_queue() -> Fixture {
    let queue = SqsQueue::ensure(sqs().await, &unique_name("deliveries"), MAX_RECEIVES)
        .await
        .expect("sqs queue on the moto server");
    Fixture { queue: Box::new(queue), _dir: None }
}

/// Runs each contract case as one `#[tokio::test]` per adapter.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        contract!(@adapter sqlite_memory: $($case),*);
        contract!(@adapter sqlite_file: $($case),*);
        contract!(@adapter sqs_queue: $($case),*);
    };
    (@adapter $adapter:ident: $($case:ident),*) => {
        mod $adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    let fixture = super::$adapter().await;
                    super::$case(fixture.queue.as_ref()).await;
                }
            )*
        }
    };
}

contract!(
    send_then_receive,
    delayed_send_is_invisible_until_the_delay_passes,
    received_message_reappears_after_its_visibility_timeout,
    change_visibility_shows_and_hides,
    delete_removes_for_good,
    batches_are_bounded_and_never_shared,
    long_poll_returns_when_a_message_arrives,
    dead_letters_after_max_receives,
    empty_queue_without_wait_returns_at_once,
);

async fn receive(queue: &dyn Queue, visibility: Duration) -> Vec<QueueMessage> {
    queue.receive(10, visibility, NOW).await.expect("receive")
}

async fn receive_one(queue: &dyn Queue, visibility: Duration) -> QueueMessage {
    let mut messages = receive(queue, visibility).await;
    assert_eq!(messages.len(), 1, "expected one message, got {messages:?}");
    messages.remove(0)
}

async fn send_then_receive(queue: &dyn Queue) {
    queue.send(r#"{"id":"dlv_1"}"#, NOW).await.expect("send");
    let message = receive_one(queue, LONG).await;
    assert_eq!(message.body, r#"{"id":"dlv_1"}"#);
    assert_eq!(message.receive_count, 1);
}

async fn delayed_send_is_invisible_until_the_delay_passes(queue: &dyn Queue) {
    let sent = Instant::now();
    queue.send("later", SECOND).await.expect("send");
    assert!(receive(queue, LONG).await.is_empty(), "visible before its delay");
    let messages = queue.receive(1, LONG, 3 * SECOND).await.expect("receive");
    assert_eq!(messages.len(), 1, "not visible after its delay");
    assert!(sent.elapsed() >= Duration::from_millis(950), "visible after {:?}", sent.elapsed());
}

async fn received_message_reappears_after_its_visibility_timeout(queue: &dyn Queue) {
    queue.send("retry me", NOW).await.expect("send");
    assert_eq!(receive_one(queue, SECOND).await.receive_count, 1);
    assert!(receive(queue, SECOND).await.is_empty(), "visible during its timeout");
    sleep(PAST_A_SECOND).await;
    let again = receive_one(queue, LONG).await;
    assert_eq!(again.body, "retry me");
    assert_eq!(again.receive_count, 2);
}

async fn change_visibility_shows_and_hides(queue: &dyn Queue) {
    queue.send("reschedule me", NOW).await.expect("send");
    let first = receive_one(queue, LONG).await;
    queue.change_visibility(&first.receipt, NOW).await.expect("show");
    let second = receive_one(queue, SECOND).await;
    assert_eq!(second.receive_count, 2);
    queue.change_visibility(&second.receipt, LONG).await.expect("hide");
    sleep(PAST_A_SECOND).await;
    assert!(receive(queue, LONG).await.is_empty(), "visible while hidden for longer");
}

async fn delete_removes_for_good(queue: &dyn Queue) {
    queue.send("done", NOW).await.expect("send");
    let message = receive_one(queue, NOW).await;
    queue.delete(&message.receipt).await.expect("delete");
    assert!(receive(queue, NOW).await.is_empty(), "received after delete");
    assert!(queue.receive_dead_letters(10, NOW).await.expect("dead letters").is_empty());
}

async fn batches_are_bounded_and_never_shared(queue: &dyn Queue) {
    const SENT: usize = 15;
    const MAX: usize = 4;
    for n in 0..SENT {
        queue.send(&format!("message {n}"), NOW).await.expect("send");
    }
    let receiver = || async {
        let mut bodies = Vec::new();
        loop {
            let batch = queue.receive(MAX, LONG, NOW).await.expect("receive");
            assert!(batch.len() <= MAX, "batch of {} above {MAX}", batch.len());
            if batch.is_empty() {
                return bodies;
            }
            bodies.extend(batch.into_iter().map(|message| message.body));
        }
    };
    let (a, b) = tokio::join!(receiver(), receiver());
    let all: Vec<_> = a.into_iter().chain(b).collect();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), SENT, "received {all:?}");
    assert_eq!(distinct.len(), SENT, "a message was received twice: {all:?}");
}

async fn long_poll_returns_when_a_message_arrives(queue: &dyn Queue) {
    let started = Instant::now();
    let send_later = async {
        sleep(Duration::from_millis(300)).await;
        queue.send("wake up", NOW).await.expect("send");
    };
    let (messages, ()) = tokio::join!(queue.receive(10, LONG, 5 * SECOND), send_later);
    let messages = messages.expect("receive");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "wake up");
    assert!(started.elapsed() < 2 * SECOND, "woke after {:?}", started.elapsed());
}

async fn dead_letters_after_max_receives(queue: &dyn Queue) {
    queue.send("poison", NOW).await.expect("send");
    for count in 1..=MAX_RECEIVES {
        assert_eq!(receive_one(queue, NOW).await.receive_count, count);
    }
    assert!(receive(queue, NOW).await.is_empty(), "received more than {MAX_RECEIVES} times");
    let dead = queue.receive_dead_letters(10, LONG).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "expected the message in the dead-letter queue: {dead:?}");
    assert_eq!(dead[0].body, "poison");
    assert_eq!(dead[0].receive_count, MAX_RECEIVES + 1, "receives count on in the dead-letter queue");
}

async fn empty_queue_without_wait_returns_at_once(queue: &dyn Queue) {
    let started = Instant::now();
    assert!(receive(queue, LONG).await.is_empty());
    assert!(started.elapsed() < SECOND, "took {:?}", started.elapsed());
}

/// `ensure` twice is harmless, and a queue known only by its URL finds its dead-letter queue
/// from its RedrivePolicy.
#[tokio::test]
async fn sqs_queue_by_url_finds_its_dead_letter_queue() {
    let client = sqs().await;
    let name = unique_name("deliveries");
    for _ in 0..2 {
        SqsQueue::ensure(client.clone(), &name, MAX_RECEIVES).await.expect("ensure");
    }
    let url = client.get_queue_url().queue_name(&name).send().await.expect("queue url").queue_url.expect("a queue url");
    dead_letters_after_max_receives(&SqsQueue::new(client, url)).await;
}
