//! Micro-benchmark of catalog validation on the ingest path. Run with
//! `cargo bench -p sealbook-catalog`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sealbook_catalog::Catalog;
use sealbook_domain::{parse_batch, BodyFormat, Limits, TenantId};
use serde_json::json;

fn benches(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let tenant = TenantId::parse("acme").unwrap();
    let types: Vec<String> = catalog.types().map(|t| t.name.clone()).collect();
    let batch: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let ty = &types[i % types.len()];
            json!({
                "type": ty, "occurred_at": "2026-03-01T10:00:00Z",
                "actor": {"type": "user", "id": "u-1", "name": "Ada"},
                "subject": {"type": "order", "id": "o-1"},
                "impersonation": {"session_id": "imp-1"}, "reason": {"code": "r"},
                "context": {"correlation_id": "c"}, "refs": {"order_number": "PO-1"},
                "data": catalog.samples(ty).unwrap().0,
            })
        })
        .collect();
    let valid = parse_batch(
        serde_json::to_vec(&batch).unwrap().as_slice(),
        BodyFormat::Json,
        &tenant,
        &Limits::default(),
    )
    .unwrap();
    let mut g = c.benchmark_group("catalog");
    g.throughput(Throughput::Elements(100));
    g.bench_function("check 100 events (every built-in type)", |b| {
        b.iter_batched(
            || (),
            |()| valid.iter().all(|v| catalog.check(v) == Ok(true)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(catalog, benches);
criterion_main!(catalog);
