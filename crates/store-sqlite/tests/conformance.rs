//! The storage conformance suite, run against the embedded SQLite backend on real files.

use sealbook_store::conformance::Harness;
use sealbook_store::Store;
use std::sync::Arc;

struct Sqlite(tempfile::TempDir);

#[async_trait::async_trait]
impl Harness for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            sealbook_store_sqlite::SqliteStore::open(self.0.path()).expect("open sqlite store"),
        )
    }
}

fn harness() -> Sqlite {
    Sqlite(tempfile::tempdir().unwrap())
}

sealbook_store::store_conformance!(harness());
