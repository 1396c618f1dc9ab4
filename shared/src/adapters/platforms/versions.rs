//! The platform API versions Posthorn pins, each with the last day its platform documents it
//! will answer and the page that says so: the one table a test compares with today's date, so a
//! version is replaced at least [`REPLACE_BEFORE`] ahead of its sunset. The versions in use can
//! be changed without a release ([`ApiVersions`], read from the environment by `config`).

use time::macros::date;
use time::{Date, Duration};

/// How long before its documented sunset a pinned version must have been replaced.
pub const REPLACE_BEFORE: Duration = Duration::days(60);

/// One pinned API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedVersion {
    pub api: &'static str,
    pub version: &'static str,
    /// The last day the platform documents the version as served; `None` where it announces
    /// none.
    pub sunset: Option<Date>,
    /// Where the version and its sunset are documented.
    pub source: &'static str,
}

impl PinnedVersion {
    /// Whether `today` is past, or within [`REPLACE_BEFORE`] of, the version's sunset.
    pub fn needs_replacing(&self, today: Date) -> bool {
        self.sunset.is_some_and(|sunset| today + REPLACE_BEFORE >= sunset)
    }
}

/// The `LinkedIn-Version` header (YYYYMM). LinkedIn publishes no sunset for its newest versions
/// until later; its policy serves each monthly version at least a year, so the sunset below is
/// the first day that policy no longer covers.
pub const LINKEDIN: PinnedVersion = PinnedVersion {
    api: "LinkedIn Community Management API (LinkedIn-Version)",
    version: "202607",
    sunset: Some(date!(2027 - 07 - 01)),
    source: "https://learn.microsoft.com/en-us/linkedin/marketing/versioning, \
             https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations",
};

/// The pinned Graph API version as a literal, for default URLs built with `concat!`.
macro_rules! meta_graph_version {
    () => {
        "v25.0"
    };
}
pub(crate) use meta_graph_version;

/// The Graph API version of Facebook Pages and Instagram: v25.0 is available until 2028-07-29.
pub const META_GRAPH: PinnedVersion = PinnedVersion {
    api: "Meta Graph API (Facebook Pages, Instagram)",
    version: meta_graph_version!(),
    sunset: Some(date!(2028 - 07 - 29)),
    source: "https://developers.facebook.com/docs/graph-api/changelog/versions/",
};

/// Threads has had one version since its launch and announces no end to it.
pub const THREADS: PinnedVersion = PinnedVersion {
    api: "Threads API",
    version: "v1.0",
    sunset: None,
    source: "https://developers.facebook.com/docs/threads/overview",
};

/// X's v2 API carries no dated versions.
pub const X: PinnedVersion = PinnedVersion {
    api: "X API",
    version: "2",
    sunset: None,
    source: "https://docs.x.com/x-api/getting-started/about-x-api",
};

/// Every pinned version. Mastodon's and Bluesky's APIs are not versioned by date: Mastodon keeps
/// `/api/v1` and `/api/v2` side by side, and Bluesky's lexicons evolve compatibly.
pub const PINNED: [PinnedVersion; 4] = [LINKEDIN, META_GRAPH, THREADS, X];

/// The versions in use: the pinned ones unless configured otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersions {
    /// `LinkedIn-Version`, YYYYMM.
    pub linkedin: String,
    /// The Graph API version of Facebook and Instagram calls, `vNN.N`.
    pub meta_graph: String,
}

impl Default for ApiVersions {
    fn default() -> Self {
        Self { linkedin: LINKEDIN.version.to_owned(), meta_graph: META_GRAPH.version.to_owned() }
    }
}

/// Whether `version` is a `LinkedIn-Version` value: six digits, YYYYMM.
pub fn is_linkedin_version(version: &str) -> bool {
    version.len() == 6 && version.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `segment` is a Graph API version path segment, e.g. `v25.0`.
pub fn is_graph_version(segment: &str) -> bool {
    segment.strip_prefix('v').and_then(|number| number.split_once('.')).is_some_and(|(major, minor)| {
        [major, minor].iter().all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn no_pinned_version_is_past_or_near_its_documented_sunset() {
        let today = OffsetDateTime::now_utc().date();
        for pinned in PINNED {
            assert!(
                !pinned.needs_replacing(today),
                "{} {} is served until {:?} ({}): pin a newer version at least {} days ahead",
                pinned.api,
                pinned.version,
                pinned.sunset,
                pinned.source,
                REPLACE_BEFORE.whole_days()
            );
        }
    }

    #[test]
    fn a_version_is_due_sixty_days_before_its_sunset() {
        let sunset_2026_10_15 = PinnedVersion { version: "202510", sunset: Some(date!(2026 - 10 - 15)), ..LINKEDIN };
        assert!(sunset_2026_10_15.needs_replacing(date!(2026 - 12 - 01)));
        assert!(sunset_2026_10_15.needs_replacing(date!(2026 - 08 - 16)));
        assert!(!sunset_2026_10_15.needs_replacing(date!(2026 - 08 - 15)));
        assert!(!THREADS.needs_replacing(date!(2099 - 01 - 01)));
    }

    #[test]
    fn version_formats_are_recognised() {
        assert!(is_linkedin_version("202607") && !is_linkedin_version("2026-07") && !is_linkedin_version("20260"));
        assert!(is_graph_version("v25.0") && is_graph_version("v1.0"));
        assert!(!is_graph_version("25.0") && !is_graph_version("v25") && !is_graph_version("video"));
    }
}
