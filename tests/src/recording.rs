//! A platform adapter for pipeline tests: it records every publish and metrics read, fails the
//! channels a test names, answers the figures a test scripts and can be slow, so tests can count
//! exactly what was posted and read where.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use posthorn::model::platforms::{ErrorCode, Metrics, Platform};
use posthorn::ports::platforms::{ChannelAuth, PlatformClient, PlatformError, PublishRequest, Published};

/// One publish the adapter received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishCall {
    pub channel: String,
    pub text: String,
}

#[derive(Default)]
struct Script {
    calls: Vec<PublishCall>,
    failing: HashMap<String, ErrorCode>,
    /// What a metrics read of a post on a channel answers (default: no figures).
    metrics: HashMap<String, Result<Metrics, PlatformError>>,
    /// Metrics reads per channel.
    metrics_reads: HashMap<String, usize>,
    /// How long each publish takes.
    latency: Duration,
}

/// Stands in for `platform`; clones share their record.
#[derive(Clone)]
pub struct RecordingPlatform {
    platform: Platform,
    script: Arc<Mutex<Script>>,
}

impl RecordingPlatform {
    pub fn new(platform: Platform) -> Self {
        Self { platform, script: Arc::default() }
    }

    /// Publishing to the channel whose platform id is `channel` fails with `code` until healed.
    pub fn fail(&self, channel: &str, code: ErrorCode) {
        self.script.lock().expect("script lock").failing.insert(channel.to_string(), code);
    }

    /// Each publish from now on takes `latency` before it answers, like a slow platform.
    pub fn take_time(&self, latency: Duration) {
        self.script.lock().expect("script lock").latency = latency;
    }

    pub fn heal(&self, channel: &str) {
        self.script.lock().expect("script lock").failing.remove(channel);
    }

    pub fn calls(&self) -> Vec<PublishCall> {
        self.script.lock().expect("script lock").calls.clone()
    }

    /// Metrics reads on the channel whose platform id is `channel` answer `answer` from now on.
    pub fn answer_metrics(&self, channel: &str, answer: Result<Metrics, PlatformError>) {
        self.script.lock().expect("script lock").metrics.insert(channel.to_string(), answer);
    }

    /// How many times the metrics of posts on `channel` were read.
    pub fn metrics_reads(&self, channel: &str) -> usize {
        self.script.lock().expect("script lock").metrics_reads.get(channel).copied().unwrap_or(0)
    }
}

#[async_trait]
impl PlatformClient for RecordingPlatform {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn publish(&self, auth: &ChannelAuth, post: &PublishRequest) -> Result<Published, PlatformError> {
        let latency = self.script.lock().expect("script lock").latency;
        tokio::time::sleep(latency).await;
        let mut script = self.script.lock().expect("script lock");
        script.calls.push(PublishCall { channel: auth.platform_channel_id.clone(), text: post.text.clone() });
        if let Some(code) = script.failing.get(&auth.platform_channel_id) {
            return Err(PlatformError::new(*code, format!("recorded failure on {}", auth.platform_channel_id)));
        }
        let id = script.calls.len();
        Ok(Published { platform_post_id: format!("{}-{id}", auth.platform_channel_id), url: None })
    }

    async fn delete(&self, _auth: &ChannelAuth, _platform_post_id: &str) -> Result<(), PlatformError> {
        Ok(())
    }

    async fn metrics(&self, auth: &ChannelAuth, _platform_post_id: &str) -> Result<Metrics, PlatformError> {
        let mut script = self.script.lock().expect("script lock");
        *script.metrics_reads.entry(auth.platform_channel_id.clone()).or_default() += 1;
        script.metrics.get(&auth.platform_channel_id).cloned().unwrap_or(Ok(Metrics::default()))
    }
}
