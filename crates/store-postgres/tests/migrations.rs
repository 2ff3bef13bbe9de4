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

/// The migration to version 3 marks a database that holds events (with unkeyed postings and
/// content hashes, written before) as `hash_format = unkeyed`, which the server refuses; a
/// database without events gets no mark.
#[tokio::test]
async fn the_keyed_hashes_migration_marks_data_written_before() {
    use sealbook_store::{AppendRequest, Store};
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.app_url, 2).await.unwrap();
    let t = sealbook_domain::TenantId::parse("acme").unwrap();
    store.create_tenant(&t, "Acme").await.unwrap();
    let events = sealbook_testkit::conformance::events(
        &t,
        serde_json::json!([{"id": "e1", "type": "order.created", "occurred_at": "2026-01-01T00:00:00Z",
            "actor": {"type": "user", "id": "u1"}, "subject": {"type": "order", "id": "o1"}}]),
    );
    store
        .append(vec![AppendRequest {
            tenant: t.clone(),
            events,
            effect: None,
        }])
        .await
        .unwrap();
    assert_eq!(
        store.pin_setting("hash_format", "new").await.unwrap(),
        "new",
        "a database created by this build is not marked"
    );
    // As the build before this change left it: version 1, no format recorded.
    let (c, conn) = tokio_postgres::connect(&db.owner_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.execute(
        "DELETE FROM sealbook.settings WHERE name = 'hash_format'",
        &[],
    )
    .await
    .unwrap();
    set_version(&db, 1).await;
    migrate(&db.owner_url).await.unwrap();
    assert_eq!(
        store.pin_setting("hash_format", "new").await.unwrap(),
        "unkeyed"
    );
}
