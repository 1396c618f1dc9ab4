//! The retry schedule (SPEC §4): how long to wait before each attempt of a delivery, with ±10 %
//! jitter, and how a `Retry-After` answer bends it.

use std::time::Duration;

use crate::model::crypto::random_bytes;

/// Delays before each attempt; the first is normally zero (send at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    /// Immediately, ~30 s, ~5 min, ~30 min, ~3 h.
    fn default() -> Self {
        Self([0, 30, 300, 1800, 10800].into_iter().map(Duration::from_secs).collect())
    }
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Option<Self> {
        (!delays.is_empty()).then_some(Self(delays))
    }

    /// Parses comma-separated seconds, e.g. `0,30,300`.
    pub fn parse(text: &str) -> Option<Self> {
        let delays = text
            .split(',')
            .map(|part| {
                part.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
            })
            .collect::<Option<Vec<_>>>()?;
        Self::new(delays)
    }

    pub fn attempts(&self) -> usize {
        self.0.len()
    }

    /// How long a delivery may take to fail for good: every delay added up (without jitter).
    pub fn span(&self) -> Duration {
        self.0.iter().sum()
    }

    /// The wait before the next attempt after `attempts_made` failed ones in this schedule, or
    /// `None` when the schedule is used up. A `Retry-After` from the endpoint is honoured up to
    /// twice the scheduled delay.
    pub fn next_delay(&self, attempts_made: usize, retry_after: Option<Duration>) -> Option<Duration> {
        let scheduled = with_jitter(*self.0.get(attempts_made)?);
        Some(match retry_after {
            Some(asked) => asked.min(scheduled * 2),
            None => scheduled,
        })
    }
}

fn with_jitter(delay: Duration) -> Duration {
    let unit = f64::from(u32::from_le_bytes(random_bytes())) / f64::from(u32::MAX);
    delay.mul_f64(0.9 + 0.2 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_has_five_attempts_within_ten_percent() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 5);
        let expected = [0.0, 30.0, 300.0, 1800.0, 10800.0];
        for (made, seconds) in expected.iter().enumerate() {
            let delay = schedule.next_delay(made, None).unwrap().as_secs_f64();
            assert!(delay >= seconds * 0.9 && delay <= seconds * 1.1, "{made}: {delay}");
        }
        assert_eq!(schedule.next_delay(5, None), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_twice_the_scheduled_delay() {
        let schedule = RetrySchedule::parse("0,100").unwrap();
        let short = schedule.next_delay(1, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(short, Duration::from_secs(10));
        let long = schedule.next_delay(1, Some(Duration::from_secs(10_000))).unwrap();
        assert!(long >= Duration::from_secs(180) && long <= Duration::from_secs(220), "{long:?}");
    }

    #[test]
    fn parses_configuration() {
        assert_eq!(RetrySchedule::parse("0, 1.5,2").unwrap().attempts(), 3);
        assert!(RetrySchedule::parse("").is_none());
        assert!(RetrySchedule::parse("0,-1").is_none());
        assert!(RetrySchedule::parse("soon").is_none());
    }
}
