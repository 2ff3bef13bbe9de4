//! The raw-SQLite baseline for `sealbook bench baseline`: the same rows Sealbook would write, into
//! the same schema with the same indexes and durability (WAL, `synchronous=FULL`), in transactions
//! of `batch` rows, with none of Sealbook's work around them (no HTTP, validation, idempotency
//! lookups or sequencing). Sealbook's ingest rate divided by this rate is the cost of Sealbook.

use rusqlite::{params, Connection};
use sealbook_domain::ShapedEvent;
use sealbook_store_sqlite::layout::{bucket, rowid, SCHEMA};
use std::path::Path;
use std::time::{Duration, Instant};

/// Which tables the baseline fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Exactly Sealbook's schema: events with its indexes, personal values, search postings.
    Sealbook,
    /// Only the events table keyed by its rowid, no secondary index: the floor of the engine.
    EventsOnly,
}

/// Inserts `rows` into a fresh database in `dir`, `batch` rows per transaction; returns the time
/// spent inserting (schema creation excluded).
pub fn insert(
    dir: &Path,
    rows: &[ShapedEvent],
    batch: usize,
    layout: Layout,
) -> rusqlite::Result<Duration> {
    let conn = Connection::open(dir.join("baseline.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;",
    )?;
    match layout {
        Layout::Sealbook => conn.execute_batch(SCHEMA)?,
        Layout::EventsOnly => conn.execute_batch(
            "CREATE TABLE events (rowid INTEGER PRIMARY KEY, tenant_no INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, outcome TEXT NOT NULL, actor_type TEXT NOT NULL, subject_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, content_hash BLOB NOT NULL, leaf_hash BLOB NOT NULL, leaf BLOB NOT NULL);",
        )?,
    }
    let mut conn = conn;
    let started = Instant::now();
    for (b, chunk) in rows.chunks(batch.max(1)).enumerate() {
        let tx = conn.transaction()?;
        {
            let mut ev = tx.prepare_cached("INSERT INTO events(rowid, tenant_no, event_id, type, outcome, actor_type, subject_type, occurred_at, content_hash, leaf_hash, leaf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
            for (i, e) in chunk.iter().enumerate() {
                let index = (b * batch + i) as u64;
                let rid = rowid(1, index);
                ev.execute(params![
                    rid,
                    1,
                    e.id,
                    e.event_type,
                    e.outcome,
                    e.actor_type,
                    e.subject_type,
                    e.occurred_at_micros,
                    e.content_hash.as_slice(),
                    e.leaf_hash.0.as_slice(),
                    e.leaf
                ])?;
                if layout == Layout::Sealbook {
                    let mut p =
                        tx.prepare_cached("INSERT INTO personal(rowid, data) VALUES (?1, ?2)")?;
                    p.execute(params![rid, e.personal])?;
                    let mut t = tx.prepare_cached(
                        "INSERT OR IGNORE INTO terms(tenant_no, bucket, term, idx) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    for term in &e.terms {
                        t.execute(params![
                            1,
                            bucket(index, sealbook_store_sqlite::Options::default().bucket_bits),
                            term,
                            index as i64
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed())
}
