//! The OpenAPI 3.1 document ([`document`]), assembled from the handlers' annotations and the
//! schemas in `schema`, and the `GET /openapi.json` handler that serves it.
//!
//! This module depends on every handler module (it lists their operations); none depends on it.

use crate::schema::{
    Actor, BadRequest, Batch, Change, Context, EventEnvelope, ExportFormat, Forbidden,
    Impersonation, IntegrityFailure, NotFound, Outcome, Party, PersonalBundle, RateLimited, Reason,
    RefFilter, Status, TooLarge, TypeDefinition, Unauthorized, Unavailable, Unprocessable,
    UnsupportedMediaType,
};
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
    components(
        schemas(EventEnvelope, Actor, Party, Impersonation, Reason, Change, Context, crate::error::Problem, crate::log::ProofBody,
            Batch, Outcome, RefFilter, ExportFormat, Status, PersonalBundle, TypeDefinition),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, UnsupportedMediaType, Unprocessable, RateLimited, IntegrityFailure, Unavailable),
    ),
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
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
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

    /// Every error an operation documents is a problem+json `Problem`; every success has a body
    /// with its media type.
    #[test]
    fn every_error_is_documented_as_problem_json() {
        let v = serde_json::to_value(document()).unwrap();
        let components = &v["components"]["responses"];
        let mut checked = 0;
        for (path, item) in v["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}: no success documented"
                );
                for (status, r) in responses {
                    let r = match r["$ref"].as_str() {
                        Some(name) => {
                            let name = name.strip_prefix("#/components/responses/").unwrap();
                            &components[name]
                        }
                        None => r,
                    };
                    let content = r["content"].as_object();
                    assert!(content.is_some(), "{method} {path} {status}: no content");
                    let content = content.unwrap();
                    if status.as_str() >= "400" {
                        assert_eq!(
                            content.keys().collect::<Vec<_>>(),
                            ["application/problem+json"],
                            "{method} {path} {status}"
                        );
                        assert_eq!(
                            content["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                        checked += 1;
                    }
                }
                let secured = op.get("security").is_some();
                for must in secured.then_some(["401"]).into_iter().flatten() {
                    assert!(
                        responses.contains_key(must),
                        "{method} {path}: a secured operation answers {must}"
                    );
                }
            }
        }
        assert!(checked > 50, "{checked}");
    }

    /// Every `$ref` names a component the document holds.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &serde_json::Value, doc: &serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        let target = doc.pointer(r.trim_start_matches('#'));
                        assert!(target.is_some(), "unresolvable {r}");
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        let v = serde_json::to_value(document()).unwrap();
        walk(&v, &v);
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
