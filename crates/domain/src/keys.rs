//! The per-tenant keys of the hashes Sealbook stores beside an event: the search postings
//! ([`SearchKey`]) and the idempotency content hash ([`ContentKey`]).
//!
//! Both are HMAC-SHA256 keys. Unkeyed, a posting or content hash lets anyone who reads the
//! database confirm a guessed value (a name, an e-mail address) with a dictionary, even after the
//! value itself was erased; keyed, a guess can only be checked by someone holding the tenant's key,
//! which is derived from the deployment's secret and never stored. Keys come in as arguments (this
//! crate does no I/O and derives nothing): the API derives them, one per tenant and purpose, with
//! domain separation, and MUST NOT reuse a key for another purpose (the redaction fingerprint key
//! in particular).
//!
//! Each key keeps the HMAC state after absorbing the key, so a hash costs a clone of that state and
//! two SHA-256 compressions, not a key schedule.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A keyed HMAC state, absorbed once.
#[derive(Clone)]
struct Keyed {
    mac: HmacSha256,
    /// The first bytes of the MAC of a fixed label: tells keys apart without showing them.
    tag: [u8; 8],
}

impl Keyed {
    fn new(key: &[u8; 32]) -> Keyed {
        let mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        let mut k = Keyed { mac, tag: [0; 8] };
        let t = k.digest(&[b"sealbook key tag"]);
        k.tag.copy_from_slice(&t[..8]);
        k
    }

    fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Keyed) -> bool {
        self.tag == other.tag
    }
}
impl Eq for Keyed {}

/// The key of a tenant's search postings: a term's index key is the first 8 bytes of
/// `HMAC-SHA256(search key, spelled term)`, read as a big-endian `i64`.
#[derive(Clone, PartialEq, Eq)]
pub struct SearchKey(Keyed);

impl SearchKey {
    /// The key from its 32 bytes.
    pub fn new(key: &[u8; 32]) -> SearchKey {
        SearchKey(Keyed::new(key))
    }

    /// The index key of a spelled term (see `filter::term`).
    pub fn term_key(&self, term: &str) -> i64 {
        let d = self.0.digest(&[term.as_bytes()]);
        i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    }
}

/// The key of a tenant's idempotency content hashes: `HMAC-SHA256(content key, retry form)`.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey(Keyed);

impl ContentKey {
    /// The key from its 32 bytes.
    pub fn new(key: &[u8; 32]) -> ContentKey {
        ContentKey(Keyed::new(key))
    }

    pub(crate) fn hash(&self, bytes: &[u8]) -> [u8; 32] {
        self.0.digest(&[bytes])
    }
}

/// Both keys of one tenant, as shaping needs them.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKeys {
    /// Keys the search postings.
    pub search: SearchKey,
    /// Keys the content hash.
    pub content: ContentKey,
}

macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), "(…)"))
            }
        }
    )*};
}
opaque_debug!(SearchKey, ContentKey, TenantKeys);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_keys_are_hmac_prefixes() {
        // Stored postings depend on this value: changing it is a format change (docs/security/hashing.md).
        let k = SearchKey::new(&[7; 32]);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"a:u-7");
        let d = mac.finalize().into_bytes();
        assert_eq!(
            k.term_key("a:u-7"),
            i64::from_be_bytes(d[..8].try_into().unwrap())
        );
        assert_ne!(
            k.term_key("a:u-7"),
            SearchKey::new(&[8; 32]).term_key("a:u-7")
        );
        assert_ne!(k, SearchKey::new(&[8; 32]));
        assert_eq!(k, SearchKey::new(&[7; 32]));
        assert_eq!(format!("{k:?}"), "SearchKey(…)");
    }
}
