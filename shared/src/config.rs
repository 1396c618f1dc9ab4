//! Configuration: every environment variable Posthorn reads, parsed in one typed place. The
//! README's configuration table mirrors this file.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::crypto::EncryptionKey;
use crate::platforms::Platform;
use crate::webhooks::RetrySchedule;

/// Where records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
    DynamoDb { table: String },
}

/// Where webhook deliveries wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueConfig {
    Sqlite { path: PathBuf },
    Sqs { queue_url: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreConfig,
    pub queue: QueueConfig,
    /// Seals webhook secrets and OAuth tokens. `None` only on the dev server, which then keeps a
    /// generated key under its data directory.
    pub encryption_key: Option<EncryptionKey>,
    /// Lets user-supplied URLs use http and reach loopback/private addresses. Off by default;
    /// for local development and tests only.
    pub unsafe_allow_private_urls: bool,
    /// Delays before each webhook delivery attempt.
    pub webhook_retry_schedule: RetrySchedule,
    /// Where the dev server listens.
    pub listen: SocketAddr,
    /// The dev server's data directory (SQLite file, generated key).
    pub data_dir: PathBuf,
    /// OAuth clients and base URLs of the platforms that have any configured.
    pub platforms: Vec<PlatformSettings>,
}

/// One platform's OAuth client and API base URL, where configured.
#[derive(Clone, PartialEq, Eq)]
pub struct PlatformSettings {
    pub platform: Platform,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Instead of the platform's own API (e.g. a local fake); for Mastodon and Bluesky, the
    /// instance or PDS used when the user names none.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field("platform", &self.platform)
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The OAuth client variables of the platforms whose client is configured (Mastodon registers
/// itself on each instance; Bluesky connects with app passwords).
const CLIENT_VARIABLES: [(Platform, &str, &str); 5] = [
    (Platform::X, "POSTHORN_X_CLIENT_ID", "POSTHORN_X_CLIENT_SECRET"),
    (Platform::Linkedin, "POSTHORN_LINKEDIN_CLIENT_ID", "POSTHORN_LINKEDIN_CLIENT_SECRET"),
    (Platform::Facebook, "POSTHORN_FACEBOOK_CLIENT_ID", "POSTHORN_FACEBOOK_CLIENT_SECRET"),
    (Platform::Instagram, "POSTHORN_INSTAGRAM_CLIENT_ID", "POSTHORN_INSTAGRAM_CLIENT_SECRET"),
    (Platform::Threads, "POSTHORN_THREADS_CLIENT_ID", "POSTHORN_THREADS_CLIENT_SECRET"),
];

/// The base URL variable of every platform.
const BASE_URL_VARIABLES: [(Platform, &str); 7] = [
    (Platform::Mastodon, "POSTHORN_MASTODON_BASE_URL"),
    (Platform::Bluesky, "POSTHORN_BLUESKY_BASE_URL"),
    (Platform::X, "POSTHORN_X_BASE_URL"),
    (Platform::Linkedin, "POSTHORN_LINKEDIN_BASE_URL"),
    (Platform::Facebook, "POSTHORN_FACEBOOK_BASE_URL"),
    (Platform::Instagram, "POSTHORN_INSTAGRAM_BASE_URL"),
    (Platform::Threads, "POSTHORN_THREADS_BASE_URL"),
];

/// A variable that is set but unusable.
#[derive(Debug, thiserror::Error)]
#[error("{name} {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let data_dir = PathBuf::from(var("POSTHORN_DATA_DIR").unwrap_or_else(|| ".posthorn".into()));
        // Two files, so the store's and the queue's writers never wait on each other's lock.
        let store_path = data_dir.join("posthorn.db");
        let queue_path = data_dir.join("queue.db");

        let store = match var("POSTHORN_STORE").as_deref() {
            None | Some("sqlite") => StoreConfig::Sqlite { path: store_path },
            Some("dynamodb") => {
                StoreConfig::DynamoDb { table: var("POSTHORN_TABLE").unwrap_or_else(|| "posthorn".into()) }
            }
            Some(other) => {
                return Err(invalid("POSTHORN_STORE", format!("must be sqlite or dynamodb, not `{other}`")));
            }
        };
        let queue = match var("POSTHORN_QUEUE").as_deref() {
            None | Some("sqlite") => QueueConfig::Sqlite { path: queue_path },
            Some("sqs") => QueueConfig::Sqs {
                queue_url: var("POSTHORN_DELIVERY_QUEUE_URL").ok_or_else(|| {
                    invalid("POSTHORN_DELIVERY_QUEUE_URL", "must be set when POSTHORN_QUEUE=sqs".into())
                })?,
            },
            Some(other) => {
                return Err(invalid("POSTHORN_QUEUE", format!("must be sqlite or sqs, not `{other}`")));
            }
        };
        let encryption_key = var("POSTHORN_ENCRYPTION_KEY")
            .map(|text| {
                EncryptionKey::from_base64(&text).map_err(|problem| invalid("POSTHORN_ENCRYPTION_KEY", problem))
            })
            .transpose()?;
        let unsafe_allow_private_urls = match var("POSTHORN_UNSAFE_ALLOW_PRIVATE_URLS").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(invalid(
                    "POSTHORN_UNSAFE_ALLOW_PRIVATE_URLS",
                    format!("must be true or false, not `{other}`"),
                ));
            }
        };
        let webhook_retry_schedule = match var("POSTHORN_WEBHOOK_RETRY_SCHEDULE") {
            None => RetrySchedule::default(),
            Some(text) => RetrySchedule::parse(&text).ok_or_else(|| {
                invalid(
                    "POSTHORN_WEBHOOK_RETRY_SCHEDULE",
                    "must be comma-separated seconds, like 0,30,300,1800,10800".into(),
                )
            })?,
        };
        let listen = var("POSTHORN_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| invalid("POSTHORN_LISTEN", "must be an address like 127.0.0.1:3000".into()))?;

        let platforms = platform_settings(&var)?;

        Ok(Self {
            store,
            queue,
            encryption_key,
            unsafe_allow_private_urls,
            webhook_retry_schedule,
            listen,
            data_dir,
            platforms,
        })
    }
}

/// Each platform with a client id or base URL set. A client secret needs its client id; a base
/// URL must be an http(s) URL.
fn platform_settings(var: &impl Fn(&str) -> Option<String>) -> Result<Vec<PlatformSettings>, ConfigError> {
    let mut settings = Vec::new();
    for (platform, url_name) in BASE_URL_VARIABLES {
        let client = CLIENT_VARIABLES.iter().find(|(of, ..)| *of == platform);
        let (client_id, client_secret) = client.map_or((None, None), |(_, id, secret)| (var(id), var(secret)));
        if let Some((_, id_name, secret_name)) = client.filter(|_| client_secret.is_some() && client_id.is_none()) {
            return Err(invalid(id_name, format!("must be set when {secret_name} is")));
        }
        let base_url = var(url_name);
        if let Some(url) = &base_url {
            let scheme = url::Url::parse(url).map(|parsed| parsed.scheme().to_string()).unwrap_or_default();
            if !matches!(scheme.as_str(), "http" | "https") {
                return Err(invalid(url_name, format!("must be an http(s) URL, not `{url}`")));
            }
        }
        if client_id.is_some() || base_url.is_some() {
            let base_url = base_url.map(|url| url.trim_end_matches('/').to_string());
            settings.push(PlatformSettings { platform, client_id, client_secret, base_url });
        }
    }
    Ok(settings)
}

fn invalid(name: &'static str, problem: String) -> ConfigError {
    ConfigError { name, problem }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_to_the_embedded_store_and_queue_with_the_guard_on() {
        let config = config(&[]).unwrap();
        assert_eq!(config.store, StoreConfig::Sqlite { path: ".posthorn/posthorn.db".into() });
        assert_eq!(config.queue, QueueConfig::Sqlite { path: ".posthorn/queue.db".into() });
        assert!(!config.unsafe_allow_private_urls);
        assert!(config.encryption_key.is_none());
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.webhook_retry_schedule, RetrySchedule::default());
        assert!(config.platforms.is_empty());
    }

    #[test]
    fn reads_platform_clients_and_base_urls() {
        let config = config(&[
            ("POSTHORN_X_CLIENT_ID", "x-client"),
            ("POSTHORN_X_CLIENT_SECRET", "x-secret"),
            ("POSTHORN_MASTODON_BASE_URL", "http://127.0.0.1:4000/"),
        ])
        .unwrap();
        let x = config.platforms.iter().find(|s| s.platform == Platform::X).unwrap();
        assert_eq!((x.client_id.as_deref(), x.client_secret.as_deref()), (Some("x-client"), Some("x-secret")));
        assert!(!format!("{x:?}").contains("x-secret"));
        let mastodon = config.platforms.iter().find(|s| s.platform == Platform::Mastodon).unwrap();
        assert_eq!(mastodon.base_url.as_deref(), Some("http://127.0.0.1:4000"));
    }

    #[test]
    fn reads_the_aws_backends() {
        let config = config(&[
            ("POSTHORN_STORE", "dynamodb"),
            ("POSTHORN_TABLE", "prod"),
            ("POSTHORN_QUEUE", "sqs"),
            ("POSTHORN_DELIVERY_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/deliveries"),
        ])
        .unwrap();
        assert_eq!(config.store, StoreConfig::DynamoDb { table: "prod".into() });
        assert!(matches!(config.queue, QueueConfig::Sqs { .. }));
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        let error = config(&[("POSTHORN_STORE", "postgres")]).unwrap_err();
        assert_eq!(error.name, "POSTHORN_STORE");
        assert_eq!(config(&[("POSTHORN_QUEUE", "sqs")]).unwrap_err().name, "POSTHORN_DELIVERY_QUEUE_URL");
        assert_eq!(config(&[("POSTHORN_ENCRYPTION_KEY", "short")]).unwrap_err().name, "POSTHORN_ENCRYPTION_KEY");
        assert_eq!(
            config(&[("POSTHORN_UNSAFE_ALLOW_PRIVATE_URLS", "yes")]).unwrap_err().name,
            "POSTHORN_UNSAFE_ALLOW_PRIVATE_URLS"
        );
        assert_eq!(
            config(&[("POSTHORN_WEBHOOK_RETRY_SCHEDULE", "soon")]).unwrap_err().name,
            "POSTHORN_WEBHOOK_RETRY_SCHEDULE"
        );
        assert_eq!(config(&[("POSTHORN_X_CLIENT_SECRET", "s")]).unwrap_err().name, "POSTHORN_X_CLIENT_ID");
        assert_eq!(config(&[("POSTHORN_X_BASE_URL", "ftp://x")]).unwrap_err().name, "POSTHORN_X_BASE_URL");
    }
}
