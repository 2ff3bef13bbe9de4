//! Micro-benchmarks of log math: leaf and node hashing. Run with `cargo bench -p sealbook-logmath`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealbook_logmath::{leaf_hash, node_hash};

fn benches(c: &mut Criterion) {
    let leaf = vec![b'x'; 900];
    let mut g = c.benchmark_group("hashing");
    g.throughput(Throughput::Bytes(leaf.len() as u64));
    g.bench_function("leaf hash, 900-byte entry", |b| b.iter(|| leaf_hash(&leaf)));
    let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("node hash", |b| b.iter(|| node_hash(&l, &r)));
    g.finish();
}

criterion_group!(logmath, benches);
criterion_main!(logmath);
