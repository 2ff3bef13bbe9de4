//! The built-in catalog: it compiles, every type accepts its sample and refuses its rejected
//! sample (through the same validation ingest uses), labels render without secrets, and the lint
//! finds broken files with their lines.

use sealbook_catalog::Catalog;
use sealbook_domain::{parse_batch, BodyFormat, Limits, TenantId};
use serde_json::{json, Value};

/// A full event of `ty` with `data`, carrying every envelope field any type may require.
fn event(ty: &str, data: &Value) -> Value {
    json!({
        "type": ty, "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada Lovelace"},
        "subject": {"type": "order", "id": "o-1", "name": "Order 1"},
        "impersonation": {"session_id": "imp-1"},
        "reason": {"code": "customer_request"},
        "context": {"correlation_id": "req-7"},
        "refs": {"order_number": "PO-1"},
        "changes": [{"field": "status", "before": "open", "after": "shipped"}],
        "data": data,
    })
}

fn check(c: &Catalog, e: &Value) -> Result<bool, Vec<sealbook_domain::FieldError>> {
    let t = TenantId::parse("acme").unwrap();
    let v = parse_batch(
        e.to_string().as_bytes(),
        BodyFormat::Json,
        &t,
        &Limits::default(),
    )
    .expect("the envelope itself is valid")
    .remove(0);
    c.check(&v)
}

#[test]
fn every_builtin_type_accepts_its_sample_and_refuses_its_rejected_one() {
    let c = Catalog::builtin();
    let names: Vec<String> = c.types().map(|t| t.name.clone()).collect();
    for required in [
        "user.login_succeeded",
        "user.login_failed",
        "user.logout",
        "user.mfa_changed",
        "user.password_changed",
        "user.session_revoked",
        "user.invited",
        "user.deactivated",
        "user.role_assigned",
        "user.role_revoked",
        "api_key.created",
        "api_key.revoked",
        "impersonation.started",
        "impersonation.ended",
        "data.exported",
        "config.changed",
        "approval.granted",
        "approval.denied",
        "override.applied",
        "order.status_changed",
        "integration.requested",
        "integration.succeeded",
        "integration.failed",
        "integration.replayed",
        "integration.reversed",
        "integration.manual_intervention",
        "audit_log.exported",
        "audit_log.viewed",
        "authz.denied",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "{required} missing from the built-in catalog"
        );
    }
    for name in &names {
        let (sample, rejected) = c.samples(name).unwrap();
        assert_eq!(check(&c, &event(name, sample)), Ok(true), "{name} sample");
        let errs = check(&c, &event(name, rejected)).expect_err(name);
        assert!(
            errs.iter()
                .all(|e| e.event == Some(0) && e.path.starts_with("/data")),
            "{name}: {errs:?}"
        );
        let info = c.get(name).unwrap();
        assert!(
            !info.controls.is_empty() && !info.owner.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn required_envelope_fields_unknown_types_and_versions() {
    let c = Catalog::builtin();
    let mut e = event("override.applied", &json!({}));
    e.as_object_mut().unwrap().remove("reason");
    let errs = check(&c, &e).unwrap_err();
    assert_eq!(errs[0].path, "/reason/code");
    assert_eq!(
        check(&c, &event("made.up", &json!({}))),
        Ok(false),
        "unknown: the caller decides"
    );
    let mut e = event("order.created", &json!({}));
    e["schema_version"] = json!(9);
    assert_eq!(check(&c, &e).unwrap_err()[0].path, "/schema_version");
    // Errors name the JSON pointer inside data.
    let errs = check(&c, &event("order.created", &json!({"total": "free"}))).unwrap_err();
    assert_eq!(errs[0].path, "/data/total");
}

#[test]
fn labels_render_values_and_never_secrets() {
    let c = Catalog::builtin();
    let view = event("order.status_changed", &json!({}));
    assert_eq!(
        c.label(&view).unwrap(),
        "Ada Lovelace changed order PO-1 status from open to shipped"
    );
    let mut v = event("override.applied", &json!({}));
    v["reason"]["code"] =
        json!({"$redacted": true, "preview": "****", "fingerprint": "hmac-sha256:00"});
    assert_eq!(
        c.label(&v).unwrap(),
        "Ada Lovelace overrode order o-1: [redacted]"
    );
    let mut v = event("user.invited", &json!({}));
    v["actor"]["name"] = json!({"$commitment": "sha256:00"});
    assert_eq!(c.label(&v).unwrap(), "[masked] invited o-1 as ?");
    assert!(c.label(&event("made.up", &json!({}))).is_none());
}

#[test]
fn lint_reports_lines_and_breaking_versions() {
    let err = Catalog::parse("[[type]]\nname = \"a.b\"\nseverity = \n").unwrap_err();
    assert_eq!(err[0].line, Some(3), "{err:?}");
    let file = r#"
[[type]]
name = "order.created"
description = "d"
owner = "o"
severity = "info"
retention = "r"
label = "l"
ocsf = { class_uid = 1, class_name = "c", activity_id = 1 }
[[type.version]]
version = 1
schema = '{"type":"object","properties":{"total":{"type":"number"}},"required":[]}'
sample = '{"total":1}'
rejected = '{"total":"x"}'
[[type.version]]
version = 2
schema = '{"type":"object","properties":{"total":{"type":"string"}},"required":["total"]}'
sample = '{"total":"1"}'
rejected = '{"total":1}'
"#;
    let err = Catalog::parse(file).unwrap_err();
    let text: Vec<String> = err.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("line 17:") && t.contains("changes the type of \"total\"")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("makes \"total\" required")),
        "{text:?}"
    );
    let additive = file.replace(
        r#"{"type":"object","properties":{"total":{"type":"string"}},"required":["total"]}"#,
        r#"{"type":"object","properties":{"total":{"type":"number"},"note":{"type":"string"}}}"#,
    ).replace(r#"sample = '{"total":"1"}'"#, r#"sample = '{"total":1,"note":"n"}'"#)
     .replace(r#"rejected = '{"total":1}'"#, r#"rejected = '{"note":5}'"#);
    Catalog::parse(&additive).expect("adding an optional property is fine");
    let bad_name = file.replace("order.created", "Order");
    assert!(Catalog::parse(&bad_name).is_err());
}

#[test]
fn definitions_from_json_compile_and_check() {
    let def = json!({
        "description": "d", "owner": "o", "severity": "info", "retention": "r", "label": "l",
        "controls": [], "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
        "versions": [
            {"version": 1, "requires": [], "schema": {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]},
             "sample": {"amount": 10}, "rejected": {"amount": "ten"}},
            {"version": 2, "requires": [], "schema": {"type": "object", "properties": {"amount": {"type": "number"}, "method": {"type": "string"}}, "required": ["amount"]},
             "sample": {"amount": 1, "method": "card"}, "rejected": {"amount": 1, "method": 5}},
        ],
    });
    let c = Catalog::from_definition("invoice.paid", &def).unwrap();
    // An event names its version; without one it is version 1 (the envelope's default).
    let mut e = event("invoice.paid", &json!({"amount": 5, "method": 7}));
    assert_eq!(check(&c, &e), Ok(true), "version 1 does not know method");
    e["schema_version"] = json!(2);
    assert_eq!(check(&c, &e).unwrap_err()[0].path, "/data/method");
    e["data"]["method"] = json!("card");
    assert_eq!(check(&c, &e), Ok(true));
}

#[test]
fn every_definition_compiles_back_to_the_same_type() {
    let c = Catalog::builtin();
    for t in c.types() {
        let def = c.definition(&t.name).unwrap();
        let back = Catalog::from_definition(&t.name, def).unwrap();
        assert_eq!(back.definition(&t.name), Some(def), "{}", t.name);
        assert_eq!(
            sealbook_catalog::definition_hash(back.definition(&t.name).unwrap()),
            sealbook_catalog::definition_hash(def)
        );
        assert!(c.replacement_problems(&t.name, &back).is_empty());
    }
}

#[test]
fn yaml_round_trips_the_builtin_catalog() {
    let c = Catalog::builtin();
    let yaml = c.to_yaml();
    let back = Catalog::parse_yaml(&yaml).unwrap();
    assert_eq!(back.types().count(), c.types().count());
    for t in c.types() {
        assert_eq!(
            back.definition(&t.name),
            c.definition(&t.name),
            "{}",
            t.name
        );
    }
    let path = std::path::Path::new("catalog.yml");
    assert!(Catalog::parse_file(path, &yaml).is_ok());
    assert!(
        Catalog::parse_file(std::path::Path::new("catalog.toml"), &yaml).is_err(),
        "by name: not TOML"
    );
}

#[test]
fn yaml_problems_carry_their_lines() {
    let text = "types:
  - name: ticket.escalated
    description: A ticket was escalated.
    owner: support
    severity: medium
    retention: business-3y
    label: '{actor.name} escalated {subject.id}'
    ocsf: {class_uid: 6003, class_name: API Activity, activity_id: 99}
    versions:
      - version: 1
        schema: {type: object, properties: {tier: {type: integer}}}
        sample: {tier: 1}
        rejected: {tier: one}
      - version: 2
        schema: {type: object, properties: {tier: {type: string}}}
        sample: {tier: '1'}
        rejected: {tier: 1}
  - name: ticket.closed
    description: A ticket was closed.
    owner: support
    severity: urgent
    retention: business-3y
    label: closed
    ocsf: {class_uid: 6003, class_name: API Activity, activity_id: 99}
    versions:
      - version: 1
        schema: {type: object}
        sample: {}
        rejected: 5
";
    let problems = Catalog::parse_yaml(text).unwrap_err();
    let found: Vec<(Option<usize>, &str)> = problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert!(
        found.iter().any(|(l, m)| *l == Some(14)
            && m.contains("ticket.escalated version 2")
            && m.contains("changes the type of \"tier\"")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(l, m)| *l == Some(18) && m.contains("ticket.closed: severity must be one of")),
        "{found:?}"
    );

    let broken = Catalog::parse_yaml("types:\n  - name: a.b\n   owner: [x\n").unwrap_err();
    assert_eq!(broken[0].line, Some(3), "{broken:?}");
    let unknown = Catalog::parse_yaml("kinds: []\n").unwrap_err();
    assert_eq!(unknown[0].line, Some(1));
    assert!(unknown[0].message.contains("`kinds`"));
}

/// Definitions come from tenants: schemas that would fetch remote or local documents, or
/// patterns that could backtrack catastrophically on ingest, are refused when the type is
/// defined; hostile shapes are problems, never panics.
#[test]
fn hostile_definitions_are_refused_when_defined() {
    let def = |schema: Value, sample: Value, rejected: Value| {
        json!({"description": "d", "owner": "o", "severity": "info", "retention": "r", "label": "l",
            "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
            "versions": [{"version": 1, "schema": schema, "sample": sample, "rejected": rejected}]})
    };
    for (what, schema) in [
        (
            "remote $ref",
            json!({"$ref": "https://example.com/schema.json"}),
        ),
        ("file $ref", json!({"$ref": "file:///etc/passwd"})),
        (
            "back-reference",
            json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)\\1$"}}}),
        ),
        (
            "look-ahead",
            json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=a)a$"}}}),
        ),
    ] {
        let errs = Catalog::from_definition("t.x", &def(schema, json!({}), json!({"a": 1})))
            .expect_err(what);
        assert!(
            errs.iter()
                .any(|e| e.message.contains("not a valid JSON Schema")),
            "{what}: {errs:?}"
        );
    }
    // A pattern the linear engine accepts still works, in linear time on a classic ReDoS input.
    let evil = def(
        json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}),
        json!({"a": "aaa"}),
        json!({"a": "b"}),
    );
    let c = Catalog::from_definition("t.x", &evil).unwrap();
    let mut e = event("t.x", &json!({"a": format!("{}!", "a".repeat(30_000))}));
    e.as_object_mut().unwrap().remove("changes");
    assert!(check(&c, &e).is_err());
    for hostile in [
        json!(null),
        json!([]),
        json!({"versions": "many"}),
        json!({"versions": [null]}),
        json!({"versions": [{"version": -1}]}),
        json!({"description": null}),
        def(json!("not a schema"), json!(1), json!(2)),
        def(json!({"type": "object"}), json!({}), json!({})),
    ] {
        assert!(
            Catalog::from_definition("t.x", &hostile).is_err(),
            "{hostile}"
        );
    }
}

/// `*.updated` types record what changed: each version requires `changes`, which an event also
/// satisfies with `before`/`after` objects (turned into `changes` by validation).
#[test]
fn updated_types_require_changes() {
    let def = |requires: Value| {
        json!({"description": "d", "owner": "o", "severity": "info", "retention": "r", "label": "l",
            "ocsf": {"class_uid": 1, "class_name": "c", "activity_id": 1},
            "versions": [{"version": 1, "requires": requires, "schema": {"type": "object"},
                "sample": {}, "rejected": []}]})
    };
    let errs = Catalog::from_definition("profile.updated", &def(json!([]))).unwrap_err();
    assert!(
        errs[0].message.contains("profile.updated version 1")
            && errs[0].message.contains("require \"changes\""),
        "{errs:?}"
    );
    let c = Catalog::from_definition("profile.updated", &def(json!(["changes"]))).unwrap();
    let mut e = event("profile.updated", &json!({}));
    assert_eq!(check(&c, &e), Ok(true));
    e.as_object_mut().unwrap().remove("changes");
    assert_eq!(check(&c, &e).unwrap_err()[0].path, "/changes");
    e["before"] = json!({"title": "Ms"});
    e["after"] = json!({"title": "Dr"});
    assert_eq!(check(&c, &e), Ok(true), "before/after become changes");
}
