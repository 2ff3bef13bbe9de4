//! The embedded store: SQLite with WAL and `synchronous=FULL`, the default backend of
//! `sealbook serve`.
//!
//! One writer connection does every write, which is what SQLite allows anyway; the sequencer hands
//! it whole groups of requests so one fsync covers many events. Readers use a small pool of
//! read-only connections, which WAL lets run beside the writer. Blocking SQLite calls run on
//! tokio's blocking pool so they never stall the async workers.
//!
//! An append integrates each tenant's tree in its transaction: `Trees::integrate` reads the open
//! tiles `sealbook_logmath::tile::open_tiles` names, checks them against the tree head and the
//! number of stored events, and the tiles and heads the log math returns are written before the
//! commit. Stored data that cannot be what it must be is `StoreError::Corrupt`.
//!
//! A database MUST be opened by one Sealbook process at a time: the writer keeps each tenant's
//! next index in memory, and the API caches keys on the strength of being the only writer.
//!
//! The public interface is: [`SqliteStore`] (the `Store`), [`Options`] (choices fixed when a
//! database is created), [`SCHEMA_VERSION`], and [`layout`] (the row layout, for the raw baseline
//! in `sealbook-testkit`).

pub mod layout;
mod people;
mod rehash;

use async_trait::async_trait;
use layout::{bucket, rowid, INDEX_BITS, MAX_INDEX, SCHEMA};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use sealbook_domain::{EventFilter, PersonalValue, Scope, TenantId};
use sealbook_logmath::tile::{open_tiles, tile_blob, tile_hashes, RightEdge};
use sealbook_logmath::Hash;
use sealbook_store::{
    column_conditions, replay, stored_hash, AppendOutcome, AppendRequest, CheckpointOutcome,
    ColumnValue, Corruption, KeyEffect, KeyRecord, Place, Receipt, Store, StoreError,
    StoredCheckpoint, StoredEvent, StoredId, Tenant, TreeHead,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 5;
/// Forward-only migrations: (version reached, SQL). A new database runs the base and all of them.
const MIGRATIONS: &[(u32, &str)] = &[
    (2, include_str!("migrations/0002_checkpoints.sql")),
    (3, include_str!("migrations/0003_keyed_hashes.sql")),
    (4, include_str!("migrations/0004_people.sql")),
    (5, include_str!("migrations/0005_totp_settings_access.sql")),
];
const READERS: usize = 4;

/// Choices fixed when a database is created and recorded in it.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A search-postings bucket spans `2^bucket_bits` log indexes (see `schema.sql`; default 12:
    /// smaller buckets mean fewer pages dirtied per commit, more seeks for a rare term). Recorded in
    /// the database at creation; an existing database keeps the value it was created with.
    pub bucket_bits: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options { bucket_bits: 12 }
    }
}

/// The SQLite store. Cheap to share: clone the `Arc` it lives in.
pub struct SqliteStore {
    path: PathBuf,
    bucket_bits: u32,
    writer: Arc<Mutex<Writer>>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

struct Writer {
    conn: Connection,
    /// Tenant number and next index, loaded lazily; dropped whenever a transaction fails so that
    /// memory never runs ahead of disk.
    heads: HashMap<TenantId, (i64, u64)>,
    bucket_bits: u32,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// What work on a connection fails with: SQLite itself (the store is unavailable), or stored data
/// that cannot be what it must be. `?` turns either into this; [`StoreError`] is made from it once,
/// where the work returns to async code.
#[derive(Debug)]
enum Fault {
    Sql(rusqlite::Error),
    Corrupt(Corruption),
}

impl From<rusqlite::Error> for Fault {
    fn from(e: rusqlite::Error) -> Fault {
        Fault::Sql(e)
    }
}

impl From<Corruption> for Fault {
    fn from(c: Corruption) -> Fault {
        Fault::Corrupt(c)
    }
}

impl From<Fault> for StoreError {
    fn from(f: Fault) -> StoreError {
        match f {
            Fault::Sql(e) => unavailable(e),
            Fault::Corrupt(c) => StoreError::Corrupt(c),
        }
    }
}

/// A row as read: SQLite's own failure outside (row closures must return `rusqlite::Result`), the
/// check of what it holds inside. `r??` takes both apart into a [`Fault`].
type Checked<T> = rusqlite::Result<Result<T, Corruption>>;

fn parse_tenant(s: &str) -> Result<TenantId, Corruption> {
    TenantId::parse(s).map_err(|e| Corruption::new(format!("stored tenant id {s:?}")).caused_by(e))
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir/sealbook.db`.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(dir, Options::default())
    }

    /// Opens (creating if needed) the store in `dir/sealbook.db`; `options` apply only when the
    /// database is created.
    pub fn open_with(dir: &Path, options: Options) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let path = dir.join("sealbook.db");
        let conn = Connection::open(&path).map_err(unavailable)?;
        // Audit data is readable by Sealbook alone. SQLite gives the WAL and shared-memory files
        // the database file's permissions, so restricting it restricts them.
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [
                path.clone(),
                dir.join("sealbook.db-wal"),
                dir.join("sealbook.db-shm"),
            ] {
                if p.exists() {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                        .map_err(unavailable)?;
                }
            }
        }
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=2048;",
        )
        .map_err(unavailable)?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                e => Err(e),
            })
            .map_err(unavailable)?;
        let migrate = |from: u32| -> Result<(), StoreError> {
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
                // Each step and its version in one transaction: a crash leaves either both or neither.
                conn.execute_batch(&format!(
                    "BEGIN; {sql} UPDATE meta SET value = '{version}' WHERE key = 'schema_version'; COMMIT;"
                ))
                .map_err(unavailable)?;
            }
            Ok(())
        };
        match found.as_deref().map(str::parse::<u32>) {
            None => {
                conn.execute_batch(&format!(
                    "BEGIN; {SCHEMA} INSERT INTO meta(key, value) VALUES ('schema_version', '1'), ('bucket_bits', '{}'); COMMIT;",
                    options.bucket_bits
                ))
                .map_err(unavailable)?;
                migrate(1)?;
            }
            Some(Ok(v)) if v <= SCHEMA_VERSION => migrate(v)?,
            Some(Ok(v)) if v > SCHEMA_VERSION => {
                return Err(StoreError::Schema(format!(
                    "the data in {} has schema version {v}; this build knows up to {SCHEMA_VERSION}; run a newer Sealbook",
                    path.display()
                )))
            }
            Some(other) => return Err(StoreError::Schema(format!("unreadable schema version {other:?}"))),
        }
        let bucket_bits: u32 = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'bucket_bits'",
                [],
                |r| r.get::<_, String>(0),
            )
            .map_err(unavailable)?
            .parse()
            .ok()
            .filter(|b| *b < INDEX_BITS)
            .ok_or_else(|| StoreError::Schema("unreadable bucket_bits".into()))?;
        Ok(SqliteStore {
            path,
            bucket_bits,
            writer: Arc::new(Mutex::new(Writer {
                conn,
                heads: HashMap::new(),
                bucket_bits,
            })),
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = writer
                .lock()
                .map_err(|_| unavailable("writer poisoned by an earlier panic"))?;
            f(&mut w)
        })
        .await
        .map_err(unavailable)?
    }

    /// `(index, blob)` rows of `sql` (rowid and one blob, bounded by `?1` and `?2`) for the tenant's
    /// indexes in `[start, end)`.
    async fn index_range(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
        sql: &'static str,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let t = tenant.clone();
        let end = end.min(MAX_INDEX + 1);
        if start >= end {
            return Ok(Vec::new());
        }
        self.read(move |c| {
            let Some(no) = tenant_no(c, &t)? else {
                return Ok(Vec::new());
            };
            let mut stmt = c.prepare_cached(sql)?;
            let rows = stmt.query_map(params![rowid(no, start), rowid(no, end - 1)], |r| {
                Ok((
                    (r.get::<_, i64>(0)? as u64) & MAX_INDEX,
                    r.get::<_, Vec<u8>>(1)?,
                ))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// Runs `f` on a pooled read-only connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Fault> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut p| p.pop());
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(unavailable)?;
                    c.execute_batch("PRAGMA busy_timeout=10000; PRAGMA query_only=ON;")
                        .map_err(unavailable)?;
                    c
                }
            };
            let out = f(&conn).map_err(StoreError::from);
            if let Ok(mut p) = readers.lock() {
                if p.len() < READERS {
                    p.push(conn);
                }
            }
            out
        })
        .await
        .map_err(unavailable)?
    }
}

fn tenant_no(conn: &Connection, tenant: &TenantId) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT no FROM tenants WHERE id = ?1",
        [tenant.as_str()],
        |r| r.get(0),
    )
    .optional()
}

/// Number of events in a tenant's log: one past the highest index (a seek to the end of its range).
fn log_size(conn: &Connection, no: i64) -> rusqlite::Result<u64> {
    let max: Option<i64> = conn.query_row(
        "SELECT MAX(rowid) FROM events WHERE rowid BETWEEN ?1 AND ?2",
        params![rowid(no, 0), rowid(no, MAX_INDEX)],
        |r| r.get(0),
    )?;
    Ok(max.map_or(0, |m| (m as u64 & MAX_INDEX) + 1))
}

fn key_from_row(r: &rusqlite::Row<'_>) -> Checked<KeyRecord> {
    let scopes: String = r.get(3)?;
    let tenant: String = r.get(1)?;
    let tenant = match parse_tenant(&tenant) {
        Ok(t) => t,
        Err(c) => return Ok(Err(c)),
    };
    Ok(Ok(KeyRecord {
        id: r.get(0)?,
        tenant,
        name: r.get(2)?,
        scopes: scopes
            .split(',')
            .filter_map(|s| s.parse::<Scope>().ok())
            .collect(),
        prefix: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
    }))
}

const KEY_COLUMNS: &str =
    "k.id, t.id, k.name, k.scopes, k.prefix, k.created_at, k.revoked_at FROM api_keys k JOIN tenants t ON t.no = k.tenant_no";

/// An event from columns rowid, leaf, leaf hash, personal values (of `tenant`).
fn event_from_row(r: &rusqlite::Row<'_>, tenant: &TenantId) -> Checked<StoredEvent> {
    let rowid: i64 = r.get(0)?;
    let leaf: Vec<u8> = r.get(1)?;
    let hash: Vec<u8> = r.get(2)?;
    let personal: Option<Vec<u8>> = r.get(3)?;
    let index = (rowid as u64) & MAX_INDEX;
    let checked = (|| {
        let personal: Vec<PersonalValue> = match personal {
            Some(p) => serde_json::from_slice(&p).map_err(|e| {
                Corruption::new("the stored personal values are not readable JSON").caused_by(e)
            })?,
            None => Vec::new(),
        };
        Ok(StoredEvent {
            index,
            leaf,
            leaf_hash: stored_hash(&hash, "the leaf hash")?,
            personal,
        })
    })();
    Ok(checked.map_err(|c: Corruption| c.tenant(tenant).at(Place::Index(index))))
}

impl Writer {
    /// The tenant's number and next index, from memory or from disk.
    fn head(
        tx: &Transaction<'_>,
        heads: &mut HashMap<TenantId, (i64, u64)>,
        tenant: &TenantId,
    ) -> rusqlite::Result<Option<(i64, u64)>> {
        if let Some(h) = heads.get(tenant) {
            return Ok(Some(*h));
        }
        let Some(no) = tenant_no(tx, tenant)? else {
            return Ok(None);
        };
        let next = log_size(tx, no)?;
        heads.insert(tenant.clone(), (no, next));
        Ok(Some((no, next)))
    }

    fn append(&mut self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, Fault> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut heads = std::mem::take(&mut self.heads);
        let result = Self::append_in(&tx, &mut heads, self.bucket_bits, batch);
        match result {
            Ok(out) => {
                tx.commit()?;
                self.heads = heads;
                Ok(out)
            }
            // `heads` is dropped: the next transaction reloads them from disk.
            Err(e) => Err(e),
        }
    }

    /// One group's transaction, in the order a reader should follow: per request the
    /// idempotency check, the key effect and the event rows; then the group's postings; then
    /// integration into each tenant's tree and the tiles and heads it changed.
    fn append_in(
        tx: &Transaction<'_>,
        heads: &mut HashMap<TenantId, (i64, u64)>,
        bits: u32,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<AppendOutcome>, Fault> {
        let mut find = tx.prepare_cached("SELECT rowid, content_hash, leaf_hash FROM events WHERE tenant_no = ?1 AND event_id = ?2")?;
        let mut rows = EventRows {
            event: tx.prepare_cached(
                "INSERT INTO events(rowid, tenant_no, event_id, type, outcome, actor_type, subject_type, occurred_at, content_hash, leaf_hash, leaf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?,
            personal: tx.prepare_cached("INSERT INTO personal(rowid, data) VALUES (?1, ?2)")?,
            postings: Vec::new(),
            bits,
        };
        // Leaves to integrate, per request in order: tenant, its number, its stored size, leaves.
        let mut grown: Vec<(TenantId, i64, u64, Vec<Hash>)> = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        for req in batch {
            let Some((no, next)) = Self::head(tx, heads, &req.tenant)? else {
                outcomes.push(AppendOutcome::UnknownTenant);
                continue;
            };
            // Nothing of a request is written until the whole request is known good.
            let prior = match replays(&mut find, &req, no)? {
                Ok(prior) => prior,
                Err(conflict) => {
                    outcomes.push(conflict);
                    continue;
                }
            };
            if let Some(refused) = key_effect(tx, no, &req.tenant, req.effect.as_ref())? {
                outcomes.push(refused);
                continue;
            }
            let (receipts, leaves) = rows.insert(no, next, req.events, prior)?;
            heads.insert(req.tenant.clone(), (no, next + leaves.len() as u64));
            if !leaves.is_empty() {
                grown.push((req.tenant, no, next, leaves));
            }
            outcomes.push(AppendOutcome::Committed(receipts));
        }
        insert_postings(tx, rows.postings)?;
        let mut trees = Trees::default();
        for (tenant, no, stored, leaves) in grown {
            trees.integrate(tx, &tenant, no, stored, &leaves)?;
        }
        trees.write(tx)?;
        Ok(outcomes)
    }
}

/// The receipts of the request's events that are stored already (faithful retries; `None` for
/// new ones), or the conflict that refuses the request: an id stored with other content.
fn replays(
    find: &mut rusqlite::CachedStatement<'_>,
    req: &AppendRequest,
    no: i64,
) -> Result<Result<Vec<Option<Receipt>>, AppendOutcome>, Fault> {
    let mut receipts = Vec::with_capacity(req.events.len());
    for (position, ev) in req.events.iter().enumerate() {
        let existing = if ev.client_id {
            find.query_row(params![no, ev.id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()?
        } else {
            None
        };
        let stored = existing.as_ref().map(|(rid, content, leaf)| StoredId {
            index: *rid as u64 & MAX_INDEX,
            content_hash: content,
            leaf_hash: leaf,
        });
        match replay(&req.tenant, position, ev, stored)? {
            Ok(receipt) => receipts.push(receipt),
            Err(conflict) => return Ok(Err(conflict)),
        }
    }
    Ok(Ok(receipts))
}

/// Applies a request's key effect; returns the outcome that refuses the request, if it does.
fn key_effect(
    tx: &Transaction<'_>,
    no: i64,
    tenant: &TenantId,
    effect: Option<&KeyEffect>,
) -> Result<Option<AppendOutcome>, Fault> {
    match effect {
        None => {}
        Some(KeyEffect::Create(k)) => {
            let r = &k.record;
            let scopes: Vec<&str> = r.scopes.iter().map(|s| s.as_str()).collect();
            tx.execute(
                "INSERT INTO api_keys(id, tenant_no, name, scopes, prefix, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![r.id, no, r.name, scopes.join(","), r.prefix, k.secret_hash.as_slice(), r.created_at],
            )?;
        }
        Some(KeyEffect::Revoke { key_id, at }) => {
            let n = tx.execute(
                "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND tenant_no = ?2 AND revoked_at IS NULL",
                params![key_id, no, at],
            )?;
            if n == 0 {
                return Ok(Some(AppendOutcome::UnknownKey));
            }
        }
        Some(KeyEffect::People(e)) => {
            if let Some(refusal) = people::apply(tx, no, tenant, e)? {
                return Ok(Some(AppendOutcome::Refused(refusal)));
            }
        }
    }
    Ok(None)
}

/// The event and personal-value inserts of one transaction, and the postings they gather.
struct EventRows<'c> {
    event: rusqlite::CachedStatement<'c>,
    personal: rusqlite::CachedStatement<'c>,
    /// `(tenant_no, bucket, term, index)`, inserted once for the whole group.
    postings: Vec<(i64, i64, i64, i64)>,
    bits: u32,
}

impl EventRows<'_> {
    /// Inserts the request's new events (those without a prior receipt) at consecutive indexes
    /// from `next`; returns every event's receipt, in batch order, and the new leaf hashes.
    fn insert(
        &mut self,
        no: i64,
        next: u64,
        events: Vec<sealbook_domain::ShapedEvent>,
        prior: Vec<Option<Receipt>>,
    ) -> Result<(Vec<Receipt>, Vec<Hash>), Fault> {
        let mut index = next;
        let mut receipts = Vec::with_capacity(events.len());
        let mut leaves = Vec::new();
        for (ev, prior) in events.into_iter().zip(prior) {
            if let Some(r) = prior {
                receipts.push(r);
                continue;
            }
            let rid = rowid(no, index);
            self.event.execute(params![
                rid,
                no,
                ev.id,
                ev.event_type,
                ev.outcome,
                ev.actor_type,
                ev.subject_type,
                ev.occurred_at_micros,
                ev.content_hash.as_slice(),
                ev.leaf_hash.0.as_slice(),
                ev.leaf,
            ])?;
            if !ev.personal.is_empty() {
                self.personal.execute(params![rid, ev.personal])?;
            }
            let b = bucket(index, self.bits);
            self.postings
                .extend(ev.terms.iter().map(|t| (no, b, *t, index as i64)));
            leaves.push(ev.leaf_hash);
            receipts.push(Receipt {
                id: ev.id,
                index,
                leaf_hash: ev.leaf_hash,
                replayed: false,
            });
            index += 1;
        }
        Ok((receipts, leaves))
    }
}

/// Inserts a group's search postings.
fn insert_postings(
    tx: &Transaction<'_>,
    mut postings: Vec<(i64, i64, i64, i64)>,
) -> Result<(), Fault> {
    let mut insert_term = tx.prepare_cached(
        "INSERT OR IGNORE INTO terms(tenant_no, bucket, term, idx) VALUES (?1, ?2, ?3, ?4)",
    )?;
    // In key order, postings land on neighbouring B-tree pages instead of all over the index.
    postings.sort_unstable();
    for (no, b, term, idx) in postings {
        insert_term.execute(params![no, b, term, idx])?;
    }
    Ok(())
}

/// The tenants' trees as one append transaction integrates into them: each right edge read once
/// from the stored open tiles, then kept here for the transaction's later requests; the tiles and
/// heads to write when all are integrated.
#[derive(Default)]
struct Trees {
    edges: HashMap<i64, RightEdge>,
    tiles: std::collections::BTreeMap<(i64, u32, u64), Vec<Hash>>,
    heads: HashMap<i64, (u64, Hash)>,
}

impl Trees {
    /// Integrates `leaves` into the tree of `tenant` (number `no`), whose log held `stored`
    /// events before this transaction: the right edge comes from the stored open tiles (checked
    /// against the tree head and the number of events) the first time, and the log math says
    /// which tiles and which head follow.
    fn integrate(
        &mut self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        no: i64,
        stored: u64,
        leaves: &[Hash],
    ) -> Result<(), Fault> {
        let edge = match self.edges.entry(no) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(load_edge(tx, tenant, no, stored)?)
            }
        };
        let integrated = edge.append(leaves);
        for (tile, content) in integrated.tiles {
            self.tiles.insert((no, tile.level, tile.number), content);
        }
        self.heads.insert(no, (integrated.size, integrated.root));
        Ok(())
    }

    /// Writes every tile and tree head the integrations changed.
    fn write(self, tx: &Transaction<'_>) -> Result<(), Fault> {
        let mut put_tile = tx.prepare_cached("INSERT OR REPLACE INTO tiles(tenant_no, level, number, hashes) VALUES (?1, ?2, ?3, ?4)")?;
        for ((no, level, number), content) in self.tiles {
            put_tile.execute(params![no, level, number as i64, tile_blob(&content)])?;
        }
        let mut put_head = tx.prepare_cached(
            "INSERT OR REPLACE INTO tree_heads(tenant_no, size, root) VALUES (?1, ?2, ?3)",
        )?;
        for (no, (size, root)) in self.heads {
            put_head.execute(params![no, size as i64, root.0.as_slice()])?;
        }
        Ok(())
    }
}

/// The right edge of a tenant's tree (its open tiles), checked against the tree head and the
/// number of stored events: all three always move together, in one transaction.
fn load_edge(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    no: i64,
    events: u64,
) -> Result<RightEdge, Fault> {
    let head: Option<i64> = tx
        .query_row(
            "SELECT size FROM tree_heads WHERE tenant_no = ?1",
            [no],
            |r| r.get(0),
        )
        .optional()?;
    let size = head.unwrap_or(0) as u64;
    if size != events {
        return Err(Corruption::new(format!(
            "the tree head says {size} leaves, the log holds {events} events"
        ))
        .tenant(tenant)
        .at(Place::TreeHead)
        .into());
    }
    let mut blob = tx.prepare_cached(
        "SELECT hashes FROM tiles WHERE tenant_no = ?1 AND level = ?2 AND number = ?3",
    )?;
    let mut blobs = Vec::new();
    for t in open_tiles(size) {
        blobs.push(
            blob.query_row(params![no, t.level, t.number as i64], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()?,
        );
    }
    Ok(RightEdge::from_blobs(size, blobs).map_err(|e| Corruption::from(e).tenant(tenant))?)
}

fn query_events(
    conn: &Connection,
    tenant: &TenantId,
    f: &EventFilter,
    bits: u32,
) -> Result<Vec<StoredEvent>, Fault> {
    let Some(no) = tenant_no(conn, tenant)? else {
        return Ok(Vec::new());
    };
    let size = log_size(conn, no)?;
    let mut below = f.cursor.map_or(size, |c| c.0.min(size));
    let mut out = Vec::with_capacity(f.limit);
    loop {
        let want = f.limit - out.len();
        let found = candidates(conn, tenant, no, f, below, want, bits)?;
        let exhausted = found.len() < want;
        // A filter without conditions matches every candidate: reading each leaf back into a
        // view only to confirm it would be most of an export's work.
        let everything = f.selects_everything();
        for e in found {
            below = e.index;
            if everything
                || f.matches(&sealbook_domain::view::event_view(
                    &e.leaf,
                    &e.personal,
                    e.index,
                    "",
                ))
            {
                out.push(e);
            }
        }
        if exhausted || out.len() >= f.limit {
            return Ok(out);
        }
    }
}

/// Events below index `below` that match the filter's columns and term keys, newest first. Term
/// keys are hashes, so the caller re-checks each candidate.
fn candidates(
    conn: &Connection,
    tenant: &TenantId,
    no: i64,
    f: &EventFilter,
    below: u64,
    limit: usize,
    bits: u32,
) -> Result<Vec<StoredEvent>, Fault> {
    let terms = f.term_keys();
    let mut sql = String::from("SELECT e.rowid, e.leaf, e.leaf_hash, p.data FROM ");
    // ?1 is the bucket when a term drives the scan; it is filled in per bucket below.
    let mut args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Integer(0)];
    let mut arg = |sql: &mut String, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&format!("?{}", args.len()));
    };
    use rusqlite::types::Value as V;
    // The most selective term drives the scan in index order; the others are probed per row.
    if let Some((first, rest)) = terms.split_first() {
        sql.push_str("terms t0 JOIN events e ON e.rowid = ");
        arg(&mut sql, V::Integer(rowid(no, 0)));
        sql.push_str(" + t0.idx LEFT JOIN personal p ON p.rowid = e.rowid WHERE t0.tenant_no = ");
        arg(&mut sql, V::Integer(no));
        sql.push_str(" AND t0.bucket = ?1 AND t0.term = ");
        arg(&mut sql, V::Integer(*first));
        sql.push_str(" AND t0.idx < ");
        arg(&mut sql, V::Integer(below as i64));
        if let Some(after) = f.after {
            sql.push_str(" AND t0.idx > ");
            arg(&mut sql, V::Integer(after as i64));
        }
        for t in rest {
            sql.push_str(" AND EXISTS (SELECT 1 FROM terms tx WHERE tx.tenant_no = t0.tenant_no AND tx.bucket = t0.bucket AND tx.term = ");
            arg(&mut sql, V::Integer(*t));
            sql.push_str(" AND tx.idx = t0.idx)");
        }
    } else {
        sql.push_str("events e LEFT JOIN personal p ON p.rowid = e.rowid WHERE e.rowid >= ");
        arg(&mut sql, V::Integer(rowid(no, 0)));
        sql.push_str(" AND e.rowid < ");
        arg(&mut sql, V::Integer(rowid(no, 0) + below as i64));
        if let Some(after) = f.after {
            sql.push_str(" AND e.rowid > ");
            arg(&mut sql, V::Integer(rowid(no, 0) + after as i64));
        }
    }
    for (c, op, v) in column_conditions(f) {
        sql.push_str(&format!(" AND e.{c} {op} "));
        arg(
            &mut sql,
            match v {
                ColumnValue::Text(t) => V::Text(t),
                ColumnValue::Int(n) => V::Integer(n),
            },
        );
    }
    sql.push_str(if terms.is_empty() {
        " ORDER BY e.rowid DESC LIMIT "
    } else {
        " ORDER BY t0.idx DESC LIMIT "
    });
    arg(&mut sql, V::Integer(limit as i64));
    let limit_arg = args.len() - 1;
    let mut stmt = conn.prepare_cached(&sql)?;
    if terms.is_empty() {
        // ?1 is unused here but bound; SQLite accepts an unused numbered parameter.
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            event_from_row(r, tenant)
        })?;
        return rows.map(|r| Ok(r??)).collect();
    }
    // Newest bucket first; within a bucket the postings are read in descending index order.
    let mut out = Vec::with_capacity(limit);
    let Some(last) = below.checked_sub(1) else {
        return Ok(out);
    };
    // Buckets wholly at or below `after` hold nothing the filter wants.
    let first = f.after.map_or(0, |a| bucket(a + 1, bits));
    for b in (first..=bucket(last, bits)).rev() {
        args[0] = V::Integer(b);
        args[limit_arg] = V::Integer((limit - out.len()) as i64);
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            event_from_row(r, tenant)
        })?;
        for r in rows {
            out.push(r??);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn create_tenant(&self, id: &TenantId, name: &str) -> Result<Tenant, StoreError> {
        let tenant = Tenant {
            id: id.clone(),
            name: name.to_owned(),
            created_at: now_rfc3339(),
        };
        let t = tenant.clone();
        self.write(move |w| {
            match w.conn.execute(
                "INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)",
                params![t.id.as_str(), t.name, t.created_at],
            ) {
                Ok(_) => Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::TenantExists)
                }
                Err(e) => Err(unavailable(e)),
            }
        })
        .await?;
        Ok(tenant)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare_cached("SELECT id, name, created_at FROM tenants ORDER BY id")?;
            let rows = s.query_map([], |r| {
                let id: String = r.get(0)?;
                Ok((id, r.get(1)?, r.get(2)?))
            })?;
            rows.map(|r| {
                let (id, name, created_at): (String, String, String) = r?;
                Ok(Tenant {
                    id: parse_tenant(&id)?,
                    name,
                    created_at,
                })
            })
            .collect()
        })
        .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let id = id.clone();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT name, created_at FROM tenants WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok(Tenant {
                        id: id.clone(),
                        name: r.get(0)?,
                        created_at: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn key_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        let h = *secret_hash;
        self.read(move |c| {
            let key = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} WHERE k.secret_hash = ?1"))?
                .query_row([h.as_slice()], key_from_row)
                .optional()?;
            Ok(key.transpose()?)
        })
        .await
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} WHERE t.id = ?1 ORDER BY k.created_at DESC, k.id"
            ))?;
            let rows = s.query_map([t.as_str()], key_from_row)?;
            rows.map(|r| Ok(r??)).collect()
        })
        .await
    }

    async fn key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let (t, k) = (tenant.clone(), key_id.to_owned());
        self.read(move |c| {
            let key = c
                .prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} WHERE t.id = ?1 AND k.id = ?2"
                ))?
                .query_row([t.as_str(), k.as_str()], key_from_row)
                .optional()?;
            Ok(key.transpose()?)
        })
        .await
    }

    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StoreError> {
        self.write(move |w| w.append(batch).map_err(StoreError::from))
            .await
    }

    async fn query(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (t, f) = (tenant.clone(), filter.clone());
        let bits = self.bucket_bits;
        self.read(move |c| query_events(c, &t, &f, bits)).await
    }

    async fn count(&self, tenant: &TenantId, filter: &EventFilter) -> Result<u64, StoreError> {
        if !filter.selects_everything() {
            return sealbook_store::count_by_pages(self, tenant, filter).await;
        }
        let (t, cursor, after) = (tenant.clone(), filter.cursor, filter.after);
        self.read(move |c| {
            let Some(no) = tenant_no(c, &t)? else {
                return Ok(0);
            };
            let below = cursor.map_or(u64::MAX, |c| c.0).min(log_size(c, no)?);
            let low = after.map_or(0, |a| a.saturating_add(1));
            if low >= below {
                return Ok(0);
            }
            // Through an index of the events (a few dozen bytes an entry) rather than the table,
            // whose rows hold the leaves: the count reads a hundredth of the pages.
            let n: i64 = c
                .prepare_cached(
                    "SELECT count(*) FROM events INDEXED BY events_time \
                     WHERE tenant_no = ?1 AND rowid >= ?2 AND rowid < ?3",
                )?
                .query_row(
                    params![no, rowid(no, low), rowid(no, 0) + below as i64],
                    |r| r.get(0),
                )?;
            Ok(n as u64)
        })
        .await
    }

    async fn event(&self, tenant: &TenantId, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |c| {
            let event = c
                .prepare_cached(
                    "SELECT e.rowid, e.leaf, e.leaf_hash, p.data FROM events e JOIN tenants t ON t.no = e.tenant_no \
                     LEFT JOIN personal p ON p.rowid = e.rowid WHERE t.id = ?1 AND e.event_id = ?2",
                )?
                .query_row([t.as_str(), id.as_str()], |r| event_from_row(r, &t))
                .optional()?;
            Ok(event.transpose()?)
        })
        .await
    }

    async fn tree_head(&self, tenant: &TenantId) -> Result<TreeHead, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let head: Option<(i64, Vec<u8>)> = c
                .query_row(
                    "SELECT h.size, h.root FROM tree_heads h JOIN tenants t ON t.no = h.tenant_no WHERE t.id = ?1",
                    [t.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(match head {
                Some((size, root)) => TreeHead {
                    size: size as u64,
                    root: stored_hash(&root, "the root").map_err(|c| c.tenant(&t).at(Place::TreeHead))?,
                },
                None => TreeHead { size: 0, root: sealbook_logmath::EMPTY_ROOT },
            })
        })
        .await
    }

    async fn entries(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.index_range(
            tenant,
            start,
            end,
            "SELECT rowid, leaf FROM events WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid",
        )
        .await
    }

    async fn personal(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.index_range(
            tenant,
            start,
            end,
            "SELECT rowid, data FROM personal WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid",
        )
        .await
    }

    async fn latest_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let cp = c
                .prepare_cached(
                    "SELECT c.size, c.root, c.note, c.signed_at FROM checkpoints c JOIN tenants t ON t.no = c.tenant_no \
                     WHERE t.id = ?1 ORDER BY c.size DESC LIMIT 1",
                )?
                .query_row([t.as_str()], |r| checkpoint_from_row(r, 0))
                .optional()?;
            Ok(cp.transpose().map_err(|c| c.tenant(&t))?)
        })
        .await
    }

    async fn add_checkpoint(
        &self,
        tenant: &TenantId,
        checkpoint: StoredCheckpoint,
    ) -> Result<CheckpointOutcome, StoreError> {
        let t = tenant.clone();
        self.write(move |w| {
            let tx = w
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let no = tenant_no(&tx, &t)
                .map_err(unavailable)?
                .ok_or_else(|| StoreError::Schema(format!("checkpoint for unknown tenant {t}")))?;
            let latest: Option<i64> = tx
                .query_row("SELECT MAX(size) FROM checkpoints WHERE tenant_no = ?1", [no], |r| r.get(0))
                .map_err(unavailable)?;
            if let Some(latest) = latest.filter(|l| *l as u64 >= checkpoint.size) {
                return Ok(CheckpointOutcome::Superseded { latest: latest as u64 });
            }
            tx.execute(
                "INSERT INTO checkpoints(tenant_no, size, root, note, signed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![no, checkpoint.size as i64, checkpoint.root.0.as_slice(), checkpoint.note, checkpoint.signed_at],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(CheckpointOutcome::Stored)
        })
        .await
    }

    async fn unsigned_growth(
        &self,
    ) -> Result<Vec<(TenantId, TreeHead, Option<StoredCheckpoint>)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT c.size, c.root, c.note, c.signed_at, t.id, h.size, h.root FROM tree_heads h \
                 JOIN tenants t ON t.no = h.tenant_no \
                 LEFT JOIN checkpoints c ON c.tenant_no = h.tenant_no \
                   AND c.size = (SELECT MAX(size) FROM checkpoints WHERE tenant_no = h.tenant_no) \
                 WHERE h.size > COALESCE(c.size, 0)",
            )?;
            let rows = stmt.query_map([], |r| {
                let last: Option<i64> = r.get(0)?;
                let cp = match last {
                    Some(_) => Some(checkpoint_from_row(r, 0)?),
                    None => None,
                };
                let id: String = r.get(4)?;
                let size: i64 = r.get(5)?;
                let root: Vec<u8> = r.get(6)?;
                Ok((id, size as u64, root, cp))
            })?;
            rows.map(|r| {
                let (id, size, root, cp) = r?;
                let t = parse_tenant(&id)?;
                let root = stored_hash(&root, "the root").map_err(|c| c.tenant(&t).at(Place::TreeHead))?;
                let cp = cp.transpose().map_err(|c| c.tenant(&t))?;
                Ok((t, TreeHead { size, root }, cp))
            })
            .collect()
        })
        .await
    }

    async fn record_signing_key(&self, public_key: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT OR IGNORE INTO signing_keys(public_key, first_used) VALUES (?1, ?2)",
                    params![public_key.as_slice(), now_rfc3339()],
                )
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT public_key FROM signing_keys ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            rows.map(|k| Ok(stored_hash(&k?, "a stored signing key")?.0))
                .collect()
        })
        .await
    }

    async fn pin_setting(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let (key, value) = (format!("setting:{name}"), value.to_owned());
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)",
                    params![key, value],
                )
                .map_err(unavailable)?;
            w.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .map_err(unavailable)
        })
        .await
    }

    async fn tile(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
    ) -> Result<Option<Vec<Hash>>, StoreError> {
        let t = tenant.clone();
        self.read(move |c| {
            let blob: Option<Vec<u8>> = c
                .query_row(
                    "SELECT s.hashes FROM tiles s JOIN tenants t ON t.no = s.tenant_no WHERE t.id = ?1 AND s.level = ?2 AND s.number = ?3",
                    params![t.as_str(), level, number as i64],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(blob
                .map(|b| tile_hashes(level, number, &b))
                .transpose()
                .map_err(|e| Corruption::from(e).tenant(&t))?)
        })
        .await
    }

    fn hash_rebuild(&self) -> Option<&dyn sealbook_store::HashRebuild> {
        Some(self)
    }

    async fn log_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let t = tenant.clone();
        self.read(move |c| match tenant_no(c, &t)? {
            Some(no) => Ok(log_size(c, no)?),
            None => Ok(0),
        })
        .await
    }
}

/// A checkpoint from columns `first..first+4`: size, root, note, signed_at.
fn checkpoint_from_row(r: &rusqlite::Row<'_>, first: usize) -> Checked<StoredCheckpoint> {
    let size = r.get::<_, i64>(first)? as u64;
    let root: Vec<u8> = r.get(first + 1)?;
    let root = match stored_hash(&root, "the checkpoint's root") {
        Ok(h) => h,
        Err(c) => return Ok(Err(c.at(Place::Checkpoint(size)))),
    };
    Ok(Ok(StoredCheckpoint {
        size,
        root,
        note: r.get(first + 2)?,
        signed_at: r.get(first + 3)?,
    }))
}

fn now_rfc3339() -> String {
    sealbook_domain::timestamp::format_utc(time_now(), 6)
}

fn time_now() -> sealbook_domain::timestamp::OffsetDateTime {
    sealbook_domain::timestamp::OffsetDateTime::now_utc()
}
