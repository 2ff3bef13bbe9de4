//! The embedded store's part of rebuilding postings and content hashes
//! ([`sealbook_store::HashRebuild`]): reads on the pooled readers, each batch's rewrite in one
//! transaction on the writer, so a rebuild at start never races an append and a crash leaves
//! every batch either rewritten or not.

use crate::layout::{bucket, rowid, MAX_INDEX};
use crate::{parse_tenant, tenant_no, unavailable, Fault, SqliteStore};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use sealbook_domain::TenantId;
use sealbook_store::{HashRebuild, RehashSource, Rehashed, StoreError};

/// The meta key of the hash format (a deployment-wide setting, see `Store::pin_setting`).
const FORMAT_KEY: &str = "setting:hash_format";

#[async_trait]
impl HashRebuild for SqliteStore {
    async fn hash_format(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [FORMAT_KEY], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    async fn rehash_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT id FROM tenants ORDER BY no")?;
            let ids = s
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter()
                .map(|id| parse_tenant(id).map_err(Fault::from))
                .collect()
        })
        .await
    }

    async fn rehash_sources(
        &self,
        tenant: &TenantId,
        start: u64,
        limit: u64,
    ) -> Result<Vec<RehashSource>, StoreError> {
        let t = tenant.clone();
        if start > MAX_INDEX {
            return Ok(Vec::new());
        }
        self.read(move |c| {
            let Some(no) = tenant_no(c, &t)? else {
                return Ok(Vec::new());
            };
            let mut s = c.prepare_cached(
                "SELECT e.rowid, e.leaf, p.data FROM events e LEFT JOIN personal p ON p.rowid = e.rowid \
                 WHERE e.rowid BETWEEN ?1 AND ?2 ORDER BY e.rowid LIMIT ?3",
            )?;
            let rows = s.query_map(
                params![rowid(no, start), rowid(no, MAX_INDEX), limit as i64],
                |r| {
                    Ok(RehashSource {
                        index: (r.get::<_, i64>(0)? as u64) & MAX_INDEX,
                        leaf: r.get(1)?,
                        personal: r.get::<_, Option<Vec<u8>>>(2)?.unwrap_or_default(),
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn replace_hashes(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
        events: Vec<Rehashed>,
    ) -> Result<(), StoreError> {
        let t = tenant.clone();
        self.write(move |w| {
            let bits = w.bucket_bits;
            let mut run = || -> Result<(), Fault> {
                let tx = w
                    .conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let Some(no) = tenant_no(&tx, &t)? else {
                    return Ok(());
                };
                if start < end {
                    // The primary key leads with (tenant, bucket): the range of buckets bounds the scan.
                    tx.execute(
                        "DELETE FROM terms WHERE tenant_no = ?1 AND bucket BETWEEN ?2 AND ?3 \
                         AND idx >= ?4 AND idx < ?5",
                        params![
                            no,
                            bucket(start, bits),
                            bucket(end - 1, bits),
                            start as i64,
                            end as i64
                        ],
                    )?;
                }
                let mut postings: Vec<(i64, i64, i64, i64)> = Vec::new();
                {
                    let mut hash =
                        tx.prepare_cached("UPDATE events SET content_hash = ?1 WHERE rowid = ?2")?;
                    for e in &events {
                        hash.execute(params![e.content_hash.as_slice(), rowid(no, e.index)])?;
                        let b = bucket(e.index, bits);
                        postings.extend(e.terms.iter().map(|term| (no, b, *term, e.index as i64)));
                    }
                }
                crate::insert_postings(&tx, postings)?;
                tx.commit()?;
                Ok(())
            };
            run().map_err(StoreError::from)
        })
        .await
    }

    async fn set_hash_format(&self, format: &str) -> Result<(), StoreError> {
        let format = format.to_owned();
        self.write(move |w| {
            w.conn
                .execute(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2) \
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![FORMAT_KEY, format],
                )
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }
}
