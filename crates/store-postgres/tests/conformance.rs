//! The storage conformance suite against PostgreSQL: a database of its own per test, migrated by
//! the owner, used as a plain member of `sealbook_rw`.

use sealbook_store::conformance::Harness;
use sealbook_store::Store;
use sealbook_store_postgres::testdb::TestDb;
use sealbook_store_postgres::PgStore;
use std::sync::Arc;

struct Pg(tokio::sync::OnceCell<TestDb>);

#[async_trait::async_trait]
impl Harness for Pg {
    async fn open(&self) -> Arc<dyn Store> {
        let db = self.0.get_or_init(TestDb::create).await;
        Arc::new(
            PgStore::connect(&db.app_url, 8)
                .await
                .expect("connect as the application role"),
        )
    }
}

fn harness() -> Pg {
    Pg(tokio::sync::OnceCell::new())
}

sealbook_store::store_conformance!(harness());
