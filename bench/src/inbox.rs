//! The inbox table: one sync-inbox run over 100 Mastodon channels whose instance (a local fake
//! answering as Mastodon documents `GET /api/v1/notifications`, 40 a page from `min_id`) holds
//! 100 new mentions each, while the delivery worker sends their events to an HTTPS receiver.
//! It reports how fast interactions are ingested (stored, deduplicated, their events and
//! deliveries written and queued), and the latency from the page that carried a mention being
//! served to its event reaching the receiver. A second run over the same notifications measures
//! recognising items already stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posthorn::adapters::outbound::StaticResolver;
use posthorn::model::channels::{Channel, ChannelKind};
use posthorn::model::connections::Connection;
use posthorn::model::ids::{ChannelId, WorkspaceId};
use posthorn::model::inbox::{InboxState, SourceCursor};
use posthorn::model::platforms::Platform;
use posthorn::model::webhooks::WebhookSecret;
use posthorn::ports::store::{Condition, Record, Write};
use posthorn::services::inbox::{InboxReport, InboxSettings, sync_inbox};
use posthorn::services::workspaces::create_workspace_with_key;
use posthorn_testkit::receiver::Receiver;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{bench_state, endpoint, percentile};

pub const CHANNELS: usize = 100;
pub const PER_CHANNEL: usize = 100;
const DELIVERIES_IN_FLIGHT: usize = 64;

/// One row of the table.
pub struct Row {
    pub metric: String,
    pub value: String,
    pub target: &'static str,
}

/// Every channel's notifications, and when each status was first served in a page.
#[derive(Clone, Default)]
struct Instance {
    served: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Respond for Instance {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let channel: usize =
            request.url.path().trim_start_matches("/c").split('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let min_id: usize = query.get("min_id").and_then(|id| id.parse().ok()).unwrap_or(0);
        let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(40);
        let first = channel * PER_CHANNEL;
        let ids = (first + 1..=first + PER_CHANNEL).filter(|id| *id > min_id).take(limit);
        let mut page: Vec<Value> = ids.map(notification).collect();
        let now = Instant::now();
        let mut served = self.served.lock().expect("served lock");
        for item in &page {
            served.entry(item["status"]["id"].as_str().unwrap_or_default().to_string()).or_insert(now);
        }
        page.reverse();
        ResponseTemplate::new(200).set_body_json(page)
    }
}

fn notification(id: usize) -> Value {
    json!({
        "id": id.to_string(), "type": "mention", "created_at": "2026-03-23T18:04:00.000Z",
        "account": {"id": "109999", "username": "ada", "acct": "ada@mastodon.social", "display_name": "Ada",
            "avatar": "https://files.mastodon.social/avatars/ada.png"},
        "status": {"id": format!("s{id}"), "created_at": "2026-03-23T18:04:00.000Z", "in_reply_to_id": null,
            "in_reply_to_account_id": null, "visibility": "public",
            "content": "<p><span class=\"h-card\">@<span>posthorn</span></span> what a launch!</p>",
            "url": format!("https://mastodon.social/@ada/s{id}"), "media_attachments": []}
    })
}

pub async fn measure(data_dir: &std::path::Path) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let state = Arc::new(bench_state(data_dir, StaticResolver::default(), true)?);
    let fake = MockServer::start().await;
    let instance = Instance::default();
    Mock::given(wiremock::matchers::method("GET")).respond_with(instance.clone()).mount(&fake).await;
    let receiver = Receiver::start().await;
    let workspace = create_workspace_with_key(state.store.as_ref(), "Inbox bench", state.clock.now()).await?.0;
    state.store.create_webhook(&endpoint(&state, workspace.id, &receiver, &WebhookSecret::generate())).await?;
    for channel in 0..CHANNELS {
        watched_channel(&state, workspace.id, &format!("{}/c{channel}", fake.uri())).await?;
    }

    let (stop, stopping) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(posthorn::jobs::run_local(state.clone(), DELIVERIES_IN_FLIGHT, stopping));
    let settings = InboxSettings::default();
    let total = CHANNELS * PER_CHANNEL;
    let started = Instant::now();
    let first = sync_inbox(&state.accounts(), &settings, started + Duration::from_secs(300)).await?;
    let ingest = started.elapsed();
    let received = receiver.wait_for(total, Duration::from_secs(300)).await;
    let delivered = received.iter().map(|request| request.at).max().unwrap_or(started) - started;
    stop.send(true)?;
    worker.await?;

    let served = instance.served.lock().expect("served lock").clone();
    let mut latencies: Vec<Duration> = received
        .iter()
        .filter_map(|request| {
            let body: Value = serde_json::from_slice(&request.body).ok()?;
            Some(request.at - *served.get(body["data"]["platform_id"].as_str()?)?)
        })
        .collect();
    latencies.sort();

    let again = repoll(&state, &settings).await?;
    Ok(vec![
        row(format!("interactions ingested by one run ({CHANNELS} channels × {PER_CHANNEL})"), first.interactions, ""),
        row(
            "run time: stored, events and deliveries written and queued",
            format!("{:.2} s", ingest.as_secs_f64()),
            "< 10 s",
        ),
        row("interactions ingested/s", format!("{:.0}", total as f64 / ingest.as_secs_f64()), "≥ 1,000"),
        row("all events delivered after", format!("{:.2} s", delivered.as_secs_f64()), ""),
        row("page served → event delivered p50", format!("{:.0} ms", percentile(&latencies, 0.50)), ""),
        row("page served → event delivered p99", format!("{:.0} ms", percentile(&latencies, 0.99)), ""),
        row(
            "the same 10,000 polled again: recognised/s (no event)",
            format!("{:.0} ({} duplicates, {} new)", again.1, again.0.duplicates, again.0.interactions),
            "",
        ),
    ])
}

fn row(metric: impl Into<String>, value: impl ToString, target: &'static str) -> Row {
    Row { metric: metric.into(), value: value.to_string(), target }
}

/// Restarts every channel from the first notification and polls them all again.
async fn repoll(
    state: &posthorn::app::AppState,
    settings: &InboxSettings,
) -> Result<(InboxReport, f64), Box<dyn std::error::Error>> {
    let later = state.clock.now() + time::Duration::hours(1);
    let due = state.store.inbox_due(later, CHANNELS).await?;
    for mut inbox in due {
        let version = inbox.version;
        inbox.version += 1;
        inbox.sources.insert("notifications".into(), SourceCursor { cursor: Some("0".into()), next_at: None });
        inbox.next_poll_at = Some(state.clock.now());
        state.store.update_inbox_state(&inbox, version).await?;
    }
    let started = Instant::now();
    let report = sync_inbox(&state.accounts(), settings, started + Duration::from_secs(300)).await?;
    let rate = report.duplicates as f64 / started.elapsed().as_secs_f64();
    Ok((report, rate))
}

/// A Mastodon channel at `base_url`, watched and already polled once: its notifications from
/// the first on are new.
async fn watched_channel(
    state: &posthorn::app::AppState,
    workspace: WorkspaceId,
    base_url: &str,
) -> posthorn::model::error::Result<()> {
    let now = state.clock.now();
    let connection = Connection {
        base_url: base_url.into(),
        platform_user_id: "109876".into(),
        username: "posthorn".into(),
        ..Connection::new(workspace, Platform::Mastodon, state.secrets.seal("token"), now)
    };
    state.store.create_connection(&connection).await?;
    let channel = Channel {
        id: ChannelId::new(),
        workspace_id: workspace,
        connection_id: connection.id,
        platform: Platform::Mastodon,
        platform_channel_id: "109876".into(),
        name: "posthorn".into(),
        kind: ChannelKind::Profile,
        channel_token: None,
        created_at: now,
    };
    state.store.create_channel(&channel).await?;
    let mut inbox = InboxState::new(workspace, connection.id, channel.id, Platform::Mastodon, now);
    inbox.sources.insert("notifications".into(), SourceCursor { cursor: Some("0".into()), next_at: None });
    state.store.write(Write::Put(inbox.document()?, Condition::Absent)).await.map(drop)
}
