//! Rebuilding the search postings and content hashes of a database written in another hash format
//! (`docs/security/hashing.md`): the contract a backend implements ([`HashRebuild`]) and the one
//! driver every backend runs ([`rebuild_hashes`]).
//!
//! The driver walks each tenant's events in index order, in bounded batches: it reads a batch of
//! leaves with their personal values, computes the keyed hashes in the domain
//! ([`sealbook_domain::stored_event_hashes`]) under the tenant's keys (passed in: key derivation
//! is the API's), and has the backend replace the batch's postings and content hashes in one
//! transaction. Only when every tenant is done does it record the new format. Each batch write is
//! idempotent (it replaces, never adds), so a rebuild interrupted anywhere is simply run again from
//! the start on the next attempt: memory stays bounded by one batch, and no progress needs storing.

use crate::{Corruption, Place, StoreError};
use async_trait::async_trait;
use sealbook_domain::{PersonalValue, TenantId, TenantKeys};

/// One stored event as the rebuild reads it.
#[derive(Debug, Clone)]
pub struct RehashSource {
    /// Index in the tenant's log.
    pub index: u64,
    /// The canonical leaf bytes.
    pub leaf: Vec<u8>,
    /// The personal values kept beside it, as stored (a JSON array; empty when none).
    pub personal: Vec<u8>,
}

/// The rebuilt hashes of one event.
#[derive(Debug, Clone)]
pub struct Rehashed {
    /// Index in the tenant's log.
    pub index: u64,
    /// The new content hash.
    pub content_hash: [u8; 32],
    /// The new postings, sorted, unique.
    pub terms: Vec<i64>,
}

/// What a backend does for [`rebuild_hashes`]. An implementation MUST be able to read and write
/// every tenant's events (for PostgreSQL: the owner, with `sealbook.owner_access` on), and MUST
/// make each [`HashRebuild::replace_hashes`] one transaction.
#[async_trait]
pub trait HashRebuild: Send + Sync {
    /// The recorded hash format, if any (`None` on a database that has recorded none yet).
    async fn hash_format(&self) -> Result<Option<String>, StoreError>;
    /// Every tenant, in a stable order. Reads across tenants: the rebuild serves them all.
    async fn rehash_tenants(&self) -> Result<Vec<TenantId>, StoreError>;
    /// At most `limit` events of `tenant` from index `start` on, in index order.
    async fn rehash_sources(
        &self,
        tenant: &TenantId,
        start: u64,
        limit: u64,
    ) -> Result<Vec<RehashSource>, StoreError>;
    /// In one transaction: deletes every posting of `tenant` for indexes in `[start, end)`, inserts
    /// `events`' postings, and sets their content hashes. `events` are the tenant's events in that
    /// range, all of them.
    async fn replace_hashes(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
        events: Vec<Rehashed>,
    ) -> Result<(), StoreError>;
    /// Records `format` as the database's hash format (replacing the one recorded).
    async fn set_hash_format(&self, format: &str) -> Result<(), StoreError>;
}

/// What [`rebuild_hashes`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Tenants rebuilt.
    pub tenants: u64,
    /// Events rehashed.
    pub events: u64,
}

/// Events read and written per transaction: bounds memory and the time a transaction holds the
/// writer.
pub const REHASH_BATCH: u64 = 2048;

/// Rebuilds every tenant's postings and content hashes under `keys` (the tenant's keys, derived by
/// the caller), then records `format`. `progress` is told after each batch (tenant, events of the
/// tenant done so far). Safe to run again after an interruption: it starts over and gives the same
/// result. A stored event whose personal values do not match its leaf is
/// [`StoreError::Corrupt`], and nothing after it is rewritten (the format stays as it was).
pub async fn rebuild_hashes(
    target: &dyn HashRebuild,
    keys: &(dyn Fn(&TenantId) -> TenantKeys + Sync),
    format: &str,
    progress: &(dyn Fn(&TenantId, u64) + Sync),
) -> Result<RebuildReport, StoreError> {
    let mut report = RebuildReport::default();
    for tenant in target.rehash_tenants().await? {
        let k = keys(&tenant);
        let mut start = 0u64;
        loop {
            let batch = target.rehash_sources(&tenant, start, REHASH_BATCH).await?;
            let Some(last) = batch.last().map(|s| s.index) else {
                break;
            };
            let full = batch.len() as u64 == REHASH_BATCH;
            let mut out = Vec::with_capacity(batch.len());
            for s in batch {
                let at = |c: Corruption| c.tenant(&tenant).at(Place::Index(s.index));
                let personal: Vec<PersonalValue> = if s.personal.is_empty() {
                    Vec::new()
                } else {
                    serde_json::from_slice(&s.personal).map_err(|e| {
                        at(
                            Corruption::new("the stored personal values are not readable JSON")
                                .caused_by(e),
                        )
                    })?
                };
                let h =
                    sealbook_domain::stored_event_hashes(&s.leaf, &personal, &k).map_err(|e| {
                        at(Corruption::new(format!("cannot rebuild its hashes: {e}")).caused_by(e))
                    })?;
                out.push(Rehashed {
                    index: s.index,
                    content_hash: h.content_hash,
                    terms: h.terms,
                });
            }
            report.events += out.len() as u64;
            target.replace_hashes(&tenant, start, last + 1, out).await?;
            start = last + 1;
            progress(&tenant, start);
            if !full {
                break;
            }
        }
        report.tenants += 1;
    }
    target.set_hash_format(format).await?;
    Ok(report)
}

/// The hash format the migrations to schema version 3 record on a database that held events
/// before keying (XXH3 postings, SHA-256 content hashes).
pub const UNKEYED_FORMAT: &str = "unkeyed";

/// The upgrade path: [`rebuild_hashes`] when the recorded format is [`UNKEYED_FORMAT`], nothing
/// otherwise (`Ok(None)`: a keyed database, a new one, or a format this build does not know, which
/// the caller refuses). Running it on an upgraded database costs one read.
pub async fn upgrade_hashes(
    target: &dyn HashRebuild,
    keys: &(dyn Fn(&TenantId) -> TenantKeys + Sync),
    format: &str,
    progress: &(dyn Fn(&TenantId, u64) + Sync),
) -> Result<Option<RebuildReport>, StoreError> {
    if target.hash_format().await?.as_deref() != Some(UNKEYED_FORMAT) {
        return Ok(None);
    }
    rebuild_hashes(target, keys, format, progress)
        .await
        .map(Some)
}
