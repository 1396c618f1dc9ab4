//! Outbound requests to user-supplied URLs (webhook endpoints, RSS feeds, media): the SSRF guard
//! every such URL passes, and the resolver it checks through.

mod client;
mod guard;
mod resolve;

pub use client::{
    FullResponse, KEPT_RESPONSE_BYTES, MAX_RESPONSE_READ, OutboundClient, OutboundResponse, REQUEST_TIMEOUT, SendError,
};
pub use guard::{UrlGuard, UrlRejected, is_public_ip};
pub use resolve::{HostResolver, StaticResolver, SystemResolver};
