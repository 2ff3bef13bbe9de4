//! Hostile input never panics the parsers of outside input, and every rejection is precise: the
//! body parser (JSON and NDJSON) and the search-filter parser, over arbitrary bytes and over
//! JSON that is almost an event. The same entry points are exposed to cargo-fuzz in `fuzz/`.

use proptest::prelude::*;
use sealbook_domain::{parse_batch, BatchError, BodyFormat, EventFilter, Limits, TenantId};

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn small_limits() -> Limits {
    Limits {
        max_event_bytes: 2048,
        max_depth: 6,
        max_batch_events: 8,
        max_body_bytes: 16 * 1024,
    }
}

/// JSON values shaped like events, with every field sometimes missing, mistyped or odd.
fn near_event() -> impl Strategy<Value = serde_json::Value> {
    let scalar = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2026-01-01T00:00:00Z")),
        Just(serde_json::Value::from("order.status_changed")),
    ];
    let value = scalar.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("id".to_string()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    // Every field the envelope knows, and one it does not.
    let mut fields: Vec<&'static str> = sealbook_domain::ENVELOPE_FIELDS.to_vec();
    fields.push("extra");
    prop::collection::btree_map(prop::sample::select(fields), value, 0..10).prop_map(|m| {
        serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    })
}

fn check(result: Result<Vec<sealbook_domain::ValidEvent>, BatchError>, events: usize) {
    match result {
        Ok(valid) => assert!(!valid.is_empty() && valid.len() <= events.max(1)),
        Err(BatchError::Invalid(errors)) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.path.is_empty() || e.path.starts_with('/'), "{e:?}");
                assert!(!e.problem.is_empty());
            }
        }
        Err(BatchError::Malformed { detail }) => assert!(!detail.is_empty()),
        Err(BatchError::TooLarge { detail, .. }) => assert!(!detail.is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [BodyFormat::Json, BodyFormat::Ndjson] {
            let _ = parse_batch(&body, format, &tenant(), &small_limits());
        }
    }

    #[test]
    fn near_events_get_precise_answers(events in prop::collection::vec(near_event(), 0..5)) {
        let body = serde_json::to_vec(&events).unwrap();
        check(parse_batch(&body, BodyFormat::Json, &tenant(), &small_limits()), events.len());
        let ndjson: Vec<u8> = events.iter().flat_map(|e| { let mut l = serde_json::to_vec(e).unwrap(); l.push(b'\n'); l }).collect();
        check(parse_batch(&ndjson, BodyFormat::Ndjson, &tenant(), &small_limits()), events.len());
    }

    #[test]
    fn deep_and_unbalanced_brackets_never_panic(open in 0usize..200, close in 0usize..200, inner in "[\\[\\]{}\":,a ]{0,20}") {
        let body = format!("{}{inner}{}", "[".repeat(open), "]".repeat(close));
        let _ = parse_batch(body.as_bytes(), BodyFormat::Json, &tenant(), &small_limits());
    }

    #[test]
    fn arbitrary_query_parameters_never_panic(pairs in prop::collection::vec(("\\PC{0,10}", "\\PC{0,20}"), 0..6)) {
        let _ = EventFilter::from_query(&pairs, &sealbook_domain::SearchKey::new(&[1; 32]));
    }
}
