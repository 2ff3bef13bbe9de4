//! Row-level security, seen from a plain SQL session as the role Sealbook connects as: with a
//! tenant set it sees only that tenant's rows, with none it sees nothing, and it can neither
//! UPDATE nor DELETE events at all. Such a session (SQL injection, a compromised node) cannot
//! plant a secret of its own on another tenant's key, nor bring a revoked key back; the owner is
//! confined too; and Sealbook refuses to connect as a role row-level security would not confine.

use sealbook_domain::{Scope, TenantId};
use sealbook_store::{AppendRequest, KeyEffect, KeyRecord, NewKey, Store};
use sealbook_store_postgres::{ConnectError, PgStore};
use sealbook_testkit::conformance::events;
use sealbook_testkit::pg::testdb::TestDb;
use tokio_postgres::NoTls;

fn ev(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "type": "order.updated", "occurred_at": "2026-01-01T00:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada"}, "subject": {"type": "order", "id": "o-1"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_session_as_the_app_role_sees_one_tenant_and_cannot_rewrite() {
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.app_url, 4).await.unwrap();
    for (t, n) in [("acme", 3), ("globex", 2)] {
        let tenant = TenantId::parse(t).unwrap();
        store.create_tenant(&tenant, t).await.unwrap();
        let batch: Vec<serde_json::Value> = (0..n).map(|i| ev(&format!("{t}-{i}"))).collect();
        store
            .append(vec![AppendRequest {
                tenant: tenant.clone(),
                events: events(&tenant, serde_json::Value::Array(batch)),
                effect: None,
            }])
            .await
            .unwrap();
    }

    let (mut c, conn) = tokio_postgres::connect(&db.app_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute("SET search_path TO sealbook")
        .await
        .unwrap();
    let whoami: (bool, bool) = {
        let r = c
            .query_one(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(whoami, (false, false), "neither superuser nor BYPASSRLS");
    let owner: String = c
        .query_one("SELECT tableowner::text FROM pg_tables WHERE schemaname = 'sealbook' AND tablename = 'events'", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(
        owner,
        sealbook_testkit::pg::testdb::APP_ROLE,
        "the app role owns nothing"
    );

    // No tenant set: nothing, in every tenant table.
    for table in [
        "events",
        "personal",
        "terms",
        "tiles",
        "log_heads",
        "tenants",
        "api_keys",
        "checkpoints",
    ] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} without a tenant");
    }
    // Tenant set: that tenant only.
    let tx = c.transaction().await.unwrap();
    tx.execute("SELECT set_config('sealbook.tenant_id', 'acme', true)", &[])
        .await
        .unwrap();
    let rows = tx
        .query("SELECT DISTINCT tenant_id FROM events", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>(),
        vec!["acme"]
    );
    let n: i64 = tx
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    let n: i64 = tx
        .query_one(
            "SELECT count(*) FROM events WHERE tenant_id = 'globex'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "naming the other tenant does not help");
    // Writing another tenant's rows is refused by the policy's check.
    let err = tx
        .execute(
            "INSERT INTO checkpoints VALUES ('globex', 99, '\\x00', 'x', 'now')",
            &[],
        )
        .await
        .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(msg.contains("row-level security"), "{msg}");
    tx.rollback().await.unwrap();

    // Append-only: no UPDATE, no DELETE on events, for any tenant.
    for sql in [
        "UPDATE events SET leaf = '\\x00'",
        "DELETE FROM events",
        "UPDATE personal SET data = '\\x00'",
        "DELETE FROM personal",
        "TRUNCATE events",
    ] {
        let tx = c.transaction().await.unwrap();
        tx.execute("SELECT set_config('sealbook.tenant_id', 'acme', true)", &[])
            .await
            .unwrap();
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
        tx.rollback().await.unwrap();
    }
}

/// A plain session at `url` with `search_path` on the schema.
async fn session(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute("SET search_path TO sealbook")
        .await
        .unwrap();
    c
}

/// `sql` in a transaction scoped to `tenant`, rolled back; the error it fails with, if any.
async fn as_tenant(
    c: &mut tokio_postgres::Client,
    tenant: &str,
    sql: &str,
) -> Result<u64, tokio_postgres::Error> {
    let tx = c.transaction().await.unwrap();
    tx.execute(
        "SELECT set_config('sealbook.tenant_id', $1, true)",
        &[&tenant],
    )
    .await
    .unwrap();
    let r = tx.execute(sql, &[]).await;
    tx.rollback().await.unwrap();
    r
}

fn key(tenant: &TenantId, id: &str, secret: u8) -> NewKey {
    NewKey {
        record: KeyRecord {
            id: id.into(),
            tenant: tenant.clone(),
            name: "ci".into(),
            scopes: vec![Scope::EventsWrite, Scope::EventsRead],
            prefix: "sbk_test".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        },
        secret_hash: [secret; 32],
    }
}

async fn effect(store: &PgStore, tenant: &TenantId, effect: KeyEffect) {
    let out = store
        .append(vec![AppendRequest {
            tenant: tenant.clone(),
            events: vec![],
            effect: Some(effect),
        }])
        .await
        .unwrap();
    assert!(
        matches!(out[0], sealbook_store::AppendOutcome::Committed(_)),
        "{out:?}"
    );
}

/// Issue 13, item 11: the app role could read every tenant's key ids and hashes and insert its
/// own secret hash for another tenant's key, then authenticate as that key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_role_session_cannot_plant_a_secret_on_any_key() {
    let db = TestDb::create_with_owner_role().await;
    let store = PgStore::connect(&db.app_url, 4).await.unwrap();
    let (acme, globex) = (
        TenantId::parse("acme").unwrap(),
        TenantId::parse("globex").unwrap(),
    );
    for t in [&acme, &globex] {
        store.create_tenant(t, t.as_str()).await.unwrap();
    }
    effect(&store, &acme, KeyEffect::Create(key(&acme, "key_a", 1))).await;
    effect(&store, &globex, KeyEffect::Create(key(&globex, "key_g", 2))).await;
    // Authentication works, through the definer function, with a non-superuser owner.
    let found = store.key_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(
        (found.tenant.as_str(), found.id.as_str()),
        ("globex", "key_g")
    );

    let mut c = session(&db.app_url).await;
    let attacker = "'\\x".to_owned() + &"ee".repeat(32) + "'";
    // No reading of the hashes, with or without a tenant.
    for tenant in ["", "acme", "globex"] {
        let err = as_tenant(&mut c, tenant, "SELECT 1 FROM api_key_hashes")
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "reading api_key_hashes as {tenant:?}: {err}"
        );
    }
    // Another tenant's key from a session of acme: the policy's check.
    let err = as_tenant(
        &mut c,
        "acme",
        &format!("INSERT INTO api_key_hashes VALUES ({attacker}, 'globex', 'key_g')"),
    )
    .await
    .unwrap_err();
    let msg = err
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(msg.contains("row-level security"), "{msg}");
    // The session sets the victim's tenant itself: the key has its secret already.
    let err = as_tenant(
        &mut c,
        "globex",
        &format!("INSERT INTO api_key_hashes VALUES ({attacker}, 'globex', 'key_g')"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
        "{err}"
    );
    // A key that does not exist, in the session's own tenant or in another.
    for (tenant, key_tenant, key_id) in [("acme", "acme", "key_ghost"), ("acme", "acme", "key_g")] {
        let err = as_tenant(
            &mut c,
            tenant,
            &format!("INSERT INTO api_key_hashes VALUES ({attacker}, '{key_tenant}', '{key_id}')"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
            "{key_tenant}/{key_id}: {err}"
        );
    }
    // Nor may it touch the existing rows.
    for sql in [
        "UPDATE api_key_hashes SET secret_hash = '\\x00'",
        "DELETE FROM api_key_hashes",
    ] {
        let err = as_tenant(&mut c, "globex", sql).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err}"
        );
    }
    // And so the attacker's secret authenticates as nobody; the real ones still do.
    assert!(store.key_by_hash(&[0xee; 32]).await.unwrap().is_none());
    assert_eq!(
        store.key_by_hash(&[1; 32]).await.unwrap().unwrap().tenant,
        acme
    );

    // A revocation is final: the session cannot clear it, nor move it.
    effect(
        &store,
        &globex,
        KeyEffect::Revoke {
            key_id: "key_g".into(),
            at: "2026-01-02T00:00:00Z".into(),
        },
    )
    .await;
    for sql in [
        "UPDATE api_keys SET revoked_at = NULL WHERE id = 'key_g'",
        "UPDATE api_keys SET revoked_at = '2999-01-01T00:00:00Z' WHERE id = 'key_g'",
    ] {
        assert_eq!(as_tenant(&mut c, "globex", sql).await.unwrap(), 0, "{sql}");
    }
    let tx = c.transaction().await.unwrap();
    tx.execute(
        "SELECT set_config('sealbook.tenant_id', 'globex', true)",
        &[],
    )
    .await
    .unwrap();
    let n = tx
        .execute(
            "UPDATE api_keys SET revoked_at = NULL WHERE id = 'key_g'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
    tx.commit().await.unwrap();
    let k = store.key_by_hash(&[2; 32]).await.unwrap().unwrap();
    assert_eq!(k.revoked_at.as_deref(), Some("2026-01-02T00:00:00Z"));
}

/// FORCE ROW LEVEL SECURITY: a plain session as the (non-superuser) owner sees no tenant data
/// either; the definer functions, which run as the owner, still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_confined_too_and_the_definer_functions_still_answer() {
    let db = TestDb::create_with_owner_role().await;
    let store = PgStore::connect(&db.app_url, 4).await.unwrap();
    for t in ["acme", "globex"] {
        let tenant = TenantId::parse(t).unwrap();
        store.create_tenant(&tenant, t).await.unwrap();
        store
            .append(vec![AppendRequest {
                tenant: tenant.clone(),
                events: events(&tenant, serde_json::json!([ev(&format!("{t}-0"))])),
                effect: None,
            }])
            .await
            .unwrap();
    }
    let c = session(&db.owner_url).await;
    for table in [
        "events",
        "tenants",
        "log_heads",
        "tiles",
        "api_keys",
        "api_key_hashes",
    ] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "the owner sees {table} without a tenant");
    }
    assert_eq!(store.list_tenants().await.unwrap().len(), 2);
    assert_eq!(store.unsigned_growth().await.unwrap().len(), 2);
}

/// Every SECURITY DEFINER function pins its search_path, so a caller's own schema cannot
/// shadow the tables it reads as the owner.
#[tokio::test]
async fn definer_functions_pin_their_search_path() {
    let db = TestDb::create().await;
    let c = session(&db.owner_url).await;
    let rows = c
        .query(
            "SELECT p.proname::text, array_to_string(p.proconfig, ' ') FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'sealbook' AND p.prosecdef",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        6,
        "key, tenants, signer work list, session, set-password link, lapsed operator access"
    );
    for r in rows {
        let (name, config): (String, Option<String>) = (r.get(0), r.get(1));
        assert!(
            config
                .unwrap_or_default()
                .contains("search_path=sealbook, pg_temp"),
            "{name}"
        );
    }
}

/// Sealbook refuses to run as a role that row-level security does not confine, and says why.
#[tokio::test]
async fn a_role_that_rls_does_not_confine_is_refused() {
    let db = TestDb::create_with_owner_role().await;
    let su = session(&db.superuser_url()).await;
    for sql in [
        "DO $$ BEGIN CREATE ROLE sealbook_test_bypass LOGIN BYPASSRLS; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        "DO $$ BEGIN CREATE ROLE sealbook_test_owner_member LOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    ] {
        su.batch_execute(sql).await.unwrap();
    }
    // Grants race with other tests' grants of the same cluster-wide roles: retry once.
    for g in [
        "GRANT sealbook_rw TO sealbook_test_bypass",
        "GRANT sealbook_test_owner TO sealbook_test_owner_member",
    ] {
        if su.batch_execute(g).await.is_err() {
            su.batch_execute(g).await.unwrap();
        }
    }
    let user = |u: &str| {
        let mut cfg: tokio_postgres::Config = db.app_url.parse().unwrap();
        cfg.user(u);
        format!(
            "host=127.0.0.1 port={} user={u} dbname={}",
            cfg.get_ports()[0],
            db.name()
        )
    };
    for (url, reason) in [
        (db.superuser_url(), "is a superuser"),
        (
            db.owner_url.clone(),
            "owns the sealbook schema or its tables",
        ),
        (user("sealbook_test_bypass"), "has BYPASSRLS"),
        (
            user("sealbook_test_owner_member"),
            "owns the sealbook schema or its tables",
        ),
    ] {
        let err = PgStore::connect(&url, 2).await.unwrap_err();
        match &err {
            ConnectError::UnsafeRole { reasons, .. } => {
                assert!(reasons.contains(&reason), "{url}: {err}")
            }
            other => panic!("{url}: {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(reason) && msg.contains("sealbook_rw"), "{msg}");
    }
    PgStore::connect(&db.app_url, 2)
        .await
        .expect("the plain app role connects");
}
