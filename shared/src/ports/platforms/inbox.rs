//! The inbox port (SPEC §8): what a platform's adapter does for the inbox — read the new items
//! of each source it is polled through, a page at a time from a cursor, and answer an
//! interaction through the platform.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::inbox::{AttachedMedia, Author, Direction, InteractionKind};
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, PlatformError, Published};

/// One feed of a platform that interactions are polled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxSource {
    /// The name its cursor is kept under (`notifications`, `mentions`, `dms`…).
    pub name: &'static str,
    /// The least time between two polls: what keeps a source inside the platform's rate limit
    /// (X's DM events allow 15 reads in 15 minutes).
    pub min_interval: Duration,
    /// Whether it carries DMs (a grant without DM access is told apart from a failure).
    pub dms: bool,
}

/// Where a poll reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollFrom {
    /// After this cursor, as the adapter returned it last time.
    Cursor(String),
    /// The source's first poll: only its newest items, none written before `since`.
    Start { since: OffsetDateTime },
}

/// An item of a source, as the platform describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteInteraction {
    pub kind: InteractionKind,
    pub direction: Direction,
    /// The platform's id of the item.
    pub platform_id: String,
    /// The platform's id of what it answers (one of the account's posts, or another comment).
    pub in_reply_to: Option<String>,
    pub author: Author,
    pub text: String,
    pub media: Vec<AttachedMedia>,
    pub created_at: OffsetDateTime,
    pub url: Option<String>,
    /// What answering it takes beyond its id (see `Interaction::reply_handle`).
    pub reply_handle: Option<String>,
    /// The ad or link a conversation started from, as the platform describes it.
    pub referral: Option<serde_json::Value>,
}

/// One page of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub items: Vec<RemoteInteraction>,
    /// The cursor to read on from; `None` keeps the previous one.
    pub cursor: Option<String>,
    /// Whether more items wait beyond this page.
    pub more: bool,
}

/// What an answer goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub kind: InteractionKind,
    pub platform_id: String,
    pub author: Author,
    pub reply_handle: Option<String>,
}

/// One platform's inbox adapter.
#[async_trait]
pub trait InboxClient: Send + Sync {
    fn platform(&self) -> Platform;

    /// The sources it is polled through; none (the default) where interactions arrive only by
    /// push.
    fn sources(&self) -> &'static [InboxSource] {
        &[]
    }

    /// The next page of `source` for the channel `auth` acts as. `recent_posts` are the
    /// platform ids of the channel's recently published posts, for platforms whose comments are
    /// read per post (LinkedIn, Threads).
    async fn poll(
        &self,
        _auth: &ChannelAuth,
        _source: &InboxSource,
        _from: &PollFrom,
        _recent_posts: &[String],
    ) -> Result<Polled, PlatformError> {
        Ok(Polled { items: Vec::new(), cursor: None, more: false })
    }

    /// Whether the platform pushes an account's interactions only once the app is subscribed to
    /// that account (Facebook Pages, Instagram): then a channel is subscribed when it is stored
    /// and unsubscribed when it is deleted.
    fn subscribes_to_push(&self) -> bool {
        false
    }

    /// Subscribes the app to the pushed fields of the account or page `auth` acts as.
    async fn subscribe_push(&self, _auth: &ChannelAuth) -> Result<(), PlatformError> {
        Ok(())
    }

    /// Ends what [`subscribe_push`](Self::subscribe_push) started.
    async fn unsubscribe_push(&self, _auth: &ChannelAuth) -> Result<(), PlatformError> {
        Ok(())
    }

    /// Whether the platform's API lets apps answer an interaction of `kind`.
    fn replies_to(&self, kind: InteractionKind) -> bool;

    /// Answers `to` with `text` through the platform: a comment reply, or a DM to its author.
    /// Called only for kinds [`replies_to`](Self::replies_to) accepts.
    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError>;
}

/// What a DM the account sent became, as a platform's push reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DmStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

/// One thing a platform pushed, for the account or page `to` (the platform's id of a channel).
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub platform: Platform,
    pub to: String,
    pub what: PushedItem,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PushedItem {
    /// A comment, mention or message (an echo of the account's own is outbound).
    Interaction(Box<RemoteInteraction>),
    /// News of a DM the account sent: the platform's id of the message, and when.
    Status { platform_id: String, status: DmStatus, at: OffsetDateTime },
    /// `reader` has read every message the account sent them up to `watermark` (Facebook's read
    /// receipts name no message).
    ReadUpTo { reader: String, watermark: OffsetDateTime },
}

/// A platform's push, parsed: what it carried, and how many of its entries were of a kind
/// Posthorn does not read (counted, never an error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushBatch {
    pub items: Vec<Pushed>,
    pub ignored: usize,
}
