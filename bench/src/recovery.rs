//! The recovery table: a receiver that was down while 10,000 events were emitted (each delivery
//! failed, the endpoint was disabled), back up; one recovery sends them all again through the
//! dev server's worker, its runs advanced every second as process-queue would. It reports how
//! long that takes at the configured rate, the rate the receiver saw, and the most requests the
//! receiver had open at once (each takes it 10 ms).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use posthorn::adapters::outbound::StaticResolver;
use posthorn::app::AppState;
use posthorn::model::webhooks::{
    EventFilter, NewEndpoint, RecoverySettings, RecoveryState, RetrySchedule, WebhookEndpoint, WebhookSecret,
};
use posthorn::services::webhooks::recovery::start;
use posthorn::services::workspaces::create_workspace_with_key;

use crate::{bench_state, emit_all};

/// Sends a second the recovery is configured with.
pub const RATE: u32 = 200;
const DELIVERIES_IN_FLIGHT: usize = 64;
/// How long the receiver takes over each request.
const RECEIVER_WORK: Duration = Duration::from_millis(10);

/// One row of the table.
pub struct Row {
    pub metric: String,
    pub value: String,
}

/// A plain-HTTP receiver on loopback that answers 503 while down, and 200 after 10 ms of work
/// once up, counting what it got and the most requests it had open at once.
#[derive(Default)]
struct Gauge {
    up: AtomicBool,
    open: AtomicUsize,
    peak: AtomicUsize,
    delivered: AtomicUsize,
    first: std::sync::Mutex<Option<Instant>>,
    last: std::sync::Mutex<Option<Instant>>,
}

async fn receive(gauge: Arc<Gauge>) -> StatusCode {
    if !gauge.up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let open = gauge.open.fetch_add(1, Ordering::SeqCst) + 1;
    gauge.peak.fetch_max(open, Ordering::SeqCst);
    let now = Instant::now();
    gauge.first.lock().expect("first lock").get_or_insert(now);
    tokio::time::sleep(RECEIVER_WORK).await;
    *gauge.last.lock().expect("last lock") = Some(Instant::now());
    gauge.delivered.fetch_add(1, Ordering::SeqCst);
    gauge.open.fetch_sub(1, Ordering::SeqCst);
    StatusCode::OK
}

async fn serve(gauge: Arc<Gauge>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = Router::new().route("/hooks", post(move || receive(gauge.clone())));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

pub async fn measure(data_dir: &Path, events: usize) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let mut state = bench_state(data_dir, StaticResolver::default(), true)?;
    state.retries = RetrySchedule::parse("0").expect("one attempt");
    state.recovery = RecoverySettings { rate_per_second: RATE, ..RecoverySettings::default() };
    let state = Arc::new(state);
    let gauge = Arc::new(Gauge::default());
    let address = serve(gauge.clone()).await?;
    let workspace = create_workspace_with_key(state.store.as_ref(), "Bench", state.clock.now()).await?.0;
    let secret = WebhookSecret::generate();
    let endpoint = new_endpoint(&state, workspace.id, format!("http://{address}/hooks"), &secret);
    state.store.create_webhook(&endpoint).await?;

    // The outage: every delivery fails at its one attempt, and the endpoint is disabled.
    let since = state.clock.now() - time::Duration::seconds(1);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(posthorn::jobs::run_local(state.clone(), DELIVERIES_IN_FLIGHT, stopping));
    emit_all(&state, workspace.id, events).await?;
    wait_until_failed(&state, &endpoint, events).await?;

    gauge.up.store(true, Ordering::SeqCst);
    let disabled = state.store.get_webhook(workspace.id, endpoint.id).await?.ok_or("endpoint gone")?;
    let started = Instant::now();
    let recovery = start(&state.recovering(), &disabled, since, state.clock.now(), true).await?;
    let finished = loop {
        posthorn::jobs::recover_endpoints(&state, Instant::now() + Duration::from_secs(50)).await;
        let now = state.store.get_recovery(workspace.id, recovery.id).await?.ok_or("recovery gone")?;
        if now.state != RecoveryState::Running {
            break now;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let took = started.elapsed();
    stop.send(true)?;
    worker.await?;

    let first = gauge.first.lock().expect("first lock").ok_or("nothing received")?;
    let last = gauge.last.lock().expect("last lock").ok_or("nothing received")?;
    let seen_rate = gauge.delivered.load(Ordering::SeqCst) as f64 / (last - first).as_secs_f64();
    Ok(vec![
        row("missed events recovered (delivered / failed)", format!("{} / {}", finished.delivered, finished.failed)),
        row("deliveries the receiver got", gauge.delivered.load(Ordering::SeqCst).to_string()),
        row(&format!("time to recover them all at {RATE}/s"), format!("{:.1} s", took.as_secs_f64())),
        row("sends per second the receiver saw", format!("{seen_rate:.0}")),
        row(
            &format!("peak receiver concurrency (each request takes it {} ms)", RECEIVER_WORK.as_millis()),
            gauge.peak.load(Ordering::SeqCst).to_string(),
        ),
    ])
}

fn row(metric: &str, value: String) -> Row {
    Row { metric: metric.to_string(), value }
}

fn new_endpoint(
    state: &AppState,
    workspace_id: posthorn::model::ids::WorkspaceId,
    url: String,
    secret: &WebhookSecret,
) -> WebhookEndpoint {
    let new = NewEndpoint { workspace_id, name: Some("recovery bench".into()), url, events: EventFilter::All, secret };
    WebhookEndpoint::new(new, &state.secrets, state.clock.now())
}

/// Waits until every one of the endpoint's `count` deliveries has failed (the worker gives up on
/// those queued after it was disabled).
async fn wait_until_failed(
    state: &AppState,
    endpoint: &WebhookEndpoint,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let from = posthorn::model::ids::DeliveryId::lowest_at(endpoint.created_at - time::Duration::seconds(1));
    loop {
        let failed = state.store.failed_deliveries(endpoint.workspace_id, endpoint.id, from, count).await?.len();
        if failed == count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {failed} of {count} deliveries failed").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
