//! `sealbook`: one binary for the server (`serve`) and the operator's commands (`tenant`, `key`).
//!
//! Configuration is parsed in two stages: raw flags, environment and file in [`config`], then a
//! validated form the server runs with.

mod admin;
mod config;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sealbook",
    version,
    about = "Tamper-evident, multi-tenant audit trail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite store by default).
    Serve(config::ServeArgs),
    /// Manage tenants (platform operator).
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// Manage a tenant's API keys (platform operator).
    #[command(subcommand)]
    Key(admin::KeyCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Tenant(cmd) => runtime.block_on(admin::tenant(cmd)),
        Command::Key(cmd) => runtime.block_on(admin::key(cmd)),
    }
}
