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

async fn owner_session(db: &TestDb) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&db.owner_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c
}

/// A database made by version 1 (with a backdoor planted the way version 1 allowed: a hash for
/// a key that does not exist) is brought to the safe state by version 2.
#[tokio::test]
async fn a_version_1_database_is_brought_to_the_safe_state() {
    let db = TestDb::create_with_owner_role_at(1).await;
    let c = owner_session(&db).await;
    c.batch_execute(
        "SET search_path TO sealbook;
         INSERT INTO tenants VALUES ('acme', 'acme', 'now'), ('globex', 'globex', 'now');
         INSERT INTO log_heads VALUES ('acme', 0, '\\x00'), ('globex', 0, '\\x00');
         INSERT INTO api_keys VALUES ('globex', 'key_g', 'ci', 'events:read', 'sbk_', 'now', NULL);
         INSERT INTO api_key_hashes VALUES ('\\x0202020202020202020202020202020202020202020202020202020202020202', 'globex', 'key_g');
         INSERT INTO api_key_hashes VALUES ('\\xeeee', 'acme', 'key_planted');",
    )
    .await
    .unwrap();
    migrate(&db.owner_url).await.unwrap();

    // The planted row is gone, the key's own secret still authenticates.
    let su = {
        let (c, conn) = tokio_postgres::connect(&db.superuser_url(), NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c
    };
    let keys: Vec<String> = su
        .query("SELECT key_id FROM sealbook.api_key_hashes", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["key_g"]);
    let store = PgStore::connect(&db.app_url, 2).await.unwrap();
    use sealbook_store::Store;
    let k = store.key_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(k.id, "key_g");
    // Every table has row-level security, forced.
    let open: Vec<String> = su
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'sealbook' AND c.relkind = 'r' \
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(open.is_empty(), "{open:?}");
    // The app role cannot read the hashes any more.
    let (app, conn) = tokio_postgres::connect(&db.app_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let err = app
        .query("SELECT 1 FROM sealbook.api_key_hashes", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

/// A key with two secrets was tampered with: version 2 refuses to guess which secret is the
/// key's own, names the key, and leaves the database at version 1.
#[tokio::test]
async fn a_key_with_two_secrets_stops_the_migration() {
    let db = TestDb::create_with_owner_role_at(1).await;
    let c = owner_session(&db).await;
    c.batch_execute(
        "SET search_path TO sealbook;
         INSERT INTO tenants VALUES ('globex', 'globex', 'now');
         INSERT INTO api_keys VALUES ('globex', 'key_g', 'ci', 'events:read', 'sbk_', 'now', NULL);
         INSERT INTO api_key_hashes VALUES ('\\x02', 'globex', 'key_g'), ('\\xee', 'globex', 'key_g');",
    )
    .await
    .unwrap();
    let err = migrate(&db.owner_url).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("globex/key_g") && msg.contains("more than one secret"),
        "{msg}"
    );
    let v: i64 = c
        .query_one("SELECT version FROM sealbook.schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 1);
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
    // As the build before this change left it: version 2, no format recorded.
    let (c, conn) = tokio_postgres::connect(&db.owner_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.execute(
        "DELETE FROM sealbook.settings WHERE name = 'hash_format'",
        &[],
    )
    .await
    .unwrap();
    set_version(&db, 2).await;
    migrate(&db.owner_url).await.unwrap();
    assert_eq!(
        store.pin_setting("hash_format", "new").await.unwrap(),
        "unkeyed"
    );
}
