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
    let r = s.post_empty("/v1/log/checkpoint", &key);
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

fn invoice_type(versions: Value) -> Value {
    json!({
        "description": "An invoice was paid.", "owner": "billing", "severity": "info",
        "retention": "business-7y", "label": "{actor.name} recorded payment of {refs.invoice}",
        "controls": ["SOC2:PI1.3"], "ocsf": {"class_uid": 6003, "class_name": "API Activity", "activity_id": 99},
        "versions": versions,
    })
}

fn v1() -> Value {
    json!({"version": 1, "requires": ["refs.invoice"],
        "schema": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]},
        "sample": {"amount": 10}, "rejected": {"amount": "ten"}})
}

/// A tenant adds its own type: enforced for it alone, evolved additively, every change audited with
/// its diff, and rebuilt from the log after a restart.
#[test]
fn tenants_add_their_own_types() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, admin) = s.create_key("acme", &["tenant:admin", "events:read", "events:write"]);
    let (_, writer) = s.create_key("acme", &["events:write"]);
    let other = s.tenant_with_key("globex");
    let put = |key: &str, name: &str, body: &Value| {
        s.http
            .put(format!("{}/v1/catalog/types/{name}", s.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .unwrap()
    };
    assert_eq!(
        put(&writer, "invoice.paid", &invoice_type(json!([v1()]))).status(),
        403
    );
    assert_eq!(
        put(&admin, "order.created", &invoice_type(json!([v1()]))).status(),
        422,
        "platform types are not the tenant's"
    );
    let r = put(&admin, "invoice.paid", &invoice_type(json!([v1()])));
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());

    let mut paid = base("p1", "invoice.paid");
    paid["refs"] = json!({"invoice": "INV-7"});
    paid["data"] = json!({"amount": 99.5});
    s.ingest(&admin, &json!([paid.clone()]));
    let e: Value = s.get("/v1/events/p1", &admin).json().unwrap();
    assert_eq!(e["label"], "Ada Lovelace recorded payment of INV-7");
    let mut bad = paid.clone();
    bad["id"] = json!("p2");
    bad["data"] = json!({"amount": "lots"});
    let r = s.post_json("/v1/events", &admin, &json!([bad]));
    assert_eq!(r.status(), 422);
    let r = s.post_json("/v1/events", &other, &json!([paid.clone()]));
    assert_eq!(r.status(), 422, "another tenant does not have the type");

    // Published versions never change; a breaking version is refused, an additive one accepted.
    let mut changed = v1();
    changed["schema"]["properties"]["amount"] = json!({"type": "string"});
    changed["sample"] = json!({"amount": "10"});
    changed["rejected"] = json!({"amount": 10});
    let r = put(&admin, "invoice.paid", &invoice_type(json!([changed])));
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("version 1 is published"));
    let breaking = json!({"version": 2, "requires": ["refs.invoice"],
        "schema": {"type": "object", "properties": {"amount": {"type": "string"}}},
        "sample": {"amount": "1"}, "rejected": {"amount": 1}});
    let r = put(
        &admin,
        "invoice.paid",
        &invoice_type(json!([v1(), breaking])),
    );
    assert_eq!(r.status(), 422);
    assert!(r
        .text()
        .unwrap()
        .contains("changes the type of \\\"amount\\\""));
    let additive = json!({"version": 2, "requires": ["refs.invoice"],
        "schema": {"type": "object", "properties": {"amount": {"type": "number"}, "method": {"type": "string"}}, "required": ["amount"]},
        "sample": {"amount": 1, "method": "card"}, "rejected": {"amount": 1, "method": 5}});
    assert_eq!(
        put(
            &admin,
            "invoice.paid",
            &invoice_type(json!([v1(), additive]))
        )
        .status(),
        200
    );

    let changes = s.all_events(&admin, "&type=catalog.type_changed");
    assert_eq!(changes.len(), 2, "every change is audited");
    let diff = changes[0]["data"]["diff"].as_array().unwrap();
    assert!(diff.iter().any(|d| d["field"] == "versions[1]"), "{diff:?}");
    let c: Value = s.get("/v1/catalog", &admin).json().unwrap();
    let mine = c["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "invoice.paid")
        .unwrap();
    assert_eq!(mine["scope"], "tenant");
    assert_eq!(mine["versions"].as_array().unwrap().len(), 2);

    // The tenant's admin turns open types on: unknown types are stored, marked; the switch is
    // audited.
    let settings = |on: bool| {
        s.http
            .put(format!("{}/v1/catalog/settings", s.url))
            .bearer_auth(&admin)
            .json(&json!({"open_types": on}))
            .send()
            .unwrap()
    };
    assert_eq!(
        s.post_json("/v1/events", &admin, &json!([base("u1", "made.up")]))
            .status(),
        422
    );
    assert_eq!(settings(true).status(), 200);
    s.ingest(&admin, &json!([base("u2", "made.up")]));
    let e: Value = s.get("/v1/events/u2", &admin).json().unwrap();
    assert_eq!(e["uncatalogued"], true);
    let switched = s.all_events(&admin, "&type=catalog.settings_changed");
    assert_eq!(
        switched[0]["changes"][0],
        json!({"field": "open_types", "before": false, "after": true})
    );

    // After a restart the node rebuilds the tenant's types and settings from its log.
    assert!(s.stop());
    let s = Server::start(dir.path());
    let mut again = paid.clone();
    again["id"] = json!("p3");
    again["schema_version"] = json!(2);
    again["data"] = json!({"amount": 5, "method": 7});
    let r = s.post_json("/v1/events", &admin, &json!([again.clone()]));
    assert_eq!(r.status(), 422, "version 2 is enforced after a restart");
    assert!(r.text().unwrap().contains("/data/method"));
    again["data"] = json!({"amount": 5, "method": "card"});
    s.ingest(&admin, &json!([again]));
    s.ingest(&admin, &json!([base("u3", "made.up")]));
}
