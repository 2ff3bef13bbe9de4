//! End to end in a real browser: headless Chromium driven by `playwright-core`
//! (`crates/cli/tests/browser/ui.mjs`) through sign-in, search with filters and the back button,
//! an event with its verified badge and correlation timeline, subject history, hostile values that
//! stay inert, a CSV download, inviting a person, creating a key (the secret shown once), the
//! catalog, setting up a second factor and signing in with it, the tenant's settings and the
//! embedded viewer framed by an allowed site (and refused by another), a platform operator's
//! audited access appearing in the tenant's log, single sign-on through a real OpenID provider
//! (set up, then a person created by it with the role its groups give), dark mode, a phone's width, axe-core on every
//! page, and sign-out. With `SHOTS=<folder>` the script saves the screenshots of `docs/ui/`. `scripts/browser.sh --install`
//! (run by `.ci/run`) installs Chromium, Node.js and the script's packages.

use crate::common::{tempdir, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// An order's life, an integration that failed and was replayed, an override, and an event whose
/// strings are hostile markup.
fn seed(s: &Server, key: &str) {
    let ada =
        json!({"type": "user", "id": "u-17", "name": "Ada Lovelace", "email": "ada@acme.example"});
    let grace = json!({"type": "user", "id": "u-23", "name": "Grace Hopper", "email": "grace@acme.example"});
    let erp = json!({"type": "service_account", "id": "svc-erp-sync", "name": "ERP sync"});
    let at = |i: u32| format!("2026-11-30T09:{i:02}:00Z");
    let base = |i: u32, t: &str, actor: &Value, subject: Value| {
        json!({"id": format!("demo-{i}"), "type": t, "occurred_at": at(i), "actor": actor,
               "subject": subject, "outcome": "success",
               "context": {"ip": format!("203.0.113.{}", 10 + i), "correlation_id": format!("req-{i}")}})
    };
    let order = json!({"type": "order", "id": "4472"});
    let shipment = json!({"type": "shipment", "id": "S-4472"});
    let mut events = vec![
        base(
            1,
            "user.login_succeeded",
            &ada,
            json!({"type": "user", "id": "u-17"}),
        ),
        base(2, "order.created", &ada, order.clone()),
    ];
    let mut e = base(3, "order.status_changed", &ada, order.clone());
    e["changes"] = json!([{"field": "status", "before": "paid", "after": "picking"}]);
    events.push(e);
    for (i, t) in [
        (4, "integration.requested"),
        (5, "integration.failed"),
        (6, "integration.replayed"),
        (7, "integration.succeeded"),
    ] {
        let mut e = base(i, t, &erp, shipment.clone());
        e["context"]["correlation_id"] = json!("corr-4472");
        e["data"] = json!({"endpoint": "https://erp.example/api/shipments", "payload_sha256": "ab".repeat(32), "response_status": if i == 5 { 502 } else { 200 }});
        if i == 5 {
            e["outcome"] = json!("failure");
        }
        if i == 6 {
            e["data"]["original_event_id"] = json!("demo-4");
        }
        events.push(e);
    }
    let mut e = base(8, "override.applied", &grace, order);
    e["reason"] = json!({"code": "customer_request", "ticket": "SUP-1193", "note": "Customer asked to split the shipment"});
    events.push(e);
    let mut e = base(
        9,
        "order.status_changed",
        &json!({"type": "user", "id": "u-66", "name": "<script>alert(1)</script>"}),
        json!({"type": "order", "id": "\"><img src=x onerror=alert(1)>"}),
    );
    e["changes"] = json!([{"field": "status", "before": "picking", "after": "\"><img src=x onerror=alert(2)>"}]);
    events.push(e);
    s.ingest(key, &Value::Array(events));
    s.sign_checkpoint(key);
}

#[test]
fn the_ui_works_in_headless_chromium() {
    let dir = tempdir();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(&config, "[ui]\nsso_http_loopback = true\n").unwrap();
    // A configuration file keeps the request limits on; this test, like most, runs without them.
    let s = Server::start_with(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--rate-limit-per-key",
            "0",
            "--auth-failures-per-ip",
            "0",
            "--checkpoint-requests-per-tenant",
            "0",
        ],
    );
    let idp_secret = "browser-idp-secret-4b1d";
    let idp = crate::sso::Idp::start(
        &format!("{}/ui/login/sso/callback", s.url),
        "sealbook-acme",
        idp_secret,
    );
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read"]);
    seed(&s, &key);
    let r = s.post_json(
        "/v1/tenants/acme/users",
        &s.admin,
        &json!({"email": "admin@acme.example", "name": "Alice Admin", "role": "tenant_admin"}),
    );
    assert_eq!(r.status(), 201);
    let link: Value = r.json().unwrap();
    let r = s.post_json(
        "/v1/tenants/platform/users",
        &s.admin,
        &json!({"email": "olga@platform.example", "name": "Olga Operator", "role": "operator"}),
    );
    assert_eq!(r.status(), 201);
    let operator: Value = r.json().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/ui.mjs");
    let out = Command::new("node")
        .arg(&script)
        .env("BASE", &s.url)
        .env("IDP", &idp.issuer)
        .env("IDP_SECRET", idp_secret)
        .env("LINK", link["set_password_path"].as_str().unwrap())
        .env(
            "OPERATOR_LINK",
            operator["set_password_path"].as_str().unwrap(),
        )
        .env(
            "CHROMIUM",
            std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        )
        .envs(std::env::var("SHOTS").ok().map(|v| ("SHOTS", v)))
        .output()
        .expect("node runs (scripts/browser.sh --install installs it)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("browser: all steps passed"), "{stdout}");
}
