//! What the cross-function tests share: an in-process API over the embedded adapters, the dev
//! server as a child process, real HTTP(S) webhook receivers, fakes and independent servers for
//! the platform adapters, a fake OpenAI-compatible AI provider, and the local AWS emulator's
//! clients with uniquely named tables and queues, so suites never see each other's data.

pub mod app;
pub mod atproto_pds;
pub mod aws;
pub mod bluesky_fake;
pub mod dev_server;
pub mod failing_store;
pub mod feed_server;
pub mod graph_fake;
pub mod inbox;
pub mod mastodon_mock;
pub mod media_host;
pub mod openai_fake;
pub mod platform_inbox;
pub mod platforms;
pub mod publishing;
pub mod receiver;
pub mod recording;
pub mod stores;
pub mod x_contract;
pub mod x_fake;
