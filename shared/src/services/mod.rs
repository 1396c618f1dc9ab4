//! Services: what Posthorn does, written against the ports — the webhook outbox and worker,
//! publishing, metrics, connections, automations, feeds, fitting text with AI, and the scheduled
//! jobs that run them.

pub mod automations;
pub mod connections;
pub mod feeds;
pub mod fit;
pub mod inbox;
pub mod metrics;
pub mod posts;
pub mod publish;
pub mod unpublish;
pub mod webhooks;
pub mod workspaces;
