//! What the platforms push (SPEC §8): their webhook signatures, checked over the raw body in
//! constant time before anything is parsed, their subscription handshakes, and their payloads
//! turned into interactions and DM statuses — Meta's Graph webhooks for Facebook Pages and
//! Instagram and Threads' webhooks (`meta`), X's Account Activity events (`x`) — and Meta's
//! `signed_request` of its deauthorize and data-deletion callbacks.

pub mod meta;
pub mod x;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::platforms::Platform;

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// One Meta app's secret, and the platform its app serves (Facebook, Instagram and Threads apps
/// may differ, or one app may serve several).
#[derive(Clone, PartialEq, Eq)]
pub struct MetaAppSecret {
    pub platform: Platform,
    pub secret: String,
}

/// Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed by the app secret>`,
/// checked against each configured app secret.
pub fn meta_signature_is_valid(apps: &[MetaAppSecret], body: &[u8], header: Option<&str>) -> bool {
    let Some(sent) = header.and_then(|value| value.strip_prefix("sha256=")).and_then(|hex| hex::decode(hex).ok())
    else {
        return false;
    };
    apps.iter().any(|app| bool::from(hmac_sha256(app.secret.as_bytes(), body).ct_eq(sent.as_slice())))
}

/// What a verified Meta `signed_request` says: whose grant, for which platforms (those whose
/// app secret signed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub user_id: String,
    pub platforms: Vec<Platform>,
}

/// Meta's `signed_request` (deauthorize and data-deletion callbacks): `<signature>.<payload>`,
/// both base64url; the signature is the HMAC-SHA256 of the encoded payload keyed by the app
/// secret, and the payload is JSON with `algorithm: "HMAC-SHA256"` and the `user_id`. `None`
/// unless an app secret signed it and it names a user.
pub fn meta_signed_request(apps: &[MetaAppSecret], signed_request: &str) -> Option<SignedRequest> {
    let (signature, payload) = signed_request.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature.trim_end_matches('=')).ok()?;
    let platforms: Vec<Platform> = apps
        .iter()
        .filter(|app| bool::from(hmac_sha256(app.secret.as_bytes(), payload.as_bytes()).ct_eq(signature.as_slice())))
        .map(|app| app.platform)
        .collect();
    if platforms.is_empty() {
        return None;
    }
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()?;
    if !payload.get("algorithm")?.as_str()?.eq_ignore_ascii_case("HMAC-SHA256") {
        return None;
    }
    let user_id = match payload.get("user_id")? {
        serde_json::Value::String(id) => id.clone(),
        serde_json::Value::Number(id) => id.to_string(),
        _ => return None,
    };
    (!user_id.is_empty()).then_some(SignedRequest { user_id, platforms })
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

    fn app(platform: Platform, secret: &str) -> MetaAppSecret {
        MetaAppSecret { platform, secret: secret.into() }
    }

    /// Built as Meta's documentation builds it.
    fn signed(secret: &str, payload: &str) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload);
        format!("{}.{payload}", URL_SAFE_NO_PAD.encode(hmac_sha256(secret.as_bytes(), payload.as_bytes())))
    }

    #[test]
    fn signed_requests_name_the_user_and_the_platforms_whose_secret_signed() {
        let apps = [
            app(Platform::Facebook, "meta-secret"),
            app(Platform::Instagram, "meta-secret"),
            app(Platform::Threads, "threads-secret"),
        ];
        let payload = r#"{"algorithm":"HMAC-SHA256","expires":1291840400,"issued_at":1291836800,"user_id":"218471"}"#;
        let request = meta_signed_request(&apps, &signed("meta-secret", payload)).unwrap();
        assert_eq!(
            request,
            SignedRequest { user_id: "218471".into(), platforms: vec![Platform::Facebook, Platform::Instagram] }
        );
        let threads = meta_signed_request(&apps, &signed("threads-secret", payload)).unwrap();
        assert_eq!(threads.platforms, [Platform::Threads]);
        assert_eq!(meta_signed_request(&apps, &signed("other-secret", payload)), None);
        let tampered = signed("meta-secret", payload).replace('.', ".e");
        assert_eq!(meta_signed_request(&apps, &tampered), None);
        assert_eq!(meta_signed_request(&apps, "no-dot"), None);
        let no_user = r#"{"algorithm":"HMAC-SHA256","issued_at":1291836800}"#;
        assert_eq!(meta_signed_request(&apps, &signed("meta-secret", no_user)), None);
        let other_algorithm = r#"{"algorithm":"none","user_id":"218471"}"#;
        assert_eq!(meta_signed_request(&apps, &signed("meta-secret", other_algorithm)), None);
    }

    #[test]
    fn meta_signatures_are_checked_against_every_app_secret() {
        let body = br#"{"object":"page","entry":[]}"#;
        let header = format!("sha256={}", hex::encode(hmac_sha256(b"instagram-secret", body)));
        let secrets = [app(Platform::Facebook, "facebook-secret"), app(Platform::Instagram, "instagram-secret")];
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
