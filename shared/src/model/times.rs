//! How times appear in event payloads: RFC 3339 in UTC, to the whole second, like the
//! envelope's `timestamp`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub fn rfc3339(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn whole_seconds_in_utc() {
        assert_eq!(rfc3339(datetime!(2026-03-23 19:00:00.123456 +01:00)), "2026-03-23T18:00:00Z");
    }
}
