//! [`PgStore`]: the `Store` contract on PostgreSQL, for several Sealbook nodes on one database.
//!
//! Every transaction that touches tenant data first sets `sealbook.tenant_id` with
//! `set_config(…, true)`, so row-level security confines it to that tenant; the few reads that
//! cross tenants (key lookup by secret hash, the tenant list, the signer's work list) go through
//! narrow `SECURITY DEFINER` functions. Appends lock the tenant's `log_heads` row, so nodes writing
//! the same tenant take turns and the log stays one gap-free sequence with one tree; a group of
//! requests locks its tenants in sorted order, so two nodes never deadlock. Bulk writes are one
//! `INSERT … SELECT FROM unnest(…)` per table.

use crate::migrate::{detail, newer, unavailable, version, SCHEMA_VERSION};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use sealbook_domain::view::event_view;
use sealbook_domain::{EventFilter, PersonalValue, Scope, TenantId};
use sealbook_logmath::tile::{open_tiles, tile_blob, tile_hashes, RightEdge};
use sealbook_logmath::{Hash, EMPTY_ROOT};
use sealbook_store::{
    column_conditions, replay, stored_hash, AppendOutcome, AppendRequest, CheckpointOutcome,
    ColumnValue, Corruption, KeyEffect, KeyRecord, Place, Receipt, Store, StoreError,
    StoredCheckpoint, StoredEvent, StoredId, Tenant, TreeHead,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

/// Postings bucket width, as in the embedded store.
pub(crate) const BUCKET_BITS: u32 = 12;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// Right edges of trees this node appended to, keyed by tenant; used only while the stored
    /// head still has the same size (another node may have appended meanwhile).
    edges: Mutex<HashMap<TenantId, RightEdge>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(detail(&e))
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn tenant_id(s: &str) -> Result<TenantId, Corruption> {
    TenantId::parse(s).map_err(|e| Corruption::new(format!("stored tenant id {s:?}")).caused_by(e))
}

/// Why [`PgStore::connect`] refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The database could not be used: unreachable, refused the login or TLS, or a schema this
    /// build cannot use.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Row-level security would not confine the connecting role, so one session could read and
    /// rewrite every tenant's data: Sealbook refuses to run as it.
    #[error(
        "the database role {role:?} {}: row-level security would not confine it, so Sealbook \
         refuses to run as it. Connect --database-url as a plain login role that is a member of \
         sealbook_rw (sealbook migrate --grant-to ROLE), and keep the owner for \
         --database-owner-url",
        reasons.join(", ")
    )]
    UnsafeRole {
        /// The connecting role (`current_user`).
        role: String,
        /// What is wrong with it: "is a superuser", "has BYPASSRLS", "owns the sealbook schema or
        /// its tables".
        reasons: Vec<&'static str>,
    },
}

/// Refuses a role that row-level security does not confine. Membership counts: a member of a
/// superuser, BYPASSRLS or owning role can `SET ROLE` to it.
async fn confined(client: &tokio_postgres::Client) -> Result<(), ConnectError> {
    let r = client
        .query_one(
            "SELECT current_user::text, \
                    COALESCE(bool_or(r.rolsuper), false), \
                    COALESCE(bool_or(r.rolbypassrls), false), \
                    EXISTS (SELECT 1 FROM pg_namespace n \
                            LEFT JOIN pg_class c ON c.relnamespace = n.oid \
                            WHERE n.nspname = 'sealbook' \
                            AND (pg_has_role(current_user, n.nspowner, 'MEMBER') \
                                 OR pg_has_role(current_user, c.relowner, 'MEMBER'))) \
             FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER')",
            &[],
        )
        .await
        .map_err(db)?;
    let role: String = r.get(0);
    let mut reasons = Vec::new();
    if r.get::<_, bool>(1) {
        reasons.push("is a superuser");
    }
    if r.get::<_, bool>(2) {
        reasons.push("has BYPASSRLS");
    }
    if r.get::<_, bool>(3) {
        reasons.push("owns the sealbook schema or its tables");
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(ConnectError::UnsafeRole { role, reasons })
    }
}

/// Sets the tenant every statement of `tx` is confined to.
async fn scope(tx: &Transaction<'_>, tenant: &str) -> Result<(), StoreError> {
    tx.execute(
        "SELECT set_config('sealbook.tenant_id', $1, true)",
        &[&tenant],
    )
    .await
    .map_err(db)?;
    Ok(())
}

fn key_from_row(r: &tokio_postgres::Row) -> Result<KeyRecord, StoreError> {
    let scopes: String = r.get("scopes");
    Ok(KeyRecord {
        id: r.get("id"),
        tenant: tenant_id(r.get("tenant_id"))?,
        name: r.get("name"),
        scopes: scopes
            .split(',')
            .filter_map(|s| s.parse::<Scope>().ok())
            .collect(),
        prefix: r.get("prefix"),
        created_at: r.get("created_at"),
        revoked_at: r.get("revoked_at"),
    })
}

/// An event of `tenant` from columns idx, leaf, leaf_hash, data.
fn event_from_row(r: &tokio_postgres::Row, tenant: &TenantId) -> Result<StoredEvent, StoreError> {
    let index = r.get::<_, i64>("idx") as u64;
    let at = |c: Corruption| c.tenant(tenant).at(Place::Index(index));
    let personal: Option<Vec<u8>> = r.get("data");
    let personal: Vec<PersonalValue> = match personal {
        Some(p) => serde_json::from_slice(&p).map_err(|e| {
            at(Corruption::new("the stored personal values are not readable JSON").caused_by(e))
        })?,
        None => Vec::new(),
    };
    let leaf_hash: Vec<u8> = r.get("leaf_hash");
    Ok(StoredEvent {
        index,
        leaf: r.get("leaf"),
        leaf_hash: stored_hash(&leaf_hash, "the leaf hash").map_err(at)?,
        personal,
    })
}

fn checkpoint_from(
    tenant: &TenantId,
    size: i64,
    root: &[u8],
    note: String,
    signed_at: String,
) -> Result<StoredCheckpoint, Corruption> {
    let size = size as u64;
    Ok(StoredCheckpoint {
        size,
        root: stored_hash(root, "the checkpoint's root")
            .map_err(|c| c.tenant(tenant).at(Place::Checkpoint(size)))?,
        note,
        signed_at,
    })
}

fn now_rfc3339() -> String {
    sealbook_domain::timestamp::format_utc(sealbook_domain::timestamp::OffsetDateTime::now_utc(), 6)
}

impl PgStore {
    /// Connects as the application role at `url` (a member of `sealbook_rw`, never the owner) and
    /// checks the schema version: older data needs the owner's migration first
    /// ([`crate::migrate`]), newer data needs a newer Sealbook.
    ///
    /// It refuses ([`ConnectError::UnsafeRole`]) a connecting role that row-level security would
    /// not confine: a superuser, a role with BYPASSRLS, or one that owns the `sealbook` schema or
    /// a table in it, directly or through a role it is a member of.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore, ConnectError> {
        let crate::tls::Connector {
            config: mut cfg,
            tls,
            ..
        } = crate::tls::connector(url)?;
        cfg.options("-c search_path=sealbook");
        if cfg.get_application_name().is_none() {
            cfg.application_name("sealbook");
        }
        let mgr = Manager::from_config(
            cfg,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(pool_size.max(2))
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(unavailable)?;
        let store = PgStore {
            pool,
            edges: Mutex::new(HashMap::new()),
        };
        let client = store.client().await?;
        confined(&client).await?;
        match version(&client).await? {
            v if v == SCHEMA_VERSION => {}
            v if v > SCHEMA_VERSION => return Err(newer(v).into()),
            v => {
                return Err(StoreError::Schema(format!(
                    "the database has schema version {v}; this build needs {SCHEMA_VERSION}: start once with --database-owner-url so the owner role migrates it"
                ))
                .into())
            }
        }
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    /// One query in a transaction confined to `tenant` by row-level security.
    pub(crate) async fn scoped(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        scope(&tx, tenant).await?;
        let rows = tx.query(sql, params).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(rows)
    }

    /// `(index, blob)` for the tenant's indexes in `[start, end)` from `sql` (bound: tenant,
    /// start, end).
    async fn index_range(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
        sql: &str,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let rows = self
            .scoped(
                tenant.as_str(),
                sql,
                &[
                    &tenant.as_str(),
                    &(start as i64),
                    &(end.min(i64::MAX as u64) as i64),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
            .collect())
    }

    /// One group's transaction, in the order a reader should follow: the tenants' heads locked;
    /// per request the idempotency check, the key effect, the event rows with their postings, and
    /// integration into the tenant's tree; then the tiles and heads that changed. Returns the
    /// outcomes and the right edges to remember once the transaction commits.
    async fn append_in(
        &self,
        tx: &Transaction<'_>,
        batch: Vec<AppendRequest>,
    ) -> Result<(Vec<AppendOutcome>, HashMap<TenantId, RightEdge>), StoreError> {
        let mut heads = lock_heads(tx, &batch).await?;
        let mut trees = Trees::default();
        let mut outcomes = Vec::with_capacity(batch.len());
        for req in batch {
            let Some(&(size, _)) = heads.get(&req.tenant) else {
                outcomes.push(AppendOutcome::UnknownTenant);
                continue;
            };
            scope(tx, req.tenant.as_str()).await?;
            // Nothing of a request is written until the whole request is known good.
            let prior = match replays(tx, &req).await? {
                Ok(prior) => prior,
                Err(conflict) => {
                    outcomes.push(conflict);
                    continue;
                }
            };
            if let Some(refused) = key_effect(tx, req.tenant.as_str(), req.effect.as_ref()).await? {
                outcomes.push(refused);
                continue;
            }
            let tenant = req.tenant;
            let (receipts, leaves) =
                insert_events(tx, tenant.as_str(), size, req.events, prior).await?;
            if !leaves.is_empty() {
                let head = self
                    .integrate(tx, &mut trees, &tenant, size, &leaves)
                    .await?;
                heads.insert(tenant, head);
            }
            outcomes.push(AppendOutcome::Committed(receipts));
        }
        trees.write(tx, &heads).await?;
        Ok((outcomes, trees.edges))
    }

    /// Integrates `leaves` into the tree of `tenant`, whose log held `stored` events before this
    /// transaction, and records the tiles to write in `trees`; returns the new head (size, root).
    /// The right edge comes from this node's memory when its copy is at `stored` leaves, else from
    /// the stored open tiles, the first time; later requests of the group continue from `trees`.
    async fn integrate(
        &self,
        tx: &Transaction<'_>,
        trees: &mut Trees,
        tenant: &TenantId,
        stored: u64,
        leaves: &[Hash],
    ) -> Result<(u64, Hash), StoreError> {
        if !trees.edges.contains_key(tenant) {
            let e = self.load_edge(tx, tenant, stored).await?;
            trees.edges.insert(tenant.clone(), e);
        }
        let edge = trees.edges.get_mut(tenant).expect("inserted above");
        let integrated = edge.append(leaves);
        for (tile, content) in integrated.tiles {
            trees.tiles.insert(
                (tenant.as_str().to_owned(), tile.level, tile.number),
                content,
            );
        }
        Ok((integrated.size, integrated.root))
    }

    /// The right edge of a tenant's tree at `size` leaves: from memory when this node's copy is
    /// at that size, else from the stored open tiles.
    async fn load_edge(
        &self,
        tx: &Transaction<'_>,
        tenant: &TenantId,
        size: u64,
    ) -> Result<RightEdge, StoreError> {
        if let Some(e) = self
            .edges
            .lock()
            .ok()
            .and_then(|m| m.get(tenant).cloned())
            .filter(|e| e.size() == size)
        {
            return Ok(e);
        }
        let mut blobs = Vec::new();
        for t in open_tiles(size) {
            blobs.push(
                tx.query_opt(
                    "SELECT hashes FROM tiles WHERE tenant_id = $1 AND level = $2 AND number = $3",
                    &[&tenant.as_str(), &(t.level as i32), &(t.number as i64)],
                )
                .await
                .map_err(db)?
                .map(|r| r.get::<_, Vec<u8>>(0)),
            );
        }
        Ok(RightEdge::from_blobs(size, blobs).map_err(|e| Corruption::from(e).tenant(tenant))?)
    }
}

/// Locks the `log_heads` row of every tenant of the group, in sorted order (nodes never wait on
/// each other in a cycle), and returns each existing tenant's head (size, root).
async fn lock_heads(
    tx: &Transaction<'_>,
    batch: &[AppendRequest],
) -> Result<HashMap<TenantId, (u64, Hash)>, StoreError> {
    let mut tenants: Vec<&TenantId> = batch.iter().map(|r| &r.tenant).collect();
    tenants.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    tenants.dedup();
    let mut heads = HashMap::new();
    for t in tenants {
        scope(tx, t.as_str()).await?;
        if let Some(r) = tx
            .query_opt(
                "SELECT size, root FROM log_heads WHERE tenant_id = $1 FOR UPDATE",
                &[&t.as_str()],
            )
            .await
            .map_err(db)?
        {
            let size: i64 = r.get(0);
            let root = stored_hash(r.get::<_, &[u8]>(1), "the root")
                .map_err(|c| c.tenant(t).at(Place::TreeHead))?;
            heads.insert(t.clone(), (size as u64, root));
        }
    }
    Ok(heads)
}

/// The receipts of the request's events that are stored already (faithful retries; `None` for
/// new ones), or the conflict that refuses the request: an id stored with other content.
async fn replays(
    tx: &Transaction<'_>,
    req: &AppendRequest,
) -> Result<Result<Vec<Option<Receipt>>, AppendOutcome>, StoreError> {
    let t = req.tenant.as_str();
    let ids: Vec<&str> = req
        .events
        .iter()
        .filter(|e| e.client_id)
        .map(|e| e.id.as_str())
        .collect();
    let mut existing: HashMap<String, (u64, Vec<u8>, Vec<u8>)> = HashMap::new();
    if !ids.is_empty() {
        for r in tx
            .query(
                "SELECT event_id, idx, content_hash, leaf_hash FROM events WHERE tenant_id = $1 AND event_id = ANY($2)",
                &[&t, &ids],
            )
            .await
            .map_err(db)?
        {
            let idx: i64 = r.get(1);
            existing.insert(r.get(0), (idx as u64, r.get(2), r.get(3)));
        }
    }
    let mut receipts = Vec::with_capacity(req.events.len());
    for (position, ev) in req.events.iter().enumerate() {
        let stored = existing
            .get(&ev.id)
            .filter(|_| ev.client_id)
            .map(|(index, content, leaf)| StoredId {
                index: *index,
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
async fn key_effect(
    tx: &Transaction<'_>,
    t: &str,
    effect: Option<&KeyEffect>,
) -> Result<Option<AppendOutcome>, StoreError> {
    match effect {
        None => {}
        Some(KeyEffect::Create(k)) => {
            let r = &k.record;
            let scopes: Vec<&str> = r.scopes.iter().map(|s| s.as_str()).collect();
            tx.execute(
                "INSERT INTO api_keys(tenant_id, id, name, scopes, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&t, &r.id, &r.name, &scopes.join(","), &r.prefix, &r.created_at],
            )
            .await
            .map_err(db)?;
            tx.execute(
                "INSERT INTO api_key_hashes(secret_hash, tenant_id, key_id) VALUES ($1, $2, $3)",
                &[&k.secret_hash.as_slice(), &t, &r.id],
            )
            .await
            .map_err(db)?;
        }
        Some(KeyEffect::Revoke { key_id, at }) => {
            let n = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
                    &[&t, key_id, at],
                )
                .await
                .map_err(db)?;
            if n == 0 {
                return Ok(Some(AppendOutcome::UnknownKey));
            }
        }
        Some(KeyEffect::People(e)) => {
            if let Some(refusal) = crate::people::apply(tx, t, e).await? {
                return Ok(Some(AppendOutcome::Refused(refusal)));
            }
        }
    }
    Ok(None)
}

/// Inserts the request's new events (those without a prior receipt) at consecutive indexes from
/// `size`, with their personal values and search postings; returns every event's receipt, in
/// batch order, and the new leaf hashes.
async fn insert_events(
    tx: &Transaction<'_>,
    t: &str,
    size: u64,
    events: Vec<sealbook_domain::ShapedEvent>,
    prior: Vec<Option<Receipt>>,
) -> Result<(Vec<Receipt>, Vec<Hash>), StoreError> {
    let mut index = size;
    let mut out = Vec::with_capacity(events.len());
    let mut leaves = Vec::new();
    let mut cols = Columns::default();
    let mut postings: Vec<(i64, i64, i64)> = Vec::new();
    for (ev, prior) in events.into_iter().zip(prior) {
        if let Some(r) = prior {
            out.push(r);
            continue;
        }
        let i = index as i64;
        if !ev.personal.is_empty() {
            cols.p_idx.push(i);
            cols.p_data.push(ev.personal.clone());
        }
        postings.extend(ev.terms.iter().map(|k| (i >> BUCKET_BITS, *k, i)));
        cols.idx.push(i);
        cols.event_id.push(ev.id.clone());
        cols.kind.push(ev.event_type);
        cols.outcome.push(ev.outcome);
        cols.actor_type.push(ev.actor_type);
        cols.subject_type.push(ev.subject_type);
        cols.occurred_at.push(ev.occurred_at_micros);
        cols.content_hash.push(ev.content_hash.to_vec());
        cols.leaf_hash.push(ev.leaf_hash.0.to_vec());
        cols.leaf.push(ev.leaf);
        leaves.push(ev.leaf_hash);
        out.push(Receipt {
            id: ev.id,
            index,
            leaf_hash: ev.leaf_hash,
            replayed: false,
        });
        index += 1;
    }
    if cols.idx.is_empty() {
        return Ok((out, leaves));
    }
    postings.sort_unstable();
    postings.dedup();
    let (b, k, i): (Vec<i64>, Vec<i64>, Vec<i64>) = postings.into_iter().fold(
        (Vec::new(), Vec::new(), Vec::new()),
        |(mut b, mut k, mut i), (x, y, z)| {
            b.push(x);
            k.push(y);
            i.push(z);
            (b, k, i)
        },
    );
    // The three inserts are independent: sent together, they cost one round trip
    // (tokio-postgres pipelines them; the transaction runs them in order).
    let event_params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
        &t,
        &cols.idx,
        &cols.event_id,
        &cols.kind,
        &cols.outcome,
        &cols.actor_type,
        &cols.subject_type,
        &cols.occurred_at,
        &cols.content_hash,
        &cols.leaf_hash,
        &cols.leaf,
    ];
    let events = tx.execute(
        "INSERT INTO events(tenant_id, idx, event_id, type, outcome, actor_type, subject_type, occurred_at, content_hash, leaf_hash, leaf) \
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bytea[], $10::bytea[], $11::bytea[])",
        &event_params,
    );
    let personal = async {
        if cols.p_idx.is_empty() {
            return Ok(0);
        }
        tx.execute(
            "INSERT INTO personal(tenant_id, idx, data) SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])",
            &[&t, &cols.p_idx, &cols.p_data],
        )
        .await
    };
    let term_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&t, &b, &k, &i];
    let terms = tx.execute(
        "INSERT INTO terms(tenant_id, bucket, term, idx) SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])",
        &term_params,
    );
    let (e, p, tm) = futures_util::join!(events, personal, terms);
    // Under the tenant's head lock, an index at or above the head's size can only be taken if the
    // head is behind its events: damage, not a busy database.
    let collision = |e: tokio_postgres::Error| match e.as_db_error() {
        Some(d)
            if *d.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                && matches!(d.constraint(), Some("events_pkey" | "personal_pkey")) =>
        {
            let c = Corruption::new(format!(
                "the log already holds an event at or above index {size}, the size its tree head records"
            ))
            .at(Place::TreeHead);
            StoreError::from(match TenantId::parse(t) {
                Ok(id) => c.tenant(&id),
                Err(_) => c,
            })
        }
        _ => db(e),
    };
    e.map_err(collision)?;
    p.map_err(collision)?;
    tm.map_err(db)?;
    Ok((out, leaves))
}

/// The trees one append transaction integrates into: each tenant's right edge (after this
/// transaction's leaves, remembered by the node once it commits) and the tiles whose content
/// changed.
#[derive(Default)]
struct Trees {
    edges: HashMap<TenantId, RightEdge>,
    tiles: BTreeMap<(String, u32, u64), Vec<Hash>>,
}

impl Trees {
    /// Writes the tiles and heads of every tree integrated into: per tenant its scope, then its
    /// tile upserts and head update, sent together.
    async fn write(
        &mut self,
        tx: &Transaction<'_>,
        heads: &HashMap<TenantId, (u64, Hash)>,
    ) -> Result<(), StoreError> {
        let mut by_tenant: BTreeMap<String, Vec<(u32, u64, Vec<u8>)>> = BTreeMap::new();
        for ((t, level, number), content) in std::mem::take(&mut self.tiles) {
            by_tenant
                .entry(t)
                .or_default()
                .push((level, number, tile_blob(&content)));
        }
        for (t, edge) in &self.edges {
            let (size, root) = heads[t];
            debug_assert_eq!(edge.size(), size);
            scope(tx, t.as_str()).await?;
            let tiles = by_tenant.remove(t.as_str()).unwrap_or_default();
            let upserts = futures_util::future::try_join_all(tiles.iter().map(|(level, number, blob)| {
                let (level, number) = (*level as i32, *number as i64);
                async move {
                    tx.execute(
                        "INSERT INTO tiles(tenant_id, level, number, hashes) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (tenant_id, level, number) DO UPDATE SET hashes = EXCLUDED.hashes",
                        &[&t.as_str(), &level, &number, blob],
                    )
                    .await
                }
            }));
            let (tid, size, root) = (t.as_str(), size as i64, root.0.as_slice());
            let head_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&tid, &size, &root];
            let head = tx.execute(
                "UPDATE log_heads SET size = $2, root = $3 WHERE tenant_id = $1",
                &head_params,
            );
            let (u, h) = futures_util::join!(upserts, head);
            u.map_err(db)?;
            h.map_err(db)?;
        }
        Ok(())
    }
}

/// Columns of the rows of one request, for one `unnest` insert per table.
#[derive(Default)]
struct Columns {
    idx: Vec<i64>,
    event_id: Vec<String>,
    kind: Vec<String>,
    outcome: Vec<String>,
    actor_type: Vec<String>,
    subject_type: Vec<String>,
    occurred_at: Vec<i64>,
    content_hash: Vec<Vec<u8>>,
    leaf_hash: Vec<Vec<u8>>,
    leaf: Vec<Vec<u8>>,
    p_idx: Vec<i64>,
    p_data: Vec<Vec<u8>>,
}

type Param = Box<dyn ToSql + Sync + Send>;

async fn run(
    tx: &Transaction<'_>,
    stmt: &tokio_postgres::Statement,
    params: &[Param],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    tx.query(stmt, &refs).await
}

/// Events below index `below` that match the filter's columns and term keys, newest first (term
/// keys are hashes: the caller re-checks each candidate). Mirrors the embedded store's search.
async fn candidates(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    f: &EventFilter,
    below: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let terms = f.term_keys();
    let mut params: Vec<Param> = vec![Box::new(tenant.as_str().to_owned()), Box::new(0i64)];
    let mut sql = String::from("SELECT e.idx, e.leaf, e.leaf_hash, p.data FROM ");
    let mut arg = |sql: &mut String, v: Param| {
        params.push(v);
        sql.push_str(&format!("${}", params.len()));
    };
    // $1 tenant; $2 the bucket when a term drives the scan (filled in per bucket).
    if let Some((first, rest)) = terms.split_first() {
        sql.push_str(
            "terms t0 JOIN events e ON e.tenant_id = t0.tenant_id AND e.idx = t0.idx \
             LEFT JOIN personal p ON p.tenant_id = e.tenant_id AND p.idx = e.idx \
             WHERE t0.tenant_id = $1 AND t0.bucket = $2 AND t0.term = ",
        );
        arg(&mut sql, Box::new(*first));
        sql.push_str(" AND t0.idx < ");
        arg(&mut sql, Box::new(below as i64));
        if let Some(after) = f.after {
            sql.push_str(" AND t0.idx > ");
            arg(&mut sql, Box::new(after as i64));
        }
        for t in rest {
            sql.push_str(" AND EXISTS (SELECT 1 FROM terms tx WHERE tx.tenant_id = t0.tenant_id AND tx.bucket = t0.bucket AND tx.term = ");
            arg(&mut sql, Box::new(*t));
            sql.push_str(" AND tx.idx = t0.idx)");
        }
    } else {
        sql.push_str(
            "events e LEFT JOIN personal p ON p.tenant_id = e.tenant_id AND p.idx = e.idx \
             WHERE e.tenant_id = $1 AND $2::bigint = 0 AND e.idx < ",
        );
        arg(&mut sql, Box::new(below as i64));
        if let Some(after) = f.after {
            sql.push_str(" AND e.idx > ");
            arg(&mut sql, Box::new(after as i64));
        }
    }
    for (c, op, v) in column_conditions(f) {
        sql.push_str(&format!(" AND e.{c} {op} "));
        arg(
            &mut sql,
            match v {
                ColumnValue::Text(t) => Box::new(t),
                ColumnValue::Int(n) => Box::new(n),
            },
        );
    }
    sql.push_str(if terms.is_empty() {
        " ORDER BY e.idx DESC LIMIT "
    } else {
        " ORDER BY t0.idx DESC LIMIT "
    });
    arg(&mut sql, Box::new(limit as i64));
    let limit_arg = params.len() - 1;
    let stmt = tx.prepare(&sql).await.map_err(db)?;
    if terms.is_empty() {
        let rows = run(tx, &stmt, &params).await.map_err(db)?;
        return rows.iter().map(|r| event_from_row(r, tenant)).collect();
    }
    let mut out = Vec::with_capacity(limit);
    let Some(last) = below.checked_sub(1) else {
        return Ok(out);
    };
    // Buckets wholly at or below `after` hold nothing the filter wants.
    let first = f.after.map_or(0, |a| ((a + 1) >> BUCKET_BITS) as i64);
    for b in (first..=(last >> BUCKET_BITS) as i64).rev() {
        params[1] = Box::new(b);
        params[limit_arg] = Box::new((limit - out.len()) as i64);
        for r in run(tx, &stmt, &params).await.map_err(db)? {
            out.push(event_from_row(&r, tenant)?);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_tenant(&self, id: &TenantId, name: &str) -> Result<Tenant, StoreError> {
        let tenant = Tenant {
            id: id.clone(),
            name: name.to_owned(),
            created_at: now_rfc3339(),
        };
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        scope(&tx, id.as_str()).await?;
        let inserted = tx
            .execute(
                "INSERT INTO tenants(tenant_id, name, created_at) VALUES ($1, $2, $3)",
                &[&id.as_str(), &name, &tenant.created_at],
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                return Err(StoreError::TenantExists)
            }
            Err(e) => return Err(db(e)),
        }
        tx.execute(
            "INSERT INTO log_heads(tenant_id, size, root) VALUES ($1, 0, $2)",
            &[&id.as_str(), &EMPTY_ROOT.0.as_slice()],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(tenant)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT tenant_id, name, created_at FROM sealbook_list_tenants()",
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    id: tenant_id(r.get(0))?,
                    name: r.get(1),
                    created_at: r.get(2),
                })
            })
            .collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = self
            .scoped(
                id.as_str(),
                "SELECT name, created_at FROM tenants WHERE tenant_id = $1",
                &[&id.as_str()],
            )
            .await?
            .into_iter()
            .next();
        Ok(row.map(|r| Tenant {
            id: id.clone(),
            name: r.get(0),
            created_at: r.get(1),
        }))
    }

    async fn key_by_hash(&self, secret_hash: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT * FROM sealbook_key_by_hash($1)",
                &[&secret_hash.as_slice()],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = self
            .scoped(
                tenant.as_str(),
                "SELECT tenant_id, id, name, scopes, prefix, created_at, revoked_at FROM api_keys \
                 WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
                &[&tenant.as_str()],
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn key(&self, tenant: &TenantId, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT tenant_id, id, name, scopes, prefix, created_at, revoked_at FROM api_keys \
                 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &key_id],
            )
            .await?
            .into_iter()
            .next();
        row.as_ref().map(key_from_row).transpose()
    }

    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let (outcomes, edges) = self.append_in(&tx, batch).await?;
        tx.commit().await.map_err(db)?;
        // Only what committed is remembered.
        if let Ok(mut m) = self.edges.lock() {
            m.extend(edges);
        }
        Ok(outcomes)
    }

    async fn query(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        scope(&tx, tenant.as_str()).await?;
        let size: i64 = tx
            .query_opt(
                "SELECT size FROM log_heads WHERE tenant_id = $1",
                &[&tenant.as_str()],
            )
            .await
            .map_err(db)?
            .map_or(0, |r| r.get(0));
        let size = size as u64;
        let mut below = filter.cursor.map_or(size, |c| c.0.min(size));
        let mut out = Vec::with_capacity(filter.limit);
        loop {
            let want = filter.limit - out.len();
            let found = candidates(&tx, tenant, filter, below, want).await?;
            let exhausted = found.len() < want;
            // A filter without conditions matches every candidate (no leaf read back to check).
            let everything = filter.selects_everything();
            for e in found {
                below = e.index;
                if everything || filter.matches(&event_view(&e.leaf, &e.personal, e.index, "")) {
                    out.push(e);
                }
            }
            if exhausted || out.len() >= filter.limit {
                break;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn count(&self, tenant: &TenantId, filter: &EventFilter) -> Result<u64, StoreError> {
        if !filter.selects_everything() {
            return sealbook_store::count_by_pages(self, tenant, filter).await;
        }
        // Below the cursor and the log's size both, as `query` reads; by the primary key, whose
        // entries are small (an index-only scan where the visibility map allows).
        let below = filter
            .cursor
            .map_or(i64::MAX, |c| c.0.min(i64::MAX as u64) as i64);
        let after = filter.after.map_or(-1, |a| a.min(i64::MAX as u64) as i64);
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT count(*) FROM events e WHERE e.tenant_id = $1 AND e.idx > $3 \
                 AND e.idx < LEAST($2, (SELECT size FROM log_heads WHERE tenant_id = $1))",
                &[&tenant.as_str(), &below, &after],
            )
            .await?;
        let n: i64 = row.first().map_or(0, |r| r.get(0));
        Ok(n as u64)
    }

    async fn event(&self, tenant: &TenantId, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT e.idx, e.leaf, e.leaf_hash, p.data FROM events e \
                 LEFT JOIN personal p ON p.tenant_id = e.tenant_id AND p.idx = e.idx \
                 WHERE e.tenant_id = $1 AND e.event_id = $2",
                &[&tenant.as_str(), &id],
            )
            .await?
            .into_iter()
            .next();
        row.as_ref().map(|r| event_from_row(r, tenant)).transpose()
    }

    async fn log_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.tree_head(tenant).await?.size)
    }

    async fn tree_head(&self, tenant: &TenantId) -> Result<TreeHead, StoreError> {
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT size, root FROM log_heads WHERE tenant_id = $1",
                &[&tenant.as_str()],
            )
            .await?
            .into_iter()
            .next();
        match row {
            Some(r) => Ok(TreeHead {
                size: r.get::<_, i64>(0) as u64,
                root: stored_hash(r.get::<_, &[u8]>(1), "the root")
                    .map_err(|c| c.tenant(tenant).at(Place::TreeHead))?,
            }),
            None => Ok(TreeHead {
                size: 0,
                root: EMPTY_ROOT,
            }),
        }
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
            "SELECT idx, leaf FROM events WHERE tenant_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
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
            "SELECT idx, data FROM personal WHERE tenant_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .await
    }

    async fn latest_checkpoint(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT size, root, note, signed_at FROM checkpoints WHERE tenant_id = $1 ORDER BY size DESC LIMIT 1",
                &[&tenant.as_str()],
            )
            .await?.into_iter().next();
        Ok(row
            .map(|r| checkpoint_from(tenant, r.get(0), r.get(1), r.get(2), r.get(3)))
            .transpose()?)
    }

    async fn add_checkpoint(
        &self,
        tenant: &TenantId,
        checkpoint: StoredCheckpoint,
    ) -> Result<CheckpointOutcome, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        scope(&tx, tenant.as_str()).await?;
        // The head row serialises signers of all nodes for this tenant.
        let head = tx
            .query_opt(
                "SELECT 1 FROM log_heads WHERE tenant_id = $1 FOR UPDATE",
                &[&tenant.as_str()],
            )
            .await
            .map_err(db)?;
        if head.is_none() {
            return Err(StoreError::Schema(format!(
                "checkpoint for unknown tenant {tenant}"
            )));
        }
        let latest: Option<i64> = tx
            .query_one(
                "SELECT max(size) FROM checkpoints WHERE tenant_id = $1",
                &[&tenant.as_str()],
            )
            .await
            .map_err(db)?
            .get(0);
        if let Some(l) = latest.filter(|l| *l as u64 >= checkpoint.size) {
            return Ok(CheckpointOutcome::Superseded { latest: l as u64 });
        }
        tx.execute(
            "INSERT INTO checkpoints(tenant_id, size, root, note, signed_at) VALUES ($1, $2, $3, $4, $5)",
            &[&tenant.as_str(), &(checkpoint.size as i64), &checkpoint.root.0.as_slice(), &checkpoint.note, &checkpoint.signed_at],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(CheckpointOutcome::Stored)
    }

    async fn unsigned_growth(
        &self,
    ) -> Result<Vec<(TenantId, TreeHead, Option<StoredCheckpoint>)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query("SELECT * FROM sealbook_unsigned_growth()", &[])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let t = tenant_id(r.get(0))?;
                let c_size: Option<i64> = r.get(3);
                let cp = match c_size {
                    Some(s) => Some(checkpoint_from(&t, s, r.get(4), r.get(5), r.get(6))?),
                    None => None,
                };
                let root = stored_hash(r.get::<_, &[u8]>(2), "the root")
                    .map_err(|c| c.tenant(&t).at(Place::TreeHead))?;
                Ok((
                    t,
                    TreeHead {
                        size: r.get::<_, i64>(1) as u64,
                        root,
                    },
                    cp,
                ))
            })
            .collect()
    }

    async fn record_signing_key(&self, public_key: [u8; 32]) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO signing_keys(public_key, first_used) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&public_key.as_slice(), &now_rfc3339()],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows = self
            .client()
            .await?
            .query("SELECT public_key FROM signing_keys ORDER BY ord", &[])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| Ok(stored_hash(r.get::<_, &[u8]>(0), "a stored signing key")?.0))
            .collect()
    }

    async fn pin_setting(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO settings(name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &value],
        )
        .await
        .map_err(db)?;
        Ok(
            c.query_one("SELECT value FROM settings WHERE name = $1", &[&name])
                .await
                .map_err(db)?
                .get(0),
        )
    }

    async fn tile(
        &self,
        tenant: &TenantId,
        level: u32,
        number: u64,
    ) -> Result<Option<Vec<Hash>>, StoreError> {
        let row = self
            .scoped(
                tenant.as_str(),
                "SELECT hashes FROM tiles WHERE tenant_id = $1 AND level = $2 AND number = $3",
                &[&tenant.as_str(), &(level as i32), &(number as i64)],
            )
            .await?
            .into_iter()
            .next();
        Ok(row
            .map(|r| tile_hashes(level, number, r.get::<_, &[u8]>(0)))
            .transpose()
            .map_err(|e| Corruption::from(e).tenant(tenant))?)
    }
}
