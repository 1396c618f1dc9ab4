//! Which adapter serves which platform, built once per process.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Platform, PlatformClient, Sandbox};

#[derive(Clone, Default)]
pub struct PlatformRegistry(HashMap<Platform, Arc<dyn PlatformClient>>);

impl PlatformRegistry {
    pub fn new(clients: Vec<Arc<dyn PlatformClient>>) -> Self {
        Self(clients.into_iter().map(|client| (client.platform(), client)).collect())
    }

    /// Every adapter Posthorn ships.
    pub fn standard() -> Self {
        Self::new(vec![Arc::new(Sandbox)])
    }

    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn PlatformClient>> {
        self.0.get(&platform)
    }
}
