//! The pieces every fake of Meta's Graph-style APIs shares: a wiremock server on loopback, the
//! channel pointed at it, matchers for the form fields Meta reads, its documented error body,
//! and the outbound client built with the unsafe allow-private setting (fakes speak http on
//! 127.0.0.1).

use std::sync::Arc;
use std::time::Duration;

use posthorn::adapters::outbound::{OutboundClient, SystemResolver, UrlGuard};
use posthorn::adapters::platforms::Polling;
use posthorn::model::platforms::MediaItem;
use posthorn::ports::platforms::{ChannelAuth, PublishRequest};
use serde_json::{Value, json};
use wiremock::{Match, MockServer, Request};

/// The token every fake expects, as `access_token`.
pub const TOKEN: &str = "EAAG-page-token";

/// The outbound client, allowed to reach the fake on loopback over http.
pub fn client() -> OutboundClient {
    OutboundClient::new(UrlGuard::new(Arc::new(SystemResolver), true), &[]).expect("outbound client")
}

/// The channel `channel_id`, its API at `version` on the fake.
pub fn auth(server: &MockServer, version: &str, channel_id: &str) -> ChannelAuth {
    ChannelAuth {
        base_url: format!("{}/{version}", server.uri()),
        access_token: TOKEN.to_owned(),
        platform_channel_id: channel_id.to_owned(),
    }
}

/// The first container check right after its creation (Meta advises about 30 seconds), so a
/// container already FINISHED is published in one try; then Meta's cadence.
pub fn fast_polling() -> Polling {
    Polling {
        first_check_after: Duration::ZERO,
        interval: Duration::from_secs(60),
        give_up_after: Duration::from_secs(300),
    }
}

/// The container a publish step kept on the target names (`{container}@{created}`).
pub fn step_container(progress: Option<&str>) -> Option<&str> {
    progress.map(|step| step.split_once('@').map_or(step, |(container, _)| container))
}

/// A step for `container`, created `seconds_ago`.
pub fn step_created(container: &str, seconds_ago: i64) -> String {
    let created = time::OffsetDateTime::now_utc().unix_timestamp() - seconds_ago;
    format!("{container}@{created}")
}

pub fn post(text: &str, image_urls: &[&str]) -> PublishRequest {
    let media = image_urls.iter().map(|url| MediaItem::new(*url, None)).collect();
    PublishRequest { target_key: crate::platforms::new_target_key(), text: text.to_owned(), media, resume_from: None }
}

/// The URL of a `width`×`height` JPEG called `name` on the media host every test shares (Meta
/// fetches images from their URLs; Posthorn reads their first bytes before making a container).
pub fn jpeg_url(name: &str, width: u32, height: u32) -> String {
    format!("{}/{width}x{height}/{name}", crate::platforms::shared_media_host())
}

/// A square JPEG called `name` on the shared media host.
pub fn media_url(name: &str) -> String {
    jpeg_url(name, 400, 400)
}

/// Meta's documented error body.
pub fn error_body(message: &str, kind: &str, code: i64, subcode: Option<i64>) -> Value {
    let mut error = json!({ "message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGh123" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "error": error })
}

/// Matches a request whose `application/x-www-form-urlencoded` body has `key` = `value`.
pub struct FormField {
    key: String,
    value: String,
}

pub fn form(key: &str, value: &str) -> FormField {
    FormField { key: key.to_owned(), value: value.to_owned() }
}

impl Match for FormField {
    fn matches(&self, request: &Request) -> bool {
        url::form_urlencoded::parse(&request.body).any(|(key, value)| key == self.key && value == self.value)
    }
}

/// Matches a form body without `key`.
pub struct NoFormField(String);

pub fn no_form(key: &str) -> NoFormField {
    NoFormField(key.to_owned())
}

impl Match for NoFormField {
    fn matches(&self, request: &Request) -> bool {
        url::form_urlencoded::parse(&request.body).all(|(key, _)| key != self.0)
    }
}

/// A loopback URL where nothing listens, for connection failures.
pub async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}/v25.0")
}
