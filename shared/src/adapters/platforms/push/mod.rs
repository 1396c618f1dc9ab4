//! What the platforms push (SPEC §8): their webhook signatures, checked over the raw body in
//! constant time before anything is parsed, their subscription handshakes, and their payloads
//! turned into interactions and DM statuses — Meta's Graph webhooks for Facebook Pages and
//! Instagram (`meta`), X's Account Activity events (`x`).

pub mod meta;
pub mod x;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed by the app secret>`,
/// checked against each configured app secret (Facebook, Instagram and Threads apps may differ).
pub fn meta_signature_is_valid(app_secrets: &[String], body: &[u8], header: Option<&str>) -> bool {
    let Some(sent) = header.and_then(|value| value.strip_prefix("sha256=")).and_then(|hex| hex::decode(hex).ok())
    else {
        return false;
    };
    app_secrets.iter().any(|secret| bool::from(hmac_sha256(secret.as_bytes(), body).ct_eq(sent.as_slice())))
}

/// X's `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256 of the body, keyed by the
/// consumer secret>`.
pub fn x_signature_is_valid(consumer_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(sent) = header.and_then(|value| value.strip_prefix("sha256=")).and_then(|b64| STANDARD.decode(b64).ok())
    else {
        return false;
    };
    bool::from(hmac_sha256(consumer_secret.as_bytes(), body).ct_eq(sent.as_slice()))
}

/// X's challenge-response check (CRC): `sha256=` and the base64 HMAC-SHA256 of the token.
pub fn x_crc_response(consumer_secret: &str, crc_token: &str) -> String {
    format!("sha256={}", STANDARD.encode(hmac_sha256(consumer_secret.as_bytes(), crc_token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_signatures_are_checked_against_every_app_secret() {
        let body = br#"{"object":"page","entry":[]}"#;
        let header = format!("sha256={}", hex::encode(hmac_sha256(b"instagram-secret", body)));
        let secrets = ["facebook-secret".to_string(), "instagram-secret".to_string()];
        assert!(meta_signature_is_valid(&secrets, body, Some(&header)));
        assert!(!meta_signature_is_valid(&secrets[..1], body, Some(&header)));
        assert!(!meta_signature_is_valid(&secrets, b"{}", Some(&header)));
        assert!(!meta_signature_is_valid(&secrets, body, None));
        assert!(!meta_signature_is_valid(&secrets, body, Some("sha1=abc")));
    }

    #[test]
    fn x_crc_matches_the_documented_construction() {
        let expected = format!("sha256={}", STANDARD.encode(hmac_sha256(b"consumer-secret", b"crc-token")));
        assert_eq!(x_crc_response("consumer-secret", "crc-token"), expected);
        let body = b"{}";
        let header = format!("sha256={}", STANDARD.encode(hmac_sha256(b"consumer-secret", body)));
        assert!(x_signature_is_valid("consumer-secret", body, Some(&header)));
        assert!(!x_signature_is_valid("other", body, Some(&header)));
    }
}
