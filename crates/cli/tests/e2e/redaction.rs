//! End to end: secrets and card numbers sent in events never reach the disk or the logs. The raw
//! SQLite files (database and write-ahead log) and the server log are searched byte for byte for
//! every secret sent; none is found. What a reader gets back is the redacted form.

use crate::common::{tempdir, Server};
use serde_json::json;

const SECRETS: &[&str] = &[
    "hunter2-correct-horse",
    "sk_live_51HxZyQ9aVeryPrivateKey",
    "4111111111111111",
    "5555 5555 5555 4444",
    "3782-822463-10005",
    "eyJhbGciOiJIUzI1NiJ9.session-cookie-value",
    "old-client-secret-0001",
    "new-client-secret-0002",
];

#[test]
fn secrets_never_reach_the_disk_and_readers_see_masks() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let base = json!({
        "type": "config.changed", "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada"},
        "subject": {"type": "integration", "id": "stripe"},
    });
    let mut a = base.clone();
    a["id"] = json!("e-1");
    a["data"] = json!({"password": SECRETS[0], "config": {"apiKey": SECRETS[1]}, "cards": [SECRETS[2], {"pan": SECRETS[3]}],
                       "note": "card on file", "headers": {"Cookie": SECRETS[5]}});
    a["refs"] = json!({"card": SECRETS[4]});
    let mut b = base.clone();
    b["id"] = json!("e-2");
    b["before"] = json!({"client_secret": SECRETS[6], "mode": "test"});
    b["after"] = json!({"client_secret": SECRETS[7], "mode": "live"});
    s.ingest(&key, &json!([a, b]));

    let e1: serde_json::Value = s.get("/v1/events/e-1", &key).json().unwrap();
    assert_eq!(e1["data"]["password"]["$redacted"], true);
    assert_eq!(e1["data"]["cards"][0]["preview"], "****1111");
    assert_eq!(e1["data"]["cards"][1]["pan"]["preview"], "****4444");
    assert_eq!(e1["refs"]["card"]["preview"], "****0005");
    assert_eq!(e1["data"]["note"], "card on file");
    // The keyed fingerprint is for `tenant:admin` only (docs/security/roles.md).
    assert_eq!(e1["data"]["config"]["apiKey"]["$redacted"], true);
    assert!(e1["data"]["config"]["apiKey"].get("fingerprint").is_none());
    let e2: serde_json::Value = s.get("/v1/events/e-2", &key).json().unwrap();
    let changes = e2["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{e2}");
    assert_eq!(changes[0]["field"], "client_secret");
    assert_eq!(changes[0]["before"]["$redacted"], true);
    assert_eq!(
        changes[1],
        json!({"field": "mode", "before": "test", "after": "live"})
    );
    // Retrying the same events is still idempotent: redaction is deterministic per tenant.
    let again = s.post_json("/v1/events", &key, &json!([a, b]));
    assert_eq!(again.status(), 200);
    assert!(s.stop());

    let mut files = vec![dir.path().join("server.log")];
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(files.iter().any(|f| f.ends_with("sealbook.db")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for secret in SECRETS {
            let digits: String = secret.chars().filter(char::is_ascii_digit).collect();
            for needle in [secret.to_string(), digits.clone()] {
                if needle.len() < 12 {
                    continue;
                }
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle:?} found in {}",
                    f.display()
                );
            }
        }
    }
}

/// An investigator can ask whether a redacted value was X: only with `tenant:admin`, only in their
/// tenant, the question is audited, and X is never stored.
#[test]
fn redaction_match_answers_yes_or_no_and_is_audited() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, writer) = s.create_key("acme", &["events:write", "events:read"]);
    let (admin_id, admin) = s.create_key("acme", &["tenant:admin", "events:read"]);
    s.create_tenant("globex");
    let (_, other) = s.create_key("globex", &["tenant:admin"]);
    let ev = json!({"id": "login-1", "type": "user.login_failed", "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1"}, "subject": {"type": "user", "id": "u-1"},
        "data": {"password": "Tr0ub4dor&3-candidate"}});
    s.ingest(&writer, &json!([ev]));
    let ask = |key: &str, value: serde_json::Value, id: &str, path: &str| {
        s.post_json(
            "/v1/redactions/match",
            key,
            &json!({"value": value, "event_id": id, "path": path}),
        )
    };
    let yes = ask(
        &admin,
        json!("Tr0ub4dor&3-candidate"),
        "login-1",
        "/data/password",
    );
    assert_eq!(yes.status(), 200);
    assert_eq!(
        yes.json::<serde_json::Value>().unwrap(),
        json!({"match": true})
    );
    let no: serde_json::Value = ask(
        &admin,
        json!("correct-horse-guess-99"),
        "login-1",
        "/data/password",
    )
    .json()
    .unwrap();
    assert_eq!(no, json!({"match": false}));
    assert_eq!(
        ask(&writer, json!("x"), "login-1", "/data/password").status(),
        403
    );
    assert_eq!(
        ask(&admin, json!("x"), "login-1", "/actor/id").status(),
        422,
        "not a redacted value"
    );
    let unknown = ask(&admin, json!("x"), "nope", "/data/password");
    assert_eq!(unknown.status(), 404);
    let foreign = ask(&other, json!("x"), "login-1", "/data/password");
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        foreign.json::<serde_json::Value>().unwrap(),
        unknown.json::<serde_json::Value>().unwrap(),
        "another tenant's event answers like an unknown one"
    );

    let audit = s.all_events(&admin, "&type=audit_log.redaction_matched");
    assert_eq!(audit.len(), 2, "every question is in the log");
    assert_eq!(audit[0]["actor"]["id"], admin_id);
    assert_eq!(
        audit[1]["data"],
        json!({"path": "/data/password", "matched": true})
    );
    assert!(s.stop());
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in ["correct-horse-guess-99", "Tr0ub4dor&3-candidate"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} stored"
            );
        }
    }
}
