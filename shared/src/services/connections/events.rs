//! The account events' `data` (SPEC §4; account.connected carries seed 002's profile fields):
//! every one names the connection as `account_id`.

use serde_json::{Value, json};

use crate::model::channels::Channel;
use crate::model::connections::Connection;
use crate::model::platforms::Platform;
use crate::model::times::rfc3339;

/// account.connected: the profile as the platform described it, and when.
pub fn connected(connection: &Connection, reconnected: bool) -> Value {
    json!({
        "account_id": connection.id,
        "platform": connection.platform,
        "platform_user_id": connection.platform_user_id,
        "username": connection.username,
        "display_name": connection.display_name,
        "profile_picture_url": connection.avatar_url,
        "profile_url": profile_url(connection),
        "scopes": connection.scopes,
        "reconnected": reconnected,
        "connected_at": rfc3339(connection.updated_at),
    })
}

/// account.disconnected: who, and whether the platform confirmed the revocation.
pub fn disconnected(connection: &Connection, revoked: bool) -> Value {
    json!({
        "account_id": connection.id,
        "platform": connection.platform,
        "platform_user_id": connection.platform_user_id,
        "username": connection.username,
        "reason": "removed",
        "revoked": revoked,
    })
}

/// account.disconnected when the user removed Posthorn's access on the platform: the platform's
/// deauthorize callback, or a token it says was revoked (`detail`).
pub fn revoked_on_platform(connection: &Connection, detail: &str) -> Value {
    json!({
        "account_id": connection.id,
        "platform": connection.platform,
        "platform_user_id": connection.platform_user_id,
        "username": connection.username,
        "reason": "revoked_on_platform",
        "revoked": true,
        "detail": detail,
    })
}

/// account.disconnected when the platform asked, for its user, that Posthorn delete their data:
/// the connection is gone, with its channels and tokens.
pub fn data_deleted(connection: &Connection) -> Value {
    let detail = format!("the user asked {} to delete their data", connection.platform.as_str());
    let mut data = revoked_on_platform(connection, &detail);
    data["data_deleted"] = Value::Bool(true);
    data
}

/// token.expired: who, and what the platform said when it refused.
pub fn token_expired(connection: &Connection, reason: &str) -> Value {
    json!({
        "account_id": connection.id,
        "platform": connection.platform,
        "platform_user_id": connection.platform_user_id,
        "username": connection.username,
        "reason": reason,
    })
}

/// channel.created / channel.deleted.
pub fn channel(channel: &Channel) -> Value {
    json!({
        "channel_id": channel.id,
        "account_id": channel.connection_id,
        "platform": channel.platform,
        "platform_channel_id": channel.platform_channel_id,
        "name": channel.name,
        "kind": channel.kind,
    })
}

/// The public profile link: the platform's own, else built from the username or user id as
/// seed 002 describes; empty when neither gives one.
pub fn profile_url(connection: &Connection) -> String {
    if let Some(url) = &connection.profile_url {
        return url.clone();
    }
    let (username, id) = (connection.username.as_str(), connection.platform_user_id.as_str());
    match connection.platform {
        _ if username.is_empty() && id.is_empty() => String::new(),
        Platform::X => format!("https://x.com/{username}"),
        Platform::Instagram => format!("https://www.instagram.com/{username}/"),
        Platform::Threads => format!("https://www.threads.net/@{username}"),
        Platform::Bluesky => format!("https://bsky.app/profile/{username}"),
        Platform::Facebook => format!("https://www.facebook.com/{id}"),
        Platform::Linkedin | Platform::Mastodon | Platform::Sandbox => String::new(),
    }
}
