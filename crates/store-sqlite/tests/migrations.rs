//! Schema versions: a database written by an older build is migrated forward in place, keeping its
//! data; one written by a newer build is refused.

use sealbook_store::Store;
use sealbook_store_sqlite::{SqliteStore, SCHEMA_VERSION};

#[tokio::test]
async fn a_version_1_database_is_migrated_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        // What version 1 of Sealbook created: the base schema, version 1, one tenant.
        let c = rusqlite::Connection::open(dir.path().join("sealbook.db")).unwrap();
        c.execute_batch(include_str!("../src/schema.sql")).unwrap();
        c.execute_batch(
            "INSERT INTO meta(key, value) VALUES ('schema_version', '1'), ('bucket_bits', '12');
             INSERT INTO tenants(no, id, name, created_at) VALUES (1, 'acme', 'Acme', '2026-01-01T00:00:00Z');",
        )
        .unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    let acme = sealbook_domain::TenantId::parse("acme").unwrap();
    assert_eq!(s.tenant(&acme).await.unwrap().unwrap().name, "Acme");
    assert!(
        s.latest_checkpoint(&acme).await.unwrap().is_none(),
        "new tables exist"
    );
    s.record_signing_key([3; 32]).await.unwrap();
    drop(s);
    let c = rusqlite::Connection::open(dir.path().join("sealbook.db")).unwrap();
    let v: String = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION.to_string());
    // Opening again is a no-op.
    drop(c);
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.signing_keys().await.unwrap(), vec![[3; 32]]);
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let c = rusqlite::Connection::open(dir.path().join("sealbook.db")).unwrap();
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [(SCHEMA_VERSION + 1).to_string()],
    )
    .unwrap();
    drop(c);
    let err = SqliteStore::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("run a newer Sealbook"), "{err}");
}

/// The database and its WAL are readable by the owner only.
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.create_tenant(&sealbook_domain::TenantId::parse("acme").unwrap(), "Acme")
        .await
        .unwrap();
    for f in ["sealbook.db", "sealbook.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}
