//! The durable spool for services without a database, against a real server: events emitted while
//! Sealbook is down survive a process restart and arrive exactly once; a full spool refuses new
//! events instead of dropping any; a poison event is parked and blocks nothing; compaction keeps
//! every undelivered event.

use crate::common::{tempdir, Server};
use sealbook_client::event::{Event, Party};
use sealbook_client::spool::{Spool, SpoolError};
use sealbook_client::{Client, RetryPolicy};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

fn ev(i: u64) -> Event {
    Event::new(
        "user.logout",
        Party::user(&format!("u-{i}")),
        Party::user(&format!("u-{i}")),
    )
    .data(serde_json::json!({"seq": i}))
}

fn client(url: &str, key: &str) -> Client {
    Client::with_timeout(url, key, Duration::from_secs(5))
        .unwrap()
        .retry_policy(RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        })
}

fn drain(rt: &Runtime, spool: &Arc<Spool>, c: &Client) {
    rt.block_on(async {
        for _ in 0..1000 {
            if spool.deliver_once(c).await.unwrap() == 0 {
                return;
            }
        }
        panic!("the spool did not drain");
    });
}

fn ids(s: &Server, key: &str) -> Vec<String> {
    s.all_events(key, "&type=user.logout")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn spooled_events_survive_a_restart_and_arrive_exactly_once() {
    let rt = Runtime::new().unwrap();
    let dir = tempdir();
    let spool_dir = dir.path().join("spool");
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let url = s.url.clone();
    assert!(s.stop());

    let spool = Arc::new(Spool::open(&spool_dir, 1 << 20).unwrap());
    let emitted: Vec<String> = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..30 {
            let e = ev(i);
            spool.emit(&e).await.unwrap();
            v.push(e.id().to_owned());
        }
        v
    });
    assert!(
        rt.block_on(spool.deliver_once(&client(&url, &key)))
            .is_err(),
        "Sealbook is down"
    );
    drop(spool); // the process ends

    let spool = Arc::new(Spool::open(&spool_dir, 1 << 20).unwrap());
    assert!(
        spool.pending_bytes() > 0,
        "everything emitted is still there"
    );
    let s = Server::start_with(dir.path(), &["--listen", url.trim_start_matches("http://")]);
    // A delivery that died after sending the first ten, before moving the cursor.
    rt.block_on(async {
        let c = client(&url, &key);
        let line = std::fs::read_to_string(spool_dir.join("seg-0.jsonl")).unwrap();
        let ten: Vec<serde_json::Value> = line
            .lines()
            .take(10)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        c.send(&ten).await.unwrap();
    });
    drain(&rt, &spool, &client(&url, &key));
    assert_eq!(spool.pending_bytes(), 0);
    let mut got = ids(&s, &key);
    got.sort();
    let mut want = emitted.clone();
    want.sort();
    assert_eq!(got, want, "each emitted event exactly once");
}

#[test]
fn a_full_spool_refuses_and_a_poison_event_is_parked() {
    let rt = Runtime::new().unwrap();
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let spool_dir = dir.path().join("spool");
    let spool = Arc::new(Spool::open(&spool_dir, 4000).unwrap());
    let (accepted, refused) = rt.block_on(async {
        let (mut ok, mut full) = (Vec::new(), 0);
        for i in 0..40 {
            let e = if i == 3 {
                // Sealbook refuses this one for good (422).
                Event::new("user.logout", Party::new("robot", "r"), Party::user("u"))
                    .with_id("poison")
            } else {
                ev(i)
            };
            match spool.emit(&e).await {
                Ok(()) => ok.push(e.id().to_owned()),
                Err(SpoolError::Full(_)) => full += 1,
                Err(e) => panic!("{e}"),
            }
        }
        (ok, full)
    });
    assert!(
        refused > 0 && accepted.len() > 5,
        "{} accepted, {refused} refused",
        accepted.len()
    );
    drain(&rt, &spool, &client(&s.url, &key));
    let got = ids(&s, &key);
    assert_eq!(got.len(), accepted.len() - 1, "all but the poison event");
    assert!(accepted
        .iter()
        .filter(|id| *id != "poison")
        .all(|id| got.contains(id)));
    let parked = std::fs::read_to_string(spool_dir.join("parked.jsonl")).unwrap();
    assert!(
        parked.contains("poison") && parked.contains("/actor/type"),
        "{parked}"
    );
    // Delivered space is reclaimed: the spool accepts again.
    rt.block_on(spool.emit(&ev(99))).unwrap();
    drain(&rt, &spool, &client(&s.url, &key));
    assert_eq!(ids(&s, &key).len(), accepted.len());
}
