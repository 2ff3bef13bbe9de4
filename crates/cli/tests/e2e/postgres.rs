//! End to end on PostgreSQL: two `sealbook serve` nodes on one database writing the same tenant,
//! revocation seen by every node at once, and the database going away under load.

use crate::common::{event, tempdir, Server, BIN};
use sealbook_testkit::pg::testdb::{self, TestDb};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Shared {
    token: String,
    token_file: String,
    key_file: String,
    redaction_file: String,
    vkey: String,
}

/// An operator token and a checkpoint key shared by every node, as a deployment would have.
fn shared(dir: &Path) -> Shared {
    let token = "t".repeat(48);
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, &token).unwrap();
    let key_file = dir.join("checkpoint-key");
    std::fs::write(&key_file, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n").unwrap();
    let redaction_file = dir.join("redaction-key");
    std::fs::write(
        &redaction_file,
        "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=\n",
    )
    .unwrap();
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
    Shared {
        token,
        token_file: token_file.to_str().unwrap().to_owned(),
        key_file: key_file.to_str().unwrap().to_owned(),
        redaction_file: redaction_file.to_str().unwrap().to_owned(),
        vkey: sealbook_logmath::note::NoteSigner::new("sealbook.localhost/acme", &seed)
            .unwrap()
            .verifier_key(),
    }
}

fn node(dir: &Path, name: &str, sh: &Shared, url: &str, owner: Option<&str>) -> Server {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let mut args = vec![
        "--database-url",
        url,
        "--admin-token-file",
        &sh.token_file,
        "--checkpoint-key-file",
        &sh.key_file,
        "--redaction-key-file",
        &sh.redaction_file,
    ];
    if let Some(o) = owner {
        args.extend(["--database-owner-url", o]);
    }
    Server::start_with_token(&d, &args, &sh.token)
}

fn verify(s: &Server, key: &str, vkey: &str, state: &Path) -> std::process::Output {
    Command::new(BIN)
        .args([
            "verify", "--url", &s.url, "--key", key, "--vkey", vkey, "--state",
        ])
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn two_nodes_write_one_tenant_into_one_verifiable_log() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create());
    let dir = tempdir();
    let sh = shared(dir.path());
    let a = node(dir.path(), "a", &sh, &db.app_url, Some(&db.owner_url));
    let b = node(dir.path(), "b", &sh, &db.app_url, None);
    a.create_tenant("acme");
    let (key_id, key) = a.create_key("acme", &["events:write", "events:read"]);

    // 2 nodes x 4 clients x 2,000 events, batches of 100, all at once.
    let urls = [a.url.clone(), b.url.clone()];
    let handles: Vec<_> = (0..8)
        .map(|c| {
            let (url, key) = (urls[c % 2].clone(), key.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut indexes = Vec::new();
                for batch in 0..20 {
                    let events: Vec<Value> = (0..100)
                        .map(|i| event(&format!("c{c}-{}", batch * 100 + i)))
                        .collect();
                    let r = http
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&key)
                        .json(&events)
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 201);
                    let body: Value = r.json().unwrap();
                    indexes.extend(
                        body["receipts"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| r["index"].as_u64().unwrap()),
                    );
                }
                indexes
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    // Index 0 is the key's creation; the 16,000 events follow, each index exactly once.
    assert_eq!(all, (1..=16_000).collect::<Vec<u64>>());

    // Checkpoints signed by either node agree, and the whole log verifies through either node.
    let sign = |s: &Server| s.sign_checkpoint(&key);
    let from_a = sign(&a);
    let from_b = sign(&b);
    assert_eq!(from_a, from_b, "one log, one checkpoint");
    assert!(from_a.starts_with("sealbook.localhost/acme\n16001\n"));
    let state = dir.path().join("state");
    let out = verify(&b, &key, &sh.vkey, &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    a.ingest(&key, &json!([event("late")]));
    sign(&a);
    let out = verify(&a, &key, &sh.vkey, &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("consistent with the saved checkpoint of size 16001"));

    // An event carrying a secret, retried through the other node, is the same event: both nodes
    // redact it identically (shared redaction secret), so the retry replays the first receipt.
    let mut secret = event("with-secret");
    secret["data"] = json!({"password": "hunter2-correct-horse"});
    let first = a.ingest(&key, &json!([secret.clone()]));
    let r = b.post_json("/v1/events", &key, &json!([secret]));
    assert_eq!(r.status(), 200, "a faithful retry");
    let again: Value = r.json().unwrap();
    assert_eq!(again["receipts"][0]["index"], first["receipts"][0]["index"]);

    // A revocation through one node holds on the other at once.
    assert_eq!(b.get("/v1/events?limit=1", &key).status(), 200);
    let r = a
        .http
        .delete(format!("{}/v1/tenants/acme/keys/{key_id}", a.url))
        .bearer_auth(&sh.token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(b.get("/v1/events?limit=1", &key).status(), 401);
}

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (u, cs) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                cs.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Polls `f` every 100 ms until it holds; gives up after 300 tries (a bound so that a broken
/// recovery fails the test instead of hanging it, not a timing goal).
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} never happened in 300 tries");
}

#[test]
fn the_database_going_away_answers_503_and_recovers_without_losing_an_event() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create());
    let dir = tempdir();
    let sh = shared(dir.path());
    let proxy = Proxy::start(5432);
    let url = db.app_url_at("127.0.0.1", proxy.port);
    let s = node(dir.path(), "a", &sh, &url, Some(&db.owner_url));
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read"]);

    // Load from 4 clients that retry (same ids) whatever is not acknowledged, while the database
    // goes away, comes back, and has its backends terminated.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let unavailable = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (url, key, stop, acked, unavailable) = (
                s.url.clone(),
                key.clone(),
                stop.clone(),
                acked.clone(),
                unavailable.clone(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let events: Vec<Value> =
                        (0..20).map(|i| event(&format!("c{c}-{n}-{i}"))).collect();
                    loop {
                        let r = http
                            .post(format!("{url}/v1/events"))
                            .bearer_auth(&key)
                            .json(&events)
                            .send()
                            .unwrap();
                        if r.status() == 201 || r.status() == 200 {
                            let body: Value = r.json().unwrap();
                            acked.lock().unwrap().extend(
                                body["receipts"].as_array().unwrap().iter().map(|r| {
                                    (
                                        r["id"].as_str().unwrap().to_owned(),
                                        r["index"].as_u64().unwrap(),
                                    )
                                }),
                            );
                            break;
                        }
                        assert_eq!(r.status(), 503, "only 503 while the database is away");
                        assert!(r.headers().contains_key("retry-after"));
                        let p: Value = r.json().unwrap();
                        assert!(p.get("receipts").is_none());
                        unavailable.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    proxy.cut();
    wait_for("readyz to go red", || s.get("/readyz", "").status() == 503);
    wait_for("ingest to answer 503", || {
        unavailable.load(Ordering::SeqCst) > 0
    });
    let r = s.post_json("/v1/events", &key, &json!([event("during-outage")]));
    assert_eq!(r.status(), 503);
    proxy.restore();
    wait_for("readyz to recover", || s.get("/readyz", "").status() == 200);
    std::thread::sleep(Duration::from_millis(500));

    // Terminating Sealbook's backends mid-load.
    rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&db.owner_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
            &[&db.name(), &testdb::APP_ROLE],
        )
        .await
        .unwrap();
    });
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }

    // Every acknowledged event is there, at its index; the log is gap-free and verifies.
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "load ran: {} acknowledged", acked.len());
    for (id, index) in acked.iter().step_by(7) {
        let e: Value = s.get(&format!("/v1/events/{id}"), &key).json().unwrap();
        assert_eq!(e["index"].as_u64(), Some(*index), "{id}");
    }
    let stored = s.all_events(&key, "");
    let indexes: BTreeSet<u64> = stored
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes.len(), stored.len());
    assert_eq!(
        *indexes.iter().next_back().unwrap() + 1,
        stored.len() as u64,
        "no gap"
    );
    let ids: BTreeSet<&str> = stored
        .iter()
        .map(|e| e["id"].as_str().unwrap_or(""))
        .collect();
    assert!(acked.iter().all(|(id, _)| ids.contains(id.as_str())));
    assert!(
        !ids.contains("during-outage"),
        "a refused event was not stored"
    );
    let r = s.post_empty("/v1/log/checkpoint", &key);
    assert_eq!(r.status(), 200);
    let out = verify(&s, &key, &sh.vkey, &dir.path().join("state"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ticket_type(description: &str, versions: Value) -> Value {
    json!({
        "description": description, "owner": "support", "severity": "medium",
        "retention": "business-3y", "label": "{actor.name} escalated {subject.id}",
        "ocsf": {"class_uid": 6003, "class_name": "API Activity", "activity_id": 99},
        "versions": versions,
    })
}

/// Version `n`, adding `field` to version 1's `tier` and `note`.
fn ticket_version(n: u32, field: &str) -> Value {
    json!({"version": n, "requires": [],
        "schema": {"type": "object", "properties": {"tier": {"type": "integer"}, "note": {"type": "string"}, field: {"type": "string"}}},
        "sample": {"tier": 1}, "rejected": {"tier": "x"}})
}

/// The platform catalog on several nodes: two nodes starting at once record the built-in catalog
/// once; a type the operator adds through one node holds on the other within seconds; two
/// conflicting changes sent to both nodes at once cannot both win.
#[test]
fn platform_catalog_changes_reach_every_node_and_never_both_win() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create());
    let dir = tempdir();
    let sh = shared(dir.path());
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| node(dir.path(), "a", &sh, &db.app_url, Some(&db.owner_url)));
        let b = s.spawn(|| node(dir.path(), "b", &sh, &db.app_url, Some(&db.owner_url)));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (_, platform) = a.create_key("platform", &["events:read"]);
    let builtin = sealbook_catalog::Catalog::builtin().types().count();
    assert_eq!(
        a.all_events(&platform, "&type=catalog.type_changed").len(),
        builtin,
        "recorded once though both nodes started at once"
    );
    let acme = a.tenant_with_key("acme");
    let put = |s: &Server, body: &Value| {
        s.put_json("/v1/catalog/types/ticket.escalated", &sh.token, body)
    };
    // Sent through node B until B accepts it.
    let accepted_by_b = |what: &str, id: &str, ty: &str| {
        let mut e = event(id);
        e["type"] = json!(ty);
        e["data"] = json!({"tier": 1});
        wait_for(what, || {
            b.post_json("/v1/events", &acme, &json!([e.clone()]))
                .status()
                == 201
        });
    };
    let r = put(&a, &ticket_type("v1", json!([ticket_version(1, "note")])));
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    accepted_by_b(
        "node b to see the new platform type",
        "t1",
        "ticket.escalated",
    );

    // A tenant's own type added through node A holds on node B too (B's copy is re-read once a
    // catalog event lands above what it read).
    let (_, acme_admin) = a.create_key("acme", &["tenant:admin"]);
    let r = a.put_json(
        "/v1/catalog/types/ticket.reopened",
        &acme_admin,
        &ticket_type("reopened", json!([ticket_version(1, "note")])),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    accepted_by_b(
        "node b to see the tenant's new type",
        "r1",
        "ticket.reopened",
    );

    // Two different version 2s at once through both nodes: exactly one is accepted.
    let x = ticket_type(
        "x",
        json!([ticket_version(1, "note"), ticket_version(2, "queue")]),
    );
    let y = ticket_type(
        "y",
        json!([ticket_version(1, "note"), ticket_version(2, "team")]),
    );
    let (ra, rb) = std::thread::scope(|s| {
        let ra = s.spawn(|| put(&a, &x));
        let rb = s.spawn(|| put(&b, &y));
        (ra.join().unwrap(), rb.join().unwrap())
    });
    let statuses = [ra.status().as_u16(), rb.status().as_u16()];
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "exactly one wins: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 409, 422].contains(s)),
        "{statuses:?}"
    );
    let winner = if statuses[0] == 200 { "x" } else { "y" };
    let (_, reader) = a.create_key("acme", &["events:read"]);
    for n in [&a, &b] {
        wait_for("both nodes to agree on the winner", || {
            let c: Value = n.get("/v1/catalog", &reader).json().unwrap();
            c["types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "ticket.escalated" && t["description"] == winner)
        });
    }
}

/// `serve` refuses to run as a role that row-level security does not confine (here the
/// superuser the test database was migrated by), and says what to do instead.
#[test]
fn serve_refuses_a_role_that_row_level_security_does_not_confine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = sealbook::ServeArgs::parse_flags([
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.owner_url,
    ])
    .unwrap()
    .resolve()
    .unwrap();
    let err = match rt.block_on(sealbook::Server::build(config, None)) {
        Ok(_) => panic!("serve started as the superuser"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("is a superuser") && err.contains("member of sealbook_rw"),
        "{err}"
    );
}
