//! Sealbook on PostgreSQL: [`PgStore`], the `Store` for several Sealbook nodes on one database.
//!
//! Tenant isolation holds in the database itself: Sealbook connects as a member of `sealbook_rw`,
//! a role without BYPASSRLS that owns nothing; every tenant table has row-level security on
//! `current_setting('sealbook.tenant_id')`, set per transaction. Events are append-only for that
//! role (no UPDATE, no DELETE). The owner role runs the forward-only migrations ([`migrate`]).
//!
//! The public interface is: [`PgStore`], [`migrate::migrate`], [`migrate::SCHEMA_VERSION`],
//! and [`SCHEMA`] (the event tables as plain DDL, for the raw baseline of
//! `sealbook bench baseline --engine postgres` in `sealbook-testkit`).

pub mod migrate;
mod store;

pub use store::PgStore;

/// The layout of the event tables, as plain DDL, for the raw baseline (the same tables, keys and
/// indexes as the migrations create).
pub const SCHEMA: &str = include_str!("schema.sql");

#[cfg(test)]
mod tests {
    /// The raw baseline measures the layout Sealbook really uses: every statement of [`SCHEMA`]
    /// stands, word for word, in the first migration.
    #[test]
    fn baseline_layout_is_the_migrations_layout() {
        let norm = |s: &str| -> String {
            s.lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let migration = norm(include_str!("migrations/0001_base.sql"));
        let statements: Vec<String> = norm(super::SCHEMA)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(statements.len(), 5);
        for s in statements {
            assert!(migration.contains(&s), "not in the migration: {s}");
        }
    }
}
