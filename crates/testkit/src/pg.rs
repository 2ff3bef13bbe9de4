//! PostgreSQL for tests: [`testdb`], a fresh migrated database per test.

pub mod testdb;
