//! Sealbook's kit for tests and benchmarks, kept out of the production crates so that they carry
//! no test-only code or dependencies (as rustls keeps its own in `rustls-test`). Unpublished; the
//! store crates use it as a dev-dependency, and only the `sealbook` binary depends on it for real,
//! for `sealbook bench baseline` (`crates/cli/tests/e2e/architecture.rs` holds that line).
//!
//! The public interface is: [`conformance`] (the storage conformance suite every backend runs,
//! through its [`conformance::Harness`] and [`store_conformance!`]), [`pg::testdb`] (the
//! PostgreSQL test database), and [`baseline`] ([`baseline::sqlite`] and [`baseline::postgres`],
//! the raw baselines).

pub mod baseline;
pub mod conformance;
pub mod pg;
