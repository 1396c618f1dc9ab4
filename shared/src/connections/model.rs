//! The records the connect flow keeps besides connections: the single-use OAuth `state` of a
//! consent in progress, and the OAuth clients registered on instances (Mastodon).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::channels::SealedApp;
use crate::crypto::Sealed;
use crate::ids::WorkspaceId;
use crate::platforms::Platform;

/// A consent in progress: what `GET /functions/v1/connect` handed out, taken (and so used up)
/// by the callback. Bound to its workspace; refused after `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthState {
    /// The random `state` value sent to the platform.
    pub state: String,
    pub workspace_id: WorkspaceId,
    pub platform: Platform,
    pub redirect_uri: String,
    /// The API the code is exchanged at (the platform's, or the chosen Mastodon instance).
    pub base_url: String,
    /// The PKCE verifier, sealed; `None` where the platform takes no PKCE.
    pub pkce_verifier: Option<Sealed>,
    /// Epoch seconds: DynamoDB's TTL attribute, so abandoned states are deleted.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// Posthorn's OAuth client on one instance for one redirect URI (Mastodon registers apps per
/// instance, with their redirect URIs fixed at registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceApp {
    pub workspace_id: WorkspaceId,
    pub platform: Platform,
    pub base_url: String,
    pub redirect_uri: String,
    pub app: SealedApp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl InstanceApp {
    /// The key an instance app is stored under: a hash of platform, instance and redirect URI,
    /// so that URLs of any length and alphabet make a bounded key.
    pub fn key(platform: Platform, base_url: &str, redirect_uri: &str) -> String {
        let mut hash = Sha256::new();
        for part in [platform.as_str(), base_url, redirect_uri] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hex::encode(hash.finalize())
    }

    pub fn own_key(&self) -> String {
        Self::key(self.platform, &self.base_url, &self.redirect_uri)
    }
}
