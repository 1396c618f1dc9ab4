//! Automation schedules (SPEC §7): a five-field cron expression read in an IANA time zone, so a
//! `0 9 * * *` schedule in Europe/Berlin fires at 09:00 Berlin time on both sides of a
//! daylight-saving change.
//!
//! Parsing and the search for the next time are croner's (it follows the Open Cron Pattern
//! Specification and documents its DST rules: a time in a spring-forward gap fires right after
//! the gap, a time in a fall-back overlap fires once); time zones are jiff's, with the tz
//! database compiled in, so a Lambda image needs no zoneinfo files.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

const MAX_CRON_CHARS: usize = 100;

/// When an automation runs on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five fields: minute, hour, day of month, month, day of week (like `0 9 * * 1-5`).
    pub cron: String,
    /// An IANA time zone, like `Europe/Berlin` or `UTC`.
    pub timezone: String,
}

impl Schedule {
    /// A checked schedule; the error names the field at fault.
    pub fn new(cron: &str, timezone: &str) -> Result<Self, String> {
        let schedule = Self { cron: cron.trim().to_string(), timezone: timezone.trim().to_string() };
        schedule.parts()?;
        Ok(schedule)
    }

    /// The first time strictly after `after` that the schedule fires, if any.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let (cron, zone) = self.parts().ok()?;
        let start = Timestamp::from_nanosecond(after.unix_timestamp_nanos()).ok()?.to_zoned(zone);
        let next = cron.find_next_occurrence(&start, false).ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(next.timestamp().as_nanosecond()).ok()
    }

    fn parts(&self) -> Result<(Cron, TimeZone), String> {
        if self.cron.len() > MAX_CRON_CHARS || self.cron.split_whitespace().count() != 5 {
            return Err(format!(
                "schedule.cron must have five fields (minute hour day-of-month month day-of-week), like `0 9 * * *`; got `{}`",
                self.cron.chars().take(MAX_CRON_CHARS).collect::<String>()
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&self.cron)
            .map_err(|error| format!("schedule.cron is not a valid cron expression: {error}"))?;
        let zone = TimeZone::get(&self.timezone)
            .map_err(|_| format!("schedule.timezone `{}` is not an IANA time zone", self.timezone))?;
        Ok((cron, zone))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn berlin_nine() -> Schedule {
        Schedule::new("0 9 * * *", "Europe/Berlin").unwrap()
    }

    #[test]
    fn fires_at_nine_berlin_time_on_both_sides_of_the_spring_change() {
        // Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026.
        let schedule = berlin_nine();
        assert_eq!(schedule.next_after(datetime!(2026-03-28 00:00 UTC)), Some(datetime!(2026-03-28 08:00 UTC)));
        assert_eq!(schedule.next_after(datetime!(2026-03-28 08:00 UTC)), Some(datetime!(2026-03-29 07:00 UTC)));
    }

    #[test]
    fn fires_at_nine_berlin_time_on_both_sides_of_the_autumn_change() {
        // Berlin moves back from UTC+2 to UTC+1 at 01:00 UTC on 25 October 2026.
        let schedule = berlin_nine();
        assert_eq!(schedule.next_after(datetime!(2026-10-24 00:00 UTC)), Some(datetime!(2026-10-24 07:00 UTC)));
        assert_eq!(schedule.next_after(datetime!(2026-10-24 07:00 UTC)), Some(datetime!(2026-10-25 08:00 UTC)));
    }

    #[test]
    fn a_time_in_the_spring_gap_fires_once_right_after_it() {
        let schedule = Schedule::new("30 2 * * *", "Europe/Berlin").unwrap();
        // 02:30 does not exist on 29 March 2026; the run moves to 03:00 CEST (01:00 UTC).
        assert_eq!(schedule.next_after(datetime!(2026-03-28 23:00 UTC)), Some(datetime!(2026-03-29 01:00 UTC)));
    }

    #[test]
    fn rejects_bad_expressions_and_zones_naming_the_field() {
        assert!(Schedule::new("every day", "UTC").unwrap_err().starts_with("schedule.cron"));
        assert!(Schedule::new("61 * * * *", "UTC").unwrap_err().starts_with("schedule.cron"));
        assert!(Schedule::new("0 0 9 * * *", "UTC").unwrap_err().starts_with("schedule.cron"));
        assert!(Schedule::new("0 9 * * *", "Mars/Olympus").unwrap_err().starts_with("schedule.timezone"));
        assert!(Schedule::new("*/15 9-17 * * MON-FRI", "America/New_York").is_ok());
    }
}
