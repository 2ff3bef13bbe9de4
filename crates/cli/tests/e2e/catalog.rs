//! End to end: the catalog on ingest and on read. Unknown types and data that break a type's schema
//! are refused with the event's position and the JSON pointer; tenants allowed open types store
//! unknown types marked uncatalogued; events read back carry their label; `GET /v1/catalog` is the
//! document a compliance officer reads; `sealbook catalog lint` finds problems with their lines.

use crate::common::{tempdir, Server, ALL_SCOPES, BIN};
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

/// `sealbook catalog lint FILE`: exit code and what it printed.
fn lint(file: &std::path::Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(BIN)
        .args(["catalog", "lint"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The built-in catalog, printed as TOML and as YAML, lints clean; a broken severity is reported
/// with the line of its type (the first type of each file).
#[test]
fn catalog_lint_names_the_line() {
    let dir = tempdir();
    for (args, ext, good, bad, at) in [
        (
            &["catalog", "builtin"][..],
            "toml",
            "severity = \"info\"",
            "severity = \"urgent\"",
            "line 11: user.login_succeeded",
        ),
        (
            &["catalog", "builtin", "--yaml"][..],
            "yaml",
            "severity: medium",
            "severity: urgent",
            "line 2: api_key.created",
        ),
    ] {
        let printed = std::process::Command::new(BIN).args(args).output().unwrap();
        let builtin = dir.path().join(format!("builtin.{ext}"));
        std::fs::write(&builtin, &printed.stdout).unwrap();
        let (code, text) = lint(&builtin);
        assert_eq!(code, Some(0), "{text}");
        let broken = String::from_utf8(printed.stdout)
            .unwrap()
            .replacen(good, bad, 1);
        let file = dir.path().join(format!("bad.{ext}"));
        std::fs::write(&file, broken).unwrap();
        let (code, text) = lint(&file);
        assert_eq!(code, Some(1));
        assert!(
            text.contains(&format!(":{at}: severity must be one of")),
            "{ext}: {text}"
        );
    }
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
    let put = |key: &str, name: &str, body: &Value| put_type(&s, key, name, body);
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
    let settings =
        |on: bool| s.put_json("/v1/catalog/settings", &admin, &json!({"open_types": on}));
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

/// A client cannot write Sealbook's own records: the reserved types are refused on ingest (a
/// `catalog.type_changed` sent by a writer would otherwise change the tenant's catalog), and the
/// `recorded_by` mark cannot be sent. Sealbook's own records carry it.
#[test]
fn clients_cannot_forge_sealbook_records() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--open-types", "*"]);
    s.create_tenant("acme");
    let (_, writer) = s.create_key("acme", &["events:write", "events:read"]);
    let (_, admin) = s.create_key("acme", &["tenant:admin", "events:read"]);
    let mut forged = base("f1", "catalog.type_changed");
    forged["data"] = json!({"type": "invoice.paid", "definition": invoice_type(json!([v1()]))});
    let mut settings = base("f2", "catalog.settings_changed");
    settings["data"] = json!({"open_types": false});
    let mut marked = base("f3", "order.created");
    marked["recorded_by"] = json!("sealbook");
    let r = s.post_json("/v1/events", &writer, &json!([marked]));
    assert_eq!(r.status(), 422);
    let p: Value = r.json().unwrap();
    assert_eq!(
        p["errors"][0]["path"], "/recorded_by",
        "not an envelope field: {p}"
    );
    // Nor an operator's access to the tenant, which its admins rely on to see who looked.
    let mut access = base("f4", "operator.access_started");
    access["data"] = json!({"access": "acc_x", "expires_at": "2026-12-03T10:00:00Z"});
    let r = s.post_json("/v1/events", &writer, &json!([access]));
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("written by Sealbook itself"));
    let r = s.post_json("/v1/events", &writer, &json!([forged, settings]));
    assert_eq!(r.status(), 422, "even with open types");
    let p: Value = r.json().unwrap();
    let errors = p["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["event"] == 0
            && e["path"] == "/type"
            && e["problem"]
                .as_str()
                .unwrap()
                .contains("written by Sealbook itself")),
        "{p}"
    );
    assert!(errors
        .iter()
        .any(|e| e["event"] == 1 && e["path"] == "/type"));
    let c: Value = s.get("/v1/catalog", &admin).json().unwrap();
    assert!(c["types"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["scope"] == "platform"));
    let reserved: Vec<&str> = c["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reserved"] == true)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        reserved,
        [
            "api_key.created",
            "api_key.revoked",
            "audit_log.bulk_read",
            "audit_log.exported",
            "audit_log.personal_read",
            "audit_log.redaction_matched",
            "audit_log.settings_changed",
            "audit_log.viewed",
            "catalog.settings_changed",
            "catalog.type_changed",
            "operator.access_ended",
            "operator.access_started"
        ]
    );

    let r = put_type(&s, &admin, "invoice.paid", &invoice_type(json!([v1()])));
    assert_eq!(r.status(), 200);
    let own = s.all_events(&admin, "&type=catalog.type_changed");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["recorded_by"], "sealbook");
    assert_eq!(own[0]["data"]["previous"], Value::Null);
    assert_eq!(own[0]["data"]["source"], json!({"kind": "api"}));
    let key_created = s.all_events(&admin, "&type=api_key.created");
    assert!(key_created.iter().all(|e| e["recorded_by"] == "sealbook"));
}

fn put_type(s: &Server, token: &str, name: &str, body: &Value) -> reqwest::blocking::Response {
    s.put_json(&format!("/v1/catalog/types/{name}"), token, body)
}

fn escalated(versions: Value) -> Value {
    json!({
        "description": "A support ticket was escalated.", "owner": "support", "severity": "medium",
        "retention": "business-3y", "label": "{actor.name} escalated ticket {subject.id} to {data.tier}",
        "controls": ["SOC2:CC7.4"], "ocsf": {"class_uid": 6003, "class_name": "API Activity", "activity_id": 99},
        "versions": versions,
    })
}

fn escalated_v1() -> Value {
    json!({"version": 1, "requires": [],
        "schema": {"type": "object", "properties": {"tier": {"type": "integer"}}, "required": ["tier"]},
        "sample": {"tier": 2}, "rejected": {"tier": "two"}})
}

fn escalated_v2() -> Value {
    json!({"version": 2, "requires": [],
        "schema": {"type": "object", "properties": {"tier": {"type": "integer"}, "queue": {"type": "string"}}, "required": ["tier"]},
        "sample": {"tier": 2, "queue": "billing"}, "rejected": {"tier": 2, "queue": 7}})
}

/// Starts `sealbook serve` expecting it to refuse; returns what it wrote to stderr.
fn refused_start(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the start should have been refused");
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealbook serve did not refuse to start");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The operator changes the platform catalog through the API: every tenant inherits the type at
/// once, every change (and the built-in catalog itself) is recorded in the platform log, which the
/// operator reads with a read-only key; changes survive a restart; a catalog file that would undo
/// a published version stops the start, one that agrees is recorded.
#[test]
fn the_operator_changes_platform_types_in_an_audited_log() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let acme = s.tenant_with_key("acme");
    s.create_tenant("globex");
    let (_, globex_admin) = s.create_key("globex", &["tenant:admin", "events:read"]);

    assert_eq!(
        put_type(
            &s,
            "not-the-token",
            "ticket.escalated",
            &escalated(json!([escalated_v1()]))
        )
        .status(),
        401
    );
    let r = put_type(
        &s,
        &s.admin,
        "ticket.escalated",
        &escalated(json!([escalated_v1()])),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let body: Value = r.json().unwrap();
    assert_eq!(body["scope"], "platform");
    assert!(body["index"].is_u64());

    // Every tenant has it, validated and labelled.
    let mut t = base("t1", "ticket.escalated");
    t["subject"] = json!({"type": "ticket", "id": "T-9"});
    t["data"] = json!({"tier": 2});
    s.ingest(&acme, &json!([t.clone()]));
    let e: Value = s.get("/v1/events/t1", &acme).json().unwrap();
    assert_eq!(e["label"], "Ada Lovelace escalated ticket T-9 to 2");
    let mut bad = t.clone();
    bad["id"] = json!("t2");
    bad["data"] = json!({"tier": "two"});
    let r = s.post_json("/v1/events", &acme, &json!([bad]));
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("/data/tier"));
    let c: Value = s.get("/v1/catalog", &globex_admin).json().unwrap();
    let listed = c["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ticket.escalated")
        .expect("listed for every tenant");
    assert_eq!(listed["scope"], "platform");
    assert_eq!(
        put_type(
            &s,
            &globex_admin,
            "ticket.escalated",
            &escalated(json!([escalated_v1()]))
        )
        .status(),
        422,
        "a tenant cannot change a platform type"
    );

    // The same rules as for tenant types: published versions stay, new ones are additive; a
    // definition already in force records nothing; Sealbook's own types are not the operator's.
    let mut changed = escalated_v1();
    changed["schema"]["properties"]["tier"] = json!({"type": "string"});
    changed["sample"] = json!({"tier": "2"});
    changed["rejected"] = json!({"tier": 2});
    let r = put_type(
        &s,
        &s.admin,
        "ticket.escalated",
        &escalated(json!([changed])),
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("version 1 is published"));
    let both = escalated(json!([escalated_v1(), escalated_v2()]));
    assert_eq!(
        put_type(&s, &s.admin, "ticket.escalated", &both).status(),
        200
    );
    let again: Value = put_type(&s, &s.admin, "ticket.escalated", &both)
        .json()
        .unwrap();
    // A definition may come back: A, B, A, B are four changes, each in force in turn.
    let mut renamed = both.clone();
    renamed["description"] = json!("Escalated to a higher support tier.");
    for (body, description) in [
        (&renamed, "Escalated to a higher support tier."),
        (&both, "A support ticket was escalated."),
        (&renamed, "Escalated to a higher support tier."),
        (&both, "A support ticket was escalated."),
    ] {
        let r = put_type(&s, &s.admin, "ticket.escalated", body);
        assert_eq!(r.status(), 200, "{}", r.text().unwrap());
        let c: Value = s.get("/v1/catalog", &acme).json().unwrap();
        let t = c["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "ticket.escalated")
            .unwrap()
            .clone();
        assert_eq!(t["description"], description);
    }
    assert_eq!(again["index"], Value::Null, "no change, nothing recorded");
    let r = put_type(&s, &s.admin, "catalog.type_changed", &both);
    assert_eq!(r.status(), 422);

    // The platform log: reserved, read with a read-only key.
    let r = s.post_json("/v1/tenants", &s.admin, &json!({"id": "platform"}));
    assert_eq!(r.status(), 422);
    let r = s.post_json(
        "/v1/tenants/platform/keys",
        &s.admin,
        &json!({"scopes": ["events:read", "events:write"]}),
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("/scopes/1"));
    let (_, platform) = s.create_key("platform", &["events:read", "events:export"]);
    let c: Value = s.get("/v1/catalog", &platform).json().unwrap();
    assert!(c["types"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["scope"] == "platform"));
    let changes = s.all_events(&platform, "&type=catalog.type_changed");
    let builtin = sealbook_catalog::Catalog::builtin().types().count();
    assert_eq!(
        changes.len(),
        builtin + 6,
        "the built-in types and six changes"
    );
    let api: Vec<&Value> = changes
        .iter()
        .filter(|e| e["data"]["source"]["kind"] == "api")
        .collect();
    assert_eq!(api[0]["actor"]["id"], "platform-operator");
    assert_eq!(api[0]["recorded_by"], "sealbook");
    assert_eq!(api.len(), 6);
    assert!(
        api[4]["data"]["diff"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "versions[1]"),
        "adding version 2: {}",
        api[4]["data"]["diff"]
    );
    assert_eq!(
        api[0]["data"]["diff"],
        json!([{"field": "description", "before": "Escalated to a higher support tier.", "after": "A support ticket was escalated."}])
    );
    assert_eq!(
        api[0]["data"]["previous"].as_str(),
        Some(sealbook_catalog::definition_hash(&api[1]["data"]["definition"]).as_str()),
        "a change names the definition it replaces"
    );
    assert!(changes
        .iter()
        .filter(|e| e["data"]["source"]["kind"] == "builtin")
        .all(|e| e["actor"]["id"] == "sealbook"));
    // The platform log is a log like any other: signed and provable.
    let r = s.post_empty("/v1/log/checkpoint", &platform);
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .unwrap()
        .starts_with("sealbook.localhost/platform\n"));

    // A restart: the change is still in force, and nothing new is recorded.
    assert!(s.stop());
    let s = Server::start(dir.path());
    let mut t3 = t.clone();
    t3["id"] = json!("t3");
    t3["schema_version"] = json!(2);
    t3["data"] = json!({"tier": 3, "queue": 5});
    let r = s.post_json("/v1/events", &acme, &json!([t3.clone()]));
    assert_eq!(r.status(), 422, "version 2 is in force after a restart");
    assert_eq!(
        s.all_events(&platform, "&type=catalog.type_changed").len(),
        builtin + 6
    );
    assert!(s.stop());

    // A catalog file with an older copy of the type (version 1 only): behind the definition in
    // force, which stays; the node starts and warns.
    let file = dir.path().join("catalog.toml");
    let v1_file = |tier: &str| {
        format!(
            r#"[[type]]
name = "ticket.escalated"
description = "A support ticket was escalated."
owner = "support"
severity = "medium"
retention = "business-3y"
label = "{{actor.name}} escalated ticket {{subject.id}} to {{data.tier}}"
controls = ["SOC2:CC7.4"]
ocsf = {{ class_uid = 6003, class_name = "API Activity", activity_id = 99 }}
[[type.version]]
version = 1
schema = '{{"type": "object", "properties": {{"tier": {{"type": "{tier}"}}}}, "required": ["tier"]}}'
sample = '{{"tier": {sample}}}'
rejected = '{{"tier": {rejected}}}'
"#,
            sample = if tier == "integer" { "2" } else { "\"2\"" },
            rejected = if tier == "integer" { "\"two\"" } else { "2" },
        )
    };
    std::fs::write(&file, v1_file("integer")).unwrap();
    let file_arg = file.to_str().unwrap();
    let s = Server::start_with(dir.path(), &["--catalog-file", file_arg]);
    let r = s.post_json("/v1/events", &acme, &json!([t3.clone()]));
    assert_eq!(r.status(), 422, "version 2 is still in force");
    assert_eq!(
        s.all_events(&platform, "&type=catalog.type_changed").len(),
        builtin + 6,
        "nothing recorded"
    );
    assert!(s.stop());
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains("older definition of this type") && log.contains("ticket.escalated"),
        "the operator is told"
    );

    // A file that contradicts a published version stops the start, naming the type.
    std::fs::write(&file, v1_file("string")).unwrap();
    let err = refused_start(dir.path(), &["--catalog-file", file_arg]);
    assert!(
        err.contains("ticket.escalated") && err.contains("version 1 is published"),
        "{err}"
    );
    std::fs::write(&file, v1_file("integer")).unwrap();

    // The file brought up to date: recorded as the file's, with an empty diff.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(
        r#"[[type.version]]
version = 2
schema = '{"type": "object", "properties": {"tier": {"type": "integer"}, "queue": {"type": "string"}}, "required": ["tier"]}'
sample = '{"tier": 2, "queue": "billing"}'
rejected = '{"tier": 2, "queue": 7}'
"#,
    );
    std::fs::write(&file, text).unwrap();
    let s = Server::start_with(dir.path(), &["--catalog-file", file_arg]);
    let changes = s.all_events(&platform, "&type=catalog.type_changed");
    assert_eq!(changes.len(), builtin + 7);
    assert_eq!(changes[0]["data"]["source"]["kind"], "file");
    assert_eq!(changes[0]["data"]["source"]["path"], file_arg);
    assert_eq!(changes[0]["data"]["diff"], json!([]), "the file agrees");
    t3["data"] = json!({"tier": 3, "queue": "billing"});
    s.ingest(&acme, &json!([t3]));
}

/// `sealbook catalog apply` sends a file's types (YAML here) to a running server: the platform's
/// with the operator token, a tenant's own with its admin key; a second run changes nothing; a
/// refused change exits 1 and says why.
#[test]
fn catalog_apply_sends_a_files_types() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, admin) = s.create_key("acme", &["tenant:admin", "events:read", "events:write"]);
    let token_file = s.data_dir.join("admin-token");
    let yaml = |desc: &str, tier: &str| {
        format!(
            "types:
  - name: ticket.escalated
    description: {desc}
    owner: support
    severity: medium
    retention: business-3y
    label: '{{actor.name}} escalated {{subject.id}}'
    ocsf: {{class_uid: 6003, class_name: API Activity, activity_id: 99}}
    versions:
      - version: 1
        schema: {{type: object, properties: {{tier: {{type: {tier}}}}}}}
        sample: {{}}
        rejected: {{tier: [1]}}
"
        )
    };
    let file = dir.path().join("types.yaml");
    std::fs::write(&file, yaml("Escalated.", "integer")).unwrap();
    let apply = |extra: &[&str]| {
        std::process::Command::new(BIN)
            .args(["catalog", "apply"])
            .arg(&file)
            .args(["--url", &s.url])
            .args(extra)
            .env_remove("SEALBOOK_KEY")
            .output()
            .unwrap()
    };
    let token = ["--admin-token-file", token_file.to_str().unwrap()];
    let out = apply(&token);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ticket.escalated: changed (platform catalog, recorded at index"),
        "{text}"
    );
    let out = apply(&token);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ticket.escalated: already in force"));
    let mut t = base("t1", "ticket.escalated");
    t["data"] = json!({"tier": 1});
    s.ingest(&admin, &json!([t]));

    // Version 1 is published: changing it is refused, with the reason.
    std::fs::write(&file, yaml("Escalated.", "string")).unwrap();
    let out = apply(&token);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("refused") && text.contains("version 1 is published"),
        "{text}"
    );

    // A tenant admin key applies the file to the tenant's own types.
    let own = dir.path().join("own.yml");
    std::fs::write(
        &own,
        yaml("Ours.", "integer").replace("ticket.escalated", "ticket.reopened"),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["catalog", "apply"])
        .arg(&own)
        .args(["--url", &s.url, "--key", &admin])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("ticket.reopened: changed (tenant catalog"),
        "{text}"
    );
}

/// What Sealbook records itself follows the catalog it publishes: every event marked
/// `recorded_by` (key creation, a redaction question, an export, catalog and settings changes)
/// passes the built-in catalog's check for its type, as a client's event would.
#[test]
fn sealbooks_own_records_follow_the_published_catalog() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", ALL_SCOPES);
    let ev = json!({"id": "login-1", "type": "user.login_failed", "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1"}, "subject": {"type": "user", "id": "u-1"},
        "data": {"password": "Tr0ub4dor&3-candidate"}});
    s.ingest(&key, &json!([ev]));
    let r = s.post_json(
        "/v1/redactions/match",
        &key,
        &json!({"value": "guess-1234567", "event_id": "login-1", "path": "/data/password"}),
    );
    assert_eq!(r.status(), 200);
    let r = s.get("/v1/exports/events?format=jsonl", &key);
    assert_eq!(r.status(), 200);
    r.text().unwrap();
    let r = put_type(&s, &key, "invoice.paid", &invoice_type(json!([v1()])));
    assert_eq!(r.status(), 200);
    let r = s.put_json("/v1/catalog/settings", &key, &json!({"open_types": true}));
    assert_eq!(r.status(), 200);

    let catalog = sealbook_catalog::Catalog::builtin();
    let tenant = sealbook_domain::TenantId::parse("acme").unwrap();
    let own: Vec<Value> = s
        .all_events(&key, "")
        .into_iter()
        .filter(|e| e["recorded_by"] == "sealbook")
        .collect();
    let mut types: Vec<&str> = own.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "api_key.created",
            "audit_log.exported",
            "audit_log.redaction_matched",
            "catalog.settings_changed",
            "catalog.type_changed"
        ]
    );
    for e in own {
        let mut envelope = e.clone();
        let m = envelope.as_object_mut().unwrap();
        for view_only in ["index", "leaf_hash", "received_at", "label", "recorded_by"] {
            m.remove(view_only);
        }
        let valid = sealbook_domain::parse_batch(
            envelope.to_string().as_bytes(),
            sealbook_domain::BodyFormat::Json,
            &tenant,
            &Default::default(),
        )
        .unwrap_or_else(|err| panic!("{}: {err:?}", e["type"]))
        .remove(0);
        assert_eq!(catalog.check(&valid), Ok(true), "{e}");
    }
}

/// Sealbook's namespaces (`api_key.*`, `audit_log.*`, `catalog.*`, `sealbook.*`) are reserved:
/// a client can send no look-alike of Sealbook's records, neither a built-in type Sealbook writes
/// nor an open type in those namespaces, and no catalog change may define a type there (the
/// tenant's nor the operator's). Nothing is stored; Sealbook's own records still carry the types.
#[test]
fn sealbooks_namespaces_are_reserved() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--open-types", "*"]);
    s.create_tenant("acme");
    let (_, writer) = s.create_key("acme", &["events:write", "events:read"]);
    let (_, admin) = s.create_key("acme", &["tenant:admin", "events:read"]);
    let look_alikes = [
        "api_key.created",
        "api_key.revoked",
        "audit_log.exported",
        "api_key.rotated",
        "sealbook.anything",
        "catalog.made_up",
    ];
    let batch: Vec<Value> = look_alikes
        .iter()
        .enumerate()
        .map(|(i, t)| base(&format!("l{i}"), t))
        .collect();
    let r = s.post_json("/v1/events", &writer, &json!(batch));
    assert_eq!(r.status(), 422, "even with open types");
    let p: Value = r.json().unwrap();
    for (i, t) in look_alikes.iter().enumerate() {
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"] == i
                    && e["path"] == "/type"
                    && e["problem"].as_str().unwrap().contains(t)),
            "{t}: {p}"
        );
    }
    assert!(
        s.all_events(&admin, "&recorded_by=client").is_empty(),
        "nothing stored"
    );
    for name in [
        "api_key.rotated",
        "sealbook.thing",
        "audit_log.viewed_twice",
    ] {
        let r = put_type(&s, &admin, name, &invoice_type(json!([v1()])));
        assert_eq!(r.status(), 422, "{name}");
        let r = put_type(&s, &s.admin, name, &invoice_type(json!([v1()])));
        assert_eq!(r.status(), 422, "{name}, by the operator");
    }
    let own = s.all_events(&admin, "&type=api_key.created&recorded_by=sealbook");
    assert_eq!(own.len(), 2, "Sealbook still records its own");
}
