//! Upgrading a database written before postings and content hashes were keyed: the embedded store
//! rebuilds them at the server's start; PostgreSQL through the owner (`sealbook migrate`, or a
//! server given `--database-owner-url`), and a server without the owner refuses, naming the
//! command. Each test writes a database with this build, turns it into what the earlier build
//! wrote (XXH3 postings, SHA-256 content hashes, `hash_format = unkeyed`), and checks what a user
//! relies on afterwards: search finds the events, retries are answered as before.

use crate::common::{event, tempdir, Server, BIN};
use sealbook_domain::{canonical_bytes, client_event, spelled_terms, PersonalValue};
use sealbook_testkit::pg::testdb::TestDb;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The events written before the upgrade, in two tenants: `acme` gets the common event, one with
/// a redacted secret, one with a reason note and one without a client id; `globex` one event.
fn old_events() -> Vec<Value> {
    let mut secret = event("old-secret");
    secret["data"] = json!({"password": "hunter2", "kept": 1});
    let mut note = event("old-note");
    note["actor"] = json!({"type": "user", "id": "u-7", "name": "Grace Hopper"});
    note["reason"] = json!({"note": "Quarterly compliance review"});
    note["refs"] = json!({"ticket": "SUP-12"});
    let mut anonymous = event("x");
    anonymous.as_object_mut().unwrap().remove("id");
    vec![event("old-1"), secret, note, anonymous]
}

/// What the earlier build stored for an event: postings (XXH3-64 of each spelled term) and the
/// content hash (SHA-256 of the canonical client event), from its leaf and personal values.
fn unkeyed(leaf: &[u8], personal: Option<&[u8]>) -> (Vec<i64>, Vec<u8>) {
    let personal: Vec<PersonalValue> = personal
        .map(|p| serde_json::from_slice(p).unwrap())
        .unwrap_or_default();
    let client = client_event(leaf, &personal).unwrap();
    let terms = spelled_terms(&client)
        .iter()
        .map(|t| xxhash_rust::xxh3::xxh3_64(t.as_bytes()) as i64)
        .collect();
    let hash = Sha256::digest(canonical_bytes(&Value::Object(client))).to_vec();
    (terms, hash)
}

/// Ingests the old events; returns (acme key, globex key, acme receipts by id).
fn write_events(s: &Server) -> (String, String, Vec<Value>) {
    let acme = s.tenant_with_key("acme");
    let globex = s.tenant_with_key("globex");
    let r = s.ingest(&acme, &Value::Array(old_events()));
    s.ingest(&globex, &event("g-1"));
    (acme, globex, r["receipts"].as_array().unwrap().clone())
}

/// rowid, tenant number, leaf, personal values.
type StoredRow = (i64, i64, Vec<u8>, Option<Vec<u8>>);

/// Turns the embedded database at `path` into what the build before keyed hashes left: schema
/// version 2 (so the real migration to 3 marks it), XXH3 postings, SHA-256 content hashes.
fn make_sqlite_unkeyed(path: &Path) {
    let mut db = rusqlite::Connection::open(path).unwrap();
    let tx = db.transaction().unwrap();
    let bits: i64 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'bucket_bits'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let rows: Vec<StoredRow> = tx
        .prepare("SELECT e.rowid, e.tenant_no, e.leaf, p.data FROM events e LEFT JOIN personal p ON p.rowid = e.rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tx.execute("DELETE FROM terms", []).unwrap();
    for (rowid, no, leaf, personal) in rows {
        let (terms, hash) = unkeyed(&leaf, personal.as_deref());
        let idx = rowid & ((1 << 40) - 1);
        for t in terms {
            tx.execute(
                "INSERT OR IGNORE INTO terms(tenant_no, bucket, term, idx) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![no, idx >> bits, t, idx],
            )
            .unwrap();
        }
        tx.execute(
            "UPDATE events SET content_hash = ?1 WHERE rowid = ?2",
            rusqlite::params![hash, rowid],
        )
        .unwrap();
    }
    tx.execute_batch(
        "UPDATE meta SET value = '2' WHERE key = 'schema_version';
         DELETE FROM meta WHERE key = 'setting:hash_format';",
    )
    .unwrap();
    tx.commit().unwrap();
}

fn ids(events: &[Value]) -> Vec<&str> {
    let mut v: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    v.sort();
    v
}

/// The tenant's events that clients sent (not Sealbook's own records of tenants and keys).
fn client(s: &Server, key: &str, query: &str) -> Vec<Value> {
    s.all_events(key, &format!("&recorded_by=client{query}"))
}

/// What a user relies on after the upgrade: search by actor, subject, reference, correlation id
/// and words finds the old events (in their tenant only); a faithful retry of an old event (also
/// one differing only in a redacted secret) answers 200 with its first receipt; other content 409.
fn check_upgraded(s: &Server, acme: &str, globex: &str, receipts: &[Value]) {
    let anon = receipts[3]["id"].as_str().unwrap();
    let mut all = vec!["old-1", "old-note", "old-secret", anon];
    all.sort();
    assert_eq!(ids(&client(s, acme, "")), all);
    assert_eq!(
        ids(&client(s, acme, "&actor=u-42")),
        {
            let mut v = vec!["old-1", "old-secret", anon];
            v.sort();
            v
        },
        "by actor (a personal value)"
    );
    assert_eq!(ids(&client(s, acme, "&actor=u-7")), ["old-note"]);
    assert_eq!(ids(&client(s, acme, "&subject=order:o-1001")).len(), 4);
    assert_eq!(ids(&client(s, acme, "&ref=ticket:SUP-12")), ["old-note"]);
    assert_eq!(ids(&client(s, acme, "&ref=order_number:PO-1001")).len(), 3);
    assert_eq!(ids(&client(s, acme, "&correlation_id=req-7")).len(), 4);
    assert_eq!(
        ids(&client(s, acme, "&q=quarterly%20compliance")),
        ["old-note"]
    );
    assert_eq!(ids(&client(s, acme, "&q=hopper")), ["old-note"]);
    assert_eq!(ids(&client(s, globex, "&actor=u-42")), ["g-1"]);

    // Faithful retries: the first receipts, nothing new.
    let events = old_events();
    for (i, ev) in events.iter().take(3).enumerate() {
        let r = s.post_json("/v1/events", acme, ev);
        assert_eq!(r.status(), 200, "retry of {}", ev["id"]);
        let body: Value = r.json().unwrap();
        assert_eq!(body["receipts"][0], receipts[i]);
    }
    let mut other_secret = events[1].clone();
    other_secret["data"]["password"] = json!("letmein");
    let r = s.post_json("/v1/events", acme, &other_secret);
    assert_eq!(
        r.status(),
        200,
        "a secret is not part of what a retry compares"
    );
    // Other content under an old id: a conflict.
    let mut changed = event("old-1");
    changed["actor"]["email"] = json!("grace@example.com");
    let r = s.post_json("/v1/events", acme, &changed);
    assert_eq!(r.status(), 409);
    let p: Value = r.json().unwrap();
    assert!(p["type"].as_str().unwrap().ends_with("id-conflict"), "{p}");
    assert_eq!(client(s, acme, "").len(), 4, "nothing was added");
}

fn sqlite_setting(path: &Path) -> String {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'setting:hash_format'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn an_unkeyed_sqlite_database_is_rebuilt_at_start_once() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let (acme, globex, receipts) = write_events(&s);
    drop(s);
    let path = dir.path().join("data/sealbook.db");
    make_sqlite_unkeyed(&path);

    let s = Server::start(dir.path());
    check_upgraded(&s, &acme, &globex, &receipts);
    drop(s);
    assert_eq!(sqlite_setting(&path), "hmac-sha256-v1");

    // A second start does not rebuild: a posting planted now would be deleted by a rebuild.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "INSERT INTO terms(tenant_no, bucket, term, idx) VALUES (1, 0, 42, 0)",
        [],
    )
    .unwrap();
    drop(db);
    let s = Server::start(dir.path());
    assert_eq!(client(&s, &acme, "&actor=u-7").len(), 1);
    drop(s);
    let planted: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM terms WHERE tenant_no = 1 AND term = 42",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(planted, 1, "the second start rebuilt again");
}

/// Every posting and content hash of an unkeyed database, as the owner sees them.
async fn pg_owner(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.execute(
        "SELECT set_config('sealbook.owner_access', 'on', false)",
        &[],
    )
    .await
    .unwrap();
    c
}

/// Turns the PostgreSQL database into what the build before keyed hashes left (as the owner).
async fn make_pg_unkeyed(owner_url: &str) {
    let mut c = pg_owner(owner_url).await;
    let tx = c.transaction().await.unwrap();
    let rows = tx
        .query(
            "SELECT e.tenant_id, e.idx, e.leaf, p.data FROM sealbook.events e LEFT JOIN sealbook.personal p ON p.tenant_id = e.tenant_id AND p.idx = e.idx",
            &[],
        )
        .await
        .unwrap();
    tx.execute("DELETE FROM sealbook.terms", &[]).await.unwrap();
    for r in rows {
        let (tenant, idx): (String, i64) = (r.get(0), r.get(1));
        let leaf: Vec<u8> = r.get(2);
        let personal: Option<Vec<u8>> = r.get(3);
        let (terms, hash) = unkeyed(&leaf, personal.as_deref());
        for t in terms {
            tx.execute(
                "INSERT INTO sealbook.terms(tenant_id, bucket, term, idx) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&tenant, &(idx >> 12), &t, &idx],
            )
            .await
            .unwrap();
        }
        tx.execute(
            "UPDATE sealbook.events SET content_hash = $1 WHERE tenant_id = $2 AND idx = $3",
            &[&hash, &tenant, &idx],
        )
        .await
        .unwrap();
    }
    tx.execute(
        "UPDATE sealbook.settings SET value = 'unkeyed' WHERE name = 'hash_format'",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn pg_setting(owner_url: &str) -> String {
    pg_owner(owner_url)
        .await
        .query_one(
            "SELECT value FROM sealbook.settings WHERE name = 'hash_format'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

struct Pg {
    token_file: String,
    redaction_file: String,
}

fn pg_files(dir: &Path) -> Pg {
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, "t".repeat(48)).unwrap();
    let redaction_file = dir.join("redaction-key");
    std::fs::write(
        &redaction_file,
        "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=\n",
    )
    .unwrap();
    Pg {
        token_file: token_file.display().to_string(),
        redaction_file: redaction_file.display().to_string(),
    }
}

fn pg_args<'a>(f: &'a Pg, app: &'a str, owner: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "--database-url",
        app,
        "--admin-token-file",
        &f.token_file,
        "--redaction-key-file",
        &f.redaction_file,
    ];
    if let Some(o) = owner {
        args.extend(["--database-owner-url", o]);
    }
    args
}

/// The error `Server::build` refuses to start with.
fn start_error(dir: &Path, args: &[&str]) -> String {
    let mut flags = vec![
        "--data-dir".to_owned(),
        dir.join("data").display().to_string(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    flags.extend(args.iter().map(|a| a.to_string()));
    let config = sealbook::ServeArgs::parse_flags(flags)
        .unwrap()
        .resolve()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(sealbook::Server::build(config, None))
        .err()
        .expect("the server refuses to start");
    format!("{err:#}")
}

#[test]
fn an_unkeyed_postgres_database_is_rebuilt_by_the_owner_and_refused_without() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create_with_owner_role());
    let dir = tempdir();
    let f = pg_files(dir.path());
    let token = "t".repeat(48);
    let s = Server::start_with_token(
        dir.path(),
        &pg_args(&f, &db.app_url, Some(&db.owner_url)),
        &token,
    );
    let (acme, globex, receipts) = write_events(&s);
    drop(s);
    rt.block_on(make_pg_unkeyed(&db.owner_url));

    // The application role may not rewrite events: without the owner the server refuses, and
    // says what to run.
    let err = start_error(dir.path(), &pg_args(&f, &db.app_url, None));
    assert!(
        err.contains("sealbook migrate --database-owner-url") && err.contains("unkeyed"),
        "{err}"
    );
    assert_eq!(rt.block_on(pg_setting(&db.owner_url)), "unkeyed");

    // `sealbook migrate` without the secret refuses rather than key with a wrong one.
    let out = std::process::Command::new(BIN)
        .args(["migrate", "--database-owner-url", &db.owner_url])
        .env_remove("SEALBOOK_REDACTION_KEY")
        .env_remove("SEALBOOK_REDACTION_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--redaction-key-file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rt.block_on(pg_setting(&db.owner_url)), "unkeyed");

    // The operator's upgrade: `sealbook migrate` as the owner, with the servers' secret.
    let out = std::process::Command::new(BIN)
        .args([
            "migrate",
            "--database-owner-url",
            &db.owner_url,
            "--redaction-key-file",
            &f.redaction_file,
        ])
        .env_remove("SEALBOOK_REDACTION_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rt.block_on(pg_setting(&db.owner_url)), "hmac-sha256-v1");
    let s = Server::start_with_token(dir.path(), &pg_args(&f, &db.app_url, None), &token);
    check_upgraded(&s, &acme, &globex, &receipts);
}

#[test]
fn an_unkeyed_postgres_database_is_rebuilt_when_the_server_starts_as_the_owner() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create_with_owner_role());
    let dir = tempdir();
    let f = pg_files(dir.path());
    let token = "t".repeat(48);
    let args = pg_args(&f, &db.app_url, Some(&db.owner_url));
    let s = Server::start_with_token(dir.path(), &args, &token);
    let (acme, globex, receipts) = write_events(&s);
    drop(s);
    rt.block_on(make_pg_unkeyed(&db.owner_url));

    let s = Server::start_with_token(dir.path(), &args, &token);
    check_upgraded(&s, &acme, &globex, &receipts);
    drop(s);
    assert_eq!(rt.block_on(pg_setting(&db.owner_url)), "hmac-sha256-v1");

    // A second start does not rebuild: a posting planted now would be deleted by a rebuild.
    rt.block_on(async {
        pg_owner(&db.owner_url)
            .await
            .execute(
                "INSERT INTO sealbook.terms(tenant_id, bucket, term, idx) VALUES ('acme', 0, 42, 0)",
                &[],
            )
            .await
            .unwrap()
    });
    let s = Server::start_with_token(dir.path(), &args, &token);
    assert_eq!(client(&s, &acme, "&actor=u-7").len(), 1);
    drop(s);
    let planted: i64 = rt.block_on(async {
        pg_owner(&db.owner_url)
            .await
            .query_one(
                "SELECT count(*) FROM sealbook.terms WHERE tenant_id = 'acme' AND term = 42",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(planted, 1, "the second start rebuilt again");
}
