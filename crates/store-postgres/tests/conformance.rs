//! The storage conformance suite against PostgreSQL: a database of its own per test, migrated by
//! the owner, used as a plain member of `sealbook_rw`.

use sealbook_domain::TenantId;
use sealbook_store::Store;
use sealbook_store_postgres::PgStore;
use sealbook_testkit::conformance::{Damage, Harness};
use sealbook_testkit::pg::testdb::TestDb;
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

    async fn owner_rebuild(&self) -> Option<Box<dyn sealbook_store::HashRebuild>> {
        let db = self.0.get_or_init(TestDb::create).await;
        Some(
            sealbook_store_postgres::migrate::owner_session(&db.owner_url)
                .await
                .expect("connect as the owner"),
        )
    }

    /// As the owner, whom row-level security does not confine.
    async fn damage(&self, tenant: &TenantId, damage: Damage) {
        let db = self.0.get_or_init(TestDb::create).await;
        let (c, conn) = tokio_postgres::connect(&db.owner_url, tokio_postgres::NoTls)
            .await
            .expect("connect as the owner");
        let driver = tokio::spawn(conn);
        let sql = match damage {
            Damage::TruncateOpenTile => {
                "UPDATE sealbook.tiles SET hashes = substring(hashes from 1 for 31) \
                 WHERE tenant_id = $1 AND level = 0 \
                 AND number = (SELECT size / 256 FROM sealbook.log_heads WHERE tenant_id = $1)"
            }
            Damage::HeadSizeAhead => {
                "UPDATE sealbook.log_heads SET size = size + 1 WHERE tenant_id = $1"
            }
            Damage::HeadSizeBehind => {
                "UPDATE sealbook.log_heads SET size = size - 1 WHERE tenant_id = $1"
            }
            Damage::TruncateRoot => {
                "UPDATE sealbook.log_heads SET root = substring(root from 1 for 31) WHERE tenant_id = $1"
            }
        };
        let n = c.execute(sql, &[&tenant.as_str()]).await.unwrap();
        assert_eq!(n, 1, "{damage:?}");
        drop(c);
        let _ = driver.await;
    }
}

fn harness() -> Pg {
    Pg(tokio::sync::OnceCell::new())
}

sealbook_testkit::store_conformance!(harness());
