//! The per-function table: the size of the binary SAM deploys (arm64, built by `cargo lambda
//! build --release --arm64`, as `scripts/bench` does), and cold start to the first answered
//! invocation and peak RSS of the native build, each function started [`RUNS`] times on two
//! backends — the embedded SQLite store and queue, and the production DynamoDB and SQS adapters
//! against the moto server that `scripts/bench` starts (so the AWS SDK's configuration and first
//! requests are part of the measurement, as on Lambda).

use std::path::{Path, PathBuf};
use std::time::Duration;

use posthorn::adapters::dynamo::DynamoStore;
use posthorn::adapters::sqlite::SqliteStore;
use posthorn::adapters::sqs::SqsQueue;
use posthorn::model::automations::{Automation, PublishMode};
use posthorn::model::crypto::{EncryptionKey, SecretBox};
use posthorn::model::ids::AutomationId;
use posthorn::ports::store::Store;
use posthorn::services::connections::create_sandbox_channels;
use posthorn::services::workspaces::create_workspace_with_key;
use posthorn_testkit::aws;
use time::OffsetDateTime;

use crate::cold_start::{Launch, measure};

/// Each function, and the events/ file it is cold-started with. A function added to the
/// workspace gets a line here.
const FUNCTIONS: &[(&str, &str)] = &[
    ("webhooks", "webhooks/list.json"),
    ("posts", "posts/list.json"),
    ("deliver-webhooks", "deliver-webhooks/batch.json"),
    ("process-queue", "process-queue/schedule.json"),
    ("automations", "automations/list.json"),
    ("generate-content", "generate-content/generate.json"),
    ("text-assist", "text-assist/improve.json"),
    ("media-assist", "media-assist/generate.json"),
    ("sync-post-metrics", "sync-post-metrics/schedule.json"),
    ("connect", "connect/authorize-url.json"),
    ("sync", "sync/sync.json"),
    ("import-channels", "import-channels/import.json"),
    ("connections", "connections/list.json"),
    ("inbox", "inbox/list.json"),
    ("sync-inbox", "sync-inbox/schedule.json"),
    ("platform-webhooks", "platform-webhooks/meta-verify.json"),
    ("api-keys", "api-keys/list.json"),
];
const RUNS: usize = 5;
/// The placeholders of the events that name seeded records: the API key, the connection that sync
/// and import-channels work on, and the automation generate-content runs.
const API_KEY_PLACEHOLDER: &str = "phk_replace_with_your_api_key";
const CONNECTION_PLACEHOLDER: &str = "acc_01JD8Z3QK5V7Y2W9X4T6R8P0AC";
const AUTOMATION_PLACEHOLDER: &str = "aut_01JD8Z3QK5V7Y2W9X4T6R8P0AT";

/// One backend's environment, and the records seeded in it.
struct Backend {
    env: Vec<(String, String)>,
    seeded: Seeded,
}

/// A workspace's API key, its sandbox connection and an automation posting to its channel.
struct Seeded {
    api_key: String,
    connection_id: String,
    automation_id: String,
}

impl Seeded {
    fn fill_in(&self, event: &str) -> String {
        event
            .replace(API_KEY_PLACEHOLDER, &self.api_key)
            .replace(CONNECTION_PLACEHOLDER, &self.connection_id)
            .replace(AUTOMATION_PLACEHOLDER, &self.automation_id)
    }
}

/// One function's row.
pub struct Row {
    pub function: &'static str,
    /// Of the arm64 binary SAM deploys.
    pub deployed_size_bytes: u64,
    pub sqlite: Measured,
    pub aws: Measured,
}

/// The median initialisation and cold start of [`RUNS`], the largest peak RSS, and the first
/// run's answer.
pub struct Measured {
    pub init: Duration,
    pub cold_start: Duration,
    pub peak_rss_kib: u64,
    pub answer: String,
}

pub async fn measure_all(scratch: &Path) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let binaries = std::env::current_exe()?.parent().ok_or("the bench binary has no folder")?.to_path_buf();
    let deployed = binaries.join("../lambda");
    let key = EncryptionKey::generate();
    let sqlite = sqlite_backend(scratch, &key).await?;
    let aws = aws_backend(&key).await?;
    let mut rows = Vec::new();
    for (function, event) in FUNCTIONS {
        let binary = binaries.join(function);
        let bootstrap = deployed.join(function).join("bootstrap");
        let deployed_size_bytes =
            std::fs::metadata(&bootstrap).map_err(|e| format!("{}: {e}", bootstrap.display()))?.len();
        let event = std::fs::read_to_string(events_dir().join(event))?;
        let log = scratch.join(format!("{function}.log"));
        let sqlite = measure_runs(&binary, &event, &sqlite, &log).await?;
        let aws = measure_runs(&binary, &event, &aws, &log).await?;
        rows.push(Row { function, deployed_size_bytes, sqlite, aws });
    }
    Ok(rows)
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

async fn measure_runs(binary: &Path, event: &str, backend: &Backend, log: &Path) -> Result<Measured, String> {
    let launch = Launch { binary, event: backend.seeded.fill_in(event), env: backend.env.clone() };
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        runs.push(measure(&launch, log).await?);
    }
    let answer = runs[0].answer.clone();
    let peak_rss_kib = runs.iter().map(|run| run.peak_rss_kib).max().unwrap_or(0);
    Ok(Measured {
        init: median(runs.iter().map(|run| run.init).collect()),
        cold_start: median(runs.iter().map(|run| run.elapsed).collect()),
        peak_rss_kib,
        answer,
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn common_env(key: &EncryptionKey) -> Vec<(String, String)> {
    vec![("POSTHORN_ENCRYPTION_KEY".into(), key.to_base64()), ("RUST_LOG".into(), "info".into())]
}

/// A data folder with a SQLite store holding one workspace.
async fn sqlite_backend(scratch: &Path, key: &EncryptionKey) -> Result<Backend, Box<dyn std::error::Error>> {
    let data_dir = scratch.join("functions");
    std::fs::create_dir_all(&data_dir)?;
    let store = SqliteStore::open(&data_dir.join("posthorn.db"))?;
    let seeded = seed(&store, key).await?;
    let mut env = common_env(key);
    env.push(("POSTHORN_DATA_DIR".into(), data_dir.to_string_lossy().into()));
    Ok(Backend { env, seeded })
}

/// A DynamoDB table holding one workspace and a delivery queue, on the moto server.
async fn aws_backend(key: &EncryptionKey) -> Result<Backend, Box<dyn std::error::Error>> {
    let table = aws::unique_name("posthorn-bench");
    let store = DynamoStore::new(aws::dynamodb().await, &table);
    store.ensure_table().await?;
    let seeded = seed(&store, key).await?;
    let queue = aws::unique_name("posthorn-bench-deliveries");
    SqsQueue::ensure(aws::sqs().await, &queue, 10).await?;
    let queue_url = aws::sqs().await.get_queue_url().queue_name(&queue).send().await?.queue_url.unwrap_or_default();
    let mut env = common_env(key);
    env.extend(
        [
            ("POSTHORN_STORE", "dynamodb"),
            ("POSTHORN_TABLE", &table),
            ("POSTHORN_QUEUE", "sqs"),
            ("POSTHORN_DELIVERY_QUEUE_URL", &queue_url),
            ("AWS_ENDPOINT_URL", &aws::endpoint()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    Ok(Backend { env, seeded })
}

/// A workspace with an API key, a sandbox connection (its tokens sealed with the key the
/// functions are given) with one channel, and an automation that drafts posts for it from its
/// instructions alone.
async fn seed(store: &dyn Store, key: &EncryptionKey) -> posthorn::model::error::Result<Seeded> {
    let now = OffsetDateTime::now_utc();
    let (workspace, api_key) = create_workspace_with_key(store, "Bench", now).await?;
    let channels = create_sandbox_channels(store, &SecretBox::new(key), workspace.id, 1, now).await?;
    let automation = Automation {
        id: AutomationId::new(),
        workspace_id: workspace.id,
        name: "Bench digest".into(),
        instructions: "Announce the benchmark.".into(),
        tone: None,
        channel_ids: vec![channels[0].id],
        source_ids: Vec::new(),
        schedule: None,
        publish: PublishMode::Draft,
        next_run_at: None,
        last_slot: None,
        last_run_id: None,
        version: 0,
        created_at: now,
        updated_at: now,
    };
    store.create_automation(&automation).await?;
    Ok(Seeded {
        api_key,
        connection_id: channels[0].connection_id.to_string(),
        automation_id: automation.id.to_string(),
    })
}
