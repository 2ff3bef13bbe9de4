//! Sealbook on PostgreSQL: [`PgStore`], the `Store` for several Sealbook nodes on one database.
//!
//! Tenant isolation holds in the database itself: Sealbook connects as a member of `sealbook_rw`,
//! a role without BYPASSRLS that owns nothing; every tenant table has row-level security on
//! `current_setting('sealbook.tenant_id')`, set per transaction. Events are append-only for that
//! role (no UPDATE, no DELETE). The owner role runs the forward-only migrations ([`migrate`]).
//!
//! The public interface is: [`PgStore`], [`migrate::migrate`], [`migrate::SCHEMA_VERSION`],
//! [`testdb`] (the test database the suites use), [`SCHEMA`] and [`baseline`] (the raw-PostgreSQL
//! baseline of `sealbook bench baseline --engine postgres`).

pub mod baseline;
pub mod migrate;
mod store;
pub mod testdb;

pub use store::PgStore;

/// The layout of the event tables, as plain DDL, for the raw baseline (the same tables, keys and
/// indexes as the migrations create).
pub const SCHEMA: &str = include_str!("schema.sql");
