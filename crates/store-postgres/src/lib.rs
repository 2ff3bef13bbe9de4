//! Sealbook on PostgreSQL.
//!
//! Today this crate holds the table layout the PostgreSQL backend will use ([`SCHEMA`]: the same
//! data as the embedded store, `tenant_id` leading every key) and the raw baseline that
//! `sealbook bench baseline --engine postgres` runs against it. The `Store` implementation, its
//! migrations and row-level security arrive with the PostgreSQL backend.
//!
//! The public interface is: [`SCHEMA`], [`baseline`].

pub mod baseline;

/// The table layout, as plain DDL.
pub const SCHEMA: &str = include_str!("schema.sql");
