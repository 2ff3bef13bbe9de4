//! `sealbook migrate`: brings a PostgreSQL database to this build's schema as the owner role, and
//! optionally lets an application login role use it (membership in `sealbook_rw`). `serve` runs
//! the same migrations at start when given `--database-owner-url`.

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// PostgreSQL URL of the schema owner.
    #[arg(long, env = "SEALBOOK_DATABASE_OWNER_URL", hide_env_values = true)]
    database_owner_url: String,
    /// A login role to make a member of `sealbook_rw` (what `serve --database-url` connects as).
    #[arg(long)]
    grant_to: Option<String>,
}

pub(crate) async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    sealbook_store_postgres::migrate::migrate(&args.database_owner_url)
        .await
        .context("migrating")?;
    if let Some(role) = &args.grant_to {
        sealbook_store_postgres::migrate::grant_app_role(&args.database_owner_url, role)
            .await
            .with_context(|| format!("granting sealbook_rw to {role}"))?;
    }
    println!(
        "schema at version {}",
        sealbook_store_postgres::migrate::SCHEMA_VERSION
    );
    Ok(())
}
