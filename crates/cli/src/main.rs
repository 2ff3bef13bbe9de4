//! `sealbook`: one binary for the server (`serve`), the operator's commands (`tenant`, `key`), the
//! verifier (`verify`), and the performance tools (`hammer`, `bench baseline`).
//!
//! The server itself is the library half of this package (`src/lib.rs`: `sealbook::Server`, and
//! `sealbook::config`, where flags, environment and file become the validated configuration);
//! `serve` here adds what belongs to a process: logging, metrics, stdout, signals.

mod admin;
mod bench;
mod catalog;
mod hammer;
mod migrate;
mod relay;
mod serve;
mod verify;
mod workload;

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
    Serve(Box<sealbook::ServeArgs>),
    /// The event catalog: lint a catalog file, print the built-in one, apply a file's types.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Migrate a PostgreSQL database to this build's schema (as the owner role).
    Migrate(migrate::MigrateArgs),
    /// Deliver an application's outbox (`sealbook_outbox`) to Sealbook.
    Relay(relay::RelayArgs),
    /// Manage tenants (platform operator).
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// Manage a tenant's API keys (platform operator).
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Invite people to a tenant's web UI (platform operator).
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Load generator: drive a running server over HTTP and report throughput and latency.
    Hammer(hammer::HammerArgs),
    /// Verify a tenant log against a verifier key: signature, every event, every tile, the root.
    Verify(verify::VerifyArgs),
    /// Verify an export file offline against a verifier key.
    VerifyExport(verify::VerifyExportArgs),
    /// Benchmarks of the bare database, for ratios against Sealbook's figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: starting the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // `verify` has its own exit codes (0 verified, 1 failed, 2 could not check).
    let result = match cli.command {
        Command::Verify(args) => return runtime.block_on(verify::run(args)),
        Command::VerifyExport(args) => return verify::run_export(args),
        Command::Catalog(cmd) => return catalog::run(cmd, &runtime),
        Command::Serve(args) => runtime.block_on(serve::run(*args)),
        Command::Migrate(args) => runtime.block_on(migrate::run(args)),
        Command::Relay(args) => runtime.block_on(relay::run(args)),
        Command::Tenant(cmd) => runtime.block_on(admin::tenant(cmd)),
        Command::User(cmd) => runtime.block_on(admin::user(cmd)),
        Command::Key(cmd) => runtime.block_on(admin::key(cmd)),
        Command::Hammer(args) => runtime.block_on(hammer::run(args)),
        Command::Bench(cmd) => runtime.block_on(bench::run(cmd)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
