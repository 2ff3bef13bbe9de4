//! Sealbook on PostgreSQL: [`PgStore`], the `Store` for several Sealbook nodes on one database.
//!
//! Tenant isolation holds in the database itself: Sealbook connects as a member of `sealbook_rw`,
//! a role without BYPASSRLS that owns nothing; every tenant table has row-level security on
//! `current_setting('sealbook.tenant_id')`, set per transaction. Events are append-only for that
//! role (no UPDATE, no DELETE). The owner role runs the forward-only migrations ([`migrate`]).
//!
//!
//! An append locks its tenants' `log_heads` rows in sorted order and integrates each tenant's tree
//! in its transaction: `PgStore::integrate` takes the right edge from this node's memory when the
//! stored size is the size it remembers, else from the open tiles
//! `sealbook_logmath::tile::open_tiles` names, and writes the tiles and head the log math returns.
//! Stored data that cannot be what it must be is `StoreError::Corrupt`.
//!
//! Sealbook MUST connect as a member of `sealbook_rw`, never as the owner: the owner could
//! rewrite events. Row-level security is forced on every table (it confines the owner's plain
//! sessions too), and [`PgStore::connect`] refuses a superuser, a BYPASSRLS role or an owner
//! ([`ConnectError::UnsafeRole`]). Secret hashes of keys are readable only through the
//! `sealbook_key_by_hash` definer function; a key has one, inserted with it. The owner MUST run
//! the migrations. `docs/security/postgres.md` says what this protects against and what not.
//!
//! Every connection uses TLS as the URL's `sslmode` and `sslrootcert` say, with libpq's meaning
//! ([`tls`]; `prefer` by default).
//!
//! The public interface is: [`PgStore`] (the `Store`) and [`ConnectError`] (why it refused to
//! open, among others a role that row-level security does not confine); [`migrate`]
//! ([`migrate::migrate`], run as the owner; [`migrate::grant_app_role`];
//! [`migrate::SCHEMA_VERSION`]); [`tls`] (a URL's connection settings and TLS connector); and
//! [`SCHEMA`] (the event
//! tables as plain DDL, for the raw baseline of `sealbook bench baseline --engine postgres` in
//! `sealbook-testkit`).

pub mod migrate;
mod people;
mod store;
pub mod tls;

pub use store::{ConnectError, PgStore};

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
