//! Typed, prefixed, sortable identifiers (`wh_01J…`): one type per kind of record, so a webhook
//! id can never be passed where a workspace id is expected. The ULID makes them sort by time.

use std::fmt;
use std::str::FromStr;

use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use ulid::{Generator, Ulid};

/// One generator per process, so ids made in the same millisecond still sort in the order they
/// were made (lists are ordered by id).
static GENERATOR: LazyLock<Mutex<Generator>> = LazyLock::new(|| Mutex::new(Generator::new()));

fn next_ulid() -> Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // The random part overflows only after 2^80 ids in one millisecond.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// A string that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by a ULID)")]
pub struct InvalidId {
    kind: &'static str,
    prefix: &'static str,
    value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(next_ulid())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                value
                    .strip_prefix(concat!($prefix, "_"))
                    .and_then(|ulid| Ulid::from_string(ulid).ok())
                    .map(Self)
                    .ok_or_else(|| InvalidId { kind: $kind, prefix: $prefix, value: value.chars().take(64).collect() })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                value.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("A ", $kind, " id: `", $prefix, "_` followed by a ULID.")))
                    .pattern(Some(concat!("^", $prefix, "_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")))
                    .examples([concat!($prefix, "_01JD8Z3QK5V7Y2W9X4T6R8P0MN")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// A workspace: the tenant every record belongs to.
    WorkspaceId, "ws", "workspace"
);
typed_id!(
    /// An API key (the id, never the secret).
    ApiKeyId, "key", "API key"
);
typed_id!(
    /// A connected social account (an OAuth connection).
    ConnectionId, "acc", "connection"
);
typed_id!(
    /// A channel of a connection: a profile, page, organization or account posted to.
    ChannelId, "ch", "channel"
);
typed_id!(
    /// A post, published to one or more channels.
    PostId, "post", "post"
);
typed_id!(
    /// An automation: instructions, sources and channels that generate posts.
    AutomationId, "aut", "automation"
);
typed_id!(
    /// An RSS, Atom or JSON feed an automation draws entries from.
    SourceId, "src", "source"
);
typed_id!(
    /// One content-generation run of an automation.
    RunId, "run", "run"
);
typed_id!(
    /// A webhook endpoint.
    WebhookId, "wh", "webhook"
);
typed_id!(
    /// An event: the same on every delivery attempt, so receivers deduplicate on it.
    EventId, "evt", "event"
);
typed_id!(
    /// One delivery of one event to one endpoint.
    DeliveryId, "dlv", "delivery"
);

typed_id!(
    /// A recovery: the failed deliveries of one endpoint in a time window, sent again.
    RecoveryId, "rcv", "recovery"
);

typed_id!(
    /// A comment, mention or DM on a connected account: the same for the same platform item on
    /// the same channel however often it is seen, so it is stored once and fires once.
    InteractionId, "int", "interaction"
);

impl InteractionId {
    /// The one id of the item `platform_id` of `platform` seen on `channel`: random-looking bits
    /// drawn from the three, with no time in them (a poll and a push of one item agree).
    pub fn of(platform: &str, channel: ChannelId, platform_id: &str) -> Self {
        let digest = Sha256::digest(format!("{platform}:{channel}:{platform_id}"));
        let bits: [u8; 16] = digest[..16].try_into().expect("a SHA-256 digest has 32 bytes");
        Self(Ulid::from(u128::from_be_bytes(bits)))
    }
}

impl DeliveryId {
    /// The one delivery of `event` to `webhook`: the event's time, and random bits drawn from
    /// both ids, so a fan-out resumed after a crash writes the same deliveries, never a second.
    pub fn of(event: EventId, webhook: WebhookId) -> Self {
        let digest = Sha256::digest(format!("{event}{webhook}"));
        let bits: [u8; 16] = digest[..16].try_into().expect("a SHA-256 digest has 32 bytes");
        Self(Ulid::from_parts(event.0.timestamp_ms(), u128::from_be_bytes(bits) >> 48))
    }

    /// The lowest id of a delivery of an event made at `at` (or later): where a scan of
    /// deliveries by id starts for a time window.
    pub fn lowest_at(at: time::OffsetDateTime) -> Self {
        let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        Self(Ulid::from_parts(millis, 0))
    }

    /// When the event of this delivery was made (its id's time, to the millisecond).
    pub fn made_at(&self) -> time::OffsetDateTime {
        let millis = i128::from(self.0.timestamp_ms());
        time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_string_form() {
        let id = WebhookId::new();
        let text = id.to_string();
        assert!(text.starts_with("wh_"));
        assert_eq!(text.parse::<WebhookId>().unwrap(), id);
    }

    #[test]
    fn rejects_another_kind_and_garbage() {
        let workspace = WorkspaceId::new().to_string();
        assert!(workspace.parse::<WebhookId>().is_err());
        assert!("wh_not-a-ulid".parse::<WebhookId>().is_err());
        assert!("".parse::<WebhookId>().is_err());
    }

    #[test]
    fn ids_sort_in_the_order_they_were_made_even_within_a_millisecond() {
        let ids: Vec<String> = (0..1000).map(|_| WebhookId::new().to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn an_interaction_id_depends_on_platform_channel_and_item_only() {
        let channel = ChannelId::new();
        let id = InteractionId::of("mastodon", channel, "113245");
        assert_eq!(id, InteractionId::of("mastodon", channel, "113245"));
        assert_ne!(id, InteractionId::of("mastodon", channel, "113246"));
        assert_ne!(id, InteractionId::of("bluesky", channel, "113245"));
        assert_ne!(id, InteractionId::of("mastodon", ChannelId::new(), "113245"));
        assert_eq!(id.to_string().parse::<InteractionId>().unwrap(), id);
    }

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_event_and_endpoint_and_sorts_with_its_event() {
        let (event, webhook, other) = (EventId::new(), WebhookId::new(), WebhookId::new());
        assert_eq!(DeliveryId::of(event, webhook), DeliveryId::of(event, webhook));
        assert_ne!(DeliveryId::of(event, webhook), DeliveryId::of(event, other));
        assert_eq!(DeliveryId::of(event, webhook).0.timestamp_ms(), event.0.timestamp_ms());
    }
}
