//! Connections (SPEC §6–7): everything between "connect my account" and a channel to post to.
//! It owns the consent step (a single-use, workspace-bound `state` and PKCE), the callback that
//! turns a code — or a Bluesky app password — into sealed tokens and a profile, keeping tokens
//! fresh without ever refreshing one connection twice at once, importing the channels a
//! connection can post to, disconnecting, and the account events. What differs per platform
//! lives behind the `Connector` port in `platforms`; the records themselves are in `channels`.

mod api;
mod connect;
mod disconnect;
mod events;
mod import;
mod model;
mod record;
mod sync;

pub use api::{connect_routes, connections_routes, import_routes, sync_routes};
pub use connect::STATE_LIFETIME;
pub use model::{InstanceApp, OAuthState};
pub use sync::REFRESH_MARGIN;
