//! The storage contract of Sealbook: what a backend must do, in domain terms.
//!
//! Two backends implement [`Store`]: the embedded SQLite store (`sealbook-store-sqlite`) and
//! PostgreSQL for several nodes on one database (`sealbook-store-postgres`). The trait is
//! deliberately small: the pipeline and the API never see SQL, and a backend never sees HTTP. Every
//! backend runs the one conformance suite in `sealbook-testkit`.
//!
//! Every call that touches one tenant's data takes that tenant, from authentication, as its first
//! argument, and MUST read and write that tenant's data only. Five calls read or write across
//! tenants, each because its answer cannot be scoped to a tenant yet or at all:
//! [`Store::key_by_hash`] (authentication: the key is what names the tenant),
//! [`Store::list_tenants`] (the operator's view), [`Store::unsigned_growth`] (the signer's work
//! list over every tenant), [`Store::signing_keys`] with [`Store::record_signing_key`] (one set of
//! checkpoint keys for the deployment) and [`Store::pin_setting`] (deployment-wide settings).
//!
//! The public interface is:
//! - [`Store`], the contract, and its errors [`StoreError`], with [`Corruption`] and [`Place`]
//!   for stored data that cannot be what it must be;
//! - the records: [`Tenant`], [`KeyRecord`], [`NewKey`], [`StoredEvent`], [`Receipt`],
//!   [`TreeHead`], [`StoredCheckpoint`], [`CheckpointOutcome`];
//! - the append contract: [`AppendRequest`], [`KeyEffect`], [`AppendOutcome`], and the
//!   idempotency rule every backend applies, [`replay`] (with [`StoredId`]), beside
//!   [`stored_hash`], the check of a stored hash;
//! - [`People`] (a supertrait of [`Store`]) with [`User`], [`Credentials`], [`Session`],
//!   [`PasswordToken`], [`AccessGrant`], [`SavedSearch`], [`PeopleEffect`] and [`EffectRefusal`]: people, sign-in and what is
//!   committed with its audit event;
//! - [`TileNodes`] and [`MissingTile`]: proofs from stored tiles;
//! - [`column_conditions`], [`ColumnCondition`], [`ColumnValue`]: a filter's predicates on an
//!   event's own columns, for every backend's SQL;
//! - [`HashRebuild`], [`upgrade_hashes`], [`rebuild_hashes`] (with [`RehashSource`], [`Rehashed`],
//!   [`RebuildReport`]): rebuilding postings and content hashes written in another format.

mod columns;
mod error;
mod nodes;
mod people;
mod rehash;
mod replay;

pub use columns::{column_conditions, ColumnCondition, ColumnValue};
pub use error::{Corruption, Place, StoreError};
pub use nodes::{MissingTile, TileNodes};
pub use people::{
    AccessGrant, Credentials, EffectRefusal, PasswordToken, People, PeopleEffect, SavedSearch,
    Session, User, MAX_SAVED_SEARCHES,
};
pub use rehash::{
    rebuild_hashes, upgrade_hashes, HashRebuild, RebuildReport, RehashSource, Rehashed,
    REHASH_BATCH, UNKEYED_FORMAT,
};
pub use replay::{replay, stored_hash, StoredId};

use async_trait::async_trait;
use sealbook_domain::{EventFilter, PersonalValue, Scope, ShapedEvent, TenantId};
use sealbook_logmath::Hash;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// An API key as stored: never the secret, only its hash (kept out of this record entirely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public key id, e.g. `key_3q2…`.
    pub id: String,
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// Display name.
    pub name: String,
    /// Permissions.
    pub scopes: Vec<Scope>,
    /// The first characters of the secret (`sbk_AbCd`), to recognise a key without revealing it.
    pub prefix: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// A key to create, with the SHA-256 of its secret.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The record to store (its `revoked_at` is ignored).
    pub record: KeyRecord,
    /// SHA-256 of the full secret.
    pub secret_hash: [u8; 32],
}

/// A side effect committed in the same transaction as the events of an [`AppendRequest`], so that
/// an administrative change exists if and only if its audit event is in the log.
#[derive(Debug, Clone)]
pub enum KeyEffect {
    /// Create this key.
    Create(NewKey),
    /// Revoke this key of the request's tenant, at this RFC 3339 time.
    Revoke {
        /// Key id.
        key_id: String,
        /// When.
        at: String,
    },
    /// A change to the request's tenant's people ([`PeopleEffect`]).
    People(PeopleEffect),
}

/// Events of one tenant to append in order, all or nothing.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The tenant, from authentication.
    pub tenant: TenantId,
    /// The shaped events, in batch order.
    pub events: Vec<ShapedEvent>,
    /// An administrative change to commit with them.
    pub effect: Option<KeyEffect>,
}

/// A durable receipt for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Event id.
    pub id: String,
    /// Index in the tenant's log.
    pub index: u64,
    /// Leaf hash.
    pub leaf_hash: Hash,
    /// True when the event was already stored (a faithful retry): nothing was written for it.
    pub replayed: bool,
}

/// What became of one [`AppendRequest`]. Requests are independent: one's rejection never affects
/// another committed in the same group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Committed (or replayed): one receipt per event, in batch order.
    Committed(Vec<Receipt>),
    /// An event id is already stored with different content; nothing of the request was written.
    Conflict {
        /// Position in the request.
        position: usize,
        /// The id.
        id: String,
    },
    /// The tenant does not exist; nothing was written.
    UnknownTenant,
    /// The key to revoke does not exist or is already revoked; nothing was written.
    UnknownKey,
    /// The request's [`PeopleEffect`] does not apply; nothing was written.
    Refused(EffectRefusal),
}

/// The head of a tenant's Merkle tree: its size and root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves (equals the number of events in the log).
    pub size: u64,
    /// RFC 6962 root; the SHA-256 of the empty string for an empty tree.
    pub root: Hash,
}

/// A signed checkpoint of a tenant's log, as stored. Every checkpoint ever signed is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The whole signed note, byte-exact as served (C2SP tlog-checkpoint + signed-note).
    pub note: String,
    /// RFC 3339 time of signing.
    pub signed_at: String,
}

/// What became of [`Store::add_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Stored: it is now the latest.
    Stored,
    /// Not stored: a checkpoint at this size or larger exists already (another signer was first).
    Superseded {
        /// The size of the latest stored checkpoint.
        latest: u64,
    },
}

/// An event as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Index in the tenant's log.
    pub index: u64,
    /// Canonical leaf bytes.
    pub leaf: Vec<u8>,
    /// Leaf hash.
    pub leaf_hash: Hash,
    /// Personal values kept beside the leaf.
    pub personal: Vec<PersonalValue>,
}

/// [`Store::count`] by paging through [`Store::query`]: what a backend does for a filter it cannot
/// count by index.
pub async fn count_by_pages<S: Store + ?Sized>(
    store: &S,
    tenant: &TenantId,
    filter: &EventFilter,
) -> Result<u64, StoreError> {
    let mut filter = filter.clone();
    let mut n = 0u64;
    loop {
        let page = store.query(tenant, &filter).await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        filter.cursor = Some(sealbook_domain::Cursor(last.index));
        n += page.len() as u64;
    }
}

/// The storage contract.
///
/// An implementation:
/// - MUST scope every method that takes a tenant to that tenant's data; only the methods the crate
///   documentation names read or write across tenants;
/// - MUST NOT return from [`Store::append`] before the transaction is durable, and MUST write all
///   of a group or, on `Err`, nothing;
/// - MUST integrate each tenant's tree (tiles and [`TreeHead`]) in the transaction that stores its
///   events, so that tree and log never disagree;
/// - MUST report stored data that cannot be what it must be as [`StoreError::Corrupt`], never as
///   another variant and never by substituting a value.
///
/// A caller MUST serve tiles, entries and proofs to clients only up to a signed checkpoint: this
/// trait returns the current tree, which nothing has vouched for yet. That bound is the pipeline's
/// job (`sealbook_pipeline::Log`); the API reads the log through it, not through this trait.
#[async_trait]
pub trait Store: People + Send + Sync + 'static {
    /// Cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a tenant.
    async fn create_tenant(&self, id: &TenantId, name: &str) -> Result<Tenant, StoreError>;
    /// Lists every tenant. Reads across tenants: for the operator only.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// One tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Finds a key by the hash of its secret, revoked or not. Reads across tenants: before
    /// authentication, the key is what says which tenant is asking.
    async fn key_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError>;
    /// Lists a tenant's keys, newest first.
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError>;
    /// One key of a tenant.
    async fn key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Appends requests in one durable transaction (group commit): each request gets consecutive
    /// indexes in its tenant's log, and each tenant's tree is integrated in the same transaction.
    /// MUST NOT return before the data is durable; returns one outcome per request, in order. On
    /// `Err` nothing at all was written.
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StoreError>;

    /// Searches a tenant's events, newest first; at most `filter.limit` results.
    async fn query(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// How many events paging through [`Store::query`] with `filter` would return in all, from
    /// its cursor (the log's size without one) down; its limit does not matter. MUST count exactly
    /// that, a gap in the stored log included. The default pages through `query`; a backend may
    /// count without reading the events where the filter lets it (an export counts before it
    /// streams, and a count that reads every leaf doubles the export's work).
    async fn count(&self, tenant: &TenantId, filter: &EventFilter) -> Result<u64, StoreError> {
        count_by_pages(self, tenant, filter).await
    }
    /// One event of a tenant by id.
    async fn event(&self, tenant: &TenantId, id: &str) -> Result<Option<StoredEvent>, StoreError>;
    /// Number of events in a tenant's log (the next index).
    async fn log_size(&self, tenant: &TenantId) -> Result<u64, StoreError>;
    /// The head of the tenant's tree, integrated in the same transaction as its events.
    async fn tree_head(&self, tenant: &TenantId) -> Result<TreeHead, StoreError>;
    /// The canonical leaf bytes of a tenant's events with indexes in `[start, end)`, as
    /// `(index, leaf)` in log order. A gap in the stored log shows as a missing index; the caller
    /// decides what that means. Served to clients only up to a signed checkpoint (see [`Store`]).
    async fn entries(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// The personal values kept beside a tenant's events with indexes in `[start, end)`, as
    /// `(index, JSON array of {"p","v","s"})` exactly as stored, in log order; events without
    /// personal values are absent.
    async fn personal(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    /// The latest stored checkpoint of a tenant.
    async fn latest_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Stores a checkpoint if it is larger than every stored one (atomically: two signers racing
    /// cannot both win at the same size).
    async fn add_checkpoint(
        &self,
        tenant: &TenantId,
        checkpoint: StoredCheckpoint,
    ) -> Result<CheckpointOutcome, StoreError>;
    /// Tenants whose tree is larger than their latest checkpoint, with their tree head and the
    /// latest checkpoint: the signer's work list. Reads across tenants: the signer serves them all.
    async fn unsigned_growth(
        &self,
    ) -> Result<Vec<(TenantId, TreeHead, Option<StoredCheckpoint>)>, StoreError>;
    /// Records an Ed25519 public key that signs checkpoints; recorded keys stay listed as
    /// verifiers after rotation. Idempotent. Deployment-wide: one set of keys signs every log.
    async fn record_signing_key(&self, public_key: [u8; 32]) -> Result<(), StoreError>;
    /// Every public key ever recorded, oldest first. Deployment-wide, like the keys.
    async fn signing_keys(&self) -> Result<Vec<[u8; 32]>, StoreError>;
    /// Returns the value of a deployment-wide setting, storing `value` first if it has none. For
    /// choices that must never change once data exists (the log origin prefix). Not a tenant's.
    async fn pin_setting(&self, name: &str, value: &str) -> Result<String, StoreError>;

    /// The current content of one tile of the tenant's tree (full, or the partial one). Served to
    /// clients only up to a signed checkpoint (see [`Store`]).
    async fn tile(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
    ) -> Result<Option<Vec<Hash>>, StoreError>;

    /// The rebuild of postings and content hashes ([`rebuild_hashes`]) through this store's own
    /// connection, when it may rewrite every tenant's events; `None` (the default) when it may not
    /// (PostgreSQL's application role: there the owner rebuilds, at migration).
    fn hash_rebuild(&self) -> Option<&dyn HashRebuild> {
        None
    }
}
