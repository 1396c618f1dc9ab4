//! Configuration: every environment variable Posthorn reads, parsed in one typed place. The
//! README's configuration table mirrors this file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::adapters::ai::{AiConfig, OpenAiConfig};
use crate::adapters::platforms::PlatformSettings;
use crate::adapters::platforms::push::MetaAppSecret;
use crate::adapters::platforms::versions::{self, ApiVersions};
use crate::model::crypto::EncryptionKey;
use crate::model::platforms::Platform;
use crate::model::usage::RateLimits;
use crate::model::webhooks::{RecoverySettings, RetrySchedule, WebhookLimits};
use crate::services::inbox::InboxSettings;
use crate::services::metrics::MetricsSettings;

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

/// The AI timeout when none is configured: two calls (an answer, then a fit to the platform's
/// limit) fit a 29 s function with room for the rest of the request.
const DEFAULT_AI_TIMEOUT_SECONDS: u64 = 12;

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
    /// Endpoints per workspace, attempts kept per delivery.
    pub webhook_limits: WebhookLimits,
    pub recovery: RecoverySettings,
    pub metrics: MetricsSettings,
    pub inbox: InboxSettings,
    pub push: PushSecrets,
    /// Where the dev server listens.
    pub listen: SocketAddr,
    pub ai: AiConfig,
    /// The dev server's data directory (SQLite file, generated key).
    pub data_dir: PathBuf,
    /// OAuth clients and base URLs of the platforms that have any configured.
    pub platforms: Vec<PlatformSettings>,
    /// The platform API versions called: the pinned ones unless configured otherwise.
    pub api_versions: ApiVersions,
    /// Requests per minute per API key of the limited kinds.
    pub rate_limits: RateLimits,
    /// Origins browsers may call the API from (the dev server's CORS; the template sets the
    /// HTTP API's). None by default.
    pub cors_allowed_origins: Vec<String>,
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
        let limits = WebhookLimits::default();
        let count = |name: &'static str, default: usize| match var(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(name, format!("must be a positive whole number, not `{text}`"))),
        };
        let webhook_limits = WebhookLimits {
            max_endpoints_per_workspace: count(
                "POSTHORN_MAX_ENDPOINTS_PER_WORKSPACE",
                limits.max_endpoints_per_workspace,
            )?,
            attempts_kept: count("POSTHORN_DELIVERY_ATTEMPTS_KEPT", limits.attempts_kept)?,
        };
        let defaults = MetricsSettings::default();
        let span = |name: &'static str, default: time::Duration| match var(name) {
            None => Ok(default),
            Some(text) => parse_span(&text).ok_or_else(|| {
                invalid(name, format!("must be a positive number with a unit s, m, h or d (like 15m), not `{text}`"))
            }),
        };
        let metrics = MetricsSettings {
            max_age: span("POSTHORN_METRICS_MAX_AGE", defaults.max_age)?,
            interval: span("POSTHORN_METRICS_INTERVAL", defaults.interval)?,
        };
        let recovery_defaults = RecoverySettings::default();
        let recovery = RecoverySettings {
            rate_per_second: u32::try_from(count(
                "POSTHORN_RECOVERY_RATE",
                recovery_defaults.rate_per_second as usize,
            )?)
            .map_err(|_| invalid("POSTHORN_RECOVERY_RATE", "is too large".into()))?,
            probe_first: span("POSTHORN_PROBE_FIRST", recovery_defaults.probe_first)?,
            probe_max: span("POSTHORN_PROBE_MAX", recovery_defaults.probe_max)?,
            probe_for: span("POSTHORN_PROBE_FOR", recovery_defaults.probe_for)?,
        };
        let inbox_defaults = InboxSettings::default();
        let inbox = InboxSettings {
            retention: span("POSTHORN_INBOX_RETENTION", inbox_defaults.retention)?,
            interval: std::time::Duration::try_from(span(
                "POSTHORN_INBOX_INTERVAL",
                time::Duration::try_from(inbox_defaults.interval).unwrap_or(time::Duration::SECOND),
            )?)
            .unwrap_or(inbox_defaults.interval),
        };
        let listen = var("POSTHORN_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| invalid("POSTHORN_LISTEN", "must be an address like 127.0.0.1:3000".into()))?;

        let ai = ai_config(&var)?;
        let platforms = platform_settings(&var)?;
        let push = PushSecrets {
            meta_verify_token: var("POSTHORN_META_VERIFY_TOKEN"),
            meta_app_secrets: platforms
                .iter()
                .filter(|setting| {
                    matches!(setting.platform, Platform::Facebook | Platform::Instagram | Platform::Threads)
                })
                .filter_map(|setting| {
                    let secret = setting.client_secret.clone()?;
                    Some(MetaAppSecret { platform: setting.platform, secret })
                })
                .collect(),
            x_consumer_secret: var("POSTHORN_X_CONSUMER_SECRET"),
        };
        let api_versions = api_versions(&var)?;
        let default_limits = RateLimits::default();
        let per_minute = |name: &'static str, default: u32| match var(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| invalid(name, format!("must be a whole number (0 for no limit), not `{text}`"))),
        };
        let rate_limits = RateLimits {
            posts_per_minute: per_minute("POSTHORN_POSTS_PER_MINUTE_PER_KEY", default_limits.posts_per_minute)?,
            ai_per_minute: per_minute("POSTHORN_AI_CALLS_PER_MINUTE_PER_KEY", default_limits.ai_per_minute)?,
        };
        let cors_allowed_origins = cors_origins(var("POSTHORN_CORS_ALLOWED_ORIGINS"))?;

        Ok(Self {
            store,
            queue,
            encryption_key,
            unsafe_allow_private_urls,
            webhook_retry_schedule,
            webhook_limits,
            recovery,
            metrics,
            inbox,
            push,
            listen,
            data_dir,
            ai,
            platforms,
            api_versions,
            rate_limits,
            cors_allowed_origins,
        })
    }
}

/// What checks the platforms' pushes: Meta's subscription verify token, the Meta apps' secrets
/// (the Facebook, Instagram and Threads client secrets), X's consumer secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PushSecrets {
    pub meta_verify_token: Option<String>,
    pub meta_app_secrets: Vec<MetaAppSecret>,
    pub x_consumer_secret: Option<String>,
}

impl std::fmt::Debug for PushSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSecrets")
            .field("meta_verify_token", &self.meta_verify_token.is_some())
            .field("meta_app_secrets", &self.meta_app_secrets.len())
            .field("x_consumer_secret", &self.x_consumer_secret.is_some())
            .finish()
    }
}

/// `POSTHORN_LINKEDIN_VERSION` (YYYYMM) and `POSTHORN_META_GRAPH_VERSION` (`vNN.N`), each
/// defaulting to the pinned version.
fn api_versions(var: &impl Fn(&str) -> Option<String>) -> Result<ApiVersions, ConfigError> {
    let pinned = ApiVersions::default();
    let linkedin = match var("POSTHORN_LINKEDIN_VERSION") {
        Some(version) if !versions::is_linkedin_version(&version) => {
            return Err(invalid("POSTHORN_LINKEDIN_VERSION", format!("must be YYYYMM, like 202607, not `{version}`")));
        }
        Some(version) => version,
        None => pinned.linkedin,
    };
    let meta_graph = match var("POSTHORN_META_GRAPH_VERSION") {
        Some(version) if !versions::is_graph_version(&version) => {
            return Err(invalid("POSTHORN_META_GRAPH_VERSION", format!("must be like v25.0, not `{version}`")));
        }
        Some(version) => version,
        None => pinned.meta_graph,
    };
    Ok(ApiVersions { linkedin, meta_graph })
}

fn ai_config(var: &impl Fn(&str) -> Option<String>) -> Result<AiConfig, ConfigError> {
    match var("POSTHORN_AI_PROVIDER").as_deref() {
        None | Some("offline") => Ok(AiConfig::Offline),
        Some("openai") => Ok(AiConfig::OpenAi(OpenAiConfig {
            base_url: var("POSTHORN_AI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            api_key: var("POSTHORN_AI_API_KEY"),
            text_model: var("POSTHORN_AI_TEXT_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            image_model: var("POSTHORN_AI_IMAGE_MODEL").unwrap_or_else(|| "dall-e-3".into()),
            timeout: Duration::from_secs(
                number(var, "POSTHORN_AI_TIMEOUT_SECONDS", DEFAULT_AI_TIMEOUT_SECONDS)?.max(1),
            ),
            max_retries: u32::try_from(number(var, "POSTHORN_AI_MAX_RETRIES", 2)?.min(10)).unwrap_or(10),
        })),
        Some(other) => Err(invalid("POSTHORN_AI_PROVIDER", format!("must be offline or openai, not `{other}`"))),
    }
}

fn number(var: &impl Fn(&str) -> Option<String>, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    var(name).map_or(Ok(default), |text| {
        text.trim().parse().map_err(|_| invalid(name, format!("must be a whole number, not `{text}`")))
    })
}

/// A positive span of time written as a whole number and a unit: `90s`, `15m`, `12h`, `7d`.
fn parse_span(text: &str) -> Option<time::Duration> {
    let text = text.trim();
    let split = text.len().checked_sub(1)?;
    let (number, unit) = (text.get(..split)?, text.get(split..)?);
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some(time::Duration::seconds(number.checked_mul(seconds)?))
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

/// Comma-separated origins, each `scheme://host[:port]` with nothing after.
fn cors_origins(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    let name = "POSTHORN_CORS_ALLOWED_ORIGINS";
    let origins = value.iter().flat_map(|text| text.split(',')).map(str::trim).filter(|o| !o.is_empty());
    origins
        .map(|origin| {
            let parsed = url::Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none());
            match parsed {
                Some(url) if url.origin().ascii_serialization() == origin => Ok(origin.to_string()),
                _ => Err(invalid(name, format!("must be origins like https://app.example.com, not `{origin}`"))),
            }
        })
        .collect()
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
        assert_eq!(config.ai, AiConfig::Offline);
        assert_eq!(config.metrics, MetricsSettings::default());
        assert!(config.platforms.is_empty());
        assert_eq!(config.api_versions, ApiVersions::default());
    }

    #[test]
    fn reads_the_platform_api_versions() {
        let configured =
            config(&[("POSTHORN_LINKEDIN_VERSION", "202611"), ("POSTHORN_META_GRAPH_VERSION", "v26.0")]).unwrap();
        assert_eq!(configured.api_versions, ApiVersions { linkedin: "202611".into(), meta_graph: "v26.0".into() });
        assert_eq!(config(&[("POSTHORN_LINKEDIN_VERSION", "2026-11")]).unwrap_err().name, "POSTHORN_LINKEDIN_VERSION");
        assert_eq!(config(&[("POSTHORN_META_GRAPH_VERSION", "26")]).unwrap_err().name, "POSTHORN_META_GRAPH_VERSION");
    }

    #[test]
    fn reads_an_openai_compatible_provider() {
        let config = config(&[
            ("POSTHORN_AI_PROVIDER", "openai"),
            ("POSTHORN_AI_BASE_URL", "http://localhost:11434/v1/"),
            ("POSTHORN_AI_TEXT_MODEL", "llama3.2"),
            ("POSTHORN_AI_TIMEOUT_SECONDS", "5"),
            ("POSTHORN_AI_API_KEY", "sk-secret"),
        ])
        .unwrap();
        let AiConfig::OpenAi(ai) = config.ai else { panic!("expected the openai provider") };
        assert_eq!(ai.base_url, "http://localhost:11434/v1");
        assert_eq!(ai.api_key.as_deref(), Some("sk-secret"));
        assert_eq!(ai.text_model, "llama3.2");
        assert_eq!(ai.image_model, "dall-e-3");
        assert_eq!(ai.timeout, Duration::from_secs(5));
        assert_eq!(ai.max_retries, 2);
        assert!(!format!("{ai:?}").contains("sk-secret"));
    }

    #[test]
    fn reads_metrics_spans_with_units() {
        let config = config(&[("POSTHORN_METRICS_MAX_AGE", "3d"), ("POSTHORN_METRICS_INTERVAL", "90s")]).unwrap();
        assert_eq!(config.metrics.max_age, time::Duration::days(3));
        assert_eq!(config.metrics.interval, time::Duration::seconds(90));
        assert_eq!(parse_span("12h"), Some(time::Duration::hours(12)));
        for wrong in ["15", "0m", "-1h", "m", "1w", "1.5h", ""] {
            assert_eq!(parse_span(wrong), None, "{wrong}");
        }
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
    fn reads_per_key_limits_and_cors_origins() {
        let configured = config(&[
            ("POSTHORN_POSTS_PER_MINUTE_PER_KEY", "5"),
            ("POSTHORN_AI_CALLS_PER_MINUTE_PER_KEY", "0"),
            ("POSTHORN_CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:5173"),
        ])
        .unwrap();
        assert_eq!(configured.rate_limits, RateLimits { posts_per_minute: 5, ai_per_minute: 0 });
        assert_eq!(configured.cors_allowed_origins, ["https://app.example.com", "http://localhost:5173"]);
        assert!(config(&[]).unwrap().cors_allowed_origins.is_empty());
        for wrong in ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x.org"] {
            let error = config(&[("POSTHORN_CORS_ALLOWED_ORIGINS", wrong)]).unwrap_err();
            assert_eq!(error.name, "POSTHORN_CORS_ALLOWED_ORIGINS", "{wrong}");
        }
        let error = config(&[("POSTHORN_POSTS_PER_MINUTE_PER_KEY", "many")]).unwrap_err();
        assert_eq!(error.name, "POSTHORN_POSTS_PER_MINUTE_PER_KEY");
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
        assert_eq!(config(&[("POSTHORN_AI_PROVIDER", "gpt")]).unwrap_err().name, "POSTHORN_AI_PROVIDER");
        assert_eq!(
            config(&[("POSTHORN_AI_PROVIDER", "openai"), ("POSTHORN_AI_TIMEOUT_SECONDS", "soon")]).unwrap_err().name,
            "POSTHORN_AI_TIMEOUT_SECONDS"
        );
        assert_eq!(config(&[("POSTHORN_METRICS_MAX_AGE", "a week")]).unwrap_err().name, "POSTHORN_METRICS_MAX_AGE");
        assert_eq!(config(&[("POSTHORN_METRICS_INTERVAL", "0s")]).unwrap_err().name, "POSTHORN_METRICS_INTERVAL");
        assert_eq!(config(&[("POSTHORN_X_CLIENT_SECRET", "s")]).unwrap_err().name, "POSTHORN_X_CLIENT_ID");
        assert_eq!(config(&[("POSTHORN_X_BASE_URL", "ftp://x")]).unwrap_err().name, "POSTHORN_X_BASE_URL");
        assert_eq!(config(&[("POSTHORN_RECOVERY_RATE", "0")]).unwrap_err().name, "POSTHORN_RECOVERY_RATE");
        assert_eq!(config(&[("POSTHORN_PROBE_FIRST", "soon")]).unwrap_err().name, "POSTHORN_PROBE_FIRST");
    }

    #[test]
    fn reads_how_recoveries_send_and_endpoints_are_probed() {
        let read =
            config(&[("POSTHORN_RECOVERY_RATE", "50"), ("POSTHORN_PROBE_FIRST", "1m"), ("POSTHORN_PROBE_FOR", "3d")])
                .unwrap();
        assert_eq!(read.recovery.rate_per_second, 50);
        assert_eq!(read.recovery.probe_first, time::Duration::minutes(1));
        assert_eq!(read.recovery.probe_max, time::Duration::hours(6));
        assert_eq!(read.recovery.probe_for, time::Duration::days(3));
    }
}
