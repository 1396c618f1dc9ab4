//! Which adapter serves which platform, built once per process: the publishing client, the
//! connector (where the platform can be connected), the inbox client (where interactions can be
//! polled or answered), the configured OAuth client and base URL.

use std::collections::HashMap;
use std::sync::Arc;

use crate::adapters::outbound::OutboundClient;
use crate::adapters::platforms::versions::ApiVersions;
use crate::adapters::platforms::{Bluesky, Facebook, Instagram, Linkedin, Mastodon, Sandbox, Threads, X, sandbox};
use crate::model::platforms::Platform;
use crate::ports::platforms::{Connector, InboxClient, OAuthApp, PlatformClient};

/// One platform's OAuth client and API base URL, where configured.
#[derive(Clone, PartialEq, Eq)]
pub struct PlatformSettings {
    pub platform: Platform,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Instead of the platform's own API (e.g. a local fake); for Mastodon and Bluesky, the
    /// instance or PDS used when the user names none.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field("platform", &self.platform)
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Default)]
pub struct PlatformRegistry {
    clients: HashMap<Platform, Arc<dyn PlatformClient>>,
    connectors: HashMap<Platform, Arc<dyn Connector>>,
    inboxes: HashMap<Platform, Arc<dyn InboxClient>>,
    apps: HashMap<Platform, OAuthApp>,
    base_urls: HashMap<Platform, String>,
}

impl PlatformRegistry {
    /// Publishing clients only; add connectors with [`with_connectors`](Self::with_connectors).
    pub fn new(clients: Vec<Arc<dyn PlatformClient>>) -> Self {
        let clients = clients.into_iter().map(|client| (client.platform(), client)).collect();
        Self { clients, ..Self::default() }
    }

    /// Every adapter Posthorn ships at the pinned API versions, all calling out through `http`.
    pub fn standard(http: &OutboundClient) -> Self {
        Self::at_versions(http, &ApiVersions::default())
    }

    /// Every adapter Posthorn ships, at the API `versions` given, all calling out through
    /// `http`. A platform can be connected once its connector is listed here.
    pub fn at_versions(http: &OutboundClient, versions: &ApiVersions) -> Self {
        let mastodon = Arc::new(Mastodon::new(http.clone()));
        let bluesky = Arc::new(Bluesky::new(http.clone()));
        let x = Arc::new(X::new(http.clone()));
        let linkedin = Arc::new(Linkedin::new(http.clone()).with_version(&versions.linkedin));
        let facebook = Arc::new(Facebook::new(http.clone()).with_graph_version(&versions.meta_graph));
        let instagram = Arc::new(Instagram::new(http.clone()).with_graph_version(&versions.meta_graph));
        let threads = Arc::new(Threads::new(http.clone()));
        let sandbox = Arc::new(Sandbox);
        Self::new(vec![
            mastodon.clone(),
            bluesky.clone(),
            x.clone(),
            linkedin.clone(),
            facebook.clone(),
            instagram.clone(),
            threads.clone(),
            sandbox.clone(),
        ])
        .with_connectors(vec![
            mastodon.clone(),
            bluesky.clone(),
            x.clone(),
            linkedin.clone(),
            facebook.clone(),
            instagram.clone(),
            threads.clone(),
            sandbox.clone(),
        ])
        .with_inboxes(vec![mastodon, bluesky, x, linkedin, threads, facebook, instagram, sandbox])
        .with_app(Platform::Sandbox, sandbox::app())
    }

    pub fn with_connectors(mut self, connectors: Vec<Arc<dyn Connector>>) -> Self {
        self.connectors.extend(connectors.into_iter().map(|connector| (connector.platform(), connector)));
        self
    }

    pub fn with_inboxes(mut self, inboxes: Vec<Arc<dyn InboxClient>>) -> Self {
        self.inboxes.extend(inboxes.into_iter().map(|inbox| (inbox.platform(), inbox)));
        self
    }

    /// Posthorn's OAuth client on `platform`.
    pub fn with_app(mut self, platform: Platform, app: OAuthApp) -> Self {
        self.apps.insert(platform, app);
        self
    }

    /// The API base URL of `platform` instead of its connector's default (local fakes).
    pub fn with_base_url(mut self, platform: Platform, base_url: impl Into<String>) -> Self {
        self.base_urls.insert(platform, base_url.into());
        self
    }

    /// Applies the configured OAuth clients and base URLs.
    pub fn configured(self, settings: &[PlatformSettings]) -> Self {
        settings.iter().fold(self, |registry, setting| {
            let registry = match &setting.client_id {
                Some(client_id) => registry.with_app(
                    setting.platform,
                    OAuthApp { client_id: client_id.clone(), client_secret: setting.client_secret.clone() },
                ),
                None => registry,
            };
            match &setting.base_url {
                Some(base_url) => registry.with_base_url(setting.platform, base_url.clone()),
                None => registry,
            }
        })
    }

    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn PlatformClient>> {
        self.clients.get(&platform)
    }

    pub fn connector(&self, platform: Platform) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(&platform)
    }

    pub fn inbox(&self, platform: Platform) -> Option<&Arc<dyn InboxClient>> {
        self.inboxes.get(&platform)
    }

    /// Whether sync-inbox polls `platform`'s channels.
    pub fn polls_inbox(&self, platform: Platform) -> bool {
        self.inbox(platform).is_some_and(|inbox| !inbox.sources().is_empty())
    }

    pub fn app(&self, platform: Platform) -> Option<&OAuthApp> {
        self.apps.get(&platform)
    }

    /// The configured base URL of `platform`, if one overrides its default.
    pub fn base_url(&self, platform: Platform) -> Option<&str> {
        self.base_urls.get(&platform).map(String::as_str)
    }
}
