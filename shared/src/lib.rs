//! Posthorn's library: the domain, the ports (traits) for everything outside the process, and
//! their adapters. The binaries in `functions/` only read configuration, build adapters and
//! hand a router or handler to the Lambda runtime.

pub mod ai;
pub mod api;
pub mod app;
pub mod automations;
pub mod channels;
pub mod clock;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod dev;
pub mod error;
pub mod feeds;
pub mod https;
pub mod ids;
pub mod jobs;
pub mod lambda;
pub mod outbound;
pub mod platforms;
pub mod posts;
pub mod queue;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod workspaces;

pub use error::{Error, Result};
