//! The cursor of an inbox source whose API has no "after this item" parameter (LinkedIn's
//! comments, Threads' replies and mentions): the creation time of the newest item read, in
//! epoch milliseconds; each poll reads back a margin before it, so an item the platform shows a
//! little after its creation time is still read. An item read twice is recognised by its id and
//! fires once.

use time::OffsetDateTime;

use crate::model::platforms::ErrorCode;
use crate::ports::platforms::{PlatformError, PollFrom, RemoteInteraction};

/// Where a poll of such a source reads from.
pub(crate) struct ReadSince {
    newest_read: OffsetDateTime,
    /// Items created after this are read.
    pub after: OffsetDateTime,
}

impl ReadSince {
    /// From a first poll's start, or `overlap` before the newest item read.
    pub fn of(from: &PollFrom, overlap: time::Duration) -> Result<Self, PlatformError> {
        match from {
            PollFrom::Start { since } => Ok(Self { newest_read: *since, after: *since }),
            PollFrom::Cursor(stored) => {
                let newest_read = stored
                    .parse::<i128>()
                    .ok()
                    .and_then(|millis| OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok())
                    .ok_or_else(|| {
                        PlatformError::new(ErrorCode::PlatformError, "the stored inbox cursor is not a time")
                    })?;
                Ok(Self { newest_read, after: newest_read - overlap })
            }
        }
    }

    /// The cursor after `items` were read: the newest creation time, if it moved on.
    pub fn cursor_after(&self, items: &[RemoteInteraction]) -> Option<String> {
        let newest = items.iter().map(|item| item.created_at).max().filter(|newest| *newest > self.newest_read)?;
        Some((newest.unix_timestamp_nanos() / 1_000_000).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::inbox::{Author, Direction, InteractionKind};

    fn item(at: OffsetDateTime) -> RemoteInteraction {
        RemoteInteraction {
            kind: InteractionKind::Comment,
            direction: Direction::Inbound,
            platform_id: "1".into(),
            in_reply_to: None,
            author: Author { id: "a".into(), name: "a".into(), username: None, avatar_url: None },
            text: String::new(),
            media: Vec::new(),
            created_at: at,
            url: None,
            reply_handle: None,
            referral: None,
        }
    }

    #[test]
    fn reads_back_the_overlap_and_moves_only_forward() {
        let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let read = ReadSince::of(&PollFrom::Cursor("1790000000000".into()), time::Duration::minutes(10)).unwrap();
        assert_eq!(read.after, at - time::Duration::minutes(10));
        assert_eq!(read.cursor_after(&[item(at - time::Duration::minutes(1))]), None);
        let later = at + time::Duration::seconds(3);
        assert_eq!(read.cursor_after(&[item(later)]).as_deref(), Some("1790000003000"));
        assert!(ReadSince::of(&PollFrom::Cursor("yesterday".into()), time::Duration::ZERO).is_err());
    }
}
