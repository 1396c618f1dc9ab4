//! Connections (SPEC §6–7): everything between "connect my account" and a channel to post to.
//! It owns the consent step (a single-use, workspace-bound `state` and PKCE), the callback that
//! turns a code — or a Bluesky app password — into sealed tokens and a profile, keeping tokens
//! fresh without ever refreshing one connection twice at once, importing the channels a
//! connection can post to, disconnecting, what the platforms say about their users' grants
//! (revoked, data to delete), and the account events. What differs per platform
//! lives behind the `Connector` port in `platforms`; the records themselves are in `channels`.

pub mod connect;
pub mod disconnect;
pub mod events;
pub mod import;
pub mod push;
pub mod record;
pub mod revoke;
mod sandbox;
pub mod sync;

pub use connect::STATE_LIFETIME;
pub use sandbox::create_sandbox_channels;
pub use sync::{MAX_LEASE_WAIT, REFRESH_MARGIN};

use crate::adapters::platforms::PlatformRegistry;
use crate::model::crypto::SecretBox;
use crate::ports::clock::Clock;
use crate::ports::queue::Queue;
use crate::ports::store::Store;
use crate::services::webhooks::outbox::Outbox;

/// What acting for connected accounts needs — connecting, refreshing tokens, importing
/// channels, publishing, reading metrics: the store, sealed secrets, the platform adapters, and
/// the outbox for the events it fires.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
    pub secrets: &'a SecretBox,
    pub platforms: &'a PlatformRegistry,
}

impl<'a> Accounts<'a> {
    pub fn outbox(&self) -> Outbox<'a> {
        Outbox { store: self.store, queue: self.queue, clock: self.clock }
    }
}
