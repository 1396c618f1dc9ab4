//! Chaos on the dev-server stack: the real dev server binary as a child process (its own data
//! directory, SQLite store and queue) delivering to a real HTTP receiver on loopback, while the
//! test crashes it, stops it, takes its receiver away or locks its store.
//!
//! - kill -9 mid-burst, then a restart: every accepted event is delivered, with no more
//!   duplicates than the deliveries the worker had in flight;
//! - SIGTERM: a clean exit that finishes in-flight deliveries and leaves the rest queued, so
//!   after a restart every accepted event has arrived exactly once;
//! - the receiver down for a while, then back: everything arrives through the retry schedule;
//! - the store locked by another process: requests answer 503 with a JSON error, nothing
//!   refused is half-written, and the backlog drains once the lock is gone.
//!
//! Every wait has a deadline, and the child process is killed when its test ends.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthorn_testkit::dev_server::{Answer, ApiClient, DevServer};
use posthorn_testkit::dev_server_binary;
use posthorn_testkit::receiver::{Receiver, Reply};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The dev server's worker attempts at most this many deliveries at once (dev-server/src/main.rs).
const DELIVERIES_IN_FLIGHT: usize = 64;
/// How long deliveries held by a killed worker stay hidden: the attempt lease and the request
/// timeout (shared/src/webhooks/worker.rs); then the restarted worker takes them up.
const CRASH_RECOVERY: Duration = Duration::from_secs(30);

/// A dev server with one endpoint, subscribed to everything, on a receiver.
struct Stack {
    receiver: Receiver,
    server: DevServer,
    webhook: String,
}

impl Stack {
    /// Starts the receiver (answering `script` first) and the dev server with `env`.
    async fn start(env: &[(&str, &str)], script: impl IntoIterator<Item = Reply>) -> Self {
        let receiver = Receiver::start_http().await;
        receiver.script(script);
        let server = DevServer::start(dev_server_binary!(), env);
        let webhook = server.api.register_webhook(&receiver.url("/hooks")).await;
        Self { receiver, server, webhook }
    }

    /// Sends `count` test events one after another, each of which must be accepted; their
    /// delivery ids.
    async fn send_tests(&self, count: usize) -> HashSet<String> {
        let mut accepted = HashSet::new();
        for _ in 0..count {
            accepted.insert(send_test(&self.server.api, &self.webhook).await.expect("a test event accepted"));
        }
        accepted
    }

    /// How many times each delivery reached the receiver.
    fn arrivals(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.receiver.received() {
            *counts.entry(request.header("x-posthorn-delivery").to_string()).or_default() += 1;
        }
        counts
    }

    /// Waits until every delivery of `expected` reached the receiver and none of them is still
    /// pending on the server (each was answered with a 2xx it recorded), or panics after
    /// `timeout` saying what is missing. (A request cut short by a crash may have left a
    /// delivery whose message never reached the queue; the outbox sweep sends it minutes later.)
    async fn wait_for_deliveries(&self, expected: &HashSet<String>, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived: HashSet<String> = self.arrivals().into_keys().collect();
            let missing: Vec<&String> = expected.difference(&arrived).collect();
            let pending: Vec<String> = self
                .deliveries("?status=pending&limit=100")
                .await
                .iter()
                .map(|delivery| delivery["id"].as_str().unwrap().to_string())
                .filter(|id| expected.contains(id))
                .collect();
            if missing.is_empty() && pending.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after {timeout:?}, of {} accepted events {} never arrived ({missing:?}) and {} are pending",
                expected.len(),
                missing.len(),
                pending.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until every delivery of `ids` has had an attempt, or panics after `timeout`.
    async fn wait_for_first_attempts(&self, ids: &HashSet<String>, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let attempted = self
                .deliveries("?limit=100")
                .await
                .into_iter()
                .filter(|delivery| ids.contains(delivery["id"].as_str().unwrap()))
                .filter(|delivery| delivery["attempt_count"].as_u64().unwrap() > 0)
                .count();
            if attempted == ids.len() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{attempted} of {} attempted within {timeout:?}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoint's deliveries as the API lists them with `query` (one page).
    async fn deliveries(&self, query: &str) -> Vec<Value> {
        let path = format!("/v1/webhooks/{}/deliveries{query}", self.webhook);
        let answer = self.server.api.call(Method::GET, &path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body["data"].as_array().expect("a list").clone()
    }
}

/// Sends a `webhook.test` event to the endpoint; its delivery id when the server accepted it.
async fn send_test(api: &ApiClient, webhook: &str) -> Option<String> {
    accepted_delivery(&api.try_call(Method::POST, &format!("/v1/webhooks/{webhook}/test"), None).await?)
}

fn accepted_delivery(answer: &Answer) -> Option<String> {
    (answer.status == StatusCode::ACCEPTED).then(|| answer.body["data"]["delivery_id"].as_str().unwrap().to_string())
}

/// Test events sent over several connections at once, counting those accepted so far.
struct Burst {
    accepted: Arc<AtomicUsize>,
    sending: tokio::task::JoinHandle<Vec<Option<String>>>,
}

impl Burst {
    /// Starts sending `count` test events over `concurrency` connections.
    fn start(api: &ApiClient, webhook: &str, count: usize, concurrency: usize) -> Self {
        let (remaining, accepted) = (Arc::new(AtomicUsize::new(count)), Arc::new(AtomicUsize::new(0)));
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (api, webhook, remaining, accepted) =
                (api.clone(), webhook.to_string(), remaining.clone(), accepted.clone());
            senders.spawn(async move {
                let mut outcomes = Vec::new();
                while remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok() {
                    let outcome = send_test(&api, &webhook).await;
                    if outcome.is_some() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    } else {
                        // The server is down: back off a little, as a client would.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    outcomes.push(outcome);
                }
                outcomes
            });
        }
        Self { accepted, sending: tokio::spawn(async move { senders.join_all().await.concat() }) }
    }

    /// Waits until `count` events were accepted, or panics after `timeout`.
    async fn wait_for_accepted(&self, count: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.accepted.load(Ordering::SeqCst) < count {
            assert!(tokio::time::Instant::now() < deadline, "fewer than {count} events accepted within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Each event's delivery id, or `None` where the server did not accept it (it was down).
    async fn outcomes(self) -> Vec<Option<String>> {
        self.sending.await.expect("the burst's senders")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_burst_loses_no_accepted_event() {
    const BURST: usize = 300;
    // Slow answers keep the worker's slots full, so the kill finds deliveries in flight.
    let slow = std::iter::repeat_n(Reply::Hang(Duration::from_millis(300)), BURST);
    let mut stack = Stack::start(&[], slow).await;

    let burst = Burst::start(&stack.server.api, &stack.webhook, BURST, 8);
    burst.wait_for_accepted(BURST / 3, Duration::from_secs(60)).await;
    stack.server.kill();
    stack.server.restart();
    let outcomes = burst.outcomes().await;

    let accepted: HashSet<String> = outcomes.iter().flatten().cloned().collect();
    assert!(accepted.len() >= BURST / 3 && accepted.len() < BURST, "{} of {BURST} accepted", accepted.len());
    stack.wait_for_deliveries(&accepted, CRASH_RECOVERY + Duration::from_secs(15)).await;
    let duplicates: usize = stack.arrivals().values().map(|count| count - 1).sum();
    assert!(duplicates <= DELIVERIES_IN_FLIGHT, "{duplicates} duplicates, more than the in-flight limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_deliveries_and_keeps_the_rest_queued() {
    // The first deliveries take a second to answer, so SIGTERM finds them in flight.
    let mut stack = Stack::start(&[], std::iter::repeat_n(Reply::Hang(Duration::from_secs(1)), 5)).await;
    let accepted = stack.send_tests(30).await;
    stack.receiver.wait_for(1, Duration::from_secs(10)).await;

    let status = stack.server.terminate(Duration::from_secs(15));
    assert!(status.success(), "exit status after SIGTERM: {status}");
    stack.server.restart();

    stack.wait_for_deliveries(&accepted, Duration::from_secs(20)).await;
    let repeated: Vec<(String, usize)> = stack.arrivals().into_iter().filter(|(_, count)| *count > 1).collect();
    assert!(repeated.is_empty(), "a graceful stop re-sent deliveries: {repeated:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_everything_through_the_retry_schedule() {
    let mut stack = Stack::start(&[("POSTHORN_WEBHOOK_RETRY_SCHEDULE", "0,2,4,8,16")], []).await;

    stack.receiver.stop();
    let accepted = stack.send_tests(20).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack.receiver.resume().await;

    stack.wait_for_deliveries(&accepted, Duration::from_secs(30)).await;
    for delivery in stack.deliveries("?limit=100").await {
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        let attempts = delivery["attempt_count"].as_u64().unwrap();
        assert!(attempts >= 2, "delivered on a retry, after refused attempts: {delivery}");
    }
}

/// Another process's write lock on a SQLite file, held until dropped (then rolled back).
struct StoreLock(rusqlite::Connection);

impl StoreLock {
    fn hold(path: &Path) -> Self {
        let connection = rusqlite::Connection::open(path).expect("opening the dev server's store");
        connection.busy_timeout(Duration::from_secs(5)).unwrap();
        connection.execute_batch("BEGIN EXCLUSIVE").expect("taking the store's write lock");
        Self(connection)
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_answers_503_and_the_backlog_drains_afterwards() {
    /// Well over the store's 5 s busy timeout, so the first write waiting for it gives up.
    const LOCK_HELD: Duration = Duration::from_secs(9);
    // Retries come due after the lock, so the requests alone wait on it.
    let mut stack = Stack::start(&[("POSTHORN_WEBHOOK_RETRY_SCHEDULE", "0,12,12,12")], []).await;
    let mut accepted = stack.send_tests(3).await;
    stack.wait_for_deliveries(&accepted, Duration::from_secs(10)).await;
    // A backlog: deliveries whose first attempt failed, waiting for their retry.
    stack.receiver.stop();
    let backlog = stack.send_tests(5).await;
    stack.wait_for_first_attempts(&backlog, Duration::from_secs(10)).await;
    accepted.extend(backlog);

    let lock = StoreLock::hold(&stack.server.store_path());
    let mut during = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let (api, path) = (stack.server.api.clone(), format!("/v1/webhooks/{}/test", stack.webhook));
        during.spawn(async move { api.call(Method::POST, &path, None).await });
    }
    tokio::time::sleep(LOCK_HELD).await;
    drop(lock);
    let answers = during.join_all().await;
    stack.receiver.resume().await;

    let refused: Vec<&Answer> = answers.iter().filter(|answer| answer.status != StatusCode::ACCEPTED).collect();
    assert!(!refused.is_empty(), "no request waited out the lock: {answers:?}");
    for answer in &refused {
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", answer.body);
        let error = answer.body["error"].as_str().unwrap_or_else(|| panic!("not a JSON error: {:?}", answer.body));
        assert!(error.contains("store is busy"), "{error}");
    }
    accepted.extend(answers.iter().filter_map(accepted_delivery));
    accepted.extend(stack.send_tests(3).await);

    stack.wait_for_deliveries(&accepted, Duration::from_secs(30)).await;
    let listed: HashSet<String> = stack
        .deliveries("?limit=100")
        .await
        .iter()
        .map(|delivery| delivery["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, accepted, "a refused request left a delivery behind, or an accepted one is missing");
}
