//! The model: typed ids, the records Posthorn keeps, the event catalog, and the pure rules over
//! them (limits, validation, the retry schedule, signatures, sealing). No I/O.

pub mod automations;
pub mod channels;
pub mod connections;
pub mod crypto;
pub mod error;
pub mod feeds;
pub mod ids;
pub mod inbox;
pub mod platforms;
pub mod posts;
pub mod times;
pub mod usage;
pub mod webhooks;
pub mod workspaces;
