//! Row-level security, seen from a plain SQL session as the role Sealbook connects as: with a
//! tenant set it sees only that tenant's rows, with none it sees nothing, and it can neither
//! UPDATE nor DELETE events at all.

use sealbook_domain::TenantId;
use sealbook_store::{AppendRequest, Store};
use sealbook_store_postgres::PgStore;
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
