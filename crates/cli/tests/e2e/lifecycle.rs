//! Durability over process lifetimes: a clean restart, and `kill -9` in the middle of a load.

use crate::common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[test]
fn restart_keeps_everything_and_indexes_continue() {
    let dir = tempdir();
    let s = Server::process(dir.path());
    let key = s.tenant_with_key("acme");
    let batch: Vec<Value> = (0..300).map(|i| event(&format!("r-{i}"))).collect();
    s.ingest(&key, &Value::Array(batch));
    let before = s.all_events(&key, "");
    assert!(s.stop(), "clean exit on SIGTERM");

    let s = Server::start(dir.path());
    let after = s.all_events(&key, "");
    assert_eq!(after, before, "every event, byte for byte in the view");
    let v = s.ingest(&key, &event("next"));
    assert_eq!(
        v["receipts"][0]["index"],
        before.len() as u64,
        "no gap after restart"
    );
}

/// One load client: batches of 50 until `stop` is set or the server stops answering; every
/// receipt it got goes into `acked`.
fn load(s: &Server, key: &str, client: usize, stop: &AtomicBool, acked: &Mutex<Vec<Value>>) {
    for b in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let batch: Vec<Value> = (0..50)
            .map(|i| event(&format!("c{client}-{b}-{i}")))
            .collect();
        let sent = s
            .http
            .post(format!("{}/v1/events", s.url))
            .bearer_auth(key)
            .json(&batch)
            .send();
        let receipts = match sent {
            Ok(r) if r.status() == 201 => r.json::<Value>().ok(),
            _ => None,
        };
        match receipts {
            Some(v) => acked
                .lock()
                .unwrap()
                .extend(v["receipts"].as_array().unwrap().clone()),
            None => return,
        }
    }
}

fn signal(s: &Server, sig: &str) {
    let pid = s.pid().to_string();
    std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
}

#[test]
fn sigterm_lets_requests_in_flight_commit() {
    let dir = tempdir();
    let s = Server::process(dir.path());
    let key = s.tenant_with_key("acme");
    let acked = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for c in 0..4 {
            let (s, key, acked, stop) = (&s, &key, &acked, &stop);
            scope.spawn(move || load(s, key, c, stop, acked));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        signal(&s, "-TERM");
        std::thread::sleep(std::time::Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
    });
    drop(s);
    let acked = acked.into_inner().unwrap();
    assert!(!acked.is_empty());
    let s = Server::start(dir.path());
    for r in &acked {
        let e: Value = s
            .get(&format!("/v1/events/{}", r["id"].as_str().unwrap()), &key)
            .json()
            .unwrap();
        assert_eq!(e["index"], r["index"]);
    }
}

#[test]
fn kill_9_during_load_loses_no_receipt() {
    let dir = tempdir();
    let s = Server::process(dir.path());
    let key = s.tenant_with_key("acme");
    let acked = Mutex::new(Vec::<Value>::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for c in 0..4 {
            let (s, key, acked, stop) = (&s, &key, &acked, &stop);
            scope.spawn(move || load(s, key, c, stop, acked));
        }
        // Let load build up, then pull the plug.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while acked.lock().unwrap().len() < 2000 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        signal(&s, "-KILL");
        stop.store(true, Ordering::Relaxed);
        assert!(
            acked.lock().unwrap().len() >= 2000,
            "the load never built up"
        );
    });
    drop(s);
    let acked = acked.into_inner().unwrap();
    let s = Server::start(dir.path());
    let all = s.all_events(&key, "");
    let by_id: std::collections::HashMap<&str, &Value> =
        all.iter().map(|e| (e["id"].as_str().unwrap(), e)).collect();
    for r in &acked {
        let e = by_id
            .get(r["id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("acknowledged {} lost", r["id"]));
        assert_eq!(e["index"], r["index"]);
        assert_eq!(e["leaf_hash"], r["leaf_hash"]);
    }
    let indexes: Vec<u64> = all.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(
        indexes,
        (0..all.len() as u64).rev().collect::<Vec<_>>(),
        "no gap after the crash"
    );
    let v = s.ingest(&key, &event("after-crash"));
    assert_eq!(v["receipts"][0]["index"], all.len() as u64);
}
