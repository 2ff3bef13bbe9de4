//! End to end: verifiable exports. An export streamed over HTTP verifies offline with
//! `sealbook verify-export` and a verifier key alone; any edit to the file is caught and located,
//! including dropped lines with a rebuilt proof and forged filters (the export's claims are
//! signed); the export itself is an `audit_log.exported` event committed before its first byte,
//! with its filters redacted; exports are capped per tenant and end when the client stops reading.

use crate::common::{event, tempdir, Server, BIN};
use base64::{engine::general_purpose::STANDARD, Engine};
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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("verified 200 exported events"), "{stdout}");
    assert!(stdout.contains("signed filters: actor=\"u-1\""), "{stdout}");

    // The export is in the log: who, which filters, how many, pinned to which checkpoint.
    let audit = s.all_events(&key, "&type=audit_log.exported");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["data"]["count"], 200);
    assert_eq!(audit[0]["data"]["checkpoint_size"], trailer["size"]);
    assert_eq!(
        audit[0]["actor"],
        json!({"type": "api_key", "id": key_id, "name": "test"})
    );
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
    assert!(err.contains("count 200"), "{err}");
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
    for q in ["format=xml", "limit=5", "cursor=abc", "since=yesterday"] {
        let r = s.get(&format!("/v1/exports/events?{q}"), &exporter);
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let text = s.get("/v1/exports/events", &exporter).text().unwrap();
    assert!(!text.contains("g-1") && !text.contains("globex"));
    assert!(text.contains("a-1"));
}

/// Rewrites the trailer line of `lines` with `f`.
fn with_trailer(lines: &mut [String], f: impl Fn(&mut Value)) {
    let last = lines.last_mut().unwrap();
    let mut t: Value = serde_json::from_str(last).unwrap();
    f(&mut t["trailer"]);
    *last = t.to_string();
}

/// Item 7 of the hardening issue: what the verifier accepted from a file it should not.
#[test]
fn verify_export_refuses_truncation_forged_filters_and_duplicate_keys() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    let batch: Vec<Value> = (0..40)
        .map(|i| {
            let mut e = event(&format!("e-{i}"));
            e["actor"]["id"] = json!(if i % 4 == 0 { "u-1" } else { "u-2" });
            e
        })
        .collect();
    s.ingest(&key, &Value::Array(batch));
    let vkey = s.verifier_key(&key);
    let check = |name: &str, lines: &[String]| -> Output {
        let p = dir.path().join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        verify_export(&p, &vkey)
    };
    let refused = |name: &str, lines: &[String], why: &str| {
        let out = check(name, lines);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(why),
            "{name}: expected {why:?} in {}",
            stderr(&out)
        );
    };
    let whole: Vec<String> = s
        .get("/v1/exports/events", &key)
        .text()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(check("whole", &whole).status.code(), Some(0));

    // Drop an event and rebuild a valid batch proof from the remaining leaf hashes (the whole log
    // is in the file, so every leaf hash is known): the proof holds, the signed claims do not.
    let events: Vec<Value> = whole[1..whole.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let size = events.len() as u64;
    let mut by_index: Vec<(u64, sealbook_logmath::Hash)> = events
        .iter()
        .map(|e| {
            let h = hex_hash(e["leaf_hash"].as_str().unwrap());
            (e["index"].as_u64().unwrap(), h)
        })
        .collect();
    by_index.sort_by_key(|l| l.0);
    let tree = sealbook_logmath::MemoryTree::from_leaves(by_index.iter().map(|l| l.1).collect());
    let mut dropped = whole.clone();
    let gone: Value = serde_json::from_str(&dropped.remove(5)).unwrap();
    let keep: Vec<u64> = by_index
        .iter()
        .map(|l| l.0)
        .filter(|i| Some(*i) != gone["index"].as_u64())
        .collect();
    let proof = sealbook_logmath::batch_proof(&tree, &keep, size)
        .unwrap()
        .unwrap();
    with_trailer(&mut dropped, |t| {
        t["count"] = json!(keep.len());
        t["proof"] = json!(proof
            .iter()
            .map(|h| STANDARD.encode(h.0))
            .collect::<Vec<_>>());
    });
    refused("rebuilt", &dropped, "the signed claims count");

    // A filtered export emptied to its header and trailer, count 0.
    let filtered: Vec<String> = s
        .get("/v1/exports/events?actor=u-1", &key)
        .text()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(check("filtered", &filtered).status.code(), Some(0));
    let mut empty = vec![filtered[0].clone(), filtered.last().unwrap().clone()];
    with_trailer(&mut empty, |t| {
        t["count"] = json!(0);
        t["proof"] = json!([]);
    });
    refused("empty", &empty, "the signed claims count");
    // The same with the header claiming the whole log under another's trailer.
    let mut relabelled = filtered.clone();
    relabelled[0] = whole[0].clone();
    refused(
        "relabelled",
        &relabelled,
        "filters are not the ones the export's claims sign",
    );

    // Filters edited in the header.
    let mut forged = filtered.clone();
    forged[0] = forged[0].replace("\"u-1\"", "\"u-2\"");
    refused("forged", &forged, "filters are not the ones");

    // A key twice in one line: serde_json would keep the last one silently.
    let mut twice = filtered.clone();
    twice[2] = twice[2].replacen('{', "{\"tenant\":\"globex\",", 1);
    refused("twice", &twice, "appears twice");

    // The audit event claimed in the trailer is not the signed one.
    let mut moved = filtered.clone();
    with_trailer(&mut moved, |t| t["export_event"]["index"] = json!(0));
    refused(
        "moved",
        &moved,
        "export event is not the one the claims sign",
    );

    // The whole log minus its newest line, with the count lowered and the proof rebuilt for the
    // rest: an unfiltered export must hold every index below its size.
    let mut short = whole.clone();
    let newest: Value = serde_json::from_str(&short.remove(1)).unwrap();
    let rest: Vec<u64> = (0..size)
        .filter(|i| Some(*i) != newest["index"].as_u64())
        .collect();
    let proof = sealbook_logmath::batch_proof(&tree, &rest, size)
        .unwrap()
        .unwrap();
    with_trailer(&mut short, |t| {
        t["count"] = json!(rest.len());
        t["proof"] = json!(proof
            .iter()
            .map(|h| STANDARD.encode(h.0))
            .collect::<Vec<_>>());
    });
    refused("short", &short, "count");

    // What is printed is signed.
    let p = dir.path().join("filtered.json");
    std::fs::write(&p, filtered.join("\n") + "\n").unwrap();
    let out = Command::new(BIN)
        .args(["verify-export", "--json", "--vkey", &vkey])
        .arg(&p)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(
        report["signed"]["filters"],
        json!([{"name": "actor", "value": "u-1"}])
    );
    assert_eq!(report["signed"]["count"], 10);
    assert!(report.get("filters").is_none() && report.get("export_event").is_none());
}

fn hex_hash(s: &str) -> sealbook_logmath::Hash {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    sealbook_logmath::Hash(bytes.try_into().unwrap())
}

/// Item 5: the record is committed before the first byte, and it holds no card number.
#[test]
fn an_export_is_recorded_before_it_starts_and_its_filters_are_redacted() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    s.ingest(&key, &json!([event("a-1")]));
    let exported = |s: &Server| s.all_events(&key, "&type=audit_log.exported");

    // Refused filters send no data and leave no record.
    for q in [
        "actor=u%001",
        "q=two%0Alines",
        &format!("q={}", "x".repeat(257)),
    ] {
        let r = s.get(&format!("/v1/exports/events?{q}"), &key);
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: Value = r.json().unwrap();
        assert_eq!(body["type"], "urn:sealbook:problem:bad-query", "{body}");
        assert!(!body.to_string().contains("a-1"));
    }
    let refs = (0..9)
        .map(|i| format!("ref=k:{i}"))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        s.get(&format!("/v1/exports/events?{refs}"), &key).status(),
        400
    );
    assert!(exported(&s).is_empty());

    // The record exists as soon as the export has answered, before its body is read.
    let r = s.get(
        "/v1/exports/events?ref=card:4242424242424242&ref=order:PO-1",
        &key,
    );
    assert_eq!(r.status(), 200);
    let recorded = exported(&s);
    assert_eq!(recorded.len(), 1);
    let text = r.text().unwrap();
    assert!(text.contains("\"trailer\""));
    assert_eq!(recorded[0]["data"]["count"], 0);
    let filters = &recorded[0]["data"]["filters"];
    assert!(
        !filters.to_string().contains("4242424242424242"),
        "{filters}"
    );
    assert_eq!(filters[0]["key"], "card");
    assert_eq!(filters[0]["value"]["$redacted"], true);
    assert_eq!(filters[0]["value"]["preview"], "****4242");
    assert_eq!(
        filters[1],
        json!({"name": "ref", "key": "order", "value": "PO-1"})
    );
}

/// Item 9 (export part): the 11th concurrent export of a tenant is a 429 with `Retry-After`, and
/// an export whose client never reads is ended after the idle timeout, releasing its slot.
#[test]
fn exports_are_capped_per_tenant_and_end_when_the_client_stops_reading() {
    use std::io::{Read, Write};
    let dir = tempdir();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(&config, "[reads]\nexport_idle_timeout = \"20s\"\n").unwrap();
    let s = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    s.create_tenant("acme");
    let (_, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
    // Enough that an export cannot fit in the socket buffers of a client that reads nothing.
    for start in (0..EVENTS_TO_STALL).step_by(1000) {
        let batch: Vec<Value> = (start..start + 1000)
            .map(|i| event(&format!("e-{i}")))
            .collect();
        s.ingest(&key, &Value::Array(batch));
    }
    let addr = s.url.trim_start_matches("http://").to_owned();
    // Opens an export and reads only its status line: the export holds a slot once it answers,
    // and then nothing more is read. `None` when it was refused for want of a slot.
    let try_open = || {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            c,
            "GET /v1/exports/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut status = [0u8; 12];
        c.read_exact(&mut status).unwrap();
        match &status {
            b"HTTP/1.1 200" => Some(c),
            b"HTTP/1.1 429" => None,
            other => panic!("{}", String::from_utf8_lossy(other)),
        }
    };
    // Opened at once: each counts its selection before answering, and the first must not reach
    // its idle timeout before the last holds its slot.
    let mut stalled: Vec<_> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..10).map(|_| scope.spawn(try_open)).collect();
        opening
            .into_iter()
            .map(|t| t.join().unwrap().expect("a slot"))
            .collect()
    });
    let r = s.get("/v1/exports/events", &key);
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // Once the idle timeout has ended the stalled exports, their slots are free again: ten new
    // exports got one each, so none of the first ten holds one any more.
    let mut fresh = Vec::new();
    let mut tries = 0;
    while fresh.len() < 10 {
        match try_open() {
            Some(c) => fresh.push(c),
            None => {
                tries += 1;
                assert!(
                    tries < 600,
                    "the stalled exports never released their slots"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    drop(fresh);
    // A stalled export, read to its end now, was cut: it has no trailer.
    let mut c = stalled.remove(0);
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(!String::from_utf8_lossy(&rest).contains("\"trailer\""));
}

/// Events an export of which a non-reading client stalls the server (a few MB beyond any socket
/// buffer on loopback).
const EVENTS_TO_STALL: usize = 20_000;
