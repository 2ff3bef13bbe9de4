//! Versioned, forward-only migrations of the `sealbook` schema, run by the owner role.
//!
//! Several nodes may start at once: an advisory lock serialises them, and each step commits with
//! its version in one transaction. A node refuses a schema newer than it knows.

use sealbook_store::StoreError;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 3;
/// (version reached, SQL), in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_base.sql")),
    (
        2,
        include_str!("migrations/0002_key_hashes_and_forced_rls.sql"),
    ),
    (3, include_str!("migrations/0003_keyed_hashes.sql")),
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
        // Row-level security is forced on every table from version 2 on, for the owner too; the
        // owner's `owner_access` policy lets this session (only) see and change every row.
        client
            .execute(
                "SELECT set_config('sealbook.owner_access', 'on', false)",
                &[],
            )
            .await
            .map_err(unavailable)?;
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
