//! The event catalog (SPEC §4): every event Posthorn emits, its category, when it fires, and an
//! example of its `data`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "post.scheduled")]
    PostScheduled,
    #[serde(rename = "post.published")]
    PostPublished,
    #[serde(rename = "post.partial")]
    PostPartial,
    #[serde(rename = "post.failed")]
    PostFailed,
    #[serde(rename = "post.updated")]
    PostUpdated,
    #[serde(rename = "post.cancelled")]
    PostCancelled,
    #[serde(rename = "post.deleted")]
    PostDeleted,
    #[serde(rename = "post.retried")]
    PostRetried,
    #[serde(rename = "post.metrics.updated")]
    PostMetricsUpdated,
    #[serde(rename = "post.unpublished")]
    PostUnpublished,
    #[serde(rename = "account.connected")]
    AccountConnected,
    #[serde(rename = "account.disconnected")]
    AccountDisconnected,
    #[serde(rename = "token.expired")]
    TokenExpired,
    #[serde(rename = "channel.created")]
    ChannelCreated,
    #[serde(rename = "channel.deleted")]
    ChannelDeleted,
    #[serde(rename = "automation.run.completed")]
    AutomationRunCompleted,
    #[serde(rename = "automation.run.failed")]
    AutomationRunFailed,
    #[serde(rename = "comment.received")]
    CommentReceived,
    #[serde(rename = "mention.received")]
    MentionReceived,
    #[serde(rename = "dm.received")]
    DmReceived,
    #[serde(rename = "dm.sent")]
    DmSent,
    #[serde(rename = "dm.referral")]
    DmReferral,
    #[serde(rename = "dm.status.sent")]
    DmStatusSent,
    #[serde(rename = "dm.status.delivered")]
    DmStatusDelivered,
    #[serde(rename = "dm.status.read")]
    DmStatusRead,
    #[serde(rename = "dm.status.failed")]
    DmStatusFailed,
    #[serde(rename = "review.received")]
    ReviewReceived,
    #[serde(rename = "webhook.ping")]
    WebhookPing,
    #[serde(rename = "webhook.test")]
    WebhookTest,
    #[serde(rename = "webhook.endpoint.disabled")]
    WebhookEndpointDisabled,
    #[serde(rename = "webhook.endpoint.enabled")]
    WebhookEndpointEnabled,
    #[serde(rename = "webhook.recovery.completed")]
    WebhookRecoveryCompleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventCategory {
    Posts,
    Accounts,
    Automations,
    Inbox,
    System,
}

impl EventType {
    pub const ALL: [EventType; 32] = [
        Self::PostScheduled,
        Self::PostPublished,
        Self::PostPartial,
        Self::PostFailed,
        Self::PostUpdated,
        Self::PostCancelled,
        Self::PostDeleted,
        Self::PostRetried,
        Self::PostMetricsUpdated,
        Self::PostUnpublished,
        Self::AccountConnected,
        Self::AccountDisconnected,
        Self::TokenExpired,
        Self::ChannelCreated,
        Self::ChannelDeleted,
        Self::AutomationRunCompleted,
        Self::AutomationRunFailed,
        Self::CommentReceived,
        Self::MentionReceived,
        Self::DmReceived,
        Self::DmSent,
        Self::DmReferral,
        Self::DmStatusSent,
        Self::DmStatusDelivered,
        Self::DmStatusRead,
        Self::DmStatusFailed,
        Self::ReviewReceived,
        Self::WebhookPing,
        Self::WebhookTest,
        Self::WebhookEndpointDisabled,
        Self::WebhookEndpointEnabled,
        Self::WebhookRecoveryCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostScheduled => "post.scheduled",
            Self::PostPublished => "post.published",
            Self::PostPartial => "post.partial",
            Self::PostFailed => "post.failed",
            Self::PostUpdated => "post.updated",
            Self::PostCancelled => "post.cancelled",
            Self::PostDeleted => "post.deleted",
            Self::PostRetried => "post.retried",
            Self::PostMetricsUpdated => "post.metrics.updated",
            Self::PostUnpublished => "post.unpublished",
            Self::AccountConnected => "account.connected",
            Self::AccountDisconnected => "account.disconnected",
            Self::TokenExpired => "token.expired",
            Self::ChannelCreated => "channel.created",
            Self::ChannelDeleted => "channel.deleted",
            Self::AutomationRunCompleted => "automation.run.completed",
            Self::AutomationRunFailed => "automation.run.failed",
            Self::CommentReceived => "comment.received",
            Self::MentionReceived => "mention.received",
            Self::DmReceived => "dm.received",
            Self::DmSent => "dm.sent",
            Self::DmReferral => "dm.referral",
            Self::DmStatusSent => "dm.status.sent",
            Self::DmStatusDelivered => "dm.status.delivered",
            Self::DmStatusRead => "dm.status.read",
            Self::DmStatusFailed => "dm.status.failed",
            Self::ReviewReceived => "review.received",
            Self::WebhookPing => "webhook.ping",
            Self::WebhookTest => "webhook.test",
            Self::WebhookEndpointDisabled => "webhook.endpoint.disabled",
            Self::WebhookEndpointEnabled => "webhook.endpoint.enabled",
            Self::WebhookRecoveryCompleted => "webhook.recovery.completed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }

    pub fn category(self) -> EventCategory {
        match self {
            Self::PostScheduled
            | Self::PostPublished
            | Self::PostPartial
            | Self::PostFailed
            | Self::PostUpdated
            | Self::PostCancelled
            | Self::PostDeleted
            | Self::PostRetried
            | Self::PostMetricsUpdated
            | Self::PostUnpublished => EventCategory::Posts,
            Self::AccountConnected
            | Self::AccountDisconnected
            | Self::TokenExpired
            | Self::ChannelCreated
            | Self::ChannelDeleted => EventCategory::Accounts,
            Self::AutomationRunCompleted | Self::AutomationRunFailed => EventCategory::Automations,
            Self::CommentReceived
            | Self::MentionReceived
            | Self::DmReceived
            | Self::DmSent
            | Self::DmReferral
            | Self::DmStatusSent
            | Self::DmStatusDelivered
            | Self::DmStatusRead
            | Self::DmStatusFailed
            | Self::ReviewReceived => EventCategory::Inbox,
            Self::WebhookPing
            | Self::WebhookTest
            | Self::WebhookEndpointDisabled
            | Self::WebhookEndpointEnabled
            | Self::WebhookRecoveryCompleted => EventCategory::System,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::PostScheduled => "A post was saved with a future `scheduled_at`.",
            Self::PostPublished => "Every target of a post was published.",
            Self::PostPartial => "Some targets of a post were published and some failed.",
            Self::PostFailed => "Every target of a post failed.",
            Self::PostUpdated => "A draft, scheduled or failed post was edited (`changed_fields`).",
            Self::PostCancelled => "A scheduled post was cancelled before publishing.",
            Self::PostDeleted => "A post was deleted (`was_status`).",
            Self::PostRetried => "A failed or partial post is being retried (`retried_count`).",
            Self::PostMetricsUpdated => "New engagement figures were synced for a published post.",
            Self::PostUnpublished => {
                "A published post was deleted from platforms (`unpublished_count`; `account_id` null when from every one)."
            }
            Self::AccountConnected => "An OAuth connection finished; carries the profile fields.",
            Self::AccountDisconnected => "A connection was removed or revoked.",
            Self::TokenExpired => "A token refresh failed for good; the user must reconnect.",
            Self::ChannelCreated => "import-channels found a new channel.",
            Self::ChannelDeleted => "import-channels no longer found a channel.",
            Self::AutomationRunCompleted => "A content-generation run finished and created its posts.",
            Self::AutomationRunFailed => "A content-generation run failed (`reason`).",
            Self::CommentReceived => "Someone replied to one of the account's posts or comments.",
            Self::MentionReceived => "Someone mentioned the account in a post.",
            Self::DmReceived => "A direct message arrived.",
            Self::DmSent => {
                "A direct message the account sent was seen (a reply sent through Posthorn, or the platform's echo)."
            }
            Self::DmReferral => {
                "Someone opened a conversation from an ad or a link, without a message yet (`metadata.referral`)."
            }
            Self::DmStatusSent => "A direct message the account sent left the platform's servers.",
            Self::DmStatusDelivered => "A direct message the account sent reached the recipient.",
            Self::DmStatusRead => "The recipient read a direct message the account sent.",
            Self::DmStatusFailed => "A direct message the account sent could not be delivered.",
            Self::ReviewReceived => {
                "A review arrived. No connected platform emits it yet; subscribing to it is allowed."
            }
            Self::WebhookPing => "Sent once when an endpoint is registered, to verify it answers.",
            Self::WebhookTest => "Sent on demand by POST /v1/webhooks/{id}/test.",
            Self::WebhookEndpointDisabled => {
                "Another endpoint of the workspace was disabled (`reason`); sent to every other subscribed endpoint."
            }
            Self::WebhookEndpointEnabled => {
                "Another endpoint was enabled again (`reason`: `manual`, or `recovered` when a probe found it answering)."
            }
            Self::WebhookRecoveryCompleted => {
                "A recovery of another endpoint finished (`state`, `total`, `delivered`, `failed`)."
            }
        }
    }

    /// An example of the event's `data` object.
    pub fn example_data(self) -> Value {
        let post = "post_01JD8Z3QK5V7Y2W9X4T6R8P0MN";
        let published = json!({"channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA", "platform": "mastodon",
            "status": "published", "platform_post_id": "113245", "url": "https://mastodon.social/@posthorn/113245"});
        let failed = json!({"channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MB", "platform": "x", "status": "failed",
            "error": {"code": "rate_limited", "message": "Too Many Requests"}});
        let account = json!({"account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC", "platform": "mastodon",
            "platform_user_id": "109876", "username": "posthorn", "display_name": "Posthorn",
            "profile_picture_url": "https://files.mastodon.social/avatars/posthorn.png",
            "profile_url": "https://mastodon.social/@posthorn", "scopes": ["read", "write"],
            "reconnected": false, "connected_at": "2026-03-23T18:00:00Z"});
        let channel = json!({"channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA", "account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC",
            "platform": "facebook", "platform_channel_id": "104857", "name": "Posthorn Page", "kind": "page"});
        let run =
            json!({"run_id": "run_01JD8Z3QK5V7Y2W9X4T6R8P0MD", "automation_id": "aut_01JD8Z3QK5V7Y2W9X4T6R8P0ME"});
        match self {
            Self::PostScheduled => {
                json!({"post_id": post, "status": "scheduled", "scheduled_at": "2026-03-23T18:00:00Z",
                "targets": ["ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA"]})
            }
            Self::PostPublished => {
                json!({"post_id": post, "status": "published", "published": 1, "failed": 0, "total": 1,
                "results": [published]})
            }
            Self::PostPartial => {
                json!({"post_id": post, "status": "partial", "published": 1, "failed": 1, "total": 2,
                "results": [published, failed]})
            }
            Self::PostFailed => {
                json!({"post_id": post, "status": "failed", "failed": 1, "total": 1, "results": [failed]})
            }
            Self::PostUpdated => {
                json!({"post_id": post, "status": "scheduled", "changed_fields": ["text", "scheduled_at"]})
            }
            Self::PostCancelled => json!({"post_id": post, "status": "cancelled"}),
            Self::PostDeleted => json!({"post_id": post, "was_status": "scheduled"}),
            Self::PostRetried => {
                json!({"post_id": post, "status": "publishing", "retried_count": 1})
            }
            Self::PostMetricsUpdated => {
                json!({"post_id": post, "metrics": {"views": 1200, "likes": 48, "comments": 5, "shares": 9},
                "targets": [{"channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA", "platform": "x",
                    "platform_post_id": "1871234567890", "metrics": {"views": 1200, "likes": 48, "comments": 5, "shares": 9},
                    "changed": true, "synced_at": "2026-03-23T18:15:00Z"}]})
            }
            Self::PostUnpublished => {
                json!({"post_id": post, "account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC", "unpublished_count": 1,
                "results": [{"channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA", "platform": "mastodon", "unpublished": true}]})
            }
            Self::AccountConnected => account,
            Self::AccountDisconnected => {
                json!({"account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC", "platform": "mastodon",
                "platform_user_id": "109876", "username": "posthorn", "reason": "removed", "revoked": true})
            }
            Self::TokenExpired => {
                json!({"account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC", "platform": "x",
                "platform_user_id": "1460000000000000000", "username": "posthorn",
                "reason": "invalid_grant: Value passed for the token was invalid."})
            }
            Self::ChannelCreated | Self::ChannelDeleted => channel,
            Self::AutomationRunCompleted => {
                let mut data = run;
                data["status"] = json!("completed");
                data["trigger"] = json!("manual");
                data["post_ids"] = json!([post]);
                data["entries"] = json!(3);
                data
            }
            Self::AutomationRunFailed => {
                let mut data = run;
                data["status"] = json!("failed");
                data["trigger"] = json!("schedule");
                data["reason"] = json!("the AI provider is failing (HTTP 503): The server is overloaded");
                data["post_ids"] = json!([]);
                data
            }
            Self::CommentReceived | Self::MentionReceived | Self::DmReceived | Self::DmSent | Self::DmReferral => {
                interaction_example(self)
            }
            Self::DmStatusSent | Self::DmStatusDelivered | Self::DmStatusRead | Self::DmStatusFailed => {
                let status = self.as_str().trim_start_matches("dm.status.");
                json!({"interaction_id": "int_01JD8Z3QK5V7Y2W9X4T6R8P0MG", "status": status, "at": "2026-03-23T18:05:00Z"})
            }
            Self::ReviewReceived => {
                json!({"id": "int_01JD8Z3QK5V7Y2W9X4T6R8P0MH", "type": "review", "rating": 5,
                "content": {"text": "Great service", "media": []}})
            }
            Self::WebhookPing => {
                json!({"webhook_id": "wh_01JD8Z3QK5V7Y2W9X4T6R8P0MF", "message": "Posthorn verification ping"})
            }
            Self::WebhookTest => {
                json!({"webhook_id": "wh_01JD8Z3QK5V7Y2W9X4T6R8P0MF", "message": "Posthorn test event"})
            }
            Self::WebhookEndpointDisabled => json!({
                "webhook_id": "wh_01JD8Z3QK5V7Y2W9X4T6R8P0MF", "url": "https://hooks.example.com/posthorn",
                "reason": "disabled after 20 consecutive failed deliveries; last error: endpoint answered 503",
                "auto_recover": true, "next_probe_at": "2026-03-23T18:05:00Z"}),
            Self::WebhookEndpointEnabled => json!({
                "webhook_id": "wh_01JD8Z3QK5V7Y2W9X4T6R8P0MF", "url": "https://hooks.example.com/posthorn",
                "reason": "recovered", "recovery_id": "rcv_01JD8Z3QK5V7Y2W9X4T6R8P0ME"}),
            Self::WebhookRecoveryCompleted => json!({
                "webhook_id": "wh_01JD8Z3QK5V7Y2W9X4T6R8P0MF", "recovery_id": "rcv_01JD8Z3QK5V7Y2W9X4T6R8P0ME",
                "state": "completed", "trigger": "automatic", "since": "2026-03-22T14:00:00Z",
                "until": "2026-03-23T18:00:00Z", "total": 412, "delivered": 412, "failed": 0}),
        }
    }
}

/// The `data` of an inbox event: the interaction.
fn interaction_example(event: EventType) -> Value {
    let (kind, direction, text) = match event {
        EventType::CommentReceived => ("comment", "inbound", "Congratulations on the launch!"),
        EventType::MentionReceived => ("mention", "inbound", "Have you seen what @posthorn shipped?"),
        EventType::DmSent => ("dm", "outbound", "Thanks, we'll look into it."),
        EventType::DmReferral => ("dm", "inbound", ""),
        _ => ("dm", "inbound", "Hi! Is the beta still open?"),
    };
    let referral = match event {
        EventType::DmReferral => json!({"referral": {"source": "ADS", "ref": "spring-campaign"}}),
        _ => json!({}),
    };
    let post = match event {
        EventType::CommentReceived => json!("post_01JD8Z3QK5V7Y2W9X4T6R8P0MN"),
        _ => Value::Null,
    };
    json!({"id": "int_01JD8Z3QK5V7Y2W9X4T6R8P0MG", "type": kind, "platform": "mastodon",
        "account_id": "acc_01JD8Z3QK5V7Y2W9X4T6R8P0MC", "channel_id": "ch_01JD8Z3QK5V7Y2W9X4T6R8P0MA",
        "post_id": post, "parent_id": null,
        "author": {"id": "109999", "name": "Ada", "username": "ada@mastodon.social",
            "avatar_url": "https://files.mastodon.social/avatars/ada.png"},
        "content": {"text": text, "media": []}, "direction": direction,
        "received_at": "2026-03-23T18:04:00Z", "platform_url": "https://mastodon.social/@ada/113250",
        "platform_id": "113250", "metadata": referral})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for event in EventType::ALL {
            let json = serde_json::to_value(event).unwrap();
            assert_eq!(json, Value::String(event.as_str().to_string()));
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(EventType::parse("post.exploded"), None);
    }
}
