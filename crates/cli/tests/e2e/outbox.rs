//! The outbox guarantees, each against a real PostgreSQL (the application's database) and a real
//! Sealbook server: rolled back means never; committed means exactly once, also when Sealbook is
//! down at commit time, when a relay dies between sending and marking, and with two relays at
//! once; per subject, in recorded order; a poison event is parked and blocks nothing.

use crate::common::{tempdir, Server};
use sealbook_client::event::{Event, Party};
use sealbook_client::outbox::{self, Relay, RelayConfig};
use sealbook_client::{Client, RetryPolicy};
use sealbook_testkit::pg::testdb::TestDb;
use serde_json::Value;
use std::time::Duration;
use tokio::runtime::Runtime;

fn app_db(rt: &Runtime) -> (TestDb, tokio_postgres::Client) {
    let db = rt.block_on(TestDb::create());
    let c = rt.block_on(async {
        let (c, conn) = tokio_postgres::connect(&db.owner_url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute("CREATE TABLE orders (id text PRIMARY KEY, status text NOT NULL)")
            .await
            .unwrap();
        outbox::migrate(&c).await.unwrap();
        c
    });
    (db, c)
}

fn audit(order: &str, seq: u64) -> Event {
    Event::new(
        "order.status_changed",
        Party::user("u-42").name("Ada"),
        Party::new("order", order),
    )
    .change("status", "open", "shipped")
    .data(serde_json::json!({"seq": seq}))
}

/// The business change and its audit event, in one transaction.
async fn ship(c: &mut tokio_postgres::Client, order: &str, seq: u64, commit: bool) -> String {
    let mut tx = c.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO orders VALUES ($1, 'shipped') ON CONFLICT (id) DO UPDATE SET status = 'shipped'",
        &[&order],
    )
    .await
    .unwrap();
    let e = audit(order, seq);
    outbox::record(&mut tx, &e).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    e.id().to_owned()
}

fn relay(rt: &Runtime, db: &TestDb, url: &str, key: &str) -> Relay {
    let client = Client::with_timeout(url, key, Duration::from_secs(5))
        .unwrap()
        .retry_policy(RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        });
    rt.block_on(Relay::connect(
        &db.owner_url,
        client,
        RelayConfig {
            batch: 100,
            ..RelayConfig::default()
        },
    ))
    .unwrap()
}

/// Runs relay cycles until nothing is left to deliver.
fn drain(rt: &Runtime, r: &mut Relay) {
    rt.block_on(async {
        for _ in 0..1000 {
            let c = r.run_once().await.unwrap();
            if c.delivered + c.parked == 0 {
                return;
            }
        }
        panic!("the outbox did not drain");
    })
}

fn pending(rt: &Runtime, c: &tokio_postgres::Client) -> i64 {
    rt.block_on(c.query_one(
        "SELECT count(*) FROM sealbook_outbox WHERE delivered_at IS NULL AND parked_at IS NULL",
        &[],
    ))
    .unwrap()
    .get(0)
}

/// The events of one type in the log, oldest first, as (id, index, data.seq, subject).
fn logged(s: &Server, key: &str) -> Vec<(String, u64, u64, String)> {
    let mut v: Vec<(String, u64, u64, String)> = s
        .all_events(key, "&type=order.status_changed")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["index"].as_u64().unwrap(),
                e["data"]["seq"].as_u64().unwrap_or(u64::MAX),
                e["subject"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort_by_key(|e| e.1);
    v
}

#[test]
fn rolled_back_never_committed_exactly_once_even_after_a_relay_dies() {
    let rt = Runtime::new().unwrap();
    let (db, mut c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let rolled_back = rt.block_on(ship(&mut c, "o-1", 1, false));
    let committed = rt.block_on(ship(&mut c, "o-2", 2, true));
    let orders: i64 = rt
        .block_on(c.query_one("SELECT count(*) FROM orders", &[]))
        .unwrap()
        .get(0);
    assert_eq!(orders, 1, "the business change rolled back with its event");

    // A relay that died after sending and before marking: Sealbook has the event, the outbox
    // still says pending.
    let row: String = rt
        .block_on(c.query_one(
            "SELECT event FROM sealbook_outbox WHERE event_id = $1",
            &[&committed],
        ))
        .unwrap()
        .get(0);
    let sent = s.ingest(&key, &serde_json::from_str::<Value>(&row).unwrap());
    assert_eq!(pending(&rt, &c), 1);
    let mut r = relay(&rt, &db, &s.url, &key);
    drain(&rt, &mut r);
    assert_eq!(pending(&rt, &c), 0);
    let log = logged(&s, &key);
    assert_eq!(
        log.iter().filter(|e| e.0 == committed).count(),
        1,
        "exactly once"
    );
    assert!(
        log.iter().all(|e| e.0 != rolled_back),
        "a rolled-back event never appears"
    );
    let idx: i64 = rt
        .block_on(c.query_one(
            "SELECT receipt_index FROM sealbook_outbox WHERE event_id = $1",
            &[&committed],
        ))
        .unwrap()
        .get(0);
    assert_eq!(
        idx as u64,
        sent["receipts"][0]["index"].as_u64().unwrap(),
        "the original receipt"
    );
}

#[test]
fn events_committed_while_sealbook_is_down_arrive_once_it_is_back() {
    let rt = Runtime::new().unwrap();
    let (db, mut c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let url = s.url.clone();
    let listen = url.trim_start_matches("http://").to_owned();
    assert!(s.stop());
    let ids: Vec<String> = (0..50)
        .map(|i| rt.block_on(ship(&mut c, &format!("o-{}", i % 5), i, true)))
        .collect();
    let mut r = relay(&rt, &db, &url, &key);
    let down = rt.block_on(r.run_once());
    assert!(
        down.is_err(),
        "Sealbook is down: the cycle fails and nothing is marked"
    );
    assert_eq!(pending(&rt, &c), 50);
    let s = Server::start_with(dir.path(), &["--listen", &listen]);
    drain(&rt, &mut r);
    assert_eq!(pending(&rt, &c), 0);
    let log = logged(&s, &key);
    for id in &ids {
        assert_eq!(
            log.iter().filter(|e| &e.0 == id).count(),
            1,
            "{id} exactly once"
        );
    }
}

#[test]
fn two_relays_at_once_deliver_each_event_once_in_subject_order() {
    let rt = Runtime::new().unwrap();
    let (db, mut c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    // 1,200 events over 12 subjects, recorded in sequence per subject.
    rt.block_on(async {
        for i in 0..1200u64 {
            ship(&mut c, &format!("o-{}", i % 12), i, true).await;
        }
    });
    let (mut a, mut b) = (relay(&rt, &db, &s.url, &key), relay(&rt, &db, &s.url, &key));
    rt.block_on(async {
        let ta = tokio::spawn(async move {
            let mut n = 0;
            for _ in 0..500 {
                n += a.run_once().await.unwrap().delivered;
            }
            n
        });
        let tb = tokio::spawn(async move {
            let mut n = 0;
            for _ in 0..500 {
                n += b.run_once().await.unwrap().delivered;
            }
            n
        });
        let (na, nb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(na + nb, 1200);
        assert!(na > 0 && nb > 0, "both relays worked: {na} + {nb}");
    });
    assert_eq!(pending(&rt, &c), 0);
    let log = logged(&s, &key);
    assert_eq!(log.len(), 1200, "each event exactly once");
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for (_, _, seq, subject) in &log {
        if let Some(prev) = last.insert(subject.clone(), *seq) {
            assert!(prev < *seq, "{subject}: {seq} after {prev}");
        }
    }
}

#[test]
fn a_poison_event_is_parked_and_blocks_nothing() {
    let rt = Runtime::new().unwrap();
    let (db, mut c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let poison = rt.block_on(async {
        ship(&mut c, "o-1", 1, true).await;
        let mut tx = c.transaction().await.unwrap();
        // An actor type Sealbook does not accept: 422 for this event only.
        let bad = Event::new(
            "order.status_changed",
            Party::new("robot", "r-1"),
            Party::new("order", "o-1"),
        )
        .data(serde_json::json!({"seq": 2}));
        outbox::record(&mut tx, &bad).await.unwrap();
        tx.commit().await.unwrap();
        ship(&mut c, "o-1", 3, true).await;
        ship(&mut c, "o-2", 4, true).await;
        bad.id().to_owned()
    });
    let mut r = relay(&rt, &db, &s.url, &key);
    drain(&rt, &mut r);
    let log = logged(&s, &key);
    assert_eq!(
        log.iter().map(|e| e.2).collect::<Vec<_>>(),
        vec![1, 3, 4],
        "the rest went through, in order"
    );
    let parked = rt.block_on(r.parked()).unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].event_id, poison);
    assert!(
        parked[0].error.contains("/actor/type"),
        "{}",
        parked[0].error
    );
    assert_eq!(pending(&rt, &c), 0);
}

#[test]
fn sqlx_transactions_record_too() {
    let rt = Runtime::new().unwrap();
    let (db, c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let (kept, dropped) = rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.owner_uri()).await.unwrap();
        let kept = audit("o-9", 1);
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO orders VALUES ('o-9', 'shipped')")
            .execute(&mut *tx)
            .await
            .unwrap();
        outbox::record(&mut tx, &kept).await.unwrap();
        tx.commit().await.unwrap();
        let dropped = audit("o-10", 2);
        let mut tx = pool.begin().await.unwrap();
        outbox::record(&mut tx, &dropped).await.unwrap();
        tx.rollback().await.unwrap();
        (kept.id().to_owned(), dropped.id().to_owned())
    });
    let mut r = relay(&rt, &db, &s.url, &key);
    drain(&rt, &mut r);
    let log = logged(&s, &key);
    assert!(log.iter().any(|e| e.0 == kept));
    assert!(log.iter().all(|e| e.0 != dropped));
    assert_eq!(pending(&rt, &c), 0);
}

/// `sealbook relay` as a process of its own drains the outbox.
#[test]
fn the_relay_command_delivers_the_outbox() {
    let rt = Runtime::new().unwrap();
    let (db, mut c) = app_db(&rt);
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, &key).unwrap();
    rt.block_on(async {
        for i in 0..20 {
            ship(&mut c, &format!("o-{}", i % 3), i, true).await;
        }
    });
    let out = std::process::Command::new(crate::common::BIN)
        .args([
            "relay",
            "--database-url",
            &db.owner_url,
            "--url",
            &s.url,
            "--key-file",
        ])
        .arg(&key_file)
        .arg("--until-empty")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(report["delivered"], 20);
    assert_eq!(pending(&rt, &c), 0);
    assert_eq!(logged(&s, &key).len(), 20);
}
