//! The storage conformance suite, run against the embedded SQLite backend on real files.

use sealbook_store::conformance::Harness;
use sealbook_store::Store;
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
}

fn harness() -> Sqlite {
    Sqlite(
        tempfile::tempdir().unwrap(),
        sealbook_store_sqlite::Options::default(),
    )
}

sealbook_store::store_conformance!(harness());

/// The same suite with buckets of four indexes, so searches and pages cross bucket boundaries.
mod small_buckets {
    use super::*;

    fn harness() -> Sqlite {
        Sqlite(
            tempfile::tempdir().unwrap(),
            sealbook_store_sqlite::Options { bucket_bits: 2 },
        )
    }

    sealbook_store::store_conformance!(harness());
}
