//! Clients for the local AWS emulator (moto server) that `scripts/test` starts and announces in
//! `POSTHORN_TEST_AWS_ENDPOINT`, through `scripts/moto_server.py`, which handles each DynamoDB
//! request atomically as DynamoDB does (plain moto lets two conditional writes to one item both
//! succeed). The AWS suites never skip: without the emulator they fail and say how to start it.

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use tokio::sync::OnceCell;

pub const ENDPOINT_VAR: &str = "POSTHORN_TEST_AWS_ENDPOINT";

static SDK_CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

/// The emulator's endpoint URL.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VAR} is not set: run the AWS suites through ./scripts/test, which installs and starts the \
             moto server, or start `~/.cache/posthorn/venv/bin/python scripts/moto_server.py -p PORT` yourself (moto with atomic \
             DynamoDB writes) and set {ENDPOINT_VAR}=http://127.0.0.1:PORT"
        )
    })
}

/// SDK configuration pointing at the emulator with dummy credentials.
pub async fn sdk_config() -> &'static SdkConfig {
    SDK_CONFIG
        .get_or_init(|| async {
            posthorn::adapters::https::aws_config_loader()
                .endpoint_url(endpoint())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "posthorn-tests"))
                .load()
                .await
        })
        .await
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk_config().await)
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk_config().await)
}

/// A name no other test uses, e.g. for a table or a queue.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}
