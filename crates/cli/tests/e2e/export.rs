//! End to end: verifiable exports. An export streamed over HTTP verifies offline with
//! `sealbook verify-export` and a verifier key alone; any edit to the file is caught and located;
//! the export itself is an `audit_log.exported` event in the tenant's log.

use crate::common::{event, tempdir, Server, BIN};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn verify_export(file: &Path, vkey: &str) -> Output {
    Command::new(BIN)
        .args(["verify-export"])
        .arg(file)
        .args(["--vkey", vkey])
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn exports_verify_offline_and_are_audited() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (key_id, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    let other = s.tenant_with_key("globex");
    for start in (0..600).step_by(200) {
        let batch: Vec<Value> = (start..start + 200)
            .map(|i| {
                let mut e = event(&format!("e-{i}"));
                e["actor"]["id"] = json!(if i % 3 == 0 { "u-1" } else { "u-2" });
                e
            })
            .collect();
        s.ingest(&key, &Value::Array(batch));
    }
    s.ingest(&other, &json!([event("g-1")]));
    let vkey = s.verifier_key(&key);

    let r = s.get("/v1/exports/events?format=jsonl&actor=u-1", &key);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["sealbook_export"], 1);
    assert_eq!(lines[0]["tenant"], "acme");
    assert_eq!(
        lines[0]["filters"],
        json!([{"name": "actor", "value": "u-1"}])
    );
    let events = &lines[1..lines.len() - 1];
    assert_eq!(events.len(), 200);
    assert!(events
        .iter()
        .all(|e| e["actor"]["id"] == "u-1" && e["tenant"] == "acme"));
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["index"].as_u64() > w[1]["index"].as_u64()),
        "newest first"
    );
    assert_eq!(
        events[0]["actor"]["name"], "Ada Lovelace",
        "values in the clear"
    );
    assert!(events[0]["salts"]["/actor/name"].is_string());
    let trailer = &lines.last().unwrap()["trailer"];
    assert_eq!(trailer["count"], 200);
    assert!(trailer["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with("sealbook.localhost/acme\n"));

    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &text).unwrap();
    let out = verify_export(&file, &vkey);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified 200 exported events"));

    // The export is in the log: who, which filters, how many.
    let audit = s.all_events(&key, "&type=audit_log.exported");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0]["actor"],
        json!({"type": "api_key", "id": key_id, "name": "test"})
    );
    assert_eq!(audit[0]["data"]["count"], 200);
    assert_eq!(audit[0]["data"]["complete"], true);
    assert_eq!(
        audit[0]["data"]["filters"],
        json!([{"name": "actor", "value": "u-1"}])
    );
    assert_eq!(trailer["export_event"]["index"], audit[0]["index"]);

    // Every edit is caught, and located.
    let edit = |name: &str, f: &dyn Fn(&mut Vec<String>)| {
        let mut ls: Vec<String> = text.lines().map(str::to_owned).collect();
        f(&mut ls);
        let p = dir.path().join(name);
        std::fs::write(&p, ls.join("\n") + "\n").unwrap();
        let out = verify_export(&p, &vkey);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        stderr(&out)
    };
    let err = edit("renamed", &|ls| {
        ls[5] = ls[5].replace("Ada Lovelace", "Ada Byron")
    });
    assert!(
        err.contains("line 6") && err.contains(&format!("index {}", events[4]["index"])),
        "{err}"
    );
    let err = edit("retyped", &|ls| {
        ls[9] = ls[9].replace("order.status_changed", "order.created")
    });
    assert!(err.contains("line 10"), "{err}");
    let err = edit("dropped", &|ls| {
        ls.remove(3);
    });
    assert!(err.contains("counts 200"), "{err}");
    let err = edit("moved", &|ls| {
        let mut v: Value = serde_json::from_str(&ls[2]).unwrap();
        v["index"] = json!(v["index"].as_u64().unwrap() - 1);
        ls[2] = v.to_string();
    });
    assert!(err.contains("not all in the signed log"), "{err}");
    let err = edit("truncated", &|ls| {
        ls.pop();
    });
    assert!(err.contains("no trailer"), "{err}");
    let err = edit("reforged", &|ls| {
        let mut t: Value = serde_json::from_str(ls.last().unwrap()).unwrap();
        let note = t["trailer"]["checkpoint"].as_str().unwrap().to_owned();
        // A bigger tree size under the genuine signature.
        t["trailer"]["checkpoint"] = json!(note.replace("acme\n", "acme\n9"));
        *ls.last_mut().unwrap() = t.to_string();
    });
    assert!(err.contains("checkpoint signature"), "{err}");

    // The whole log exports and verifies too, and the log itself still verifies.
    let all = s.get("/v1/exports/events", &key).text().unwrap();
    std::fs::write(&file, &all).unwrap();
    let out = verify_export(&file, &vkey);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = Command::new(BIN)
        .args(["verify", "--url", &s.url, "--key", &key, "--vkey", &vkey])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn exports_need_their_scope_and_stay_in_the_tenant() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let read_only = s.tenant_with_key("acme");
    let (_, exporter) = s.create_key("acme", &["events:export"]);
    s.ingest(&read_only, &json!([event("a-1")]));
    let g = s.tenant_with_key("globex");
    s.ingest(&g, &json!([event("g-1")]));

    assert_eq!(s.get("/v1/exports/events", &read_only).status(), 403);
    for q in ["format=csv", "limit=5", "cursor=abc", "since=yesterday"] {
        let r = s.get(&format!("/v1/exports/events?{q}"), &exporter);
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let text = s.get("/v1/exports/events", &exporter).text().unwrap();
    assert!(!text.contains("g-1") && !text.contains("globex"));
    assert!(text.contains("a-1"));
}
