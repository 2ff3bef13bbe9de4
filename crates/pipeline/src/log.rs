//! The tenant logs as a verifiable service: the checkpoint signer, proofs, tiles and entry bundles.
//!
//! The sequencer integrates events into each tenant's tree as it stores them; this module makes
//! that tree public in the formats of C2SP and RFC 9162. It signs checkpoints (never one that is
//! smaller than, or inconsistent with, the last one), and answers proofs, tiles and entry bundles,
//! all bounded by the latest signed checkpoint so that everything served can be checked against a
//! signature.
//!
//! Proofs read stored tiles through [`TileNodes`]; tiles that are read are kept in a bounded cache.
//! That is safe because a tile's entries never change once written: a cached tile with enough
//! entries answers for any tree size, and one with too few is fetched again.

use base64::{engine::general_purpose::STANDARD, Engine};
use sealbook_domain::TenantId;
use sealbook_logmath::note::{sign_with, verifier_key, Checkpoint, NoteSigner};
use sealbook_logmath::tile::{TileTree, TILE_WIDTH};
use sealbook_logmath::{
    batch_proof, consistency_proof, inclusion_proof, root, verify_consistency, Hash, ProofError,
};
use sealbook_store::{
    CheckpointOutcome, MissingTile, Store, StoreError, StoredCheckpoint, TileNodes, TreeHead,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The store failed; [`StoreError::Corrupt`] is an integrity fault like [`LogError::Damaged`],
    /// the other variants are the store's availability.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant's log has no signed checkpoint yet.
    #[error("the log has no signed checkpoint yet")]
    NoCheckpoint,
    /// A size beyond the latest signed checkpoint was asked for.
    #[error("tree size {requested} is beyond the latest checkpoint (size {latest})")]
    BeyondCheckpoint {
        /// What was asked.
        requested: u64,
        /// The latest checkpoint's size.
        latest: u64,
    },
    /// Arguments that no tree can satisfy (index not below size, from above to, size 0).
    #[error("{0}")]
    OutOfRange(String),
    /// The signer refused: the tree is smaller than, or inconsistent with, the last checkpoint.
    #[error("refusing to sign: {0}")]
    Inconsistent(String),
    /// Stored tree data is missing, or malformed in a way only the log math sees (a store reports
    /// what it can see as [`StoreError::Corrupt`]).
    #[error("stored tree data is damaged: {0}")]
    Damaged(String),
    /// A signing key could not be used.
    #[error("signing key: {0}")]
    Key(String),
}

/// A proof as served: `index` and `size` (for consistency: old and new size), the root at `size`,
/// and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// Leaf index, or for consistency the old size.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Root at `size`.
    pub root: Hash,
    /// Root at `index` (consistency proofs only).
    pub first_root: Option<Hash>,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

/// The Ed25519 seeds that sign checkpoints. Several sign at once during a rotation.
pub struct SigningKeys {
    seeds: Vec<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeys({} keys)", self.seeds.len())
    }
}

impl SigningKeys {
    /// Parses the key file format: one base64 Ed25519 seed (32 bytes) per line; blank lines and
    /// `#` comments are ignored. The first key is the primary; all of them sign.
    pub fn parse(text: &str) -> Result<SigningKeys, LogError> {
        let mut seeds = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(line)
                    .map_err(|_| LogError::Key(format!("line {}: not base64", n + 1)))?,
            );
            let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                LogError::Key(format!("line {}: an Ed25519 seed is 32 bytes", n + 1))
            })?;
            seeds.push(Zeroizing::new(seed));
        }
        if seeds.is_empty() {
            return Err(LogError::Key("no key in the key file".into()));
        }
        Ok(SigningKeys { seeds })
    }

    /// A new random key, in the key file format.
    pub fn generate() -> Zeroizing<String> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).expect("the operating system's random generator failed");
        Zeroizing::new(format!(
            "# Sealbook checkpoint signing key (Ed25519 seed). Keep secret; losing it ends the log's identity.\n{}\n",
            STANDARD.encode(seed.as_ref())
        ))
    }

    fn signers(&self, name: &str) -> Result<Vec<NoteSigner>, LogError> {
        self.seeds
            .iter()
            .map(|s| NoteSigner::new(name, s).map_err(|e| LogError::Key(e.to_string())))
            .collect()
    }

    /// The public keys, primary first.
    pub fn public_keys(&self) -> Vec<[u8; 32]> {
        self.seeds
            .iter()
            .map(|s| {
                NoteSigner::new("k", s)
                    .expect("a fixed valid name")
                    .public_key()
            })
            .collect()
    }
}

/// Tiles kept in memory, in entries (a full tile is 256): about 64 MiB of hashes.
const TILE_CACHE_TILES: usize = 8192;

type TileKey = (TenantId, u32, u64);

/// The verifiable face of the tenant logs.
pub struct Log {
    store: Arc<dyn Store>,
    keys: SigningKeys,
    prefix: String,
    tiles: quick_cache::sync::Cache<TileKey, Arc<TileTree>>,
    latest: Mutex<HashMap<TenantId, Arc<StoredCheckpoint>>>,
    /// One signing at a time per tenant in this process (across processes the store's conditional
    /// insert decides). Per tenant, not one lock for all: a tenant that floods checkpoint requests
    /// MUST NOT delay, or learn from the timing of, another tenant's signing. One entry per tenant
    /// that ever signed here, so bounded by the tenants.
    signing: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("prefix", &self.prefix).finish()
    }
}

impl Log {
    /// A log service signing with `keys` under origins `<prefix>/<tenant>`. Records the public
    /// keys in the store, so that they stay listed as verifiers after a rotation.
    pub async fn new(
        store: Arc<dyn Store>,
        keys: SigningKeys,
        prefix: &str,
    ) -> Result<Log, LogError> {
        for pk in keys.public_keys() {
            store.record_signing_key(pk).await?;
        }
        Ok(Log {
            store,
            keys,
            prefix: prefix.trim_end_matches('/').to_owned(),
            tiles: quick_cache::sync::Cache::new(TILE_CACHE_TILES),
            latest: Mutex::new(HashMap::new()),
            signing: Mutex::new(HashMap::new()),
        })
    }

    /// The checkpoint origin (and key name) of a tenant's log.
    pub fn origin(&self, tenant: &TenantId) -> String {
        format!("{}/{}", self.prefix, tenant)
    }

    /// Every verifier key of a tenant's log: all keys that ever signed, current and retired.
    pub async fn verifier_keys(&self, tenant: &TenantId) -> Result<Vec<String>, LogError> {
        let origin = self.origin(tenant);
        self.store
            .signing_keys()
            .await?
            .iter()
            .map(|pk| verifier_key(&origin, pk).map_err(|e| LogError::Key(e.to_string())))
            .collect()
    }

    /// Signs a checkpoint for every tenant whose tree grew; returns how many were signed. A tenant
    /// the signer refuses is logged and skipped, never signed.
    pub async fn sign_pending(&self) -> Result<usize, LogError> {
        let mut signed = 0;
        for (tenant, head, last) in self.store.unsigned_growth().await? {
            match self.sign(&tenant, head, last).await {
                Ok(Some(_)) => signed += 1,
                Ok(None) => {}
                // An unavailable store stops the round; a corrupt tenant is refused like any other
                // integrity fault, and the others are still signed.
                Err(LogError::Store(e)) if !matches!(e, StoreError::Corrupt(_)) => {
                    return Err(LogError::Store(e))
                }
                Err(e) => {
                    metrics::counter!("sealbook_checkpoint_refusals_total").increment(1);
                    tracing::error!(tenant = %tenant, error = %e, "checkpoint not signed");
                }
            }
        }
        Ok(signed)
    }

    /// Signs a checkpoint of the tenant's tree now if it grew, and returns the latest checkpoint.
    pub async fn sign_now(&self, tenant: &TenantId) -> Result<StoredCheckpoint, LogError> {
        let head = self.store.tree_head(tenant).await?;
        let last = self.store.latest_checkpoint(tenant).await?;
        match self.sign(tenant, head, last).await? {
            Some(cp) => Ok(cp),
            // Nothing new to sign, or another signer was first: serve what is stored now.
            None => self
                .store
                .latest_checkpoint(tenant)
                .await?
                .ok_or(LogError::NoCheckpoint),
        }
    }

    async fn sign(
        &self,
        tenant: &TenantId,
        head: TreeHead,
        last: Option<StoredCheckpoint>,
    ) -> Result<Option<StoredCheckpoint>, LogError> {
        let lock = self
            .signing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.clone())
            .or_default()
            .clone();
        let _one = lock.lock().await;
        // Re-read under the lock: another task may have signed meanwhile.
        let last = match self.store.latest_checkpoint(tenant).await? {
            Some(l) => Some(l),
            None => last,
        };
        let old = last.as_ref().map_or(0, |l| l.size);
        if head.size == 0 {
            return Ok(None);
        }
        if head.size < old {
            return Err(LogError::Inconsistent(format!(
                "the tree has {} leaves, the last checkpoint {old}",
                head.size
            )));
        }
        if head.size == old {
            let same = last.as_ref().is_some_and(|l| l.root == head.root);
            return if same {
                Ok(None)
            } else {
                Err(LogError::Inconsistent(format!(
                    "the tree root at size {old} differs from the last checkpoint's"
                )))
            };
        }
        // The root the tiles give must be the head's, and the old checkpoint must be a prefix of
        // it: the signer vouches for nothing it has not recomputed from stored tiles.
        let size = head.size;
        let tiles_root = self.with_nodes(tenant, |n| root(n, size)).await?;
        if tiles_root != head.root {
            return Err(LogError::Inconsistent(format!(
                "the stored tiles give a different root than the tree head at size {size}"
            )));
        }
        if let Some(l) = last.as_ref() {
            let from = l.size;
            let proof = self
                .with_nodes(tenant, |n| consistency_proof(n, from, size))
                .await?
                .map_err(|e| LogError::Damaged(e.to_string()))?;
            verify_consistency(from, size, &proof, &l.root, &head.root).map_err(|_| {
                LogError::Inconsistent(format!(
                    "the tree at size {size} does not extend the checkpoint at size {from}"
                ))
            })?;
        }
        let origin = self.origin(tenant);
        let text = Checkpoint {
            origin: origin.clone(),
            size,
            root: head.root,
        }
        .to_text();
        let note = sign_with(&text, &self.keys.signers(&origin)?)
            .map_err(|e| LogError::Key(e.to_string()))?;
        let cp = StoredCheckpoint {
            size,
            root: head.root,
            note,
            signed_at: sealbook_domain::timestamp::format_utc(
                sealbook_domain::timestamp::OffsetDateTime::now_utc(),
                3,
            ),
        };
        match self.store.add_checkpoint(tenant, cp.clone()).await? {
            CheckpointOutcome::Stored => {
                metrics::counter!("sealbook_checkpoints_signed_total").increment(1);
                self.remember(tenant, cp.clone());
                Ok(Some(cp))
            }
            // Another node signed this size or a larger one first; theirs stands.
            CheckpointOutcome::Superseded { .. } => Ok(None),
        }
    }

    /// Signs a statement about a tenant's log with the keys that sign its checkpoints: the note
    /// text is the log's origin line, then `body` (which MUST end with a newline), so a verifier
    /// key of the log (`--vkey`) opens it and its key name names the log. Used for the claims of an
    /// export. A body whose first line is a number is refused: the note could then read as a
    /// checkpoint, and this key MUST never vouch for a tree it has not recomputed.
    pub fn sign_note(&self, tenant: &TenantId, body: &str) -> Result<String, LogError> {
        let first = body.split('\n').next().unwrap_or("");
        if first.is_empty() || first.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LogError::Key(
                "a signed statement must not begin like a checkpoint".into(),
            ));
        }
        let origin = self.origin(tenant);
        let text = format!("{origin}\n{body}");
        debug_assert!(Checkpoint::parse(&text).is_err());
        sign_with(&text, &self.keys.signers(&origin)?).map_err(|e| LogError::Key(e.to_string()))
    }

    fn remember(&self, tenant: &TenantId, cp: StoredCheckpoint) {
        if let Ok(mut m) = self.latest.lock() {
            let newer = m.get(tenant).is_none_or(|c| c.size < cp.size);
            if newer {
                m.insert(tenant.clone(), Arc::new(cp));
            }
        }
    }

    /// The latest signed checkpoint of a tenant's log.
    pub async fn checkpoint(&self, tenant: &TenantId) -> Result<Arc<StoredCheckpoint>, LogError> {
        let cp = self
            .store
            .latest_checkpoint(tenant)
            .await?
            .ok_or(LogError::NoCheckpoint)?;
        self.remember(tenant, cp.clone());
        Ok(Arc::new(cp))
    }

    /// The latest checkpoint with at least `size` leaves, from memory when it is known (other
    /// nodes may have signed newer ones, so a miss asks the store).
    async fn covering(
        &self,
        tenant: &TenantId,
        size: u64,
    ) -> Result<Arc<StoredCheckpoint>, LogError> {
        let known = self.latest.lock().ok().and_then(|m| m.get(tenant).cloned());
        if let Some(cp) = known.filter(|c| c.size >= size) {
            return Ok(cp);
        }
        let cp = self.checkpoint(tenant).await?;
        if cp.size < size {
            return Err(LogError::BeyondCheckpoint {
                requested: size,
                latest: cp.size,
            });
        }
        Ok(cp)
    }

    /// Runs `f` over the tenant's stored tiles, fetching the tiles it asks for.
    async fn with_nodes<T>(
        &self,
        tenant: &TenantId,
        f: impl Fn(&TileNodes) -> Result<T, MissingTile>,
    ) -> Result<T, LogError> {
        let mut nodes = TileNodes::default();
        // A proof touches a couple of tiles per tile level; 64 rounds is far beyond any tree.
        for _ in 0..64 {
            match f(&nodes) {
                Ok(t) => return Ok(t),
                Err(m) => {
                    let content = self
                        .tile_content(tenant, m.level, m.number, m.entries)
                        .await?;
                    nodes.insert(m.level, m.number, content);
                }
            }
        }
        Err(LogError::Damaged(
            "proof needs more tiles than any tree has".into(),
        ))
    }

    /// A tile with at least `need` entries, from the cache or the store.
    async fn tile_content(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
        need: usize,
    ) -> Result<Arc<TileTree>, LogError> {
        let key = (tenant.clone(), level, number);
        if let Some(t) = self.tiles.get(&key).filter(|t| t.entries().len() >= need) {
            return Ok(t);
        }
        let content = self
            .store
            .tile(tenant, level, number)
            .await?
            .filter(|t| t.len() >= need)
            .ok_or_else(|| {
                LogError::Damaged(format!(
                    "tile {level}/{number} is missing or has fewer than {need} entries"
                ))
            })?;
        let tree = Arc::new(TileTree::new(content));
        self.tiles.insert(key, tree.clone());
        Ok(tree)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves (at most the latest
    /// checkpoint's size).
    pub async fn inclusion(
        &self,
        tenant: &TenantId,
        index: u64,
        size: u64,
    ) -> Result<Proof, LogError> {
        if index >= size {
            return Err(LogError::OutOfRange(format!(
                "index {index} is not in a tree of size {size}"
            )));
        }
        let cp = self.covering(tenant, size).await?;
        // At the checkpoint's size the root is the signed one; proofs from damaged tiles then
        // fail against it, as they should.
        let signed = (cp.size == size).then_some(cp.root);
        let (hashes, root) = self
            .with_nodes(tenant, |n| {
                let r = match signed {
                    Some(r) => r,
                    None => root(n, size)?,
                };
                Ok((inclusion_proof(n, index, size)?, r))
            })
            .await?;
        Ok(Proof {
            index,
            size,
            root,
            first_root: None,
            hashes: hashes.map_err(range)?,
        })
    }

    /// Consistency proof between the trees of `from` and `to` leaves (`0 < from <= to`, `to` at
    /// most the latest checkpoint's size).
    pub async fn consistency(
        &self,
        tenant: &TenantId,
        from: u64,
        to: u64,
    ) -> Result<Proof, LogError> {
        if from == 0 || from > to {
            return Err(LogError::OutOfRange(format!(
                "a consistency proof needs 0 < from <= to (from {from}, to {to})"
            )));
        }
        self.covering(tenant, to).await?;
        let (hashes, first, second) = self
            .with_nodes(tenant, |n| {
                Ok((
                    consistency_proof(n, from, to)?,
                    root(n, from)?,
                    root(n, to)?,
                ))
            })
            .await?;
        Ok(Proof {
            index: from,
            size: to,
            root: second,
            first_root: Some(first),
            hashes: hashes.map_err(range)?,
        })
    }

    /// The batch proof (see `sealbook_logmath::batch_proof`) of the leaves at `indexes` (strictly
    /// increasing) in the tree of `size` leaves, at most the latest checkpoint's size. Which tiles
    /// a proof needs does not depend on their content, so one dry run finds them all; they are
    /// fetched, and the proof computed once.
    pub async fn batch_proof(
        &self,
        tenant: &TenantId,
        indexes: &[u64],
        size: u64,
    ) -> Result<Vec<Hash>, LogError> {
        self.covering(tenant, size).await?;
        struct DryRun<'a> {
            have: &'a TileNodes,
            missing: std::cell::RefCell<HashMap<(u32, u64), usize>>,
        }
        impl sealbook_logmath::NodeSource for DryRun<'_> {
            type Error = std::convert::Infallible;
            fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
                Ok(self.have.node(level, index).unwrap_or_else(|m| {
                    let mut missing = self.missing.borrow_mut();
                    let need = missing.entry((m.level, m.number)).or_insert(0);
                    *need = (*need).max(m.entries);
                    Hash([0; 32])
                }))
            }
        }
        let mut nodes = TileNodes::default();
        let missing = {
            let dry = DryRun {
                have: &nodes,
                missing: Default::default(),
            };
            let Ok(outcome) = batch_proof(&dry, indexes, size);
            outcome.map_err(range)?;
            dry.missing.into_inner()
        };
        for ((level, number), need) in missing {
            let content = self.tile_content(tenant, level, number, need).await?;
            nodes.insert(level, number, content);
        }
        self.with_nodes(tenant, |n| batch_proof(n, indexes, size))
            .await?
            .map_err(range)
    }

    /// The hashes of tile `level`/`number`: all 256 when `width` is `None`, else the first
    /// `width` (a partial tile). Only what the latest checkpoint covers is served.
    pub async fn tile(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
        width: Option<u32>,
    ) -> Result<Vec<Hash>, LogError> {
        let width = u64::from(width.unwrap_or(TILE_WIDTH as u32));
        // The tile holds nodes [number*256, number*256+width) of level `level`; the tree must
        // have at least (number*256 + width) << (8*level) leaves.
        let shift = 8 * u64::from(level);
        let needed = (number
            .checked_mul(TILE_WIDTH)
            .and_then(|n| n.checked_add(width)))
        .filter(|_| shift < 64)
        .and_then(|n| n.checked_mul(1u64 << shift).filter(|m| m >> shift == n))
        .ok_or_else(|| LogError::OutOfRange("no tree has that tile".into()))?;
        self.covering(tenant, needed).await?;
        let tree = self
            .tile_content(tenant, level, number, width as usize)
            .await?;
        Ok(tree.entries()[..width as usize].to_vec())
    }

    /// The leaves of entry bundle `number` (all 256, or the first `width`), as `(index, leaf)`.
    /// Only what the latest checkpoint covers is served; a damaged log is served as it is, for
    /// verifiers to judge.
    pub async fn bundle(
        &self,
        tenant: &TenantId,
        number: u64,
        width: Option<u32>,
    ) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let (start, end) = self.bundle_range(tenant, number, width).await?;
        Ok(self.store.entries(tenant, start, end).await?)
    }

    /// The personal values (raw JSON as stored) of the events of entry bundle `number`.
    pub async fn personal(
        &self,
        tenant: &TenantId,
        number: u64,
        width: Option<u32>,
    ) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let (start, end) = self.bundle_range(tenant, number, width).await?;
        Ok(self.store.personal(tenant, start, end).await?)
    }

    async fn bundle_range(
        &self,
        tenant: &TenantId,
        number: u64,
        width: Option<u32>,
    ) -> Result<(u64, u64), LogError> {
        let width = u64::from(width.unwrap_or(TILE_WIDTH as u32));
        let start = number
            .checked_mul(TILE_WIDTH)
            .ok_or_else(|| LogError::OutOfRange("no tree has that bundle".into()))?;
        self.covering(tenant, start + width).await?;
        Ok((start, start + width))
    }

    /// Signs every `interval` until `shutdown` resolves, then once more.
    pub async fn run_signer(
        self: Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut shutdown => break,
            }
            if let Err(e) = self.sign_pending().await {
                if integrity(&e) {
                    tracing::error!(error = %e, "checkpoint signing failed on damaged data");
                } else {
                    tracing::warn!(error = %e, "checkpoint signing failed; retrying next interval");
                }
            }
        }
        if let Err(e) = self.sign_pending().await {
            if integrity(&e) {
                tracing::error!(error = %e, "final checkpoint signing failed on damaged data");
            } else {
                tracing::warn!(error = %e, "final checkpoint signing failed");
            }
        }
    }
}

/// True for failures that say the stored log is damaged, as opposed to the store being away.
fn integrity(e: &LogError) -> bool {
    match e {
        LogError::Store(s) => matches!(s, StoreError::Corrupt(_)),
        LogError::Inconsistent(_) | LogError::Damaged(_) => true,
        LogError::NoCheckpoint
        | LogError::BeyondCheckpoint { .. }
        | LogError::OutOfRange(_)
        | LogError::Key(_) => false,
    }
}

fn range(e: ProofError) -> LogError {
    LogError::OutOfRange(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealbook_logmath::note::{open, NoteVerifier};

    use crate::gate::Gated;
    use sealbook_store::AppendRequest;

    /// A statement signed for a tenant opens with that log's verifier key and no other, and a
    /// body that could pass for a checkpoint is never signed.
    #[tokio::test]
    async fn statements_are_signed_with_the_checkpoint_key_and_never_look_like_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(sealbook_store_sqlite::SqliteStore::open(dir.path()).unwrap());
        let keys = SigningKeys::parse(&SigningKeys::generate()).unwrap();
        let log = Log::new(store, keys, "sealbook.test").await.unwrap();
        let acme = TenantId::parse("acme").unwrap();
        let note = log
            .sign_note(&acme, "sealbook-export/v1\ncount 3\n")
            .unwrap();
        let vkeys = log.verifier_keys(&acme).await.unwrap();
        let v = NoteVerifier::parse(&vkeys[0]).unwrap();
        assert_eq!(
            open(&note, std::slice::from_ref(&v)).unwrap(),
            "sealbook.test/acme\nsealbook-export/v1\ncount 3\n"
        );
        let globex = TenantId::parse("globex").unwrap();
        let other = log.verifier_keys(&globex).await.unwrap();
        assert!(open(&note, &[NoteVerifier::parse(&other[0]).unwrap()]).is_err());
        let root = STANDARD.encode([0u8; 32]);
        assert!(log.sign_note(&acme, &format!("5\n{root}\n")).is_err());
        assert!(log.sign_note(&acme, "\nx\n").is_err());
    }

    async fn grown(store: &dyn Store, t: &TenantId) {
        store.create_tenant(t, t.as_str()).await.unwrap();
        let events = sealbook_testkit::conformance::events(
            t,
            serde_json::json!([{"id": "e1", "type": "x.y", "occurred_at": "2026-01-01T00:00:00Z",
                "actor": {"type": "system", "id": "s"}, "subject": {"type": "thing", "id": "1"}}]),
        );
        store
            .append(vec![AppendRequest {
                tenant: t.clone(),
                events,
                effect: None,
            }])
            .await
            .unwrap();
    }

    /// While one tenant's signing is held (a flood of checkpoint requests queues behind it), another
    /// tenant's checkpoint and proof are answered: signing is serialised per tenant, not per process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_tenants_signing_does_not_hold_up_another() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> =
            Arc::new(sealbook_store_sqlite::SqliteStore::open(dir.path()).unwrap());
        let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
        grown(&*inner, &a).await;
        grown(&*inner, &b).await;
        let gated = Gated::new(inner);
        let keys = SigningKeys::parse(&SigningKeys::generate()).unwrap();
        let log = Arc::new(Log::new(gated.clone(), keys, "test.example").await.unwrap());
        gated.hold_checkpoints_of(&a);
        let held = tokio::spawn({
            let (log, a) = (log.clone(), a.clone());
            async move { log.sign_now(&a).await }
        });
        gated.checkpoints.entered(1).await;
        // A hang guard only (the answer needs no waiting at all): on one process-wide lock this
        // never completes while tenant a's signing is held.
        let answered = tokio::time::timeout(Duration::from_secs(60), async {
            let cp = log.sign_now(&b).await.unwrap();
            log.inclusion(&b, 0, cp.size).await.unwrap()
        })
        .await
        .expect("tenant b's checkpoint and proof are answered while tenant a's signing is held");
        assert_eq!(answered.size, 1);
        assert!(!held.is_finished(), "tenant a's signing is still held");
        gated.checkpoints.open();
        assert_eq!(held.await.unwrap().unwrap().size, 1);
    }
}
