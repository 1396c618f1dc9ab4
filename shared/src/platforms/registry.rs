//! Which adapter serves which platform, built once per process.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Bluesky, Facebook, Instagram, Linkedin, Mastodon, Platform, PlatformClient, Sandbox, Threads, X};
use crate::outbound::OutboundClient;

#[derive(Clone, Default)]
pub struct PlatformRegistry(HashMap<Platform, Arc<dyn PlatformClient>>);

impl PlatformRegistry {
    pub fn new(clients: Vec<Arc<dyn PlatformClient>>) -> Self {
        Self(clients.into_iter().map(|client| (client.platform(), client)).collect())
    }

    /// Every adapter Posthorn ships, all calling out through `http`.
    pub fn standard(http: &OutboundClient) -> Self {
        Self::new(vec![
            Arc::new(Mastodon::new(http.clone())),
            Arc::new(Bluesky::new(http.clone())),
            Arc::new(X::new(http.clone())),
            Arc::new(Linkedin::new(http.clone())),
            Arc::new(Facebook::new(http.clone())),
            Arc::new(Instagram::new(http.clone())),
            Arc::new(Threads::new(http.clone())),
            Arc::new(Sandbox),
        ])
    }

    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn PlatformClient>> {
        self.0.get(&platform)
    }
}
