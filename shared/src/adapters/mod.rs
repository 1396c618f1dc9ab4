//! Adapters: the ports implemented against the world outside the process — DynamoDB and SQS in
//! production, SQLite on the dev server, each social network's HTTP API, OpenAI-compatible AI,
//! feeds over HTTP — and the one outbound HTTP client with the SSRF guard that all of them use.

pub mod ai;
pub mod clock;
pub mod dynamo;
pub mod feeds;
pub mod https;
pub mod outbound;
pub mod platforms;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod sqs;
