//! The upgrade of a database written before keyed hashes (`hash_format = unkeyed`, marked by the
//! migration to schema version 3): its search postings and content hashes rebuilt under the
//! tenants' keys, derived from the deployment's redaction secret by the API's keyring
//! (`docs/security/hashing.md`). The rebuild itself is `sealbook_store::rebuild_hashes`; this
//! module derives the keys, picks the connection (the embedded store's writer, or PostgreSQL's
//! owner) and logs progress. The server runs it at start, `sealbook migrate` for PostgreSQL.

use crate::server::HASH_FORMAT;
use anyhow::Context;
use std::path::Path;

/// Upgrades the PostgreSQL database at `owner_url` (as its owner) if it is unkeyed, with the
/// redaction secret from `SEALBOOK_REDACTION_KEY` or `redaction_key_file`, which MUST be the
/// servers' (only read when there is something to rebuild). What `sealbook migrate` runs.
pub async fn upgrade_postgres_hashes(
    owner_url: &str,
    redaction_key_file: Option<&Path>,
) -> anyhow::Result<()> {
    let format = sealbook_store_postgres::migrate::hash_format(owner_url)
        .await
        .context("reading the format of search postings and content hashes")?;
    if format.as_deref() != Some(sealbook_store::UNKEYED_FORMAT) {
        return Ok(());
    }
    if redaction_key_file.is_none() && std::env::var_os("SEALBOOK_REDACTION_KEY").is_none() {
        anyhow::bail!("this database holds search postings and content hashes in the unkeyed format of an earlier Sealbook; rebuilding them needs the deployment's redaction secret: give --redaction-key-file (the file the servers use) or SEALBOOK_REDACTION_KEY");
    }
    let master = crate::server::redaction_master_from(redaction_key_file, None)?;
    upgrade_pg_hashes(owner_url, &master).await
}

/// Logs the rebuild's progress: a line per batch (tenant, events done).
fn progress(tenant: &sealbook_domain::TenantId, done: u64) {
    tracing::info!(tenant = %tenant, events = done, "rebuilding keyed search postings and content hashes");
}

fn finished(report: Option<sealbook_store::RebuildReport>) {
    if let Some(r) = report {
        tracing::info!(
            tenants = r.tenants,
            events = r.events,
            format = HASH_FORMAT,
            "search postings and content hashes rebuilt under the tenants' keys"
        );
    }
}

/// The upgrade of an unkeyed database through the store's own connection (the embedded store).
pub(crate) async fn upgrade_hashes(
    target: &dyn sealbook_store::HashRebuild,
    redaction_master: &[u8; 32],
) -> anyhow::Result<()> {
    let keyring = sealbook_api::Keyring::new(*redaction_master);
    let report =
        sealbook_store::upgrade_hashes(target, &|t| keyring.tenant_keys(t), HASH_FORMAT, &progress)
            .await
            .context("rebuilding search postings and content hashes under the tenants' keys")?;
    finished(report);
    Ok(())
}

/// The upgrade of an unkeyed PostgreSQL database, as the owner.
pub(crate) async fn upgrade_pg_hashes(
    owner_url: &str,
    redaction_master: &[u8; 32],
) -> anyhow::Result<()> {
    let keyring = sealbook_api::Keyring::new(*redaction_master);
    let report = sealbook_store_postgres::migrate::upgrade_hashes(
        owner_url,
        &|t| keyring.tenant_keys(t),
        HASH_FORMAT,
        &progress,
    )
    .await
    .context(
        "rebuilding search postings and content hashes under the tenants' keys, as the owner",
    )?;
    finished(report);
    Ok(())
}
