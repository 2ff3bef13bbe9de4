//! Micro-benchmarks of the hot pieces of ingest in the domain: validation, redaction (the plain
//! scan, ordinary secrets, and the hard cases: compound and look-alike keys, cards inside text),
//! shaping (commitments, search words and the canonical leaf) and RFC 8785 encoding. Run with
//! `cargo bench -p sealbook-domain`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sealbook_domain::{
    canonical_bytes, parse_batch, shape, BodyFormat, ContentKey, Entropy, Limits, SearchKey,
    TenantId, TenantKeys,
};
use serde_json::json;

struct Fixed(u8);
impl Entropy for Fixed {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(31);
            *b = self.0;
        }
    }
}

/// A representative event of about 900 bytes: personal fields, references, changes, a payload.
fn event(i: usize) -> serde_json::Value {
    json!({
        "id": format!("evt-{i}"),
        "type": "order.status_changed",
        "occurred_at": "2026-03-01T10:15:30.120+01:00",
        "actor": {"type": "user", "id": format!("user-{}", i % 1000), "name": "User Number42", "email": "user42@example.com"},
        "subject": {"type": "order", "id": format!("ord-{i}"), "name": format!("Order {i}")},
        "context": {"ip": "10.1.2.3", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "correlation_id": format!("corr-{i}")},
        "refs": {"order_number": format!("PO-{i}"), "erp_document": "4711"},
        "changes": [{"field": "status", "before": "open", "after": "shipped"}, {"field": "amount", "before": 100, "after": 120}],
        "data": {"endpoint": "https://erp.example.com/api/v2/orders", "note": "x".repeat(300), "lines": [1, 2, 3]},
    })
}

fn benches(c: &mut Criterion) {
    let tenant = TenantId::parse("acme").unwrap();
    let limits = Limits::default();
    let batch: Vec<serde_json::Value> = (0..100).map(event).collect();
    let body = serde_json::to_vec(&batch).unwrap();

    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(100));
    g.bench_function("validate 100 events", |b| {
        b.iter(|| parse_batch(&body, BodyFormat::Json, &tenant, &limits).unwrap())
    });
    let valid = parse_batch(&body, BodyFormat::Json, &tenant, &limits).unwrap();
    g.bench_function("redact 100 events (no secrets: the scan)", |b| {
        b.iter_batched(
            || valid.clone(),
            |mut v| {
                for e in &mut v {
                    sealbook_domain::redact::redact(&mut e.body, &[7; 32], &[]);
                }
                v
            },
            BatchSize::SmallInput,
        )
    });
    let secret_batch: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut e = event(i);
            e["data"]["password"] = json!("hunter2-correct-horse");
            e["data"]["card"] = json!("4111 1111 1111 1111");
            e
        })
        .collect();
    let secret_body = serde_json::to_vec(&secret_batch).unwrap();
    let with_secrets = parse_batch(&secret_body, BodyFormat::Json, &tenant, &limits).unwrap();
    g.bench_function("redact 100 events (two secrets each)", |b| {
        b.iter_batched(
            || with_secrets.clone(),
            |mut v| {
                for e in &mut v {
                    sealbook_domain::redact::redact(&mut e.body, &[7; 32], &[]);
                }
                v
            },
            BatchSize::SmallInput,
        )
    });
    let hard_batch: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut e = event(i);
            e["data"]["customerSsn"] = json!("078-05-1120");
            e["data"]["p\u{430}ssword"] = json!("hunter2-correct-horse");
            e["data"]["card_cvv"] = json!(123);
            e["data"]["memo"] = json!("paid with 4111 1111 1111 1111 on 2026-03-01");
            e["reason"] =
                json!({"note": "customer called about order 12345, card 5555-5555-5555-4444"});
            e
        })
        .collect();
    let hard_body = serde_json::to_vec(&hard_batch).unwrap();
    let hard = parse_batch(&hard_body, BodyFormat::Json, &tenant, &limits).unwrap();
    g.bench_function(
        "redact 100 events (look-alike and compound keys, cards in text)",
        |b| {
            b.iter_batched(
                || hard.clone(),
                |mut v| {
                    for e in &mut v {
                        sealbook_domain::redact::redact(&mut e.body, &[7; 32], &[]);
                    }
                    v
                },
                BatchSize::SmallInput,
            )
        },
    );
    let at = time::OffsetDateTime::now_utc();
    let keys = TenantKeys {
        search: SearchKey::new(&[3; 32]),
        content: ContentKey::new(&[4; 32]),
    };
    g.bench_function("shape 100 events", |b| {
        b.iter_batched(
            || valid.clone(),
            |v| {
                v.into_iter()
                    .map(|e| shape(e, &tenant, at, &mut Fixed(0), &keys))
                    .collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Issue 13, item 8: 100 references of 60 distinct short words each. Search words are
    // de-duplicated and capped on ingest and again on every search candidate.
    let mut wordy = event(1);
    wordy["refs"] = (0..100)
        .map(|r| {
            let words: Vec<String> = (0..60).map(|w| format!("r{r}w{w}")).collect();
            (format!("ref{r}"), json!(words.join(" ")))
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let wordy_body = serde_json::to_vec(&wordy).unwrap();
    let wordy = parse_batch(&wordy_body, BodyFormat::Json, &tenant, &limits)
        .unwrap()
        .remove(0);
    let mut g = c.benchmark_group("words");
    g.throughput(Throughput::Elements(1));
    g.bench_function("shape one event with 100 refs of 60 distinct words", |b| {
        b.iter_batched(
            || wordy.clone(),
            |e| shape(e, &tenant, at, &mut Fixed(0), &keys),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Postings are keyed (HMAC-SHA256 from a state absorbed once per tenant key) instead of XXH3:
    // the cost per event's dozen terms, side by side.
    let terms: Vec<String> = (0..12).map(|i| format!("w:term-number-{i}")).collect();
    let mut g = c.benchmark_group("term keys");
    g.throughput(Throughput::Elements(12));
    g.bench_function("12 terms, HMAC-SHA256 (keyed)", |b| {
        b.iter(|| {
            terms
                .iter()
                .map(|t| keys.search.term_key(t))
                .fold(0i64, i64::wrapping_add)
        })
    });
    g.bench_function("12 terms, XXH3 (unkeyed, before)", |b| {
        b.iter(|| {
            terms
                .iter()
                .map(|t| xxhash_rust::xxh3::xxh3_64(t.as_bytes()) as i64)
                .fold(0i64, i64::wrapping_add)
        })
    });
    g.finish();

    let one = event(1);
    let mut g = c.benchmark_group("canonical");
    g.throughput(Throughput::Elements(1));
    g.bench_function("RFC 8785 encode one event", |b| {
        b.iter(|| canonical_bytes(&one))
    });
    g.finish();
}

criterion_group!(domain, benches);
criterion_main!(domain);
