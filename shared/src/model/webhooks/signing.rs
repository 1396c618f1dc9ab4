//! Delivery signatures (SPEC §4): `X-Posthorn-Signature` (hex HMAC-SHA256 of the raw body, keyed
//! by the secret string) and the Standard Webhooks `webhook-signature` (base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}`, keyed by the base64-decoded secret).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::webhooks::endpoint::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `sha256=<hex>` for the `X-Posthorn-Signature` header.
pub fn posthorn_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_str().as_bytes(), &[body])))
}

/// `v1,<base64>` for the Standard Webhooks `webhook-signature` header.
pub fn standard_signature(secret: &WebhookSecret, message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let mac = hmac(secret.key_bytes(), &[message_id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = standard_signature(
            &secret,
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn posthorn_signature_is_hex_hmac_of_the_body_keyed_by_the_secret_string() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        // Computed independently with Python's hmac module.
        let expected = "sha256=e0fc16c6d4a28f39a6e0935569f05d86e87367db24a4b6d9271215c603e49f6a";
        assert_eq!(posthorn_signature(&secret, body), expected);
    }
}
