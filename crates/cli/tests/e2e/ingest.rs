//! Ingest over real HTTP: bad input gets its documented error and stores nothing; idempotency;
//! concurrent clients get one gap-free sequence.

use crate::common::*;
use serde_json::{json, Value};

/// Asserts a problem+json answer and returns its body.
fn problem(r: reqwest::blocking::Response, status: u16, kind: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "expected {status} {kind}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().unwrap();
    assert_eq!(p["type"], format!("urn:sealbook:problem:{kind}"), "{p}");
    assert_eq!(p["status"], status);
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    p
}

fn has_error(p: &Value, event: Option<u64>, path: &str) -> bool {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["path"] == path && e.get("event").and_then(Value::as_u64) == event)
}

#[test]
fn bad_input_gets_its_documented_error_and_stores_nothing() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let before = s.all_events(&key, "").len();
    let json = "application/json";
    // Each bad body also carries a valid event "canary": it must never be stored.
    let canary = || event("canary");

    problem(
        s.post_raw(&key, json, b"{\"type\": ".to_vec()),
        400,
        "malformed",
    );
    problem(
        s.post_raw(&key, json, format!("[{}, {{]", canary()).into_bytes()),
        400,
        "malformed",
    );

    let mut wrong = event("w");
    wrong["type"] = json!(5);
    wrong["outcome"] = json!(true);
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), wrong])),
        422,
        "invalid-event",
    );
    assert!(
        has_error(&p, Some(1), "/type") && has_error(&p, Some(1), "/outcome"),
        "{p}"
    );

    let mut missing = event("m");
    missing.as_object_mut().unwrap().remove("actor");
    missing.as_object_mut().unwrap().remove("occurred_at");
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), missing])),
        422,
        "invalid-event",
    );
    assert!(
        has_error(&p, Some(1), "/actor") && has_error(&p, Some(1), "/occurred_at"),
        "{p}"
    );

    let mut unknown = event("u");
    unknown["severity"] = json!("high");
    unknown["actor"]["role"] = json!("admin");
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), unknown])),
        422,
        "invalid-event",
    );
    assert!(
        has_error(&p, Some(1), "/severity") && has_error(&p, Some(1), "/actor/role"),
        "{p}"
    );

    // A body of 10 MiB.
    let big = vec![b' '; 10 * 1024 * 1024];
    problem(s.post_raw(&key, json, big), 413, "too-large");

    // A string of 1 MiB in one field.
    let mut huge = event("h");
    huge["reason"] = json!({"note": "x".repeat(1024 * 1024)});
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), huge])),
        413,
        "too-large",
    );
    assert!(has_error(&p, Some(1), ""), "{p}");

    // Nesting 1,000 deep.
    let deep = format!(
        "[{}, {{\"type\":\"a.b\",\"data\":{{\"x\":{}1{}}}}}]",
        canary(),
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let p = problem(
        s.post_raw(&key, json, deep.into_bytes()),
        422,
        "invalid-event",
    );
    assert!(has_error(&p, Some(1), ""), "{p}");

    // Invalid UTF-8.
    let mut bad_utf8 = format!("[{}, ", canary()).into_bytes();
    bad_utf8.extend_from_slice(b"{\"type\":\"a.b\",\"id\":\"\xff\xfe\"}]");
    problem(s.post_raw(&key, json, bad_utf8), 400, "malformed");

    // Two values for one key would mean different things to different readers: refused.
    let dup = format!(
        "[{}, {{\"type\":\"a.b\",\"actor\":{{\"type\":\"user\",\"id\":\"u-1\",\"id\":\"u-2\"}}}}]",
        canary()
    );
    let p = problem(s.post_raw(&key, json, dup.into_bytes()), 400, "malformed");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"id\""),
        "{p}"
    );

    // A raw NUL byte is not JSON; an escaped one is refused by the rules.
    let raw_nul = format!("[{}, {{\"type\":\"a.b\0\"}}]", canary()).into_bytes();
    problem(s.post_raw(&key, json, raw_nul), 400, "malformed");
    let mut nul = event("n");
    nul["subject"]["name"] = json!("evil\u{0}name");
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), nul])),
        422,
        "invalid-event",
    );
    assert!(has_error(&p, Some(1), "/subject/name"), "{p}");

    // occurred_at without an offset.
    let mut naive = event("t");
    naive["occurred_at"] = json!("2026-03-01T10:15:30");
    let p = problem(
        s.post_json("/v1/events", &key, &json!([canary(), naive])),
        422,
        "invalid-event",
    );
    assert!(has_error(&p, Some(1), "/occurred_at"), "{p}");

    // A duplicate id in one batch.
    let p = problem(
        s.post_json(
            "/v1/events",
            &key,
            &json!([canary(), event("d"), event("d")]),
        ),
        422,
        "invalid-event",
    );
    assert!(has_error(&p, Some(2), "/id"), "{p}");

    // An empty array.
    problem(
        s.post_json("/v1/events", &key, &json!([])),
        422,
        "invalid-event",
    );

    // Too many events.
    let many: Vec<Value> = (0..1001).map(|i| event(&format!("many-{i}"))).collect();
    problem(
        s.post_json("/v1/events", &key, &Value::Array(many)),
        413,
        "too-large",
    );

    // Wrong content type, missing content type.
    problem(
        s.post_raw(&key, "text/plain", canary().to_string().into_bytes()),
        415,
        "unsupported-media-type",
    );
    let r = s
        .http
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&key)
        .body(canary().to_string())
        .send()
        .unwrap();
    problem(r, 415, "unsupported-media-type");

    // A body tenant that is not the key's tenant.
    let mut other = canary();
    other["tenant"] = json!("someone-else");
    let p = problem(
        s.post_json("/v1/events", &key, &other),
        422,
        "invalid-event",
    );
    assert!(has_error(&p, Some(0), "/tenant"), "{p}");

    // Credentials and scope.
    problem(
        s.post_json("/v1/events", "sbk_not-a-key", &canary()),
        401,
        "unauthorized",
    );
    let r = s
        .http
        .post(format!("{}/v1/events", s.url))
        .json(&canary())
        .send()
        .unwrap();
    problem(r, 401, "unauthorized");
    let read_only = s.create_key("acme", &["events:read"]).1;
    problem(
        s.post_json("/v1/events", &read_only, &canary()),
        403,
        "forbidden",
    );

    // Nothing of any of it was stored: the canary is unknown and the log grew only by the
    // audited creation of the read-only key.
    problem(s.get("/v1/events/canary", &key), 404, "not-found");
    let after = s.all_events(&key, "");
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[0]["type"], "api_key.created");
}

#[test]
fn ndjson_and_single_event_bodies() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let body = format!("{}\n{}\n", event("n1"), event("n2"));
    let r = s.post_raw(&key, "application/x-ndjson", body.into_bytes());
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    let idx: Vec<u64> = v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![1, 2]);
    // An event without an id gets a UUIDv7.
    let mut anon = event("x");
    anon.as_object_mut().unwrap().remove("id");
    let v = s.ingest(&key, &anon);
    let id = v["receipts"][0]["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7", "UUID version 7: {id}");
}

#[test]
fn idempotent_by_event_id() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let first = s.post_json("/v1/events", &key, &event("same"));
    assert_eq!(first.status(), 201);
    let first: Value = first.json().unwrap();
    let size = s.all_events(&key, "").len();

    let again = s.post_json("/v1/events", &key, &event("same"));
    assert_eq!(again.status(), 200, "a faithful retry answers 200");
    let again: Value = again.json().unwrap();
    assert_eq!(again, first, "with the original receipt");
    assert_eq!(s.all_events(&key, "").len(), size, "and stores nothing");

    // Retried inside a larger batch: the old one replays, the new one is stored.
    let mixed = s.post_json("/v1/events", &key, &json!([event("same"), event("new")]));
    assert_eq!(mixed.status(), 201);
    let mixed: Value = mixed.json().unwrap();
    assert_eq!(mixed["receipts"][0], first["receipts"][0]);
    assert_eq!(
        mixed["receipts"][1]["index"],
        first["receipts"][0]["index"].as_u64().unwrap() + 1
    );

    let mut changed = event("same");
    changed["outcome"] = json!("failure");
    let r = s.post_json("/v1/events", &key, &json!([event("newer"), changed]));
    let p = problem(r, 409, "id-conflict");
    assert!(has_error(&p, Some(1), "/id"), "{p}");
    assert_eq!(
        s.get("/v1/events/newer", &key).status(),
        404,
        "a conflicting batch stores nothing"
    );
    let stored: Value = s.get("/v1/events/same", &key).json().unwrap();
    assert_eq!(stored["outcome"], "success", "the original is untouched");
}

#[test]
fn eight_clients_get_one_gap_free_sequence() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let base = s.all_events(&key, "").len() as u64;
    let indexes: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|c| {
                let (s, key) = (&s, &key);
                scope.spawn(move || {
                    let mut got = Vec::new();
                    for b in 0..20 {
                        let batch: Vec<Value> =
                            (0..50).map(|i| event(&format!("c{c}-{b}-{i}"))).collect();
                        let v = s.ingest(key, &Value::Array(batch));
                        got.extend(
                            v["receipts"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|r| r["index"].as_u64().unwrap()),
                        );
                    }
                    got
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut sorted = indexes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (base..base + 8000).collect::<Vec<u64>>(),
        "8,000 events, each index exactly once, no gap"
    );
    let all = s.all_events(&key, "");
    assert_eq!(all.len() as u64, base + 8000);
    let listed: Vec<u64> = all.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(listed, (0..base + 8000).rev().collect::<Vec<u64>>());
}

/// A retry compares the redacted event with its redacted values masked: resending a known id with
/// another secret is a faithful retry (the secret was never kept), so the answer says nothing
/// about the stored secret. Any other difference is still a conflict.
#[test]
fn a_retry_that_differs_only_in_a_secret_is_faithful() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let with = |password: &str| {
        let mut e = event("pw");
        e["data"] = json!({"password": password, "mode": "live"});
        e
    };
    let first = s.post_json("/v1/events", &key, &with("correct horse"));
    assert_eq!(first.status(), 201);
    let first: Value = first.json().unwrap();
    let guess = s.post_json("/v1/events", &key, &with("a wrong guess"));
    assert_eq!(guess.status(), 200, "a guessed secret confirms nothing");
    assert_eq!(
        guess.json::<Value>().unwrap(),
        first,
        "the original receipt"
    );
    let mut other = with("correct horse");
    other["data"]["mode"] = json!("test");
    let r = s.post_json("/v1/events", &key, &other);
    let p = problem(r, 409, "id-conflict");
    assert!(has_error(&p, Some(0), "/id"), "{p}");
    let stored: Value = s.get("/v1/events/pw", &key).json().unwrap();
    assert_eq!(stored["data"]["mode"], "live", "the original is untouched");
}

/// Idempotency conflicts are counted per key: after ten within a minute, the key's ingest
/// requests answer 429 with `Retry-After`, faithful retries and new events alike, so resending a
/// known id with guessed content cannot go on. Another key is not affected.
#[test]
fn conflicts_are_limited_per_key() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let (_, other_key) = s.create_key("acme", &["events:write"]);
    s.ingest(&key, &event("known"));
    let guess = |n: usize| {
        let mut e = event("known");
        e["actor"]["email"] = json!(format!("guess-{n}@example.com"));
        e
    };
    for n in 0..10 {
        let r = s.post_json("/v1/events", &key, &guess(n));
        problem(r, 409, "id-conflict");
    }
    for body in [guess(10), event("known"), event("fresh")] {
        let r = s.post_json("/v1/events", &key, &body);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let p = problem(r, 429, "rate-limited");
        assert!(p["detail"].as_str().unwrap().contains("conflicts"), "{p}");
    }
    assert_eq!(
        s.get("/v1/events/fresh", &key).status(),
        404,
        "nothing stored"
    );
    let r = s.post_json("/v1/events", &other_key, &event("known"));
    assert_eq!(r.status(), 200, "another key's budget is its own");
}

/// Postings and content hashes are keyed per tenant: the same event in two tenants leaves no
/// posting key and no content hash in common, so whoever reads the database file cannot confirm
/// a guessed value by hashing it (nor compare tenants).
#[test]
fn postings_and_content_hashes_are_keyed_per_tenant() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let a = s.tenant_with_key("acme");
    let b = s.tenant_with_key("beta");
    s.ingest(&a, &event("same"));
    s.ingest(&b, &event("same"));
    let found = s.all_events(&b, "&actor=u-42&q=lovelace&ref=order_number:PO-1001");
    assert_eq!(found.len(), 1, "search still finds it");
    drop(s);
    let db = rusqlite::Connection::open(dir.path().join("data/sealbook.db")).unwrap();
    let tenant_no = |t: &str| -> i64 {
        db.query_row("SELECT no FROM tenants WHERE id = ?1", [t], |r| r.get(0))
            .unwrap()
    };
    let (na, nb) = (tenant_no("acme"), tenant_no("beta"));
    let shared: i64 = db
        .query_row(
            "SELECT count(*) FROM terms x JOIN terms y ON x.term = y.term WHERE x.tenant_no = ?1 AND y.tenant_no = ?2",
            [na, nb],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(shared, 0, "no posting key in common");
    let hashes: Vec<Vec<u8>> = db
        .prepare("SELECT content_hash FROM events WHERE event_id = 'same' ORDER BY tenant_no")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_ne!(hashes[0], hashes[1], "no content hash in common");
}
