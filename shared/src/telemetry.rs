//! Structured JSON logs (SPEC §3). Lambda logs carry no timestamp: CloudWatch adds its own.

use tracing_subscriber::EnvFilter;

/// Where the logs go, which decides whether lines carry their own timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    CloudWatch,
    Terminal,
}

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(target: LogTarget) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_ansi(false);
    let installed = match target {
        LogTarget::CloudWatch => logs.without_time().try_init(),
        LogTarget::Terminal => logs.try_init(),
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}
