//! Posthorn's library, in layers that import only downward:
//!
//! - [`model`]: ids, records, the event catalog and pure rules (no I/O);
//! - [`ports`]: the traits for everything outside the process (store, queue, clock, platforms, AI);
//! - [`adapters`]: those traits implemented (SQLite, DynamoDB, SQS, each platform, OpenAI) and the
//!   one outbound HTTP client;
//! - [`services`]: what Posthorn does, written against the ports;
//! - the composition root: [`config`], [`app`] (the adapters built once per process), [`api`]
//!   (the HTTP routers), [`lambda`] (the Lambda entry points) and [`dev`] (the dev server).
//!
//! The binaries in `functions/` only read configuration, build adapters and hand a router or
//! handler to the Lambda runtime. ARCHITECTURE.md at the repository root is the map.

pub mod adapters;
pub mod model;
pub mod ports;
pub mod services;

pub mod api;
pub mod app;
pub mod config;
pub mod dev;
pub mod jobs;
pub mod lambda;
pub mod telemetry;
