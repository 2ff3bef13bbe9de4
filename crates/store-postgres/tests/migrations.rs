//! Migrations are idempotent and forward-only; a node refuses a schema newer than it knows, and
//! one that has not been migrated yet.

use sealbook_store_postgres::migrate::{migrate, SCHEMA_VERSION};
use sealbook_store_postgres::PgStore;
use sealbook_testkit::pg::testdb::TestDb;
use tokio_postgres::NoTls;

async fn set_version(db: &TestDb, v: i64) {
    let (c, conn) = tokio_postgres::connect(&db.owner_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.execute("UPDATE sealbook.schema_version SET version = $1", &[&v])
        .await
        .unwrap();
}

#[tokio::test]
async fn newer_and_unmigrated_schemas_are_refused() {
    let db = TestDb::create().await;
    // Running the migrations again (a second node starting) changes nothing.
    migrate(&db.owner_url).await.unwrap();
    PgStore::connect(&db.app_url, 2).await.unwrap();

    set_version(&db, SCHEMA_VERSION + 1).await;
    let err = PgStore::connect(&db.app_url, 2).await.unwrap_err();
    assert!(err.to_string().contains("run a newer Sealbook"), "{err}");
    let err = migrate(&db.owner_url).await.unwrap_err();
    assert!(err.to_string().contains("run a newer Sealbook"), "{err}");

    set_version(&db, 0).await;
    let err = PgStore::connect(&db.app_url, 2).await.unwrap_err();
    assert!(err.to_string().contains("--database-owner-url"), "{err}");
}
