//! End to end: the catalog on ingest and on read. Unknown types and data that break a type's schema
//! are refused with the event's position and the JSON pointer; tenants allowed open types store
//! unknown types marked uncatalogued; events read back carry their label; `GET /v1/catalog` is the
//! document a compliance officer reads; `sealbook catalog lint` finds problems with their lines.

mod common;

use common::{tempdir, Server, BIN};
use serde_json::{json, Value};

fn base(id: &str, ty: &str) -> Value {
    json!({"id": id, "type": ty, "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada Lovelace"},
        "subject": {"type": "order", "id": "o-1"}, "refs": {"order_number": "PO-1"}})
}

#[test]
fn ingest_enforces_the_catalog_and_reads_carry_labels() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--open-types", "sandbox"]);
    let key = s.tenant_with_key("acme");
    let before = s.all_events(&key, "").len();

    let mut bad_data = base("e2", "order.created");
    bad_data["data"] = json!({"total": "free"});
    let mut no_reason = base("e3", "override.applied");
    no_reason["data"] = json!({});
    let r = s.post_json(
        "/v1/events",
        &key,
        &json!([
            base("e1", "made.up"),
            bad_data,
            no_reason,
            base("ok", "order.created")
        ]),
    );
    assert_eq!(r.status(), 422);
    let p: Value = r.json().unwrap();
    let errors: Vec<(u64, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_u64().unwrap(),
                e["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(errors.contains(&(0, "/type".into())), "{p}");
    assert!(errors.contains(&(1, "/data/total".into())), "{p}");
    assert!(errors.contains(&(2, "/reason/code".into())), "{p}");
    assert_eq!(
        s.all_events(&key, "").len(),
        before,
        "nothing of the batch was stored"
    );

    let mut changed = base("s1", "order.status_changed");
    changed["changes"] = json!([{"field": "status", "before": "open", "after": "shipped"}]);
    s.ingest(&key, &json!([changed]));
    let e: Value = s.get("/v1/events/s1", &key).json().unwrap();
    assert_eq!(
        e["label"],
        "Ada Lovelace changed order PO-1 status from open to shipped"
    );

    // A tenant allowed open types stores unknown types, marked.
    let sandbox = s.tenant_with_key("sandbox");
    s.ingest(&sandbox, &json!([base("x1", "made.up")]));
    let e: Value = s.get("/v1/events/x1", &sandbox).json().unwrap();
    assert_eq!(e["uncatalogued"], true);
    assert!(e.get("label").is_none());

    // Paths the catalog declares personal are committed in the leaf like the envelope's own.
    let mut invited = base("i1", "user.invited");
    invited["data"] = json!({"role": "viewer", "email": "new.person@example.com"});
    s.ingest(&key, &json!([invited]));
    let e: Value = s.get("/v1/events/i1", &key).json().unwrap();
    assert_eq!(
        e["data"]["email"], "new.person@example.com",
        "the reader sees the value"
    );
    let r = s
        .http
        .post(format!("{}/v1/log/checkpoint", s.url))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let bundle = s.get("/v1/log/tile/entries/000.p/3", &key).bytes().unwrap();
    let text = String::from_utf8_lossy(&bundle);
    assert!(
        !text.contains("new.person@example.com"),
        "the leaf holds only a commitment"
    );
    assert!(text.contains("\"email\":{\"$commitment\""), "{text}");

    let c: Value = s.get("/v1/catalog", &key).json().unwrap();
    let types = c["types"].as_array().unwrap();
    assert!(types.len() >= 27);
    let o = types
        .iter()
        .find(|t| t["name"] == "override.applied")
        .unwrap();
    assert_eq!(o["versions"][0]["requires"], json!(["reason.code"]));
    assert!(o["controls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "SOC2:CC5.3"));
    assert!(o["ocsf"]["class_uid"].is_u64());
}

#[test]
fn catalog_lint_names_the_line() {
    let dir = tempdir();
    let ok = std::process::Command::new(BIN)
        .args(["catalog", "builtin"])
        .output()
        .unwrap();
    let builtin = dir.path().join("builtin.toml");
    std::fs::write(&builtin, &ok.stdout).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["catalog", "lint"])
        .arg(&builtin)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let broken = String::from_utf8(ok.stdout).unwrap().replacen(
        "severity = \"info\"",
        "severity = \"urgent\"",
        1,
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, broken).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["catalog", "lint"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(":line ") && text.contains("severity must be one of"),
        "{text}"
    );
}
