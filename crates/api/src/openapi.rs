//! The OpenAPI 3.1 document ([`document`]), assembled from the handlers' annotations and the
//! schemas in `schema`, and the `GET /openapi.json` handler that serves it.
//!
//! This module depends on every handler module (it lists their operations); none depends on it.

use crate::schema::{Actor, Change, Context, EventEnvelope, Impersonation, Party, Reason};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        crate::log::inclusion, crate::log::consistency, crate::log::event_proof, crate::export::export, crate::redactions::match_value, crate::catalog::get_catalog, crate::catalog::put_type, crate::catalog::put_settings,
        crate::ops::healthz, crate::ops::readyz, crate::ops::metrics, openapi,
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

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
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
