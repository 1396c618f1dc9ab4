//! The Store port: every record Posthorn keeps. Each adapter (SQLite for the dev server and the
//! default tests, DynamoDB in production) implements only the generic core, [`RecordStore`];
//! [`Store`] is the typed accessors over it, written once here. Both adapters pass one contract
//! suite (`tests/tests/store_contract/`). Every read and write names its workspace, so no query
//! can return another workspace's rows.
//!
//! Adding a record kind: a [`Kind`], an impl of [`Record`] in `kinds.rs` (its key and index
//! entries), then [`records`]`::<T>(store)` gives its typed operations; a DynamoDB sort-key
//! prefix for the kind is the one line an adapter needs.

mod core;
mod kinds;
mod records;
mod typed;

pub use self::core::{
    Addition, Condition, Document, FieldIs, Index, IndexEntry, IndexQuery, Kind, ListQuery, MAX_ITEMS_PER_TRANSACTION,
    Order, Outcome, RecordKey, RecordStore, SortRange, Write, check_transaction,
};
pub use self::kinds::{api_key_key, workspace_key};
pub use self::records::{Record, Records, key_of, records};
pub use self::typed::Store;

use std::str::FromStr;

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::model::error::{Error, Result};
use crate::model::webhooks::{DeliveryStatus, EventType};

/// Which page of a list to read: newest first, `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The id of the last item of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list. `next_cursor` is `None` exactly when no item follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts a newest-first batch of up to `limit + 1` items, read to learn whether any item
    /// follows, down to one page whose cursor is the id of its last item.
    pub(crate) fn from_overfetch(mut items: Vec<T>, limit: usize, id_of: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = items.last().filter(|_| more).map(id_of);
        Self { items, next_cursor }
    }
}

/// The cursor of a page request as the id it must be; anything else is a bad request.
pub(crate) fn parse_cursor<I: FromStr>(cursor: Option<&str>) -> Result<Option<I>> {
    cursor.map(|text| text.parse().map_err(|_| Error::bad_request("invalid cursor"))).transpose()
}

/// The most deliveries `create_event` writes with an event: all of them and the event are one
/// transaction.
pub const MAX_DELIVERIES_PER_EVENT: usize = MAX_ITEMS_PER_TRANSACTION - 1;

/// `at` as UTC text of fixed width (RFC 3339 with nine fraction digits), so that comparing the
/// text compares the times: what the adapters index and range-query timestamps by.
pub(crate) fn sortable_time(at: OffsetDateTime) -> Result<String> {
    const FORMAT: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    at.checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| Error::Internal(format!("{at} cannot be expressed in UTC")))?
        .format(FORMAT)
        .map_err(|e| Error::internal("formatting a sortable time", e))
}

/// Which of an endpoint's deliveries to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
}

/// Which of a workspace's interactions to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InteractionFilter {
    pub kind: Option<crate::model::inbox::InteractionKind>,
    pub account: Option<crate::model::ids::ConnectionId>,
    pub channel: Option<crate::model::ids::ChannelId>,
    pub post: Option<crate::model::ids::PostId>,
    /// Only those written at or after this time.
    pub since: Option<OffsetDateTime>,
}
