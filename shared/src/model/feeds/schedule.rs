//! When to fetch a source next: its interval after a success; after failures, the interval
//! doubled per consecutive failure up to [`MAX_BACKOFF`], and never sooner than the server's
//! `Retry-After`.

use std::time::Duration;

use time::OffsetDateTime;

/// The longest wait between two fetches of a failing source.
pub const MAX_BACKOFF: time::Duration = time::Duration::hours(24);

/// The next fetch of a source fetched at `now` every `interval`, after `consecutive_failures`
/// (0 after a success) and the server's `retry_after`, if it sent one.
pub fn next_fetch_at(
    now: OffsetDateTime,
    interval: time::Duration,
    consecutive_failures: u32,
    retry_after: Option<Duration>,
) -> OffsetDateTime {
    let backoff = match consecutive_failures {
        0 => interval,
        failures => {
            let factor = 2_i32.checked_pow(failures.min(30)).unwrap_or(i32::MAX);
            interval.checked_mul(factor).unwrap_or(MAX_BACKOFF).min(MAX_BACKOFF).max(interval)
        }
    };
    let asked = retry_after.and_then(|delay| time::Duration::try_from(delay).ok()).unwrap_or_default().min(MAX_BACKOFF);
    now + backoff.max(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: time::Duration = time::Duration::hours(1);

    #[test]
    fn doubles_per_failure_up_to_a_day() {
        let now = OffsetDateTime::now_utc();
        let waits: Vec<time::Duration> =
            (0..8).map(|failures| next_fetch_at(now, HOUR, failures, None) - now).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 24, 24, 24].map(time::Duration::hours));
        assert_eq!(next_fetch_at(now, HOUR, u32::MAX, None) - now, MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let now = OffsetDateTime::now_utc();
        let three_hours = Some(Duration::from_secs(3 * 3600));
        assert_eq!(next_fetch_at(now, HOUR, 1, three_hours) - now, time::Duration::hours(3));
        assert_eq!(next_fetch_at(now, HOUR, 3, three_hours) - now, time::Duration::hours(8), "backoff is longer");
        let a_week = Some(Duration::from_secs(7 * 86_400));
        assert_eq!(next_fetch_at(now, HOUR, 1, a_week) - now, MAX_BACKOFF);
    }

    #[test]
    fn a_longer_interval_than_the_cap_is_kept() {
        let now = OffsetDateTime::now_utc();
        let two_days = time::Duration::days(2);
        assert_eq!(next_fetch_at(now, two_days, 4, None) - now, two_days);
    }
}
