//! The platform adapters (SPEC §7): one per social network, each speaking the platform's
//! documented HTTP API at a configurable base URL through the one outbound client, with its
//! errors mapped to stable codes; the OAuth and HTTP helpers they share; and the registry that
//! picks the adapter for a platform.

pub mod bluesky;
mod bluesky_richtext;
mod bluesky_session;
mod container;
pub mod facebook;
mod graph;
pub mod http;
pub mod instagram;
mod language;
pub mod linkedin;
mod little_text;
pub mod mastodon;
pub mod media;
mod meta_login;
pub mod oauth;
pub mod pkce;
pub mod push;
mod read_since;
mod registry;
pub mod sandbox;
pub mod threads;
pub mod versions;
pub mod x;

pub use bluesky::Bluesky;
pub use container::Polling;
pub use facebook::Facebook;
pub use instagram::Instagram;
pub use linkedin::Linkedin;
pub use mastodon::Mastodon;
pub use registry::{PlatformRegistry, PlatformSettings};
pub use sandbox::Sandbox;
pub use threads::Threads;
pub use x::X;
