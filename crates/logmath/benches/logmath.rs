//! Micro-benchmarks of log math: hashing, tile integration, proof generation and verification.
//! Run with `cargo bench -p sealbook-logmath`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sealbook_logmath::tile::{RightEdge, TileTree};
use sealbook_logmath::{
    batch_proof, inclusion_proof, leaf_hash, node_hash, root, verify_batch, verify_inclusion, Hash,
    MemoryTree,
};

fn benches(c: &mut Criterion) {
    let leaf = vec![b'x'; 900];
    let mut g = c.benchmark_group("hashing");
    g.throughput(Throughput::Bytes(leaf.len() as u64));
    g.bench_function("leaf hash, 900-byte entry", |b| b.iter(|| leaf_hash(&leaf)));
    let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("node hash", |b| b.iter(|| node_hash(&l, &r)));
    g.finish();

    let leaves: Vec<Hash> = (0u32..1000).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut g = c.benchmark_group("integration");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("append 1,000 leaves to a 1,000,000-leaf edge", |b| {
        let mut edge = RightEdge::default();
        let million: Vec<Hash> = (0u32..1_000_000)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        edge.append(&million);
        b.iter_batched(
            || edge.clone(),
            |mut e| e.append(&leaves),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("tile tree of a full tile", |b| {
        b.iter_batched(
            || leaves[..256].to_vec(),
            TileTree::new,
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let n = 1u64 << 20;
    let tree = MemoryTree::from_leaves((0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect());
    let r = root(&tree, n).unwrap();
    let mut g = c.benchmark_group("proofs, 1,048,576 leaves");
    g.throughput(Throughput::Elements(1));
    g.bench_function("inclusion proof", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % n;
            inclusion_proof(&tree, i, n).unwrap().unwrap()
        })
    });
    let proof = inclusion_proof(&tree, 12345, n).unwrap().unwrap();
    let leaf12345 = tree.leaf(12345).unwrap();
    g.bench_function("verify inclusion", |b| {
        b.iter(|| verify_inclusion(&leaf12345, 12345, n, &proof, &r).unwrap())
    });
    let idx: Vec<u64> = (0..1000).map(|k| k * 1000 + 3).collect();
    g.throughput(Throughput::Elements(idx.len() as u64));
    g.bench_function("batch proof of 1,000 spread leaves", |b| {
        b.iter(|| batch_proof(&tree, &idx, n).unwrap().unwrap())
    });
    let bp = batch_proof(&tree, &idx, n).unwrap().unwrap();
    let pairs: Vec<(u64, Hash)> = idx.iter().map(|i| (*i, tree.leaf(*i).unwrap())).collect();
    g.bench_function("verify batch proof of 1,000 spread leaves", |b| {
        b.iter(|| verify_batch(&pairs, n, &bp, &r).unwrap())
    });
    g.finish();
}

criterion_group!(logmath, benches);
criterion_main!(logmath);
