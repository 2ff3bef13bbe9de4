//! The raw-PostgreSQL baseline: the rows Sealbook writes, into Sealbook's PostgreSQL layout with
//! its indexes and default durability (`synchronous_commit = on`), in transactions of `batch` rows,
//! once with binary COPY and once with multi-row INSERT. Nothing of Sealbook runs around it.
//!
//! Each run works in a fresh schema of its own (`sealbook_baseline_<pid>_<n>`) and drops it after,
//! so it never touches other data in the database.

use sealbook_domain::ShapedEvent;
use sealbook_store_postgres::SCHEMA;
use std::pin::pin;
use std::time::{Duration, Instant};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

/// How rows are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `COPY … FROM STDIN (FORMAT binary)`, one per table per transaction.
    Copy,
    /// Multi-row `INSERT … VALUES (…), (…)`, up to 500 rows per statement.
    Insert,
}

/// Search-postings bucket width used by the layout (same default as the embedded store).
const BUCKET_BITS: u32 = 12;
const TENANT: &str = "baseline";
const ROWS_PER_INSERT: usize = 500;

/// Connects to `url`, inserts `rows` with `method` in transactions of `batch`, and returns the time
/// spent inserting (schema creation and cleanup excluded).
pub async fn insert(
    url: &str,
    rows: &[ShapedEvent],
    batch: usize,
    method: Method,
) -> Result<Duration, tokio_postgres::Error> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let schema = format!(
        "sealbook_baseline_{}_{}",
        std::process::id(),
        RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}; {SCHEMA}"))
        .await?;
    let started = Instant::now();
    let result = run(&mut client, rows, batch.max(1), method).await;
    let took = started.elapsed();
    let cleanup = client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await;
    drop(client);
    let _ = driver.await;
    result?;
    cleanup?;
    Ok(took)
}

async fn run(
    client: &mut Client,
    rows: &[ShapedEvent],
    batch: usize,
    method: Method,
) -> Result<(), tokio_postgres::Error> {
    for (b, chunk) in rows.chunks(batch).enumerate() {
        let first = (b * batch) as i64;
        let personal: Vec<&[u8]> = chunk.iter().map(|e| &e.personal[..]).collect();
        let tx = client.transaction().await?;
        match method {
            Method::Copy => copy(&tx, chunk, first, &personal).await?,
            Method::Insert => multi_insert(&tx, chunk, first, &personal).await?,
        }
        tx.commit().await?;
    }
    Ok(())
}

fn postings(chunk: &[ShapedEvent], first: i64) -> Vec<(i64, i64, i64)> {
    let mut p: Vec<(i64, i64, i64)> = chunk
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            let idx = first + i as i64;
            e.terms.iter().map(move |t| (idx >> BUCKET_BITS, *t, idx))
        })
        .collect();
    p.sort_unstable();
    p
}

async fn copy(
    tx: &tokio_postgres::Transaction<'_>,
    chunk: &[ShapedEvent],
    first: i64,
    personal: &[&[u8]],
) -> Result<(), tokio_postgres::Error> {
    let sink = tx.copy_in("COPY events (tenant_id, idx, event_id, type, outcome, actor_type, subject_type, occurred_at, content_hash, leaf_hash, leaf) FROM STDIN (FORMAT binary)").await?;
    let types = [
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::BYTEA,
        Type::BYTEA,
        Type::BYTEA,
    ];
    let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
    for (i, e) in chunk.iter().enumerate() {
        let idx = first + i as i64;
        let content: &[u8] = &e.content_hash;
        let leaf_hash: &[u8] = &e.leaf_hash.0;
        let leaf: &[u8] = &e.leaf;
        w.as_mut()
            .write(&[
                &TENANT,
                &idx,
                &e.id,
                &e.event_type,
                &e.outcome,
                &e.actor_type,
                &e.subject_type,
                &e.occurred_at_micros,
                &content,
                &leaf_hash,
                &leaf,
            ])
            .await?;
    }
    w.finish().await?;

    let sink = tx
        .copy_in("COPY personal (tenant_id, idx, data) FROM STDIN (FORMAT binary)")
        .await?;
    let mut w = pin!(BinaryCopyInWriter::new(
        sink,
        &[Type::TEXT, Type::INT8, Type::BYTEA]
    ));
    for (i, data) in personal.iter().enumerate() {
        let idx = first + i as i64;
        w.as_mut().write(&[&TENANT, &idx, data]).await?;
    }
    w.finish().await?;

    let sink = tx
        .copy_in("COPY terms (tenant_id, bucket, term, idx) FROM STDIN (FORMAT binary)")
        .await?;
    let mut w = pin!(BinaryCopyInWriter::new(
        sink,
        &[Type::TEXT, Type::INT8, Type::INT8, Type::INT8]
    ));
    for (bucket, term, idx) in postings(chunk, first) {
        w.as_mut().write(&[&TENANT, &bucket, &term, &idx]).await?;
    }
    w.finish().await?;
    Ok(())
}

/// `INSERT INTO table (cols) VALUES ($1, …), (…)` for `rows` rows of `cols` columns.
fn insert_sql(table: &str, cols: &str, ncols: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({cols}) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..ncols {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", r * ncols + c + 1));
        }
        sql.push(')');
    }
    sql
}

async fn multi_insert(
    tx: &tokio_postgres::Transaction<'_>,
    chunk: &[ShapedEvent],
    first: i64,
    personal: &[&[u8]],
) -> Result<(), tokio_postgres::Error> {
    let idxs: Vec<i64> = (0..chunk.len() as i64).map(|i| first + i).collect();
    let contents: Vec<&[u8]> = chunk.iter().map(|e| &e.content_hash[..]).collect();
    let leaf_hashes: Vec<&[u8]> = chunk.iter().map(|e| &e.leaf_hash.0[..]).collect();
    let leaves: Vec<&[u8]> = chunk.iter().map(|e| &e.leaf[..]).collect();
    for (c, part) in chunk.chunks(ROWS_PER_INSERT).enumerate() {
        let base = c * ROWS_PER_INSERT;
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 11);
        for (i, e) in part.iter().enumerate() {
            let j = base + i;
            params.extend_from_slice(&[
                &TENANT,
                &idxs[j],
                &e.id,
                &e.event_type,
                &e.outcome,
                &e.actor_type,
                &e.subject_type,
                &e.occurred_at_micros,
                &contents[j],
                &leaf_hashes[j],
                &leaves[j],
            ]);
        }
        let sql = insert_sql("events", "tenant_id, idx, event_id, type, outcome, actor_type, subject_type, occurred_at, content_hash, leaf_hash, leaf", 11, part.len());
        tx.execute(sql.as_str(), &params).await?;
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 3);
        for i in 0..part.len() {
            params.extend_from_slice(&[&TENANT, &idxs[base + i], &personal[base + i]]);
        }
        tx.execute(
            insert_sql("personal", "tenant_id, idx, data", 3, part.len()).as_str(),
            &params,
        )
        .await?;
    }
    let posts = postings(chunk, first);
    for part in posts.chunks(ROWS_PER_INSERT * 2) {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 4);
        for (bucket, term, idx) in part {
            params.extend_from_slice(&[&TENANT, bucket, term, idx]);
        }
        tx.execute(
            insert_sql("terms", "tenant_id, bucket, term, idx", 4, part.len()).as_str(),
            &params,
        )
        .await?;
    }
    Ok(())
}
