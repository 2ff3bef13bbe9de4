//! Live tenant keys in memory, for a store that this one process writes.
//!
//! Every revocation goes through this process, bumps a generation and clears the cache, and an
//! entry looked up before a revocation is ignored after it. So a revocation still takes effect on
//! the very next request. Unknown keys are never cached.

use sealbook_store::KeyRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Live keys by the hash of their secret, valid for one revocation generation and at most
/// [`KEY_CACHE_TTL`].
pub(crate) struct KeyCache {
    generation: AtomicU64,
    entries: quick_cache::sync::Cache<[u8; 32], (u64, Instant, KeyRecord)>,
}

/// Defence in depth: even without a revocation, a cached key is looked up again this often.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

impl KeyCache {
    pub(crate) fn new() -> KeyCache {
        KeyCache {
            generation: AtomicU64::new(0),
            entries: quick_cache::sync::Cache::new(10_000),
        }
    }

    /// Called after a revocation committed: nothing looked up before it is used again.
    pub(crate) fn revoked(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }

    /// The current revocation generation: read it before looking a key up in the store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Keeps a live key looked up in the store during `generation`.
    pub(crate) fn insert(&self, hash: [u8; 32], generation: u64, record: KeyRecord) {
        self.entries
            .insert(hash, (generation, Instant::now(), record));
    }

    /// A live key, if cached in the current generation and younger than [`KEY_CACHE_TTL`].
    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<KeyRecord> {
        let (generation, at, record) = self.entries.get(hash)?;
        (generation == self.generation.load(Ordering::SeqCst) && at.elapsed() < KEY_CACHE_TTL)
            .then_some(record)
    }
}
