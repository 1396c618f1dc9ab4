//! Connections (SPEC §6–7): everything between "connect my account" and a channel to post to.
//! It owns the consent step (a single-use, workspace-bound `state` and PKCE), the callback that
//! turns a code — or a Bluesky app password — into sealed tokens and a profile, keeping tokens
//! fresh without ever refreshing one connection twice at once, importing the channels a
//! connection can post to, disconnecting, and the account events. What differs per platform
//! lives behind the `Connector` port in `platforms`; the records themselves are in `channels`.

pub mod connect;
pub mod disconnect;
pub mod events;
pub mod import;
pub mod record;
mod sandbox;
pub mod sync;

pub use connect::STATE_LIFETIME;
pub use sandbox::create_sandbox_channels;
pub use sync::REFRESH_MARGIN;
