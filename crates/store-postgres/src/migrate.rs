//! Versioned, forward-only migrations of the `sealbook` schema, run by the owner role.
//!
//! Several nodes may start at once: an advisory lock serialises them, and each step commits with
//! its version in one transaction. A node refuses a schema newer than it knows.

use sealbook_store::StoreError;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 5;
/// (version reached, SQL), in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_base.sql")),
    (
        2,
        include_str!("migrations/0002_key_hashes_and_forced_rls.sql"),
    ),
    (3, include_str!("migrations/0003_keyed_hashes.sql")),
    (4, include_str!("migrations/0004_people.sql")),
    (5, include_str!("migrations/0005_totp_settings_access.sql")),
];
/// Any constant; it names the migration lock among the database's advisory locks.
const LOCK: i64 = 0x5EA1_B00C;

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Brings the schema at `owner_url` up to [`SCHEMA_VERSION`].
pub async fn migrate(owner_url: &str) -> Result<(), StoreError> {
    migrate_to(owner_url, SCHEMA_VERSION).await
}

/// Brings the schema at `owner_url` up to `target` (at most [`SCHEMA_VERSION`]), for tests that
/// show what a later migration does to a database an earlier build made.
pub async fn migrate_to(owner_url: &str, target: i64) -> Result<(), StoreError> {
    let (mut client, driver) = open(owner_url).await?;
    let result = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
            .await
            .map_err(unavailable)?;
        owner_access(&client).await?;
        client
            .batch_execute(
                "CREATE SCHEMA IF NOT EXISTS sealbook;
                 CREATE TABLE IF NOT EXISTS sealbook.schema_version (version bigint NOT NULL);",
            )
            .await
            .map_err(unavailable)?;
        let current = version(&client).await?;
        if current > SCHEMA_VERSION {
            return Err(newer(current));
        }
        for (v, sql) in MIGRATIONS
            .iter()
            .filter(|(v, _)| *v > current && *v <= target)
        {
            let tx = client.transaction().await.map_err(unavailable)?;
            tx.batch_execute(&format!("SET LOCAL search_path TO sealbook; {sql}"))
                .await
                .map_err(|e| StoreError::Schema(format!("migration {v}: {}", detail(&e))))?;
            tx.execute("DELETE FROM sealbook.schema_version", &[])
                .await
                .map_err(unavailable)?;
            tx.execute("INSERT INTO sealbook.schema_version VALUES ($1)", &[v])
                .await
                .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
        }
        if target >= 2 {
            unprotected_tables(&client).await?;
        }
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
    .await;
    drop(client);
    let _ = driver.await;
    result
}

/// Refuses a schema in which a table lacks row-level security or does not force it: every
/// migration MUST leave each table of `sealbook` with both (and a policy for what the
/// application role may do there), or a later migration's new table would be open to every tenant.
async fn unprotected_tables(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'sealbook' AND c.relkind IN ('r', 'p') \
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity) ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| unavailable(detail(&e)))?;
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Err(StoreError::Schema(format!(
        "the tables {} of schema sealbook lack forced row-level security; every migration must \
         ENABLE and FORCE it and give each table its policies",
        names.join(", ")
    )))
}

/// Makes the login role `role` a member of `sealbook_rw`, so `serve --database-url` can connect
/// as it. The role must exist; its name is letters, digits and `_` only.
pub async fn grant_app_role(owner_url: &str, role: &str) -> Result<(), StoreError> {
    if role.is_empty() || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Schema(
            "a role name is letters, digits and _ only".into(),
        ));
    }
    let (client, driver) = open(owner_url).await?;
    let r = client
        .batch_execute(&format!("GRANT sealbook_rw TO {role}"))
        .await
        .map_err(|e| StoreError::Schema(detail(&e)));
    drop(client);
    let _ = driver.await;
    r
}

/// One connection at `url`, with the TLS its `sslmode` asks for, and the task driving it.
async fn open(
    url: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StoreError> {
    let c = crate::tls::connector(url)?;
    let (client, conn) = c
        .config
        .connect(c.tls)
        .await
        .map_err(|e| unavailable(detail(&e)))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((client, driver))
}

/// The schema version at a connection (0 when there is none).
pub(crate) async fn version(client: &tokio_postgres::Client) -> Result<i64, StoreError> {
    let row = client
        .query_opt("SELECT version FROM sealbook.schema_version LIMIT 1", &[])
        .await;
    match row {
        Ok(r) => Ok(r.map_or(0, |r| r.get(0))),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(unavailable(detail(&e))),
    }
}

pub(crate) fn newer(v: i64) -> StoreError {
    StoreError::Schema(format!(
        "the database has schema version {v}; this build knows up to {SCHEMA_VERSION}; run a newer Sealbook"
    ))
}

/// The server's message when there is one, not just "db error".
pub(crate) fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

/// The recorded format of search postings and content hashes (`None` when none is recorded), read
/// as the owner.
pub async fn hash_format(owner_url: &str) -> Result<Option<String>, StoreError> {
    let (client, driver) = open(owner_url).await?;
    let result = async {
        owner_access(&client).await?;
        sealbook_store::HashRebuild::hash_format(&OwnerSession(tokio::sync::Mutex::new(client)))
            .await
    }
    .await;
    let _ = driver.await;
    result
}

/// The upgrade of search postings and content hashes (`sealbook_store::upgrade_hashes`), as the
/// owner at `owner_url`: a database marked `unkeyed` by migration 3 is rebuilt under the tenants'
/// `keys` and marked `format`; any other is left alone (`Ok(None)`). The application role cannot
/// do this (events are append-only for it), so `sealbook migrate` and `serve
/// --database-owner-url` run it after [`migrate`]. Holds the migration lock, so nodes starting at
/// once rebuild one after another (the later ones find the work done).
pub async fn upgrade_hashes(
    owner_url: &str,
    keys: &(dyn Fn(&sealbook_domain::TenantId) -> sealbook_domain::TenantKeys + Sync),
    format: &str,
    progress: &(dyn Fn(&sealbook_domain::TenantId, u64) + Sync),
) -> Result<Option<sealbook_store::RebuildReport>, StoreError> {
    let (client, driver) = open(owner_url).await?;
    let result = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
            .await
            .map_err(unavailable)?;
        owner_access(&client).await?;
        let session = OwnerSession(tokio::sync::Mutex::new(client));
        let out = sealbook_store::upgrade_hashes(&session, keys, format, progress).await;
        let client = session.0.into_inner();
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
            .await
            .map_err(unavailable);
        // The rebuild's own failure first: it says what went wrong, the unlock only what followed.
        let report = out?;
        unlocked?;
        Ok(report)
    }
    .await;
    let _ = driver.await;
    result
}

/// A rebuild target on the owner's own session at `owner_url` (`owner_access` on), for tests of
/// the rebuild itself; [`upgrade_hashes`] is the upgrade path.
pub async fn owner_session(
    owner_url: &str,
) -> Result<Box<dyn sealbook_store::HashRebuild>, StoreError> {
    let (client, _driver) = open(owner_url).await?;
    owner_access(&client).await?;
    Ok(Box::new(OwnerSession(tokio::sync::Mutex::new(client))))
}

/// Turns `sealbook.owner_access` on for this owner session: row-level security is forced on every
/// table from version 2 on, for the owner too, and the owner's `owner_access` policy lets this
/// session (only) see and change every row.
async fn owner_access(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    client
        .execute(
            "SELECT set_config('sealbook.owner_access', 'on', false)",
            &[],
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// The owner's session with `owner_access` on: it sees and writes every tenant's rows.
struct OwnerSession(tokio::sync::Mutex<tokio_postgres::Client>);

fn pg(e: tokio_postgres::Error) -> StoreError {
    unavailable(detail(&e))
}

#[async_trait::async_trait]
impl sealbook_store::HashRebuild for OwnerSession {
    async fn hash_format(&self) -> Result<Option<String>, StoreError> {
        let c = self.0.lock().await;
        let row = c
            .query_opt(
                "SELECT value FROM sealbook.settings WHERE name = 'hash_format'",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn rehash_tenants(&self) -> Result<Vec<sealbook_domain::TenantId>, StoreError> {
        let c = self.0.lock().await;
        let rows = c
            .query(
                "SELECT tenant_id FROM sealbook.tenants ORDER BY tenant_id",
                &[],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get(0);
                sealbook_domain::TenantId::parse(&id).map_err(|e| {
                    sealbook_store::Corruption::new(format!("stored tenant id {id:?}"))
                        .caused_by(e)
                        .into()
                })
            })
            .collect()
    }

    async fn rehash_sources(
        &self,
        tenant: &sealbook_domain::TenantId,
        start: u64,
        limit: u64,
    ) -> Result<Vec<sealbook_store::RehashSource>, StoreError> {
        let c = self.0.lock().await;
        let rows = c
            .query(
                "SELECT e.idx, e.leaf, p.data FROM sealbook.events e \
                 LEFT JOIN sealbook.personal p ON p.tenant_id = e.tenant_id AND p.idx = e.idx \
                 WHERE e.tenant_id = $1 AND e.idx >= $2 ORDER BY e.idx LIMIT $3",
                &[&tenant.as_str(), &(start as i64), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| sealbook_store::RehashSource {
                index: r.get::<_, i64>(0) as u64,
                leaf: r.get(1),
                personal: r.get::<_, Option<Vec<u8>>>(2).unwrap_or_default(),
            })
            .collect())
    }

    async fn replace_hashes(
        &self,
        tenant: &sealbook_domain::TenantId,
        start: u64,
        end: u64,
        events: Vec<sealbook_store::Rehashed>,
    ) -> Result<(), StoreError> {
        let bucket = |i: u64| (i >> crate::store::BUCKET_BITS) as i64;
        let (mut buckets, mut terms, mut idxs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut hash_idx, mut hashes) = (Vec::new(), Vec::new());
        for e in &events {
            for t in &e.terms {
                buckets.push(bucket(e.index));
                terms.push(*t);
                idxs.push(e.index as i64);
            }
            hash_idx.push(e.index as i64);
            hashes.push(e.content_hash.to_vec());
        }
        let mut c = self.0.lock().await;
        let tx = c.transaction().await.map_err(pg)?;
        let t = tenant.as_str();
        if start < end {
            tx.execute(
                "DELETE FROM sealbook.terms WHERE tenant_id = $1 AND bucket BETWEEN $2 AND $3 \
                 AND idx >= $4 AND idx < $5",
                &[
                    &t,
                    &bucket(start),
                    &bucket(end - 1),
                    &(start as i64),
                    &(end as i64),
                ],
            )
            .await
            .map_err(pg)?;
        }
        tx.execute(
            "INSERT INTO sealbook.terms(tenant_id, bucket, term, idx) \
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) ON CONFLICT DO NOTHING",
            &[&t, &buckets, &terms, &idxs],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "UPDATE sealbook.events e SET content_hash = u.h \
             FROM unnest($2::bigint[], $3::bytea[]) AS u(idx, h) \
             WHERE e.tenant_id = $1 AND e.idx = u.idx",
            &[&t, &hash_idx, &hashes],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    async fn set_hash_format(&self, format: &str) -> Result<(), StoreError> {
        let c = self.0.lock().await;
        c.execute(
            "INSERT INTO sealbook.settings(name, value) VALUES ('hash_format', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&format],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }
}
