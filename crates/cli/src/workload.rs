//! The synthetic workload shared by `hammer` and `bench baseline`: realistic audit events of 300 B
//! to 2 KB across the catalog's types, with personal fields, references, before/after changes and
//! secrets in payloads, so both measure the same rows.

use serde_json::{json, Value};

const TYPES: &[&str] = &[
    "user.login_succeeded",
    "user.login_failed",
    "user.role_assigned",
    "order.status_changed",
    "config.changed",
    "approval.granted",
    "override.applied",
    "integration.succeeded",
    "integration.failed",
    "data.exported",
];

/// A small deterministic generator (xorshift), so runs are repeatable without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Actors per tenant: queries pick from the same pool so filters hit.
pub(crate) const ACTORS: u64 = 1000;

/// The built-in catalog's sample `data` of a type.
fn sample_data(ty: &str) -> Value {
    static SAMPLES: std::sync::OnceLock<std::collections::HashMap<String, Value>> =
        std::sync::OnceLock::new();
    SAMPLES
        .get_or_init(|| {
            let c = sealbook_catalog::Catalog::builtin();
            c.types()
                .filter_map(|t| c.samples(&t.name).map(|(s, _)| (t.name.clone(), s.clone())))
                .collect()
        })
        .get(ty)
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// One event without its `id` (the caller adds a unique one).
pub(crate) fn event(rng: &mut Rng, occurred_at: &str) -> Value {
    let ty = TYPES[rng.below(TYPES.len() as u64) as usize];
    let actor = rng.below(ACTORS);
    let order = rng.below(1_000_000);
    let mut e = json!({
        "type": ty,
        "occurred_at": occurred_at,
        "actor": {"type": "user", "id": format!("user-{actor}"), "name": format!("User Number{actor}"), "email": format!("user{actor}@example.com")},
        "subject": {"type": "order", "id": format!("ord-{order}"), "name": format!("Order {order}")},
        "context": {"ip": format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256)),
                    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
                    "correlation_id": format!("corr-{}", rng.next() % 100_000)},
        "refs": {"order_number": format!("PO-{order}")},
    });
    if rng.below(3) == 0 {
        e["changes"] = json!([
            {"field": "status", "before": "open", "after": "shipped"},
            {"field": "amount", "before": rng.below(10_000), "after": rng.below(10_000)},
        ]);
    }
    if ty == "override.applied" {
        e["reason"] = json!({"code": "credit_limit", "ticket": format!("SUP-{}", rng.below(9999)), "note": "Approved by finance after customer escalation"});
    }
    // The data the catalog's schema for the type expects (its sample), as a real service sends.
    e["data"] = sample_data(ty);
    if ty.starts_with("integration.") || ty == "config.changed" {
        // Secrets in payloads: what the catalog's redaction must catch.
        let d = e["data"].as_object_mut().expect("samples are objects");
        d.insert(
            "endpoint".into(),
            json!("https://erp.example.com/api/v2/orders"),
        );
        d.insert("api_key".into(), json!("sk_live_51Hx9f8d7s6a5d4f3g2h1j"));
        d.insert("card".into(), json!("4111 1111 1111 1111"));
        if ty.starts_with("integration.") {
            d.insert(
                "payload_sha256".into(),
                json!(format!("{:016x}{:016x}", rng.next(), rng.next())),
            );
        }
    }
    // Pad a share of events towards 2 KB, as verbose payloads do.
    let pad = match rng.below(10) {
        0..=5 => 0,
        6..=8 => 300 + rng.below(500),
        _ => 1000 + rng.below(600),
    };
    if pad > 0 {
        let note: String = (0..pad)
            .map(|i| (b'a' + ((i * 7 + actor) % 26) as u8) as char)
            .collect();
        e["data"]["note"] = Value::String(note);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The load generator sends what a real service would: events the built-in catalog accepts.
    #[test]
    fn generated_events_pass_the_builtin_catalog() {
        let catalog = sealbook_catalog::Catalog::builtin();
        let tenant = sealbook_domain::TenantId::parse("t1").unwrap();
        let mut rng = Rng::new(1);
        for i in 0..2000 {
            let mut e = event(&mut rng, "2026-03-01T10:00:00Z");
            e["id"] = serde_json::json!(format!("e-{i}"));
            let v = sealbook_domain::parse_batch(
                e.to_string().as_bytes(),
                sealbook_domain::BodyFormat::Json,
                &tenant,
                &Default::default(),
            )
            .unwrap()
            .remove(0);
            assert_eq!(catalog.check(&v), Ok(true), "{e}");
        }
    }
}
