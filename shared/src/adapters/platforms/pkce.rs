//! The random values of the consent step: the OAuth `state` and the PKCE pair (RFC 7636,
//! S256). Hand-rolled on the crate's own SHA-256 and base64: ten lines, where the oauth2 crate
//! would bring its own HTTP stack beside the guarded outbound client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::model::crypto::random_bytes;

/// A PKCE verifier (43 base64url characters of 32 random bytes) and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn generate() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let challenge = challenge_of(&verifier);
        Self { verifier, challenge }
    }
}

/// `BASE64URL(SHA256(verifier))`, the S256 method.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A new `state`: 32 random bytes, base64url.
pub fn new_state() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(challenge_of(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn generated_pairs_are_fresh_and_well_formed() {
        let (one, two) = (Pkce::generate(), Pkce::generate());
        assert_ne!(one.verifier, two.verifier);
        assert_eq!(one.verifier.len(), 43);
        assert_eq!(one.challenge, challenge_of(&one.verifier));
        assert_ne!(new_state(), new_state());
    }
}
