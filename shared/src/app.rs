//! The application state every handler and worker shares: the adapters behind each port, built
//! once per process from [`Config`].

use std::sync::Arc;

use crate::ai::AiProvider;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, QueueConfig, StoreConfig};
use crate::crypto::{EncryptionKey, SecretBox};
use crate::error::{Error, Result};
use crate::outbound::{OutboundClient, SystemResolver, UrlGuard};
use crate::platforms::PlatformRegistry;
use crate::queue::{Queue, SqliteQueue, SqsQueue};
use crate::store::{DynamoStore, SqliteStore, Store};
use crate::webhooks::RetrySchedule;

/// How many receives a delivery message gets before it is dead-lettered.
pub const DELIVERY_MAX_RECEIVES: u32 = 10;
const DELIVERY_QUEUE: &str = "deliveries";

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub secrets: SecretBox,
    /// The one client for user-supplied URLs, with the SSRF guard.
    pub outbound: OutboundClient,
    pub retries: RetrySchedule,
    pub platforms: PlatformRegistry,
    /// Generates text and images (text-assist, media-assist, generate-content).
    pub ai: Arc<dyn AiProvider>,
    /// Poked when a post is due now; the dev server's scheduler wakes on it (on Lambda, the
    /// next scheduled process-queue run picks the post up).
    pub wake_scheduler: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Builds the adapters `config` names. `encryption_key` is the configured key, or the dev
    /// server's generated one.
    pub async fn from_config(config: &Config, encryption_key: &EncryptionKey) -> Result<Self> {
        let aws = tokio::sync::OnceCell::new();
        let sdk = || aws.get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()));
        let store: Arc<dyn Store> = match &config.store {
            StoreConfig::Sqlite { path } => Arc::new(SqliteStore::open(path)?),
            StoreConfig::DynamoDb { table } => {
                Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk().await), table.clone()))
            }
        };
        let queue: Arc<dyn Queue> = match &config.queue {
            QueueConfig::Sqlite { path } => Arc::new(SqliteQueue::open(path, DELIVERY_QUEUE, DELIVERY_MAX_RECEIVES)?),
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
            platforms: PlatformRegistry::standard(&outbound).configured(&config.platforms),
            ai: crate::ai::provider(&config.ai)?,
            outbound,
            retries: config.webhook_retry_schedule.clone(),
            wake_scheduler: Arc::default(),
        })
    }

    /// The key to seal secrets with: production functions must be configured with one.
    pub fn required_key(config: &Config) -> Result<EncryptionKey> {
        config.encryption_key.clone().ok_or_else(|| Error::Internal("POSTHORN_ENCRYPTION_KEY is not set".into()))
    }
}
