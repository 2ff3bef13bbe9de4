//! The per-tenant keys Sealbook derives from the deployment's redaction secret: redaction
//! fingerprints, search postings and idempotency content hashes (`docs/security/hashing.md`), the
//! UI's CSRF tokens and signed tokens ([`Keyring::mac`]), and the sealing of secrets Sealbook must
//! read back, such as a person's TOTP key ([`Keyring::seal`]).
//!
//! Depends on nothing in this crate: the state and the catalog cache both hold a [`Keyring`].

use sealbook_domain::{ContentKey, SearchKey, TenantId, TenantKeys};
use std::sync::Arc;

/// The deployment's redaction secret and the per-tenant keys derived from it: one key per tenant
/// and purpose, `HMAC-SHA256(secret, label || tenant id)` with a label per purpose, so no key
/// serves two purposes and one tenant's keys are useless against another's. Derived on use, never
/// stored or exported (`docs/security/hashing.md`). Cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    master: Arc<zeroize::Zeroizing<[u8; 32]>>,
}

impl Keyring {
    /// The keyring of the deployment's redaction secret.
    pub fn new(master: [u8; 32]) -> Keyring {
        Keyring {
            master: Arc::new(zeroize::Zeroizing::new(master)),
        }
    }

    fn derive(&self, label: &[u8], tenant: &TenantId) -> zeroize::Zeroizing<[u8; 32]> {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&**self.master)
            .expect("HMAC takes any key length");
        mac.update(label);
        mac.update(tenant.as_str().as_bytes());
        zeroize::Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The key of redaction fingerprints. Its label predates the others' (kept: fingerprints
    /// already stored depend on it).
    pub(crate) fn redaction(&self, tenant: &TenantId) -> [u8; 32] {
        *self.derive(b"sealbook redaction key\0", tenant)
    }

    /// The key of search postings.
    pub(crate) fn search(&self, tenant: &TenantId) -> SearchKey {
        SearchKey::new(&self.derive(b"sealbook search v1\0", tenant))
    }

    /// The key of idempotency content hashes.
    pub(crate) fn content(&self, tenant: &TenantId) -> ContentKey {
        ContentKey::new(&self.derive(b"sealbook content v1\0", tenant))
    }

    /// The CSRF token of the UI session whose cookie hashes to `session_hash`: an HMAC under a
    /// key of its own, so a token says nothing about the session id and cannot be made without
    /// the deployment secret.
    pub(crate) fn csrf(&self, session_hash: &[u8; 32]) -> String {
        use base64::Engine;
        use hmac::Mac;
        let key = self.derive(b"sealbook ui csrf v1\0", &TenantId::platform());
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&*key)
            .expect("HMAC takes any key length");
        mac.update(session_hash);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A MAC of `message` under the key of `purpose` (a label of its own per kind of token: a
    /// pending second-factor sign-in, an embedded viewer token), so a token made for one purpose
    /// never passes for another.
    pub(crate) fn mac(&self, purpose: &'static [u8], message: &[u8]) -> [u8; 32] {
        use hmac::Mac;
        let key = self.derive(purpose, &TenantId::platform());
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&*key)
            .expect("HMAC takes any key length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Seals `secret` for `tenant` with XChaCha20-Poly1305 under the tenant's sealing key, bound
    /// to `context` (e.g. the person's id: a sealed value moved to another row does not open):
    /// a random 24-byte nonce, then the ciphertext and tag.
    pub(crate) fn seal(&self, tenant: &TenantId, context: &[u8], secret: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let key = self.derive(b"sealbook seal v1\0", tenant);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new((&*key).into());
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random generator failed");
        let sealed = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: secret,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length this small");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Keyring::seal`] sealed for `tenant` and `context`; `None` if it was sealed
    /// for another tenant or context, under another deployment secret, or altered.
    pub(crate) fn open(
        &self,
        tenant: &TenantId,
        context: &[u8],
        sealed: &[u8],
    ) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        if sealed.len() < 24 + 16 {
            return None;
        }
        let key = self.derive(b"sealbook seal v1\0", tenant);
        let cipher = chacha20poly1305::XChaCha20Poly1305::new((&*key).into());
        let (nonce, body) = sealed.split_at(24);
        cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .ok()
            .map(zeroize::Zeroizing::new)
    }

    /// Both keys shaping needs.
    pub fn tenant_keys(&self, tenant: &TenantId) -> TenantKeys {
        TenantKeys {
            search: self.search(tenant),
            content: self.content(tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_tenant_and_context() {
        let k = Keyring::new([7; 32]);
        let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
        let sealed = k.seal(&a, b"usr_1", b"twenty bytes secret!");
        assert!(
            !sealed.windows(6).any(|w| w == b"twenty"),
            "not in the clear"
        );
        assert_eq!(
            k.open(&a, b"usr_1", &sealed).as_deref().map(Vec::as_slice),
            Some(&b"twenty bytes secret!"[..])
        );
        assert!(k.open(&b, b"usr_1", &sealed).is_none(), "another tenant");
        assert!(k.open(&a, b"usr_2", &sealed).is_none(), "another person");
        assert!(
            Keyring::new([8; 32]).open(&a, b"usr_1", &sealed).is_none(),
            "another secret"
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(k.open(&a, b"usr_1", &altered).is_none(), "altered");
        assert_ne!(
            sealed,
            k.seal(&a, b"usr_1", b"twenty bytes secret!"),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn macs_differ_by_purpose() {
        let k = Keyring::new([7; 32]);
        assert_ne!(k.mac(b"one\0", b"m"), k.mac(b"two\0", b"m"));
        assert_eq!(k.mac(b"one\0", b"m"), k.mac(b"one\0", b"m"));
    }
}
