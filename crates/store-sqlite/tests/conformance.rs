//! The storage conformance suite, run against the embedded SQLite backend on real files.

use sealbook_domain::TenantId;
use sealbook_store::Store;
use sealbook_testkit::conformance::{Damage, Harness};
use std::sync::Arc;

struct Sqlite(tempfile::TempDir, sealbook_store_sqlite::Options);

#[async_trait::async_trait]
impl Harness for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            sealbook_store_sqlite::SqliteStore::open_with(self.0.path(), self.1)
                .expect("open sqlite store"),
        )
    }

    async fn damage(&self, tenant: &TenantId, damage: Damage) {
        let c = rusqlite::Connection::open(self.0.path().join("sealbook.db")).unwrap();
        let of_tenant = "tenant_no = (SELECT no FROM tenants WHERE id = ?1)";
        let sql = match damage {
            Damage::TruncateOpenTile => format!(
                "UPDATE tiles SET hashes = substr(hashes, 1, 31) WHERE {of_tenant} AND level = 0 \
                 AND number = (SELECT size / 256 FROM tree_heads WHERE {of_tenant})"
            ),
            Damage::HeadSizeAhead => {
                format!("UPDATE tree_heads SET size = size + 1 WHERE {of_tenant}")
            }
            Damage::HeadSizeBehind => {
                format!("UPDATE tree_heads SET size = size - 1 WHERE {of_tenant}")
            }
            Damage::TruncateRoot => {
                format!("UPDATE tree_heads SET root = substr(root, 1, 31) WHERE {of_tenant}")
            }
        };
        assert_eq!(c.execute(&sql, [tenant.as_str()]).unwrap(), 1, "{damage:?}");
    }
}

fn harness() -> Sqlite {
    Sqlite(
        tempfile::tempdir().unwrap(),
        sealbook_store_sqlite::Options::default(),
    )
}

sealbook_testkit::store_conformance!(harness());

/// The same suite with buckets of four indexes, so searches and pages cross bucket boundaries.
mod small_buckets {
    use super::*;

    fn harness() -> Sqlite {
        Sqlite(
            tempfile::tempdir().unwrap(),
            sealbook_store_sqlite::Options { bucket_bits: 2 },
        )
    }

    sealbook_testkit::store_conformance!(harness());
}
