//! Tamper tests, end to end: a log of 600 events is verified once, then its SQLite file is changed
//! behind the stopped server the way an insider with database access would, the server is started
//! again, and `sealbook verify` must exit 1 and name the place.

use crate::common::{event, tempdir, Server, BIN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rusqlite::{params, Connection};
use sealbook_logmath::tile::RightEdge;
use sealbook_logmath::{Hash, MemoryTree};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EVENTS: usize = 600;

struct Fixture {
    dir: tempfile::TempDir,
    key: String,
    vkey: String,
    state: PathBuf,
}

impl Fixture {
    /// A tenant with 600 events (plus its key's creation at index 0), a checkpoint over all of
    /// them, a clean verification with its state saved, and the server stopped.
    fn new() -> Fixture {
        let dir = tempdir();
        let s = Server::start_with(dir.path(), &["--checkpoint-interval", "1h"]);
        s.create_tenant("acme");
        // `events:export` so that one test can check personal values (an audited read).
        let (_, key) = s.create_key("acme", &["events:write", "events:read", "events:export"]);
        for start in (0..EVENTS).step_by(200) {
            let batch: Vec<Value> = (start..start + 200)
                .map(|i| event(&format!("e-{i}")))
                .collect();
            s.ingest(&key, &Value::Array(batch));
        }
        let r = s.post_empty("/v1/log/checkpoint", &key);
        assert_eq!(r.status(), 200);
        let vkey = s.verifier_key(&key);
        let f = Fixture {
            state: dir.path().join("state"),
            dir,
            key,
            vkey,
        };
        let out = f.verify(&s, true);
        assert_eq!(out.status.code(), Some(0), "untampered: {}", stderr(&out));
        assert!(s.stop());
        f
    }

    fn db(&self) -> Connection {
        Connection::open(self.dir.path().join("data/sealbook.db")).unwrap()
    }

    fn start(&self) -> Server {
        Server::start_with(self.dir.path(), &["--checkpoint-interval", "1h"])
    }

    fn verify(&self, s: &Server, with_state: bool) -> Output {
        self.verify_with(s, with_state, &[])
    }

    fn verify_with(&self, s: &Server, with_state: bool, extra: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        c.args([
            "verify", "--url", &s.url, "--key", &self.key, "--vkey", &self.vkey,
        ]);
        c.args(extra);
        if with_state {
            c.arg("--state").arg(&self.state);
        }
        c.output().unwrap()
    }

    /// Starts the server on the tampered file and expects verification to fail naming `place`.
    fn expect_failure(&self, with_state: bool, place: &str) {
        self.expect_failure_with(with_state, &[], place)
    }

    fn expect_failure_with(&self, with_state: bool, extra: &[&str], place: &str) {
        let s = self.start();
        let out = self.verify_with(&s, with_state, extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(place), "expected {place:?} in: {err}");
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The rowid of log index `i` of the (only) tenant: tenant number << 40 | index.
fn rowid(db: &Connection, i: u64) -> i64 {
    let no: i64 = db
        .query_row("SELECT no FROM tenants WHERE id = 'acme'", [], |r| r.get(0))
        .unwrap();
    (no << 40) | i as i64
}

#[test]
fn one_changed_byte_in_an_event() {
    let f = Fixture::new();
    let db = f.db();
    let id = rowid(&db, 300);
    let mut leaf: Vec<u8> = db
        .query_row("SELECT leaf FROM events WHERE rowid = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    // "shipped" becomes "shipper": still valid JSON, one byte apart.
    let at = leaf.windows(7).position(|w| w == b"shipped").unwrap() + 6;
    leaf[at] = b'r';
    db.execute(
        "UPDATE events SET leaf = ?1 WHERE rowid = ?2",
        params![leaf, id],
    )
    .unwrap();
    drop(db);
    f.expect_failure(false, "index 300:");
}

#[test]
fn a_deleted_row() {
    let f = Fixture::new();
    let db = f.db();
    db.execute("DELETE FROM events WHERE rowid = ?1", [rowid(&db, 200)])
        .unwrap();
    drop(db);
    f.expect_failure(false, "index 200:");
}

#[test]
fn two_swapped_rows() {
    let f = Fixture::new();
    let db = f.db();
    let (a, b) = (rowid(&db, 100), rowid(&db, 101));
    let get = |id: i64| -> Vec<u8> {
        db.query_row("SELECT leaf FROM events WHERE rowid = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let (la, lb) = (get(a), get(b));
    db.execute(
        "UPDATE events SET leaf = ?1 WHERE rowid = ?2",
        params![lb, a],
    )
    .unwrap();
    db.execute(
        "UPDATE events SET leaf = ?1 WHERE rowid = ?2",
        params![la, b],
    )
    .unwrap();
    drop(db);
    f.expect_failure(false, "index 100:");
}

/// The thorough insider: drops the last events, rewrites the tiles and the tree head to match the
/// shorter log, and deletes the checkpoints that covered the dropped events. The server then
/// serves (and even signs) a self-consistent shorter log; only the state saved by an earlier
/// verification shows the loss.
#[test]
fn a_truncated_log_with_its_tree_rewritten() {
    let f = Fixture::new();
    let db = f.db();
    let keep = 500u64;
    let no = rowid(&db, 0) >> 40;
    let _ = &no;
    db.execute(
        "DELETE FROM events WHERE rowid >= ?1 AND rowid <= ?2",
        params![rowid(&db, keep), rowid(&db, (1 << 40) - 1)],
    )
    .unwrap();
    assert_eq!(rewrite_tree(&db), keep);
    db.execute("DELETE FROM checkpoints WHERE tenant_no = ?1", [no])
        .unwrap();
    drop(db);
    // The server signs the shorter log: it has no record of the longer one any more.
    let s = f.start();
    let r = s.post_empty("/v1/log/checkpoint", &f.key);
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().unwrap().lines().nth(1), Some("500"));
    let out = f.verify(&s, true);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("index 500:") && stderr(&out).contains("shrank"),
        "{}",
        stderr(&out)
    );
}

/// Rebuilds the tenant's tiles and tree head from the `leaf_hash` column, as an insider covering
/// their tracks would; returns the new size.
fn rewrite_tree(db: &Connection) -> u64 {
    let no = rowid(db, 0) >> 40;
    let leaves: Vec<Hash> = {
        let mut stmt = db
            .prepare("SELECT leaf_hash FROM events WHERE tenant_no = ?1 ORDER BY rowid")
            .unwrap();
        stmt.query_map([no], |r| {
            let b: Vec<u8> = r.get(0)?;
            Ok(Hash(b.try_into().unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let size = leaves.len() as u64;
    db.execute("DELETE FROM tiles WHERE tenant_no = ?1", [no])
        .unwrap();
    let mut edge = RightEdge::default();
    let integrated = edge.append(&leaves);
    for (t, content) in integrated.tiles {
        let blob: Vec<u8> = content.iter().flat_map(|h| h.0).collect();
        db.execute(
            "INSERT OR REPLACE INTO tiles(tenant_no, level, number, hashes) VALUES (?1, ?2, ?3, ?4)",
            params![no, t.level, t.number as i64, blob],
        )
        .unwrap();
    }
    let root = sealbook_logmath::root(&MemoryTree::from_leaves(leaves), size).unwrap();
    assert_eq!(root, integrated.root);
    db.execute(
        "UPDATE tree_heads SET size = ?1, root = ?2 WHERE tenant_no = ?3",
        params![size as i64, root.0.as_slice(), no],
    )
    .unwrap();
    size
}

fn post_checkpoint(s: &Server, key: &str) -> reqwest::blocking::Response {
    s.post_empty("/v1/log/checkpoint", key)
}

/// The signer never signs a rewritten history: not a smaller tree, not a different tree of the
/// same size, not a larger tree that does not extend the last checkpoint. The last good
/// checkpoint stays the one served.
#[test]
fn the_signer_refuses_rewritten_history() {
    // A different tree of the same size, then grown by new events.
    let f = Fixture::new();
    let db = f.db();
    db.execute(
        "UPDATE events SET leaf_hash = ?1 WHERE rowid = ?2",
        params![[0x5Au8; 32].as_slice(), rowid(&db, 10)],
    )
    .unwrap();
    assert_eq!(rewrite_tree(&db), 601);
    drop(db);
    let s = f.start();
    let before = s.get("/v1/log/checkpoint", &f.key).text().unwrap();
    let r = post_checkpoint(&s, &f.key);
    assert_eq!(r.status(), 500);
    let p: Value = r.json().unwrap();
    assert_eq!(p["type"], "urn:sealbook:problem:log-integrity");
    s.ingest(
        &f.key,
        &Value::Array(vec![event("after-1"), event("after-2")]),
    );
    assert_eq!(
        post_checkpoint(&s, &f.key).status(),
        500,
        "larger but not an extension"
    );
    assert_eq!(s.get("/v1/log/checkpoint", &f.key).text().unwrap(), before);
    drop(s);

    // A smaller tree.
    let f = Fixture::new();
    let db = f.db();
    db.execute(
        "DELETE FROM events WHERE rowid >= ?1 AND rowid <= ?2",
        params![rowid(&db, 590), rowid(&db, (1 << 40) - 1)],
    )
    .unwrap();
    assert_eq!(rewrite_tree(&db), 590);
    drop(db);
    let s = f.start();
    assert_eq!(post_checkpoint(&s, &f.key).status(), 500);
    let out = f.verify(&s, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("index 590:"), "{}", stderr(&out));
}

#[test]
fn a_replaced_tile_hash() {
    let f = Fixture::new();
    let db = f.db();
    let no = rowid(&db, 0) >> 40;
    let mut blob: Vec<u8> = db
        .query_row(
            "SELECT hashes FROM tiles WHERE tenant_no = ?1 AND level = 0 AND number = 1",
            [no],
            |r| r.get(0),
        )
        .unwrap();
    blob[5 * 32..6 * 32].copy_from_slice(&[0xAB; 32]);
    db.execute(
        "UPDATE tiles SET hashes = ?1 WHERE tenant_no = ?2 AND level = 0 AND number = 1",
        params![blob, no],
    )
    .unwrap();
    drop(db);
    f.expect_failure(false, "index 261:");
}

fn replace_latest_note(f: &Fixture, note: impl FnOnce(&str) -> String) {
    let db = f.db();
    let old: String = db
        .query_row(
            "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE checkpoints SET note = ?1 WHERE note = ?2",
        params![note(&old), old],
    )
    .unwrap();
}

#[test]
fn a_forged_checkpoint_signature() {
    let f = Fixture::new();
    replace_latest_note(&f, |old| {
        // Claim a different root under the genuine signature.
        let mut lines: Vec<String> = old.split('\n').map(str::to_owned).collect();
        lines[2] = STANDARD.encode([0x11u8; 32]);
        lines.join("\n")
    });
    f.expect_failure(false, "checkpoint signature");
}

#[test]
fn a_checkpoint_signed_by_a_foreign_key() {
    let f = Fixture::new();
    replace_latest_note(&f, |old| {
        let text = &old[..old.find("\n\n").unwrap() + 1];
        sealbook_logmath::note::NoteSigner::new("sealbook.localhost/acme", &[9u8; 32])
            .unwrap()
            .sign(text)
            .unwrap()
    });
    f.expect_failure(false, "checkpoint signature");
}

/// A second server holding the same signing key and serving a different history of the same
/// tenant (a fork, as a compromised operator might show one auditor): each checkpoint is validly
/// signed, but the state saved from the first shows the fork.
#[test]
fn a_checkpoint_inconsistent_with_the_saved_state() {
    let f = Fixture::new();
    let fork = tempdir();
    let key_file: &Path = &f.dir.path().join("data/checkpoint-key");
    let s = Server::start_with(
        fork.path(),
        &[
            "--checkpoint-key-file",
            key_file.to_str().unwrap(),
            "--checkpoint-interval",
            "1h",
        ],
    );
    let key = s.tenant_with_key("acme");
    for start in (0..700).step_by(350) {
        let batch: Vec<Value> = (start..start + 350)
            .map(|i| event(&format!("fork-{i}")))
            .collect();
        s.ingest(&key, &Value::Array(batch));
    }
    s.post_empty("/v1/log/checkpoint", &key);
    let out = Command::new(BIN)
        .args([
            "verify", "--url", &s.url, "--key", &key, "--vkey", &f.vkey, "--state",
        ])
        .arg(&f.state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inconsistent with the saved checkpoint"),
        "{}",
        stderr(&out)
    );
    // Without the saved state the fork verifies on its own: that is what the state is for.
    let out = Command::new(BIN)
        .args(["verify", "--url", &s.url, "--key", &key, "--vkey", &f.vkey])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A personal value kept beside an event is edited (the leaf holds only its commitment).
#[test]
fn a_changed_personal_value() {
    let f = Fixture::new();
    let db = f.db();
    let id = rowid(&db, 50);
    let data: Vec<u8> = db
        .query_row("SELECT data FROM personal WHERE rowid = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    let edited = String::from_utf8(data)
        .unwrap()
        .replace("Ada Lovelace", "Ada Byron");
    db.execute(
        "UPDATE personal SET data = ?1 WHERE rowid = ?2",
        params![edited.into_bytes(), id],
    )
    .unwrap();
    drop(db);
    f.expect_failure_with(
        false,
        &["--personal-values"],
        "index 50: personal value at /actor/name",
    );
}
