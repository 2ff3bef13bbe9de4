//! Sealbook's kit for tests and benchmarks, kept out of the production crates so that they carry
//! no test-only code or dependencies (as rustls keeps its own in `rustls-test`). Unpublished; the
//! store crates use it as a dev-dependency, and only the `sealbook` binary depends on it for real,
//! for `sealbook bench baseline`, and takes only [`baseline`]: the features `conformance` and
//! `testdb` are for tests (`crates/cli/tests/e2e/architecture.rs` holds that line).
//!
//! Every backend MUST run the conformance suite from its tests ([`store_conformance!`] with a
//! [`conformance::Harness`] whose `damage` writes through a raw connection, behind the store's
//! back). A test MUST get its PostgreSQL from [`pg::testdb::TestDb::create`], which never skips
//! and drops its database afterwards, rather than from a fixed URL.
//!
//! The public interface is: [`conformance`] (the storage conformance suite every backend runs,
//! through its [`conformance::Harness`], [`conformance::Damage`] and [`store_conformance!`], and the
//! fixture
//! [`conformance::events`]), [`pg::testdb`] (the PostgreSQL test database), and [`baseline`]
//! ([`baseline::sqlite`] and [`baseline::postgres`], the raw baselines).

pub mod baseline;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "testdb")]
pub mod pg;
