//! `sealbook migrate`: brings a PostgreSQL database to this build's schema as the owner role, and
//! optionally lets an application login role use it (membership in `sealbook_rw`). `serve` runs
//! the same migrations at start when given `--database-owner-url`.
//!
//! Both also upgrade a database written before keyed hashes (`hash_format = unkeyed`): its search
//! postings and content hashes are rebuilt under the tenants' keys, derived from the deployment's
//! redaction secret (`docs/security/hashing.md`), by `sealbook::upgrade_postgres_hashes`.

use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// PostgreSQL URL of the schema owner.
    #[arg(long, env = "SEALBOOK_DATABASE_OWNER_URL", hide_env_values = true)]
    database_owner_url: String,
    /// A login role to make a member of `sealbook_rw` (what `serve --database-url` connects as).
    #[arg(long)]
    grant_to: Option<String>,
    /// The deployment's redaction secret (the servers' `--redaction-key-file`), needed only to
    /// upgrade a database written before keyed hashes. `SEALBOOK_REDACTION_KEY` may hold it
    /// instead.
    #[arg(long, env = "SEALBOOK_REDACTION_KEY_FILE")]
    redaction_key_file: Option<PathBuf>,
}

pub(crate) async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let owner = &args.database_owner_url;
    sealbook_store_postgres::migrate::migrate(owner)
        .await
        .context("migrating")?;
    sealbook::upgrade_postgres_hashes(owner, args.redaction_key_file.as_deref()).await?;
    if let Some(role) = &args.grant_to {
        sealbook_store_postgres::migrate::grant_app_role(owner, role)
            .await
            .with_context(|| format!("granting sealbook_rw to {role}"))?;
    }
    println!(
        "schema at version {}",
        sealbook_store_postgres::migrate::SCHEMA_VERSION
    );
    Ok(())
}
