//! `./scripts/bench [EVENTS] [TABLE…]`: prints five tables (or the named ones: deliveries,
//! functions, crud, inbox, recovery).
//!
//! 1. Webhook delivery: the dev server's delivery worker (SQLite store and queue in a temporary
//!    folder) against an HTTPS receiver on loopback. It drains a backlog of events to measure
//!    throughput and CPU, then emits at a steady pace to measure emit-to-first-attempt latency,
//!    with the CPU share of signing and peak RSS.
//! 2. Functions: each Lambda binary's size, cold start and peak RSS ([`functions`]).
//! 3. Webhooks CRUD latency on the embedded store ([`crud`]).
//! 4. The inbox: interactions ingested by sync-inbox and their events delivered ([`inbox`]).
//! 5. Recovery: `EVENTS` missed events sent again by one recovery ([`recovery`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use posthorn::adapters::clock::SystemClock;
use posthorn::adapters::outbound::{OutboundClient, StaticResolver, UrlGuard};
use posthorn::adapters::sqlite::SqliteQueue;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::app::AppState;
use posthorn::model::crypto::{EncryptionKey, SecretBox};
use posthorn::model::ids::{DeliveryId, EventId, WorkspaceId};
use posthorn::model::webhooks::{EventFilter, EventType, NewEndpoint, RetrySchedule, WebhookEndpoint, WebhookSecret};
use posthorn::services::webhooks::outbox;
use posthorn::services::webhooks::send::{Outgoing, signed_headers};
use posthorn::services::workspaces::create_workspace_with_key;
use posthorn_testkit::receiver::{Receiver, test_ca};
use serde_json::json;

mod cold_start;
mod crud;
mod functions;
mod inbox;
mod recovery;

const DELIVERIES_IN_FLIGHT: usize = 64;
const EMITTERS: usize = 8;
/// Events per second in the latency run.
const PACE: u64 = 200;
/// Create-get-list-update-delete rounds in the CRUD run.
const CRUD_ROUNDS: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(10_000);
    let scratch = std::env::temp_dir().join(format!("posthorn-bench-{}", EventId::new()));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{cpus} CPUs; load average at start (1, 5, 15 min): {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(", ")
    );
    let chosen: Vec<String> = std::env::args().skip(2).collect();
    let runs = |table: &str| chosen.is_empty() || chosen.iter().any(|name| name == table);
    if runs("deliveries") {
        deliveries(&scratch.join("deliveries"), events).await?;
    }
    if runs("functions") {
        print_functions(&functions::measure_all(&scratch).await?);
    }
    if runs("crud") {
        print_crud(&crud::measure(&scratch, CRUD_ROUNDS).await?);
    }
    if runs("inbox") {
        print_inbox(&inbox::measure(&scratch.join("inbox")).await?);
    }
    if runs("recovery") {
        print_recovery(events, &recovery::measure(&scratch.join("recovery"), events).await?);
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// The webhook delivery table (the module doc's first).
async fn deliveries(data_dir: &std::path::Path, events: usize) -> Result<(), Box<dyn std::error::Error>> {
    let state = Arc::new(bench_state(data_dir, StaticResolver::default(), true)?);
    let receiver = Receiver::start().await;
    let workspace = create_workspace_with_key(state.store.as_ref(), "Bench", state.clock.now()).await?.0;
    let secret = WebhookSecret::generate();
    state.store.create_webhook(&endpoint(&state, workspace.id, &receiver, &secret)).await?;

    // Throughput: a backlog of `events` emitted first, then drained by the worker.
    let emit_started = Instant::now();
    emit_all(&state, workspace.id, events).await?;
    let emit_rate = events as f64 / emit_started.elapsed().as_secs_f64();
    let cpu_before = process_cpu();
    let drain_started = Instant::now();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(posthorn::jobs::run_local(state.clone(), DELIVERIES_IN_FLIGHT, stopping));
    let received = receiver.wait_for(events, Duration::from_secs(300)).await;
    let drain_time = received.iter().map(|request| request.at).max().unwrap_or(drain_started) - drain_started;
    let cpu_used = process_cpu() - cpu_before;
    let throughput = events as f64 / drain_time.as_secs_f64();

    // Latency: events emitted at a steady pace while the worker runs.
    let paced = (events / 10).max(100);
    let emitted = emit_paced(&state, workspace.id, paced, PACE).await?;
    let all = receiver.wait_for(events + paced, Duration::from_secs(120)).await;
    let mut latencies: Vec<Duration> = all[events..]
        .iter()
        .filter_map(|request| {
            let id = request.headers.get("webhook-id")?.to_str().ok()?;
            Some(request.at - *emitted.get(id)?)
        })
        .collect();
    latencies.sort();
    stop.send(true)?;
    worker.await?;
    let signing_share = signing_cpu(&secret, events).as_secs_f64() / cpu_used.as_secs_f64();

    println!(
        "\nWebhook delivery through the dev-server worker ({DELIVERIES_IN_FLIGHT} in flight), SQLite store and queue, HTTPS receiver on loopback (same process)\n"
    );
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!("| deliveries/s (draining {events} queued events) | {throughput:.0} | ≥ 2,000 |");
    println!("| CPU per delivery (worker + receiver) | {:.0} µs | |", cpu_used.as_secs_f64() * 1e6 / events as f64);
    println!("| CPU share of signing | {:.2} % | |", signing_share * 100.0);
    println!("| emit → first attempt p50 ({paced} events at {PACE}/s) | {:.1} ms | |", percentile(&latencies, 0.50));
    println!("| emit → first attempt p99 | {:.1} ms | |", percentile(&latencies, 0.99));
    println!("| emits/s (outbox write + enqueue) | {emit_rate:.0} | |");
    println!(
        "| peak RSS (worker + receiver) | {:.1} MiB | |",
        vm_hwm_kib(std::path::Path::new("/proc/self/status")) as f64 / 1024.0
    );
    Ok(())
}

fn print_functions(rows: &[functions::Row]) {
    println!(
        "\nFunctions. Size: the stripped arm64 binary SAM deploys (`cargo lambda build --release --arm64`). The rest: the native release build (x86_64 here, with the embedded store added), each started 5 times against a local Lambda Runtime API. init: spawn to the first `next` call; cold start: spawn to the first answer, so it includes the invocation's own work, which on moto (a Python server) costs a few ms per call: generate-content and import-channels make several writes (medians); peak RSS: the largest\n"
    );
    println!(
        "| function | deployed size (arm64) | SQLite: init / cold start | SQLite: peak RSS | DynamoDB + SQS (moto): init / cold start | DynamoDB + SQS: peak RSS | first answer |"
    );
    println!("|---|---|---|---|---|---|---|");
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    for row in rows {
        println!(
            "| {} | {:.2} MB | {:.1} / {:.1} ms | {:.1} MB | {:.1} / {:.1} ms | {:.1} MB | {} / {} |",
            row.function,
            row.deployed_size_bytes as f64 / 1e6,
            ms(row.sqlite.init),
            ms(row.sqlite.cold_start),
            row.sqlite.peak_rss_kib as f64 / 1024.0,
            ms(row.aws.init),
            ms(row.aws.cold_start),
            row.aws.peak_rss_kib as f64 / 1024.0,
            row.sqlite.answer,
            row.aws.answer,
        );
    }
    println!("| target | ≤ 8 MB | ≤ 30 ms cold start | ≤ 30 MB | ≤ 30 ms cold start | ≤ 30 MB | |");
}

fn print_crud(operations: &[crud::Latencies]) {
    println!(
        "\nWebhooks CRUD through the webhooks function's router, in-process, SQLite file store ({CRUD_ROUNDS} rounds)\n"
    );
    println!("| operation | p50 | p99 | target |");
    println!("|---|---|---|---|");
    for operation in operations {
        println!(
            "| {} | {:.3} ms | {:.3} ms | p99 ≤ 2 ms |",
            operation.operation,
            percentile(&operation.sorted, 0.50),
            percentile(&operation.sorted, 0.99)
        );
    }
}

fn print_inbox(rows: &[inbox::Row]) {
    println!(
        "\nThe inbox: one sync-inbox run over {} Mastodon channels with {} new mentions each (a local fake instance), SQLite store and queue, the delivery worker sending to an HTTPS receiver meanwhile\n",
        inbox::CHANNELS,
        inbox::PER_CHANNEL
    );
    println!("| metric | value | target |");
    println!("|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} |", row.metric, row.value, row.target);
    }
}

fn print_recovery(events: usize, rows: &[recovery::Row]) {
    println!(
        "\nRecovery: {events} events missed by a receiver that was down (each delivery failed, the endpoint disabled), sent again by one recovery at {}/s (`POSTHORN_RECOVERY_RATE`), advanced every second; dev-server worker, SQLite store and queue, HTTP receiver on loopback\n",
        recovery::RATE
    );
    println!("| metric | value |");
    println!("|---|---|");
    for row in rows {
        println!("| {} | {} |", row.metric, row.value);
    }
}

/// The app state of the bench runs: a SQLite store and queue under `data_dir`, the given
/// resolver, and an outbound client that trusts the test receiver's CA.
fn bench_state(
    data_dir: &std::path::Path,
    resolver: StaticResolver,
    allow_private_urls: bool,
) -> posthorn::model::error::Result<AppState> {
    let store = data_dir.join("posthorn.db");
    let queue = data_dir.join("queue.db");
    let guard = UrlGuard::new(Arc::new(resolver), allow_private_urls);
    let outbound = OutboundClient::new(guard, &[test_ca().ca_pem.clone().into_bytes()])?;
    Ok(AppState {
        store: Arc::new(SqliteStore::open(&store)?),
        queue: Arc::new(SqliteQueue::open(&queue, "deliveries", 10)?),
        clock: Arc::new(SystemClock),
        secrets: SecretBox::new(&EncryptionKey::generate()),
        platforms: posthorn::adapters::platforms::PlatformRegistry::standard(&outbound),
        ai: Arc::new(posthorn::adapters::ai::OfflineProvider),
        outbound,
        retries: RetrySchedule::default(),
        webhook_limits: posthorn::model::webhooks::WebhookLimits::default(),
        recovery: posthorn::model::webhooks::RecoverySettings::default(),
        inbox: posthorn::services::inbox::InboxSettings::default(),
        push: posthorn::config::PushSecrets::default(),
        wake_scheduler: Arc::default(),
        // The bench measures throughput, which per-key limits would cap.
        rate_limits: posthorn::model::usage::RateLimits { posts_per_minute: 0, ai_per_minute: 0 },
    })
}

fn endpoint(
    state: &AppState,
    workspace_id: WorkspaceId,
    receiver: &Receiver,
    secret: &WebhookSecret,
) -> WebhookEndpoint {
    let new = NewEndpoint {
        workspace_id,
        name: Some("bench".into()),
        url: receiver.url("/bench"),
        events: EventFilter::All,
        secret,
    };
    WebhookEndpoint::new(new, &state.secrets, state.clock.now())
}

fn bench_data() -> serde_json::Value {
    json!({"post_id": "post_01JD8Z3QK5V7Y2W9X4T6R8P0MN", "status": "published", "published": 1, "failed": 0, "total": 1})
}

/// Emits `events` events at `per_second`; returns each event's emit time by id.
async fn emit_paced(
    state: &Arc<AppState>,
    workspace_id: WorkspaceId,
    events: usize,
    per_second: u64,
) -> posthorn::model::error::Result<HashMap<String, Instant>> {
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / per_second));
    let mut emitted = HashMap::with_capacity(events);
    for _ in 0..events {
        ticks.tick().await;
        let at = Instant::now();
        let event = outbox::emit(&state.outbox(), workspace_id, EventType::PostPublished, bench_data()).await?;
        emitted.insert(event.id.to_string(), at);
    }
    Ok(emitted)
}

/// Emits `events` events from several tasks as fast as the store takes them.
async fn emit_all(
    state: &Arc<AppState>,
    workspace_id: WorkspaceId,
    events: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut emitters = tokio::task::JoinSet::new();
    for emitter in 0..EMITTERS {
        let state = state.clone();
        let count = events / EMITTERS + usize::from(emitter < events % EMITTERS);
        emitters.spawn(async move {
            for _ in 0..count {
                outbox::emit(&state.outbox(), workspace_id, EventType::PostPublished, bench_data()).await?;
            }
            Ok::<_, posthorn::model::error::Error>(())
        });
    }
    for emitted in emitters.join_all().await {
        emitted?;
    }
    Ok(())
}

/// CPU time that signing `count` deliveries takes on its own (both signatures each).
fn signing_cpu(secret: &WebhookSecret, count: usize) -> Duration {
    let body = json!({"id": EventId::new(), "event": "post.published", "timestamp": "2026-03-23T18:00:00Z",
        "data": {"post_id": "post_01JD8Z3QK5V7Y2W9X4T6R8P0MN", "published": 1, "failed": 0, "total": 1}})
    .to_string();
    let outgoing = Outgoing {
        event_id: EventId::new(),
        event_type: EventType::PostPublished,
        delivery_id: DeliveryId::new(),
        body: &body,
    };
    let before = process_cpu();
    for _ in 0..count {
        std::hint::black_box(signed_headers(&outgoing, std::slice::from_ref(secret), 1_700_000_000));
    }
    process_cpu() - before
}

fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted.get(index).map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
}

/// User plus system CPU time of this process, from /proc/self/stat.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

/// The high-water mark of resident memory, from a /proc/<pid>/status file.
fn vm_hwm_kib(status: &std::path::Path) -> u64 {
    let status = std::fs::read_to_string(status).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
