//! End to end: the tenant log as a client outside Sealbook sees it. Checkpoints, tiles and proofs
//! served over HTTP are checked with independent implementations (`signed_note` for C2SP signed
//! notes, `tlog_tiles`, a port of Go's `sumdb/tlog`, for tiles and RFC 9162 proofs), and every
//! request the API must refuse is refused with a clear 4xx.

use crate::common::{event, tempdir, Server, BIN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::process::Command;

/// Ingests `n` events in batches of `batch` and returns their receipts in log order.
fn ingest_many(s: &Server, key: &str, prefix: &str, n: usize, batch: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for start in (0..n).step_by(batch) {
        let events: Vec<Value> = (start..(start + batch).min(n))
            .map(|i| event(&format!("{prefix}-{i}")))
            .collect();
        let r = s.ingest(key, &Value::Array(events));
        out.extend(r["receipts"].as_array().unwrap().iter().cloned());
    }
    out
}

fn problem(r: reqwest::blocking::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    r.json().unwrap()
}

fn b64hash(s: &Value) -> tlog_tiles::Hash {
    tlog_tiles::Hash(
        STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    )
}

/// Their tile reader, fetching C2SP tiles from the server (their paths carry the tile height,
/// `tile/8/L/N`, which C2SP drops).
struct HttpTiles<'a> {
    s: &'a Server,
    key: &'a str,
}

impl tlog_tiles::TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                let path = t.path();
                let c2sp = path.strip_prefix("tile/8/").unwrap();
                let r = self.s.get(&format!("/v1/log/tile/{c2sp}"), self.key);
                assert_eq!(r.status(), 200, "{path}");
                r.bytes().unwrap().to_vec()
            })
            .collect())
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

#[test]
fn checkpoints_tiles_and_proofs_verify_with_independent_implementations() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let receipts = ingest_many(&s, &key, "a", 700, 100);
    let first = s.sign_checkpoint(&key);

    // The checkpoint verifies with `signed_note` under the key generated into the data dir.
    let seed_line = std::fs::read_to_string(s.data_dir.join("checkpoint-key")).unwrap();
    let seed: [u8; 32] = STANDARD
        .decode(seed_line.lines().find(|l| !l.starts_with('#')).unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let origin = "sealbook.localhost/acme";
    let vkey = sealbook_logmath::note::NoteSigner::new(origin, &seed)
        .unwrap()
        .verifier_key();
    let served_keys = s.get("/v1/log/verifier-keys", &key).text().unwrap();
    assert_eq!(served_keys, format!("{vkey}\n"));
    let r = s.get("/v1/log/checkpoint", &key);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    let note_text = r.text().unwrap();
    assert_eq!(note_text, first, "GET serves the checkpoint POST signed");
    let verifier = signed_note::StandardVerifier::new(&vkey).unwrap();
    let list = signed_note::VerifierList::new(vec![Box::new(verifier)]);
    let note = signed_note::Note::from_bytes(note_text.as_bytes()).unwrap();
    note.verify(&list)
        .expect("signed_note verifies our checkpoint");
    let body = String::from_utf8(note.text().to_vec()).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    // Key creation is event 0; the 700 events follow.
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], "701");
    let size = 701u64;
    let root = tlog_tiles::Hash(STANDARD.decode(lines[2]).unwrap().try_into().unwrap());

    // Go's tlog, reading our tiles over HTTP and authenticating each against the root.
    let tiles = HttpTiles { s: &s, key: &key };
    let reader = tlog_tiles::TileHashReader::new(size, root, &tiles);
    assert_eq!(tlog_tiles::tree_hash(size, &reader).unwrap(), root);
    for index in [1u64, 255, 256, 511, 512, 700] {
        let leaf = tlog_tiles::Hash::parse_hash(
            &receipts[index as usize - 1]["leaf_hash"]
                .as_str()
                .map(|h| STANDARD.encode(hex_bytes(h)))
                .unwrap(),
        )
        .unwrap();
        let served: Value = s
            .get(
                &format!("/v1/log/proof/inclusion?index={index}&size={size}"),
                &key,
            )
            .json()
            .unwrap();
        assert_eq!(served["index"], index);
        assert_eq!(b64hash(&served["root"]), root);
        let proof: Vec<tlog_tiles::Hash> = served["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(b64hash)
            .collect();
        tlog_tiles::check_record(&proof, size, root, index, leaf)
            .unwrap_or_else(|e| panic!("inclusion of {index}: {e:?}"));
        assert_eq!(
            proof,
            tlog_tiles::prove_record(size, index, &reader).unwrap()
        );
    }

    // More events, a new checkpoint, and a consistency proof Go's tlog accepts.
    ingest_many(&s, &key, "b", 300, 300);
    let second = s.sign_checkpoint(&key);
    let new_size = 1001u64;
    let new_root = tlog_tiles::Hash(
        STANDARD
            .decode(second.lines().nth(2).unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let c: Value = s
        .get(
            &format!("/v1/log/proof/consistency?from={size}&to={new_size}"),
            &key,
        )
        .json()
        .unwrap();
    assert_eq!(b64hash(&c["first_root"]), root);
    assert_eq!(b64hash(&c["root"]), new_root);
    let proof: Vec<tlog_tiles::Hash> = c["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64hash)
        .collect();
    tlog_tiles::check_tree(&proof, new_size, new_root, size, root).expect("consistency");

    // An event's own proof, against a checkpoint it is covered by.
    let p: Value = s.get("/v1/events/b-299/proof", &key).json().unwrap();
    assert_eq!(p["index"], 1000);
    assert_eq!(p["size"], new_size);
    assert_eq!(p["checkpoint"], second);
    let leaf = tlog_tiles::Hash(
        hex_bytes(p["leaf_hash"].as_str().unwrap())
            .try_into()
            .unwrap(),
    );
    let proof: Vec<tlog_tiles::Hash> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64hash)
        .collect();
    tlog_tiles::check_record(&proof, new_size, new_root, 1000, leaf).unwrap();

    // Entry bundles hold the canonical event bytes whose hashes are the tile's.
    let bundle = s.get("/v1/log/tile/entries/000", &key);
    assert_eq!(
        bundle.headers()["cache-control"].to_str().unwrap(),
        "private, max-age=31536000, immutable"
    );
    let bundle = bundle.bytes().unwrap();
    let tile = s.get("/v1/log/tile/0/000", &key).bytes().unwrap();
    assert_eq!(tile.len(), 256 * 32);
    let mut rest = &bundle[..];
    for i in 0..256 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let entry = &rest[2..2 + len];
        assert_eq!(tlog_tiles::record_hash(entry).0, tile[i * 32..(i + 1) * 32]);
        rest = &rest[2 + len..];
    }
    assert!(rest.is_empty());
    let partial = s.get("/v1/log/tile/0/003.p/233", &key);
    assert_eq!(partial.status(), 200);
    assert_eq!(
        partial.headers()["cache-control"].to_str().unwrap(),
        "no-cache"
    );
    assert_eq!(partial.bytes().unwrap().len(), 233 * 32);
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn log_requests_outside_the_tree_are_refused_clearly() {
    let dir = tempdir();
    // No background signing during this test: checkpoints exist only when asked for.
    let s = Server::start_with(dir.path(), &["--checkpoint-interval", "1h"]);
    let key = s.tenant_with_key("acme");
    let other = s.tenant_with_key("globex");
    ingest_many(&s, &key, "a", 10, 10);
    ingest_many(&s, &other, "g", 3, 3);
    let p = problem(s.get("/v1/log/checkpoint", &key), 404);
    assert_eq!(p["type"], "urn:sealbook:problem:no-checkpoint");
    problem(s.get("/v1/log/proof/inclusion?index=0&size=1", &key), 404);
    s.sign_checkpoint(&key);
    let (_, write_only) = s.create_key("acme", &["events:write"]);

    let p = problem(s.get("/v1/log/proof/inclusion?index=0&size=99", &key), 400);
    assert_eq!(p["type"], "urn:sealbook:problem:beyond-checkpoint");
    assert!(p["detail"].as_str().unwrap().contains("size 11"), "{p}");
    let p = problem(s.get("/v1/log/proof/inclusion?index=11&size=11", &key), 400);
    assert_eq!(p["type"], "urn:sealbook:problem:out-of-range");
    let p = problem(s.get("/v1/log/proof/inclusion?index=-1&size=11", &key), 400);
    assert_eq!(p["errors"][0]["path"], "?index");
    problem(s.get("/v1/log/proof/inclusion?size=11", &key), 400);
    problem(s.get("/v1/log/proof/consistency?from=0&to=11", &key), 400);
    problem(s.get("/v1/log/proof/consistency?from=5&to=4", &key), 400);
    let p = problem(s.get("/v1/log/proof/consistency?from=5&to=12", &key), 400);
    assert_eq!(p["type"], "urn:sealbook:problem:beyond-checkpoint");
    for path in [
        "0/000",       // full tile of a tree of 11
        "0/000.p/12",  // wider than the checkpoint
        "1/000.p/1",   // level 1 needs 256 leaves
        "entries/001", // beyond
    ] {
        problem(s.get(&format!("/v1/log/tile/{path}"), &key), 400);
    }
    for path in [
        "0/0",
        "0/000.p/0",
        "0/000.p/256",
        "00/000",
        "64/000",
        "x/000",
        "0/x000/001",
        "entries",
    ] {
        let p = problem(s.get(&format!("/v1/log/tile/{path}"), &key), 400);
        assert_eq!(p["type"], "urn:sealbook:problem:out-of-range", "{path}");
    }
    assert_eq!(s.get("/v1/log/tile/0/000.p/11", &key).status(), 200);

    // Scope and tenant: another tenant's event answers like an unknown one; globex's log is its own.
    problem(s.get("/v1/log/checkpoint", &write_only), 403);
    let unknown = problem(s.get("/v1/events/nope/proof", &key), 404);
    let foreign = problem(s.get("/v1/events/g-0/proof", &key), 404);
    assert_eq!(unknown, foreign);
    let g: Value = s.get("/v1/events/g-0/proof", &other).json().unwrap();
    assert!(g["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with("sealbook.localhost/globex\n4\n"));
}

#[test]
fn the_signer_runs_by_itself_and_rotated_keys_stay_listed() {
    let dir = tempdir();
    let s = Server::start_with(dir.path(), &["--checkpoint-interval", "50ms"]);
    let key = s.tenant_with_key("acme");
    ingest_many(&s, &key, "a", 20, 20);
    // Poll (no timing assertion): the background signer catches up with the log.
    let mut signed = String::new();
    for _ in 0..200 {
        let r = s.get("/v1/log/checkpoint", &key);
        if r.status() == 200 {
            signed = r.text().unwrap();
            if signed.lines().nth(1) == Some("21") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(signed.lines().nth(1), Some("21"), "{signed}");
    let old_vkey = s.verifier_key(&key);
    let state = dir.path().join("state");
    let verify = |s: &Server, vkeys: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["verify", "--url", &s.url, "--key", &key, "--state"])
            .arg(&state);
        for v in vkeys {
            c.args(["--vkey", v]);
        }
        c.output().unwrap()
    };
    let out = verify(&s, &[&old_vkey]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.stop());

    // Rotate: a new key file holding only a new key.
    let new_key = dir.path().join("new-key");
    std::fs::write(&new_key, format!("{}\n", STANDARD.encode([7u8; 32]))).unwrap();
    let s = Server::start_with(
        dir.path(),
        &["--checkpoint-key-file", new_key.to_str().unwrap()],
    );
    ingest_many(&s, &key, "b", 5, 5);
    let note = s.sign_checkpoint(&key);
    let new_vkey = sealbook_logmath::note::NoteSigner::new("sealbook.localhost/acme", &[7u8; 32])
        .unwrap()
        .verifier_key();
    assert_eq!(
        s.get("/v1/log/verifier-keys", &key).text().unwrap(),
        format!("{old_vkey}\n{new_vkey}\n"),
        "the retired key stays listed"
    );
    assert_eq!(note.matches('\u{2014}').count(), 1);
    // The old key alone no longer verifies the latest checkpoint; the new one does, and the log
    // is consistent with the state saved under the old key.
    let out = verify(&s, &[&old_vkey]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkpoint signature"));
    let out = verify(&s, &[&old_vkey, &new_vkey]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("consistent with the saved checkpoint of size 21"));
}

/// Item 6 (log): personal values with their salts are an export: `events:export` only, and every
/// answer is an `audit_log.personal_read` event. Entry bundles stay open to `events:read`, and
/// `sealbook verify` needs no more unless asked to check personal values.
#[test]
fn personal_values_need_the_export_scope_and_are_audited() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let reader = s.tenant_with_key("acme");
    let (exporter_id, exporter) = s.create_key("acme", &["events:read", "events:export"]);
    ingest_many(&s, &reader, "pv", 10, 10);
    s.sign_checkpoint(&reader);
    let vkey = s.verifier_key(&reader);
    let bundle = "/v1/log/tile/entries/000.p/12";
    assert_eq!(s.get(bundle, &reader).status(), 200);
    let r = s.get("/v1/log/personal/000.p/12", &reader);
    let p = problem(r, 403);
    assert!(
        p["detail"].as_str().unwrap().contains("events:export"),
        "{p}"
    );
    let records = |key: &str| s.all_events(key, "&type=audit_log.personal_read");
    assert!(records(&reader).is_empty());

    let r = s.get("/v1/log/personal/000.p/12", &exporter);
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    let served = body["entries"].as_array().unwrap().len();
    assert!(served >= 10, "{body}");
    let rec = records(&reader);
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["actor"]["id"], exporter_id.as_str());
    assert_eq!(
        rec[0]["data"],
        json!({"bundle": "000.p/12", "events": served})
    );

    let verify = |key: &str, extra: &[&str]| {
        std::process::Command::new(BIN)
            .args(["verify", "--url", &s.url, "--key", key, "--vkey", &vkey])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = verify(&reader, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("personal values not checked"));
    assert_eq!(
        verify(&reader, &["--personal-values"]).status.code(),
        Some(2)
    );
    let out = verify(&exporter, &["--personal-values"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
