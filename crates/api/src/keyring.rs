//! The per-tenant keys Sealbook derives from the deployment's redaction secret: redaction
//! fingerprints, search postings and idempotency content hashes (`docs/security/hashing.md`).
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

    /// Both keys shaping needs.
    pub fn tenant_keys(&self, tenant: &TenantId) -> TenantKeys {
        TenantKeys {
            search: self.search(tenant),
            content: self.content(tenant),
        }
    }
}
