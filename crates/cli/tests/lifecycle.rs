//! Durability over process lifetimes: a clean restart, and `kill -9` in the middle of a load.

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[test]
fn restart_keeps_everything_and_indexes_continue() {
    let dir = tempdir();
    let s = Server::start(dir.path());
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

#[test]
fn sigterm_lets_requests_in_flight_commit() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let acked = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for c in 0..4 {
            let (s, key, acked, stop) = (&s, &key, &acked, &stop);
            scope.spawn(move || {
                let mut b = 0;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<Value> =
                        (0..100).map(|i| event(&format!("t{c}-{b}-{i}"))).collect();
                    match s
                        .http
                        .post(format!("{}/v1/events", s.url))
                        .bearer_auth(key)
                        .json(&batch)
                        .send()
                    {
                        Ok(r) if r.status() == 201 => acked.lock().unwrap().extend(
                            r.json::<Value>().unwrap()["receipts"]
                                .as_array()
                                .unwrap()
                                .clone(),
                        ),
                        _ => return,
                    }
                    b += 1;
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let pid = s.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
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
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let acked = Mutex::new(Vec::<Value>::new());
    std::thread::scope(|scope| {
        for c in 0..4 {
            let (s, key, acked) = (&s, &key, &acked);
            scope.spawn(move || {
                for b in 0.. {
                    let batch: Vec<Value> =
                        (0..50).map(|i| event(&format!("k{c}-{b}-{i}"))).collect();
                    match s
                        .http
                        .post(format!("{}/v1/events", s.url))
                        .bearer_auth(key)
                        .json(&batch)
                        .send()
                    {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = match r.json() {
                                Ok(v) => v,
                                Err(_) => return,
                            };
                            acked
                                .lock()
                                .unwrap()
                                .extend(v["receipts"].as_array().unwrap().clone());
                        }
                        _ => return,
                    }
                }
            });
        }
        // Let load build up, then pull the plug.
        while acked.lock().unwrap().len() < 2000 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pid = s.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
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
