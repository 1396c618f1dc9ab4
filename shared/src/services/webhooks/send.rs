//! One signed POST of an event body to an endpoint: the headers of SPEC §4, signed afresh with
//! the attempt's timestamp, and the attempt record of what happened.

use std::time::Instant;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::adapters::outbound::{OutboundClient, OutboundResponse};
use crate::model::crypto::SecretBox;
use crate::model::error::{Error, Result};
use crate::model::ids::{DeliveryId, EventId};
use crate::model::webhooks::Attempt;
use crate::model::webhooks::catalog::EventType;
use crate::model::webhooks::signing::{posthorn_signature, standard_signature};
use crate::model::webhooks::{WebhookEndpoint, WebhookSecret};

/// What is being sent: the stored body of one event, for one delivery.
pub struct Outgoing<'a> {
    pub event_id: EventId,
    pub event_type: EventType,
    pub delivery_id: DeliveryId,
    pub body: &'a str,
}

/// The result of one attempt: its log entry, and the response when there was one.
pub struct Sent {
    pub attempt: Attempt,
    pub response: Option<OutboundResponse>,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.response.as_ref().is_some_and(|response| (200..300).contains(&response.status))
    }
}

/// The secrets that sign for `endpoint` at `now`: its secret, and a retiring one for 24 h after
/// a rotation.
pub fn signing_secrets(
    secrets: &SecretBox,
    endpoint: &WebhookEndpoint,
    now: OffsetDateTime,
) -> Result<Vec<WebhookSecret>> {
    let mut sealed = vec![&endpoint.secret];
    if let Some(retiring) = endpoint.retiring_secret.as_ref().filter(|retiring| retiring.until > now) {
        sealed.push(&retiring.secret);
    }
    sealed
        .into_iter()
        .map(|sealed| {
            let text = secrets.open(sealed)?;
            WebhookSecret::parse(&text)
                .map_err(|_| Error::Internal(format!("stored secret of {} is malformed", endpoint.id)))
        })
        .collect()
}

/// The delivery headers, with one signature per secret, space-separated.
pub fn signed_headers(outgoing: &Outgoing<'_>, secrets: &[WebhookSecret], timestamp: i64) -> HeaderMap {
    let body = outgoing.body.as_bytes();
    let event_id = outgoing.event_id.to_string();
    let join = |sign: &dyn Fn(&WebhookSecret) -> String| secrets.iter().map(sign).collect::<Vec<_>>().join(" ");
    let posthorn = join(&|secret| posthorn_signature(secret, body));
    let standard = join(&|secret| standard_signature(secret, &event_id, timestamp, body));

    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        let value = HeaderValue::from_str(&value).expect("ids, names, digits and base64 are valid header values");
        headers.insert(HeaderName::from_static(name), value);
    };
    put("x-posthorn-event", outgoing.event_type.as_str().to_string());
    put("x-posthorn-delivery", outgoing.delivery_id.to_string());
    put("x-posthorn-timestamp", timestamp.to_string());
    put("x-posthorn-signature", posthorn);
    put("webhook-id", event_id);
    put("webhook-timestamp", timestamp.to_string());
    put("webhook-signature", standard);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// Signs `outgoing` with timestamp `at` and POSTs it to `url`.
pub async fn send(
    client: &OutboundClient,
    url: &str,
    outgoing: &Outgoing<'_>,
    secrets: &[WebhookSecret],
    at: OffsetDateTime,
) -> Sent {
    let headers = signed_headers(outgoing, secrets, at.unix_timestamp());
    let started = Instant::now();
    let result = client.post(url, headers, outgoing.body.as_bytes().to_vec()).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(response) => {
            let error = match response.status {
                200..=299 => None,
                300..=399 => Some(format!("endpoint answered {} (redirects are not followed)", response.status)),
                status => Some(format!("endpoint answered {status}")),
            };
            let attempt = Attempt {
                at,
                status_code: Some(response.status),
                duration_ms,
                error,
                response_body: Some(response.body_excerpt.clone()),
            };
            Sent { attempt, response: Some(response) }
        }
        Err(error) => {
            let attempt =
                Attempt { at, status_code: None, duration_ms, error: Some(error.to_string()), response_body: None };
            Sent { attempt, response: None }
        }
    }
}
