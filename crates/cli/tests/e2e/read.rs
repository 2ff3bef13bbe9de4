//! Reading over real HTTP: every filter, paging while ingest runs, tenant isolation, revocation.

use crate::common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

fn ids(s: &Server, key: &str, query: &str) -> Vec<String> {
    let r = s.get(&format!("/v1/events?{query}"), key);
    assert_eq!(r.status(), 200, "{query}");
    let v: Value = r.json().unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_filter() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let events = json!([
        {"id": "e1", "type": "user.login_failed", "occurred_at": "2026-02-01T08:00:00Z", "outcome": "failure",
         "actor": {"type": "user", "id": "u-1", "name": "Ada Lovelace"}, "subject": {"type": "user", "id": "u-1"},
         "context": {"ip": "198.51.100.7", "correlation_id": "corr-a"}},
        {"id": "e2", "type": "order.status_changed", "occurred_at": "2026-02-01T09:00:00+01:00",
         "actor": {"type": "service_account", "id": "svc-erp", "name": "ERP bridge"}, "subject": {"type": "order", "id": "o-9"},
         "refs": {"order_number": "PO-9", "erp_document": "4711"}, "context": {"correlation_id": "corr-a"}},
        {"id": "e3", "type": "order.created", "occurred_at": "2026-02-02T10:00:00Z",
         "actor": {"type": "user", "id": "u-2", "name": "Grace Hopper"}, "subject": {"type": "order", "id": "o-10"},
         "refs": {"order_number": "PO-10", "lot_code": "L-7"}},
        {"id": "e4", "type": "override.applied", "occurred_at": "2026-02-03T10:00:00Z", "outcome": "denied",
         "actor": {"type": "support", "id": "sup-1", "name": "Support Sam"}, "subject": {"type": "order", "id": "o-9"},
         "reason": {"code": "credit_limit", "note": "Customer escalation approved by finance"}, "refs": {"order_number": "PO-9"}},
    ]);
    s.ingest(&key, &events);
    assert_eq!(ids(&s, &key, "actor=u-1"), ["e1"]);
    assert_eq!(ids(&s, &key, "actor_type=service_account"), ["e2"]);
    assert_eq!(ids(&s, &key, "subject=order:o-9"), ["e4", "e2"]);
    assert_eq!(ids(&s, &key, "subject=o-10"), ["e3"]);
    assert_eq!(ids(&s, &key, "subject_type=user"), ["e1"]);
    assert_eq!(ids(&s, &key, "type=order.created"), ["e3"]);
    assert_eq!(ids(&s, &key, "type=order.*"), ["e3", "e2"]);
    assert_eq!(ids(&s, &key, "outcome=denied"), ["e4"]);
    assert_eq!(
        ids(
            &s,
            &key,
            "since=2026-02-01T08:00:00Z&until=2026-02-02T10:00:00Z&type=order.*"
        ),
        ["e2"]
    );
    assert_eq!(
        ids(
            &s,
            &key,
            "since=2026-02-02T11:00:00%2B01:00&until=2026-03-01T00:00:00Z"
        ),
        ["e4", "e3"]
    );
    assert_eq!(ids(&s, &key, "correlation_id=corr-a"), ["e2", "e1"]);
    assert_eq!(ids(&s, &key, "ref=order_number:PO-9"), ["e4", "e2"]);
    assert_eq!(
        ids(&s, &key, "ref=order_number:PO-9&ref=erp_document:4711"),
        ["e2"]
    );
    assert_eq!(ids(&s, &key, "q=escalation+FINANCE"), ["e4"]);
    assert_eq!(ids(&s, &key, "q=grace"), ["e3"]);
    assert_eq!(ids(&s, &key, "q=PO-10"), ["e3"]);
    assert_eq!(
        ids(&s, &key, "actor=u-1&outcome=success"),
        Vec::<String>::new()
    );
    assert_eq!(ids(&s, &key, "type=order.*&limit=1"), ["e3"]);

    // Personal values come back joined on read.
    let e1: Value = s.get("/v1/events/e1", &key).json().unwrap();
    assert_eq!(e1["context"]["ip"], "198.51.100.7");
    assert_eq!(e1["subject"]["id"], "u-1");

    for bad in [
        "limit=0",
        "limit=5000",
        "since=yesterday",
        "outcome=maybe",
        "actr=u-1",
        "cursor=garbage",
        "type=order*",
        "ref=nocolon",
        "q=L-7",
    ] {
        let r = s.get(&format!("/v1/events?{bad}"), &key);
        assert_eq!(r.status(), 400, "{bad}");
        let p: Value = r.json().unwrap();
        assert_eq!(p["type"], "urn:sealbook:problem:bad-query", "{bad}");
    }
}

#[test]
fn paging_is_stable_while_ingest_runs() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    for b in 0..5 {
        let batch: Vec<Value> = (0..100).map(|i| event(&format!("old-{b}-{i}"))).collect();
        s.ingest(&key, &Value::Array(batch));
    }
    let existing: Vec<String> = s
        .all_events(&key, "")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(existing.len(), 501);

    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) && n < 200 {
                let batch: Vec<Value> = (0..10).map(|i| event(&format!("new-{n}-{i}"))).collect();
                s.ingest(&key, &Value::Array(batch));
                n += 1;
            }
            n
        });
        let mut seen: Vec<(u64, String)> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = "/v1/events?limit=37".to_owned();
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page: Value = s.get(&q, &key).json().unwrap();
            for e in page["events"].as_array().unwrap() {
                seen.push((
                    e["index"].as_u64().unwrap(),
                    e["id"].as_str().unwrap().to_owned(),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        done.store(true, Ordering::Relaxed);
        assert!(
            writer.join().unwrap() > 0,
            "ingest really ran during paging"
        );
        seen
    });
    assert!(
        seen.windows(2).all(|w| w[0].0 > w[1].0),
        "strictly newest first: no repeats"
    );
    let seen_ids: std::collections::HashSet<&str> =
        seen.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(seen_ids.len(), seen.len());
    for id in &existing {
        assert!(
            seen_ids.contains(id.as_str()),
            "{id} went missing across pages"
        );
    }
}

#[test]
fn a_key_of_tenant_a_learns_nothing_about_tenant_b() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let a = s.tenant_with_key("tenant-a");
    let b = s.tenant_with_key("tenant-b");
    s.ingest(&b, &event("b-secret"));

    let other = s.get("/v1/events/b-secret", &a);
    let unknown = s.get("/v1/events/does-not-exist", &a);
    assert_eq!(
        (other.status(), unknown.status()),
        (
            reqwest::StatusCode::NOT_FOUND,
            reqwest::StatusCode::NOT_FOUND
        )
    );
    assert_eq!(
        other.text().unwrap(),
        unknown.text().unwrap(),
        "identical answers"
    );

    let listed = s.all_events(&a, "");
    assert!(listed.iter().all(|e| e["tenant"] == "tenant-a"));
    assert!(ids(&s, &a, "actor=u-42").is_empty());
    assert!(ids(&s, &a, "ref=order_number:PO-1001").is_empty());
    assert!(ids(&s, &a, "q=lovelace").is_empty());

    // Ids are per tenant: A may use B's id and learns nothing (no conflict, no replay).
    let r = s.post_json("/v1/events", &a, &event("b-secret"));
    assert_eq!(r.status(), 201);
    let mine: Value = s.get("/v1/events/b-secret", &a).json().unwrap();
    assert_eq!(mine["tenant"], "tenant-a");

    // A tenant key is not an operator credential, and cannot name another tenant in a body.
    assert_eq!(s.get("/v1/tenants", &a).status(), 401);
    assert_eq!(s.get("/v1/tenants/tenant-b/keys", &a).status(), 401);
    let mut forged = event("forged");
    forged["tenant"] = json!("tenant-b");
    assert_eq!(s.post_json("/v1/events", &a, &forged).status(), 422);
    assert_eq!(s.get("/v1/events/forged", &b).status(), 404);
}

#[test]
fn a_revoked_key_fails_on_the_next_request() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (id, key) = s.create_key("acme", &["events:write", "events:read"]);
    s.ingest(&key, &event("before"));
    let r = s
        .http
        .delete(format!("{}/v1/tenants/acme/keys/{id}", s.url))
        .bearer_auth(&s.admin)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("/v1/events", &key).status(), 401);
    assert_eq!(
        s.post_json("/v1/events", &key, &event("after")).status(),
        401
    );
    let again = s
        .http
        .delete(format!("{}/v1/tenants/acme/keys/{id}", s.url))
        .bearer_auth(&s.admin)
        .send()
        .unwrap();
    assert_eq!(again.status(), 404, "revoking twice");
    let wrong_tenant = s
        .http
        .delete(format!("{}/v1/tenants/other/keys/{id}", s.url))
        .bearer_auth(&s.admin)
        .send()
        .unwrap();
    assert_eq!(wrong_tenant.status(), 404);
    let keys: Value = s.get("/v1/tenants/acme/keys", &s.admin).json().unwrap();
    assert!(keys["keys"][0]["revoked_at"].is_string());
    assert!(
        keys["keys"][0].get("key").is_none(),
        "listing never shows secrets"
    );
}

/// `recorded_by` tells Sealbook's own records from clients' events in a search and an export:
/// `sealbook` lists only what Sealbook wrote (here the key's creation), `client` only what clients
/// sent; any other value is refused and names the parameter.
#[test]
fn recorded_by_filters_sealbooks_records_from_clients_events() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    s.ingest(&key, &json!([event("c1"), event("c2")]));
    let own = s.all_events(&key, "&recorded_by=sealbook");
    assert!(!own.is_empty());
    assert!(
        own.iter().all(|e| e["recorded_by"] == "sealbook"),
        "{own:?}"
    );
    assert!(own.iter().any(|e| e["type"] == "api_key.created"));
    assert_eq!(ids(&s, &key, "recorded_by=client"), ["c2", "c1"]);
    assert_eq!(
        ids(&s, &key, "recorded_by=client&type=api_key.created"),
        Vec::<String>::new()
    );
    let r = s.get("/v1/events?recorded_by=me", &key);
    assert_eq!(r.status(), 400);
    let p: Value = r.json().unwrap();
    assert!(p["detail"].as_str().unwrap().contains("recorded_by"), "{p}");
    let (_, exporter) = s.create_key("acme", &["events:export"]);
    let r = s.get("/v1/exports/events?recorded_by=client", &exporter);
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exported: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(exported, ["c2", "c1"], "{text}");
}

/// Item 3 (views): the keyed fingerprint of a redacted value is shown to `tenant:admin` only, in
/// search and by id; the mask and preview stay for every reader.
#[test]
fn redaction_fingerprints_are_for_tenant_admins_only() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let reader = s.tenant_with_key("acme");
    let (_, admin) = s.create_key("acme", &["events:read", "tenant:admin"]);
    let mut e = event("c-1");
    e["refs"]["card"] = json!("4242 4242 4242 4242");
    s.ingest(&reader, &json!([e]));
    let by_id: Value = s.get("/v1/events/c-1", &reader).json().unwrap();
    let searched: Value = s.get("/v1/events?actor=u-42", &reader).json().unwrap();
    for card in [
        &by_id["refs"]["card"],
        &searched["events"][0]["refs"]["card"],
    ] {
        assert_eq!(card["$redacted"], true, "{card}");
        assert_eq!(card["preview"], "****4242");
        assert!(card.get("fingerprint").is_none(), "{card}");
    }
    let as_admin: Value = s.get("/v1/events/c-1", &admin).json().unwrap();
    assert!(as_admin["refs"]["card"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
}

/// Item 6 (search): paging past the daily threshold of a key records every further page as an
/// `audit_log.bulk_read` event naming the key.
#[test]
fn bulk_search_paging_is_audited_above_the_daily_threshold() {
    let dir = tempdir();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(&config, "[reads]\nbulk_read_audit_events = 5\n").unwrap();
    let s = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    s.create_tenant("acme");
    let (pager_id, pager) = s.create_key("acme", &["events:write", "events:read"]);
    let (_, other) = s.create_key("acme", &["events:read"]);
    let batch: Vec<Value> = (0..12).map(|i| event(&format!("p-{i}"))).collect();
    s.ingest(&pager, &Value::Array(batch));
    let records = || -> Vec<Value> {
        let r: Value = s
            .get("/v1/events?type=audit_log.bulk_read&limit=100", &other)
            .json()
            .unwrap();
        r["events"].as_array().unwrap().clone()
    };
    // Pages of 4 of the 12 events (and the key creations): 4 read, then 8, then 12.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    for page in 0..3 {
        let q = match &cursor {
            Some(c) => format!("/v1/events?type=order.status_changed&limit=4&cursor={c}"),
            None => "/v1/events?type=order.status_changed&limit=4".to_owned(),
        };
        let r: Value = s.get(&q, &pager).json().unwrap();
        cursor = r["next_cursor"].as_str().map(str::to_owned);
        seen.push(records().len());
        assert_eq!(r["events"].as_array().unwrap().len(), 4, "page {page}");
    }
    assert_eq!(seen, [0, 1, 2], "the first page is under the threshold");
    let rec = &records()[0];
    assert_eq!(rec["actor"]["id"], pager_id.as_str());
    assert_eq!(rec["data"]["events_today"], 12);
    assert_eq!(rec["data"]["threshold"], 5);
    assert_eq!(
        rec["data"]["query"],
        json!([{"name": "type", "value": "order.status_changed"}])
    );
}
