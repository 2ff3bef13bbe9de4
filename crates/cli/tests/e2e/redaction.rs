//! End to end: secrets and card numbers sent in events never reach the disk or the logs. The raw
//! SQLite files (database and write-ahead log), the server log and every PostgreSQL table are
//! searched byte for byte for every secret sent; none is found. What a reader gets back is the
//! redacted form. Events carrying Sealbook's own markers (`$redacted`, `$commitment`) are refused.

use crate::common::{tempdir, Server};
use sealbook_testkit::pg::testdb::TestDb;
use serde_json::{json, Value};
use std::path::Path;

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

/// The issue's reproduction: a `$redacted` key once made redaction skip the whole object, so the
/// password and card number beside it were stored in the clear; `$commitment` likewise. Now the
/// request is refused with the pointer, and nothing of it is stored.
#[test]
fn client_sent_markers_are_refused_with_their_path_and_nothing_is_stored() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let base = json!({
        "type": "config.changed", "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada"},
        "subject": {"type": "integration", "id": "stripe"},
    });
    let cases = [
        (
            "data",
            json!({"$redacted": 0, "password": "hunter2-marker", "card": "4242 4242 4242 4242"}),
            "/data/$redacted",
        ),
        (
            "data",
            json!({"profile": {"email": {"$commitment": "sha256:00", "v": "ada@example.com"}}}),
            "/data/profile/email/$commitment",
        ),
        (
            "changes",
            json!([{"field": "k", "after": {"$redacted": true, "preview": "****", "fingerprint": "hmac-sha256:00"}}]),
            "/changes/0/after/$redacted",
        ),
    ];
    for (field, value, pointer) in cases {
        let mut ev = base.clone();
        ev[field] = value;
        let r = s.post_json("/v1/events", &key, &json!([base, ev]));
        assert_eq!(r.status(), 422, "{pointer}");
        let body: Value = r.json().unwrap();
        assert_eq!(body["type"], "urn:sealbook:problem:invalid-event", "{body}");
        let errors = body["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["event"] == 1 && e["path"] == pointer),
            "{body}"
        );
    }
    assert!(
        s.all_events(&key, "&type=config.changed").is_empty(),
        "nothing was stored"
    );
    assert!(s.stop());
    assert_off_disk(dir.path(), &["hunter2-marker", "4242424242424242"]);
}

/// Secret names in the spellings clients use (issue 13): snake, camel, kebab, SCREAMING, and
/// with look-alike letters or invisible characters.
fn spellings() -> Vec<String> {
    let names: &[&[&str]] = &[
        &["card", "cvv"],
        &["cvv", "code"],
        &["customer", "ssn"],
        &["user", "pin"],
        &["otp", "code"],
        &["payout", "iban"],
        &["authorization", "header"],
        &["cookies"],
        &["credit", "card", "number"],
        &["api", "key"],
        &["db", "password"],
        &["session", "id"],
    ];
    let cap = |w: &str| w[..1].to_uppercase() + &w[1..];
    let mut out = Vec::new();
    for n in names {
        out.push(n.join("_"));
        out.push(n.join("-"));
        out.push(n.join("_").to_uppercase());
        out.push(n[0].to_owned() + &n[1..].iter().map(|w| cap(w)).collect::<String>());
    }
    // Cyrillic а, Greek ο, Cyrillic Р, a zero-width space, full-width letters.
    out.extend(
        [
            "p\u{430}ssword",
            "t\u{3bf}ken",
            "user\u{420}in",
            "pass\u{200b}word",
            "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}",
        ]
        .map(str::to_owned),
    );
    out
}

/// A Luhn-valid 16-digit number, different for each `i`.
fn card(i: usize) -> String {
    let body = format!("4{:014}", 100_000_007 * (i + 1));
    (0..10)
        .map(|c| format!("{body}{c}"))
        .find(|d| sealbook_domain::redact::luhn(d))
        .unwrap()
}

/// Events that put a distinct secret under every spelling in every part of an event that takes
/// keys, and a distinct card number in every string and number the event carries; with every
/// secret sent.
fn secret_events() -> (Vec<Value>, Vec<String>) {
    let mut events = Vec::new();
    let mut secrets = Vec::new();
    let base = json!({
        "type": "config.changed", "occurred_at": "2026-03-01T10:00:00Z",
        "actor": {"type": "user", "id": "u-1", "name": "Ada"},
        "subject": {"type": "integration", "id": "stripe"},
    });
    for (i, k) in spellings().iter().enumerate() {
        for place in 0..4 {
            let secret = format!("zq{i:03}x{place}-Secret-Value-Vx");
            let mut ev = base.clone();
            match place {
                0 => ev["data"] = json!({"cfg": {"nested": [{k.clone(): secret}]}}),
                1 => {
                    ev["before"] = json!({"cfg": {k.clone(): secret}});
                    ev["after"] = json!({"cfg": {k.clone(): format!("{secret}-2")}});
                }
                2 => ev["changes"] = json!([{"field": format!("settings.{k}"), "after": secret}]),
                // Reference names are ASCII.
                _ if k.is_ascii() => ev["refs"] = json!({k.clone(): secret}),
                _ => ev["data"] = json!({k.clone(): [secret]}),
            }
            secrets.push(secret);
            events.push(ev);
        }
    }
    let mut n = 0;
    let mut next_card = || {
        n += 1;
        card(n)
    };
    let mut with_cards = base.clone();
    let c: Vec<String> = (0..10).map(|_| next_card()).collect();
    let spaced = |d: &str| {
        d.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    with_cards["actor"]["name"] = json!(format!("Ada {}", c[0]));
    with_cards["subject"]["name"] = json!(spaced(&c[1]));
    with_cards["reason"] =
        json!({"note": format!("paid with {} today", spaced(&c[2])), "ticket": c[3]});
    with_cards["context"] =
        json!({"user_agent": format!("UA/{}", c[4]), "session_id": "sess-0001-Private-Cookie"});
    with_cards["impersonation"] =
        json!({"session_id": "imp-0001-Private-Cookie", "ticket": format!("T-{}", c[5])});
    with_cards["refs"] = json!({"note": format!("card {} on file", c[6])});
    with_cards["data"] = json!({"text": format!("x{}y", c[7])});
    let mut e = serde_json::to_string(&with_cards).unwrap();
    // Card numbers sent as numbers: with a fraction, and with an exponent.
    e.insert_str(
        e.len() - 1,
        &format!(
            r#","changes":[{{"field":"amount","before":{}.0,"after":{}.{}e4}}]"#,
            c[8],
            &c[9][..12],
            &c[9][12..]
        ),
    );
    events.push(serde_json::from_str(&e).unwrap());
    secrets.extend(c);
    secrets.extend(["sess-0001-Private-Cookie", "imp-0001-Private-Cookie"].map(str::to_owned));
    (events, secrets)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// No file of the data directory, nor the server log, holds any of `secrets` (nor its digits).
fn assert_off_disk(dir: &Path, secrets: &[&str]) {
    let mut files = vec![dir.join("server.log")];
    for entry in std::fs::read_dir(dir.join("data")).unwrap() {
        files.push(entry.unwrap().path());
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        for secret in secrets {
            let digits: String = secret.chars().filter(char::is_ascii_digit).collect();
            for needle in [secret.to_string(), digits] {
                if needle.len() >= 12 {
                    assert!(
                        !contains(&bytes, &needle),
                        "{needle:?} found in {}",
                        f.display()
                    );
                }
            }
        }
    }
}

/// Every spelling and every place, on SQLite: accepted, stored redacted, and no secret in the
/// database, its WAL or the server log.
#[test]
fn secrets_under_every_spelling_and_cards_in_every_string_stay_off_the_disk() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let (events, secrets) = secret_events();
    s.ingest(&key, &Value::Array(events.clone()));
    let stored = s.all_events(&key, "&type=config.changed");
    assert_eq!(stored.len(), events.len());
    let last = stored.iter().find(|e| e["reason"].is_object()).unwrap();
    assert!(last["reason"]["note"]
        .as_str()
        .unwrap()
        .starts_with("paid with [redacted card ****"));
    assert_eq!(last["context"]["session_id"]["$redacted"], true);
    assert!(s.stop());
    let all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_off_disk(dir.path(), &all);
}

/// The same on PostgreSQL: no table holds a secret, in its text form or in its bytes.
#[test]
fn secrets_stay_out_of_every_postgres_table() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create());
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--database-url", &db.app_url]);
    let key = s.tenant_with_key("acme");
    let (events, secrets) = secret_events();
    s.ingest(&key, &Value::Array(events.clone()));
    assert_eq!(
        s.all_events(&key, "&type=config.changed").len(),
        events.len()
    );
    assert!(s.stop());
    let dumps: Vec<Vec<u8>> = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&db.owner_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let columns = c
            .query(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = 'sealbook'",
                &[],
            )
            .await
            .unwrap();
        let mut tables: Vec<String> = columns.iter().map(|r| r.get(0)).collect();
        tables.sort();
        tables.dedup();
        let mut out = Vec::new();
        for t in &tables {
            for r in c
                .query(&format!("SELECT x::text FROM sealbook.{t} x"), &[])
                .await
                .unwrap()
            {
                out.push(r.get::<_, String>(0).into_bytes());
            }
        }
        for r in columns.iter().filter(|r| r.get::<_, String>(2) == "bytea") {
            let (t, col): (String, String) = (r.get(0), r.get(1));
            for row in c
                .query(&format!("SELECT {col} FROM sealbook.{t} WHERE {col} IS NOT NULL"), &[])
                .await
                .unwrap()
            {
                out.push(row.get::<_, Vec<u8>>(0));
            }
        }
        assert!(tables.iter().any(|t| t == "events") && tables.iter().any(|t| t == "personal"));
        out
    });
    assert!(dumps.len() > events.len(), "the tables were read");
    for d in &dumps {
        for secret in &secrets {
            let digits: String = secret.chars().filter(char::is_ascii_digit).collect();
            for needle in [secret.clone(), digits] {
                if needle.len() >= 12 {
                    assert!(!contains(d, &needle), "{needle:?} in PostgreSQL");
                }
            }
        }
    }
}
