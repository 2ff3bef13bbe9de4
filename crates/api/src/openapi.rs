//! The OpenAPI 3.1 document, generated from the handlers' annotations and the types below.
//!
//! The envelope types here describe the ingest body for clients. Validation itself lives in the
//! domain crate (it must report every problem with a JSON pointer, which a typed deserializer
//! cannot); the `openapi_matches_validation` test keeps the two in step.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Who acted.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Actor {
    /// `user`, `service_account`, `api_key`, `system` or `support`.
    r#type: String,
    /// Personal data: stored beside the leaf, committed inside it.
    id: String,
    name: Option<String>,
    email: Option<String>,
}

/// A party: `on_behalf_of` or `subject`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Party {
    /// A lower_snake word, e.g. `order`.
    r#type: String,
    id: String,
    name: Option<String>,
}

/// An impersonation session.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Impersonation {
    session_id: String,
    ticket: Option<String>,
}

/// Why a human overrode a rule.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Reason {
    code: Option<String>,
    ticket: Option<String>,
    note: Option<String>,
}

/// One changed field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Change {
    field: String,
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
}

/// Where the action came from.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Context {
    ip: Option<String>,
    user_agent: Option<String>,
    session_id: Option<String>,
    request_id: Option<String>,
    correlation_id: Option<String>,
}

/// The event envelope. Unknown fields are rejected; limits: 48 KiB per event, 32 levels of
/// nesting, 1,000 events and 5 MiB per request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventEnvelope {
    /// Idempotency key, 1-128 printable characters; a UUIDv7 is assigned when absent.
    id: Option<String>,
    /// Must equal the key's tenant when present.
    tenant: Option<String>,
    /// Dot-separated lower_snake segments, e.g. `order.status_changed`.
    r#type: String,
    /// Default 1.
    schema_version: Option<u32>,
    /// RFC 3339 with an offset.
    occurred_at: String,
    actor: Actor,
    on_behalf_of: Option<Party>,
    impersonation: Option<Impersonation>,
    subject: Party,
    /// `success` (default), `failure` or `denied`.
    outcome: Option<String>,
    reason: Option<Reason>,
    /// Field changes; secrets among them are redacted on both sides.
    changes: Option<Vec<Change>>,
    /// The object before the change, instead of `changes` (with `after`): Sealbook computes the
    /// field-level diff (nested paths, arrays by index) and stores it as `changes`.
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    /// The object after the change (with `before`).
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
    context: Option<Context>,
    /// Business references, searchable with `ref=key:value`.
    refs: Option<std::collections::BTreeMap<String, String>>,
    /// The type's own payload. Values under secret keys (`password`, `api_key`, `token`, …) and
    /// card numbers (Luhn-valid) here, in `refs` and in `changes` are replaced by
    /// `{"$redacted": true, "preview", "fingerprint"}` before anything is stored.
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "tenant_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("tenant API key, sbk_…"))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("platform operator token, sba_…"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sealbook", description = "Tamper-evident, multi-tenant audit trail. Errors are RFC 9457 application/problem+json."),
    paths(
        crate::ingest::ingest, crate::events::search, crate::events::get_event,
        crate::admin::create_tenant, crate::admin::list_tenants, crate::admin::create_key, crate::admin::list_keys, crate::admin::revoke_key,
        crate::log::checkpoint, crate::log::sign_checkpoint, crate::log::verifier_keys, crate::log::tile, crate::log::personal,
        crate::log::inclusion, crate::log::consistency, crate::log::event_proof, crate::export::export, crate::redactions::match_value, crate::events::catalog, crate::catalog::put_type, crate::catalog::put_settings,
        crate::ops::healthz, crate::ops::readyz, crate::ops::metrics, crate::ops::openapi,
    ),
    components(schemas(EventEnvelope, Actor, Party, Impersonation, Reason, Change, Context, crate::error::Problem, crate::log::ProofBody)),
    modifiers(&Security),
)]
struct Doc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut d = Doc::openapi();
    d.info.version = env!("CARGO_PKG_VERSION").to_owned();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_is_3_1_and_lists_every_route() {
        let v = serde_json::to_value(document()).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
        for p in [
            "/v1/events",
            "/v1/events/{id}",
            "/v1/tenants",
            "/v1/tenants/{tenant}/keys",
            "/v1/tenants/{tenant}/keys/{key_id}",
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(v["paths"].get(p).is_some(), "{p} missing");
        }
    }

    #[test]
    fn openapi_matches_validation() {
        // Every top-level field the document offers is one the validator accepts, and vice versa.
        let v = serde_json::to_value(document()).unwrap();
        let mut doc: Vec<String> = v["components"]["schemas"]["EventEnvelope"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        doc.sort();
        let mut accepted: Vec<String> = sealbook_domain::ENVELOPE_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
        accepted.sort();
        assert_eq!(doc, accepted);
    }
}
