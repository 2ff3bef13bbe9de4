//! The server half of the `sealbook` binary, as a library: [`Server::build`] turns a [`Config`]
//! into a bound, ready server, and [`Server::run`] serves until a shutdown future resolves.
//!
//! `sealbook serve` (`src/serve.rs`) is this plus the process's concerns: logging, the metrics
//! recorder, the lines printed on stdout, and SIGTERM/SIGINT. The end-to-end tests start servers
//! in-process through the same call, on port 0, and spawn the binary only where a test needs a real
//! process (kill -9, signals, the CLI). This library belongs to the binary: it is not published
//! and, like the binary, reports start-up failures as `anyhow` errors with their context.
//!
//! The public interface is: [`Server`], [`config`] ([`ServeArgs`], [`Config`], [`LogFormat`]),
//! [`ConnectionLimits`], [`shutdown_signal`]; [`upgrade_postgres_hashes`] (`sealbook migrate`'s
//! rebuild of an old database's hashes).

pub mod config;
mod conn;
mod server;
mod upgrade;

pub use config::{Config, LogFormat, ServeArgs};
pub use conn::ConnectionLimits;
pub use server::{shutdown_signal, Server};
pub use upgrade::upgrade_postgres_hashes;
