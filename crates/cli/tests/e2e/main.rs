//! Sealbook's end-to-end tests: one test binary (one link on a two-core machine instead of one per
//! file), one module per area. Servers start in-process on port 0 through `sealbook::Server`, the
//! same call `sealbook serve` makes; only tests that need a real process (kill -9, SIGTERM, the
//! binary's stdout) spawn it. The CLI commands (`verify`, `tenant`, `catalog lint`, …) always run
//! as the real binary.

mod common;

mod architecture;
mod browser;
mod catalog;
mod csv;
mod export;
mod ingest;
mod integrity;
mod lifecycle;
mod limits;
mod log;
mod openapi;
mod outbox;
mod postgres;
mod read;
mod redaction;
mod spool;
mod sso;
mod tamper;
mod ui;
mod upgrade;
mod walkthrough;
