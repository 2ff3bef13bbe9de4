//! Secrets: API keys and the operator token. Generated from the OS generator, shown once, stored
//! and compared only as SHA-256 hashes (the secrets are 256-bit random, so a fast hash is enough:
//! there is nothing to brute-force).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of tenant API keys.
pub const KEY_PREFIX: &str = "sbk_";
/// Prefix of the platform operator token.
pub const ADMIN_PREFIX: &str = "sba_";

fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    b
}

/// A new tenant API key: `sbk_` and 32 random bytes, base64url.
pub fn new_api_key() -> String {
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random(32)))
}

/// A new operator token: `sba_` and 32 random bytes, base64url.
pub fn new_admin_token() -> String {
    format!("{ADMIN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random(32)))
}

/// A new public key id: `key_` and 9 random bytes, base64url.
pub fn new_key_id() -> String {
    format!("key_{}", URL_SAFE_NO_PAD.encode(random(9)))
}

/// SHA-256 of a secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two hashes without an early exit, so timing says nothing about how much matched.
pub(crate) fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_secrets() {
        let k = new_api_key();
        assert!(k.starts_with("sbk_"));
        assert_eq!(URL_SAFE_NO_PAD.decode(&k[4..]).unwrap().len(), 32);
        assert_ne!(new_api_key(), k);
        assert!(hashes_equal(&hash(&k), &hash(&k)));
        assert!(!hashes_equal(&hash(&k), &hash("sbk_other")));
    }
}
