//! Secrets at rest and API-key hashing: AES-256-GCM sealing for webhook secrets and OAuth tokens,
//! SHA-256 for API keys, and the random bytes behind every generated secret.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::error::{Error, Result};

const NONCE_LEN: usize = 12;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes
}

/// The 32-byte key that seals secrets at rest (`POSTHORN_ENCRYPTION_KEY`, base64).
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "is not valid base64".to_string())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| "must decode to exactly 32 bytes".to_string())?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(…)")
    }
}

/// A secret sealed with AES-256-GCM: base64 of nonce ‖ ciphertext ‖ tag. Safe to store and log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(…)")
    }
}

/// Seals and opens secrets with one [`EncryptionKey`].
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    pub fn new(key: &EncryptionKey) -> Self {
        Self { cipher: Aes256Gcm::new(&key.0.into()) }
    }

    pub fn seal(&self, plaintext: &str) -> Sealed {
        let nonce_bytes: [u8; NONCE_LEN] = random_bytes();
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Sealed(STANDARD.encode(sealed))
    }

    pub fn open(&self, sealed: &Sealed) -> Result<String> {
        let bytes = STANDARD.decode(&sealed.0).map_err(|e| Error::internal("sealed secret is not base64", e))?;
        if bytes.len() < NONCE_LEN {
            return Err(Error::Internal("sealed secret is too short".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| Error::Internal("sealed secret does not open with the configured key".into()))?;
        String::from_utf8(plaintext).map_err(|e| Error::internal("sealed secret is not UTF-8", e))
    }
}

/// SHA-256 of an API key: what the store keeps instead of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn of(api_key: &str) -> Self {
        Self(Sha256::digest(api_key.as_bytes()).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// Constant-time equality, so comparing a presented key leaks nothing through timing.
    pub fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

impl Serialize for KeyHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not a 64-character hex SHA-256"))
    }
}

/// A new API key in its only plaintext form: `phk_` + 32 random bytes, base64url.
pub fn generate_api_key() -> String {
    format!("phk_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let secret_box = SecretBox::new(&EncryptionKey::generate());
        let sealed = secret_box.seal("whsec_abc");
        assert!(!format!("{sealed:?}").contains("whsec"));
        assert_eq!(secret_box.open(&sealed).unwrap(), "whsec_abc");
        let other = SecretBox::new(&EncryptionKey::generate());
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let secret_box = SecretBox::new(&EncryptionKey::generate());
        assert_ne!(secret_box.seal("same"), secret_box.seal("same"));
    }

    #[test]
    fn encryption_key_rejects_wrong_lengths() {
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
        assert!(EncryptionKey::from_base64("%%%").is_err());
        let key = EncryptionKey::generate();
        assert!(EncryptionKey::from_base64(&key.to_base64()).is_ok());
    }

    #[test]
    fn key_hashes_compare_by_value() {
        let key = generate_api_key();
        assert!(key.starts_with("phk_"));
        assert!(KeyHash::of(&key).matches(&KeyHash::of(&key)));
        assert!(!KeyHash::of(&key).matches(&KeyHash::of("phk_other")));
        let hash = KeyHash::of(&key);
        assert_eq!(KeyHash::from_hex(&hash.to_hex()), Some(hash));
    }
}
