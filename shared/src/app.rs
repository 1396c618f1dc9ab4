//! The application state every handler and worker shares: the adapters behind each port, built
//! once per process from [`Config`].

use std::path::Path;
use std::sync::Arc;

use crate::adapters::clock::SystemClock;
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::outbound::{OutboundClient, SystemResolver, UrlGuard};
use crate::adapters::platforms::PlatformRegistry;
use crate::adapters::sqs::SqsQueue;
use crate::config::{Config, PushSecrets, QueueConfig, StoreConfig};
use crate::model::crypto::{EncryptionKey, SecretBox};
use crate::model::error::{Error, Result};
use crate::model::usage::RateLimits;
use crate::model::webhooks::{RecoverySettings, RetrySchedule, WebhookLimits};
use crate::ports::ai::AiProvider;
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::Store;
use crate::services::automations::Automations;
use crate::services::connections::Accounts;
use crate::services::feeds::FeedFetcher;
use crate::services::inbox::InboxSettings;
use crate::services::posts::Posting;
use crate::services::webhooks::outbox::Outbox;
use crate::services::webhooks::recovery::Recovering;
use crate::services::webhooks::worker::Worker;

/// How many receives a delivery message gets before it is dead-lettered.
pub const DELIVERY_MAX_RECEIVES: u32 = 10;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub secrets: SecretBox,
    /// The one client for user-supplied URLs, with the SSRF guard.
    pub outbound: OutboundClient,
    pub retries: RetrySchedule,
    pub webhook_limits: WebhookLimits,
    /// How fast recoveries send, and how disabled endpoints are probed.
    pub recovery: RecoverySettings,
    /// How long interactions are kept.
    pub inbox: InboxSettings,
    /// What the platforms' pushes are checked with.
    pub push: PushSecrets,
    pub platforms: PlatformRegistry,
    /// Generates text and images (text-assist, media-assist, generate-content).
    pub ai: Arc<dyn AiProvider>,
    /// Poked when a post is due now; the dev server's scheduler wakes on it (on Lambda, the
    /// next scheduled process-queue run picks the post up).
    pub wake_scheduler: Arc<tokio::sync::Notify>,
    /// Requests per minute each API key may make of the limited kinds.
    pub rate_limits: RateLimits,
}

impl AppState {
    /// Builds the adapters `config` names. `encryption_key` is the configured key, or the dev
    /// server's generated one.
    pub async fn from_config(config: &Config, encryption_key: &EncryptionKey) -> Result<Self> {
        let aws = tokio::sync::OnceCell::new();
        let sdk = || aws.get_or_init(|| crate::adapters::https::aws_config_loader().load());
        let store: Arc<dyn Store> = match &config.store {
            StoreConfig::Sqlite { path } => embedded_store(path)?,
            StoreConfig::DynamoDb { table } => dynamo_store(sdk().await, table),
        };
        let queue: Arc<dyn Queue> = match &config.queue {
            QueueConfig::Sqlite { path } => embedded_queue(path)?,
            QueueConfig::Sqs { queue_url } => {
                Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk().await), queue_url.clone()))
            }
        };
        let guard = UrlGuard::new(Arc::new(SystemResolver), config.unsafe_allow_private_urls);
        let outbound = OutboundClient::new(guard, &[])?;
        Ok(Self {
            store,
            queue,
            clock: Arc::new(SystemClock),
            secrets: SecretBox::new(encryption_key),
            platforms: PlatformRegistry::at_versions(&outbound, &config.api_versions).configured(&config.platforms),
            ai: crate::adapters::ai::provider(&config.ai)?,
            outbound,
            retries: config.webhook_retry_schedule.clone(),
            webhook_limits: config.webhook_limits,
            recovery: config.recovery,
            inbox: config.inbox,
            push: config.push.clone(),
            wake_scheduler: Arc::default(),
            rate_limits: config.rate_limits,
        })
    }

    /// What the webhook outbox writes through.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: &*self.store, queue: &*self.queue, clock: &*self.clock }
    }

    /// What the delivery worker needs.
    pub fn worker(&self) -> Worker<'_> {
        Worker {
            store: &*self.store,
            queue: &*self.queue,
            clock: &*self.clock,
            outbound: &self.outbound,
            secrets: &self.secrets,
            retries: &self.retries,
            attempts_kept: self.webhook_limits.attempts_kept,
            recovery: &self.recovery,
        }
    }

    /// What recovering endpoints needs.
    pub fn recovering(&self) -> Recovering<'_> {
        Recovering { outbox: self.outbox(), settings: &self.recovery, outbound: &self.outbound, secrets: &self.secrets }
    }

    /// What connecting accounts, publishing and reading metrics need.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            store: &*self.store,
            queue: &*self.queue,
            clock: &*self.clock,
            secrets: &self.secrets,
            platforms: &self.platforms,
        }
    }

    /// What creating and checking posts needs.
    pub fn posting(&self) -> Posting<'_> {
        Posting { store: &*self.store, queue: &*self.queue, clock: &*self.clock, wake_publisher: &self.wake_scheduler }
    }

    /// What running automations needs.
    pub fn automations(&self) -> Automations<'_> {
        Automations {
            ai: &*self.ai,
            store: &*self.store,
            queue: &*self.queue,
            clock: &*self.clock,
            wake_publisher: &self.wake_scheduler,
        }
    }

    /// What fetching feeds needs.
    pub fn feed_fetcher(&self) -> FeedFetcher<'_> {
        FeedFetcher { store: &*self.store, clock: &*self.clock, outbound: &self.outbound }
    }

    /// The key to seal secrets with: production functions must be configured with one.
    pub fn required_key(config: &Config) -> Result<EncryptionKey> {
        config.encryption_key.clone().ok_or_else(|| Error::Internal("POSTHORN_ENCRYPTION_KEY is not set".into()))
    }
}

/// The store `config` names alone (the admin CLI's): no queue, key or platform.
pub async fn store_of(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    match config {
        StoreConfig::Sqlite { path } => embedded_store(path),
        StoreConfig::DynamoDb { table } => {
            Ok(dynamo_store(&crate::adapters::https::aws_config_loader().load().await, table))
        }
    }
}

fn dynamo_store(sdk: &aws_config::SdkConfig, table: &str) -> Arc<dyn Store> {
    Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table.to_string()))
}

#[cfg(feature = "sqlite")]
fn embedded_store(path: &Path) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(crate::adapters::sqlite::SqliteStore::open(path)?))
}

#[cfg(feature = "sqlite")]
fn embedded_queue(path: &Path) -> Result<Arc<dyn Queue>> {
    Ok(Arc::new(crate::adapters::sqlite::SqliteQueue::open(path, "deliveries", DELIVERY_MAX_RECEIVES)?))
}

#[cfg(not(feature = "sqlite"))]
fn embedded_store(_: &Path) -> Result<Arc<dyn Store>> {
    Err(without_sqlite("POSTHORN_STORE=dynamodb"))
}

#[cfg(not(feature = "sqlite"))]
fn embedded_queue(_: &Path) -> Result<Arc<dyn Queue>> {
    Err(without_sqlite("POSTHORN_QUEUE=sqs"))
}

/// Lambda builds leave the embedded store and queue out; the dev server, the tests and
/// `cargo lambda watch --features posthorn/sqlite` have them.
#[cfg(not(feature = "sqlite"))]
fn without_sqlite(setting: &str) -> Error {
    Error::Internal(format!(
        "this build has no embedded SQLite store and queue: set {setting} (or build with --features posthorn/sqlite)"
    ))
}

#[cfg(all(test, not(feature = "sqlite")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lambda_build_says_to_configure_dynamodb_and_sqs() {
        let config = Config::from_lookup(|_| None).unwrap();
        let error = AppState::from_config(&config, &EncryptionKey::generate()).await.err().unwrap();
        assert!(format!("{error:?}").contains("set POSTHORN_STORE=dynamodb"), "{error:?}");
        let config = Config::from_lookup(|name| (name == "POSTHORN_STORE").then(|| "dynamodb".to_string())).unwrap();
        let error = AppState::from_config(&config, &EncryptionKey::generate()).await.err().unwrap();
        assert!(format!("{error:?}").contains("set POSTHORN_QUEUE=sqs"), "{error:?}");
    }
}
