//! The webhook limits a workspace and a delivery record live within (configuration, with
//! defaults that keep every DynamoDB item far below its 400 KB).

/// How many endpoints a workspace may have, and how many attempts a delivery keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookLimits {
    /// Creating one more endpoint is a 422 that says so.
    pub max_endpoints_per_workspace: usize,
    /// A delivery keeps its newest attempts (each with at most 1 KiB of response body); older
    /// ones are dropped and counted.
    pub attempts_kept: usize,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self { max_endpoints_per_workspace: 1_000, attempts_kept: 20 }
    }
}
