//! Structured JSON logs (SPEC §3). Lambda logs carry no timestamp: CloudWatch adds its own.

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where the logs go, which decides whether lines carry their own timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    CloudWatch,
    Terminal,
}

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(target: LogTarget) {
    let logs = tracing_subscriber::fmt::layer().json().with_current_span(false).with_ansi(false);
    let logs = match target {
        LogTarget::CloudWatch => logs.without_time().boxed(),
        LogTarget::Terminal => logs.boxed(),
    };
    let installed =
        tracing_subscriber::registry().with(logs).with(log_filter(std::env::var("RUST_LOG").ok())).try_init();
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}

/// `RUST_LOG` as a list of `target=level` directives and an optional bare default level, like
/// `info` or `posthorn=debug,warn`. (`tracing`'s span and field filters are left out: their
/// regex engine alone would add a few hundred kilobytes to every function.) A value that does
/// not parse is ignored.
fn log_filter(rust_log: Option<String>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn reads_target_directives_and_defaults_to_info() {
        let filter = log_filter(Some("posthorn=debug,warn".into()));
        assert!(filter.would_enable("posthorn::webhooks", &Level::DEBUG));
        assert!(!filter.would_enable("hyper", &Level::INFO));
        assert!(filter.would_enable("hyper", &Level::WARN));
        for unset in [None, Some("posthorn=loud".into())] {
            let filter = log_filter(unset);
            assert!(filter.would_enable("posthorn", &Level::INFO));
            assert!(!filter.would_enable("posthorn", &Level::DEBUG));
        }
    }
}
