//! The OpenAPI 3.1 document ([`document`]), assembled from the handlers' annotations and the
//! schemas in `schema`, and the `GET /openapi.json` handler that serves it.
//!
//! This module depends on every handler module (it lists their operations); none depends on it.

use crate::schema::{
    Actor, AuditedRefFilter, BadRequest, Batch, Change, Context, EventEnvelope, ExportFormat,
    Forbidden, Impersonation, IntegrityFailure, JsonObject, JsonValue, NotFound, Outcome, Party,
    PersonalBundle, RateLimited, Reason, RecordedBy, RefFilter, Status, TooLarge, TypeDefinition,
    Unauthorized, Unavailable, Unprocessable, UnsupportedMediaType,
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

/// OpenAPI links, so that a client (and schemathesis' stateful phase) knows which answer feeds
/// which request: an ingest receipt's id to the event, its proof and a redaction question; a new
/// tenant to its keys; a new key to its revocation.
struct Links;

impl Modify for Links {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use serde_json::json;
        use utoipa::openapi::RefOr;
        // utoipa's `Link` serializes its fields in snake case (`operation_id`), which no OpenAPI
        // reader knows: every field goes in verbatim instead, as extensions do.
        fn link(v: serde_json::Value) -> utoipa::openapi::link::Link {
            let serde_json::Value::Object(m) = v else {
                unreachable!("a link is an object")
            };
            let mut l = utoipa::openapi::link::Link::default();
            l.extensions = Some(m.into_iter().collect());
            l
        }
        let receipt = "$response.body#/receipts/0/id";
        let new_tenant = "$response.body#/id";
        let links = [
            (
                "/v1/events",
                "201",
                vec![
                    (
                        "GetEvent",
                        json!({"operationId": "get_event", "parameters": {"id": receipt}, "description": "the first event of the batch"}),
                    ),
                    (
                        "GetEventProof",
                        json!({"operationId": "event_proof", "parameters": {"id": receipt}, "description": "its inclusion proof"}),
                    ),
                    (
                        "MatchRedaction",
                        json!({"operationId": "match_value", "requestBody": {"event_id": receipt}, "description": "ask about one of its redacted values"}),
                    ),
                ],
            ),
            (
                "/v1/tenants",
                "201",
                vec![
                    (
                        "CreateKey",
                        json!({"operationId": "create_key", "parameters": {"tenant": new_tenant}, "description": "a key for the new tenant"}),
                    ),
                    (
                        "ListKeys",
                        json!({"operationId": "list_keys", "parameters": {"tenant": new_tenant}, "description": "the new tenant's keys"}),
                    ),
                ],
            ),
            (
                "/v1/tenants/{tenant}/keys",
                "201",
                vec![(
                    "RevokeKey",
                    json!({"operationId": "revoke_key", "parameters": {"tenant": "$request.path.tenant", "key_id": "$response.body#/id"}, "description": "revoke the new key"}),
                )],
            ),
        ];
        // Every source is a POST.
        for (path, status, links) in links {
            let op = doc
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .unwrap_or_else(|| panic!("POST {path} is in the document"));
            // An ingest answers 200 with the same receipts when every event was already stored.
            let statuses: &[&str] = if path == "/v1/events" {
                &[status, "200"]
            } else {
                &[status]
            };
            for status in statuses {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                    panic!("{path} answers {status}")
                };
                for (name, l) in &links {
                    response
                        .links
                        .insert((*name).to_owned(), RefOr::T(link(l.clone())));
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sealbook", description = "Tamper-evident, multi-tenant audit trail. Errors are RFC 9457 application/problem+json."),
    paths(
        crate::ingest::ingest, crate::events::search, crate::events::get_event,
        crate::admin::create_tenant, crate::admin::list_tenants, crate::admin::create_key, crate::admin::list_keys, crate::admin::revoke_key, crate::admin::create_user, crate::admin::list_users, crate::viewer::mint,
        crate::log::checkpoint, crate::log::sign_checkpoint, crate::log::verifier_keys, crate::log::tile, crate::log::personal,
        crate::log::inclusion, crate::log::consistency, crate::log::event_proof, crate::export::export, crate::redactions::match_value, crate::catalog::get_catalog, crate::catalog::put_type, crate::catalog::put_settings,
        crate::ops::healthz, crate::ops::readyz, crate::ops::metrics, openapi,
    ),
    components(
        schemas(EventEnvelope, Actor, Party, Impersonation, Reason, Change, Context, JsonValue, JsonObject, crate::error::Problem, crate::log::ProofBody,
            Batch, Outcome, RecordedBy, RefFilter, AuditedRefFilter, ExportFormat, Status, PersonalBundle, TypeDefinition),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, UnsupportedMediaType, Unprocessable, RateLimited, IntegrityFailure, Unavailable),
    ),
    modifiers(&Security, &Links),
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

    /// Every link names an operation of the document and parameters that operation takes.
    #[test]
    fn every_link_leads_somewhere() {
        let v = serde_json::to_value(document()).unwrap();
        let mut ops = std::collections::BTreeMap::new();
        for item in v["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ops.insert(op["operationId"].as_str().unwrap().to_owned(), op.clone());
            }
        }
        let mut n = 0;
        for item in v["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for r in op["responses"].as_object().unwrap().values() {
                    for link in r["links"].as_object().into_iter().flat_map(|l| l.values()) {
                        let target = &ops[link["operationId"].as_str().unwrap()];
                        for p in link["parameters"]
                            .as_object()
                            .into_iter()
                            .flat_map(|p| p.keys())
                        {
                            let params = target["parameters"].as_array().unwrap();
                            assert!(params.iter().any(|q| q["name"] == *p.as_str()), "{link}");
                        }
                        if let Some(body) = link["requestBody"].as_object() {
                            let schema = target["requestBody"]["content"]["application/json"]
                                ["schema"]["$ref"]
                                .as_str()
                                .unwrap();
                            let props =
                                &v.pointer(schema.trim_start_matches('#')).unwrap()["properties"];
                            assert!(body.keys().all(|k| props.get(k).is_some()), "{link}");
                        }
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 3 * 2 + 2 + 1);
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

    /// The envelope schema against the domain's validator: the schema accepts an envelope if and
    /// only if the domain does (the ingest handler's reserved types counted), on envelopes built
    /// from valid values and every edge the domain checks. Either side drifting fails this.
    mod envelope_drift {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{json, Map, Value};

        fn validator() -> jsonschema::Validator {
            let doc = serde_json::to_value(document()).unwrap();
            let root = json!({
                "$ref": "#/components/schemas/EventEnvelope",
                "components": doc["components"],
            });
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap()
        }

        fn tenant() -> sealbook_domain::TenantId {
            sealbook_domain::TenantId::parse("acme").unwrap()
        }

        /// What `POST /v1/events` decides before the catalog: the domain's envelope rules and the
        /// reserved types.
        fn accepted(v: &Value) -> Result<(), String> {
            let limits = sealbook_domain::Limits::default();
            let body = v.to_string();
            match sealbook_domain::parse_batch(
                body.as_bytes(),
                sealbook_domain::BodyFormat::Json,
                &tenant(),
                &limits,
            ) {
                Ok(evs) if sealbook_catalog::is_reserved(&evs[0].event_type) => {
                    Err("reserved type".into())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(format!("{e:?}")),
            }
        }

        fn check(validator: &jsonschema::Validator, v: &Value) -> Result<(), TestCaseError> {
            let schema: Vec<String> = validator
                .iter_errors(v)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            let domain = accepted(v);
            prop_assert_eq!(
                schema.is_empty(),
                domain.is_ok(),
                "schema: {:?}\ndomain: {:?}\nenvelope: {}",
                schema,
                domain,
                v
            );
            Ok(())
        }

        /// `max` characters: one short of, at and one beyond the limit, multi-byte ones too.
        fn sized(max: usize) -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(json!("x".repeat(max))),
                Just(json!("é".repeat(max))),
                Just(json!("x".repeat(max + 1))),
                Just(json!("😀".repeat(max + 1))),
            ]
        }

        /// A string field: valid values, then the edges (empty, null, not a string, NUL,
        /// control characters, lengths).
        fn text(max: usize) -> impl Strategy<Value = Value> {
            prop_oneof![
                40 => "[a-zA-Z0-9 .:/@-]{1,8}".prop_map(Value::from),
                1 => Just(json!("")),
                1 => Just(Value::Null),
                1 => Just(json!(7)),
                1 => Just(json!(["a"])),
                1 => Just(json!("a\u{0}b")),
                1 => Just(json!("tab\there\u{7f}\u{85}")),
                1 => Just(json!("\u{200b}\u{a0}ok")),
                2 => sized(max),
            ]
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                20 => "[a-z]{0,2}",
                1 => Just("a\u{0}".to_owned()),
                1 => prop::sample::select(sealbook_domain::RESERVED_KEYS).prop_map(str::to_owned),
            ]
        }

        /// Any JSON, with the values the domain refuses at any depth.
        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                "[a-zé]{0,3}".prop_map(Value::from),
                "[a-z\u{0}é]{0,3}".prop_map(Value::from),
                // Integers beyond ±(2^53-1) are a known difference (below), not generated here.
                prop_oneof![Just(0i64), Just((1 << 53) - 1), Just(-(1 << 53) + 1)]
                    .prop_map(Value::from),
                Just(json!(1.5)),
                Just(json!(-0.25)),
                Just(json!(3.0)),
            ];
            leaf.prop_recursive(3, 12, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    prop::collection::btree_map(key(), inner, 0..3)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn object_value() -> impl Strategy<Value = Value> {
            prop_oneof![
                20 => prop::collection::btree_map(key(), value(), 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1 => Just(Value::Null),
                1 => Just(json!([])),
                1 => Just(json!("x")),
            ]
        }

        /// An object of some of `fields` (each with its strategy), maybe an unknown one, or not an
        /// object at all.
        fn object(
            fields: Vec<(&'static str, BoxedStrategy<Value>)>,
        ) -> impl Strategy<Value = Value> {
            // The first two fields (`type` and `id` of parties, the required one otherwise) are
            // there almost always.
            let parts: Vec<_> = fields
                .into_iter()
                .enumerate()
                .map(|(i, (k, s))| {
                    (
                        Just(k),
                        s,
                        prop::bool::weighted(if i < 2 { 0.97 } else { 0.4 }),
                    )
                })
                .collect();
            prop_oneof![
                30 => (parts, prop::bool::weighted(0.02)).prop_map(move |(parts, extra)| {
                    let mut m = Map::new();
                    for (k, v, present) in parts {
                        if present {
                            m.insert(k.to_owned(), v);
                        }
                    }
                    if extra {
                        m.insert("unknown".into(), json!(1));
                    }
                    Value::Object(m)
                }),
                1 => Just(Value::Null),
                1 => Just(json!("x")),
            ]
        }

        fn one_of(values: &[Value]) -> BoxedStrategy<Value> {
            prop::sample::select(values.to_vec()).boxed()
        }

        /// Mostly one of `valid`, sometimes one of `invalid`.
        fn pick(valid: &[Value], invalid: &[Value]) -> BoxedStrategy<Value> {
            prop_oneof![8 => one_of(valid), 1 => one_of(invalid)].boxed()
        }

        fn envelope() -> impl Strategy<Value = Value> {
            let party_type = || {
                prop_oneof![
                    12 => "[a-z][a-z0-9_]{0,6}".prop_map(Value::from),
                    1 => one_of(&[json!("Order"), json!("a-b"), json!("_a"), json!("1a"), json!(""), json!("x".repeat(64)), json!("x".repeat(65)), Value::Null]),
                ]
                .boxed()
            };
            let party = move || {
                object(vec![
                    ("type", party_type()),
                    ("id", text(256).boxed()),
                    ("name", text(256).boxed()),
                ])
                .boxed()
            };
            let actor = object(vec![
                (
                    "type",
                    pick(
                        &[
                            json!("user"),
                            json!("service_account"),
                            json!("api_key"),
                            json!("system"),
                            json!("support"),
                        ],
                        &[json!("robot"), json!("User"), Value::Null],
                    ),
                ),
                ("id", text(256).boxed()),
                ("name", text(256).boxed()),
                ("email", text(320).boxed()),
            ]);
            let event_type = prop_oneof![
                12 => "[a-z][a-z0-9_]{0,4}(\\.[a-z][a-z0-9_]{0,4}){1,3}".prop_map(Value::from),
                1 => "[a-zA-Z0-9_.-]{0,8}".prop_map(Value::from),
                1 => one_of(&[
                    json!("user.login_succeeded"), json!("catalog.type_changed"),
                    json!("audit_log.redaction_matched"), json!("a.b."), json!(".a.b"), json!("a..b"),
                    json!(format!("a.{}", "b".repeat(126))), json!(format!("a.{}", "b".repeat(127))),
                    Value::Null, json!(3),
                ]),
            ];
            let occurred_at = pick(
                &[
                    json!("2026-01-31T10:00:00.5+01:00"),
                    json!("2026-01-31t10:00:00z"),
                    json!("2026-01-31T10:00:00.123456789123Z"),
                    json!("2016-12-31T23:59:60Z"),
                    json!("0001-01-01T00:00:00Z"),
                    json!("9999-12-31T23:59:59Z"),
                ],
                &[
                    json!("2026-01-31T10:00:00"),
                    json!("2026-01-31 10:00:00Z"),
                    json!("2026-02-30T10:00:00Z"),
                    json!("2026-01-31T24:00:00Z"),
                    json!("2026-01-31T10:00:00+24:00"),
                    json!("2026-01-31T10:00:00+01:60"),
                    json!("2026-01-31T10:00:00.Z"),
                    json!("0000-01-01T00:00:00Z"),
                    json!("2026-01-31"),
                    json!(""),
                    Value::Null,
                    json!(1700000000),
                ],
            );
            let schema_version = pick(
                &[json!(1), json!(2.0), json!(u32::MAX)],
                &[
                    json!(u64::from(u32::MAX) + 1),
                    json!(0),
                    json!(-1),
                    json!(1.5),
                    json!("1"),
                    Value::Null,
                ],
            );
            let outcome = pick(
                &[json!("success"), json!("failure"), json!("denied")],
                &[json!("Success"), json!(""), Value::Null],
            );
            let id = prop_oneof![
                12 => "[a-zA-Z0-9_-]{1,12}".prop_map(Value::from),
                1 => one_of(&[json!(""), Value::Null, json!(1), json!("a\u{7}"), json!("a\u{9f}"), json!("a\u{a0}"), json!("x".repeat(128)), json!("é".repeat(129))]),
            ];
            let tenant = pick(
                &[json!("acme")],
                &[
                    json!("Acme"),
                    json!(""),
                    json!("-acme"),
                    Value::Null,
                    json!(1),
                ],
            );
            let impersonation = object(vec![
                ("session_id", text(256).boxed()),
                ("ticket", text(256).boxed()),
            ]);
            let reason = object(vec![
                ("code", text(128).boxed()),
                ("ticket", text(256).boxed()),
                ("note", text(4096).boxed()),
            ]);
            let change = object(vec![
                ("field", text(256).boxed()),
                ("before", value().boxed()),
                ("after", value().boxed()),
            ]);
            let changes = prop_oneof![
                12 => prop::collection::vec(change, 0..3).prop_map(Value::Array),
                1 => one_of(&[Value::Null, json!({}), json!("x")]),
            ];
            let ip = pick(
                &[
                    json!("192.0.2.1"),
                    json!("2001:db8::1"),
                    json!("::ffff:192.0.2.1"),
                    json!("::"),
                    Value::Null,
                ],
                &[
                    json!("192.0.2"),
                    json!("192.0.2.256"),
                    json!("01.2.3.4"),
                    json!("fe80::1%eth0"),
                    json!("[::1]"),
                    json!("::1 "),
                    json!(""),
                    json!(1),
                ],
            );
            let context = object(vec![
                ("ip", ip),
                ("user_agent", text(1024).boxed()),
                ("session_id", text(256).boxed()),
                ("request_id", text(256).boxed()),
                ("correlation_id", text(256).boxed()),
            ]);
            let ref_key = prop_oneof![
                12 => "[A-Za-z0-9_.-]{1,8}",
                1 => prop::sample::select(vec!["".to_owned(), "a:b".into(), "é".into(), "a\u{0}".into(), "x".repeat(64), "x".repeat(65)]),
            ];
            let ref_value = prop_oneof![
                12 => "[a-z0-9:]{1,8}".prop_map(Value::from),
                1 => one_of(&[json!(""), Value::Null, json!(1), json!("a\u{0}"), json!("x".repeat(512)), json!("é".repeat(513))]),
            ];
            let refs = prop_oneof![
                12 => prop::collection::btree_map(ref_key, ref_value, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                1 => one_of(&[Value::Null, json!([]), json!("x")]),
            ];
            // Required fields present most of the time, optional ones some of the time.
            let field = |s: BoxedStrategy<Value>, p: f64| {
                (prop::bool::weighted(p), s).prop_map(|(present, v)| present.then_some(v))
            };
            (
                (
                    field(id.boxed(), 0.3),
                    field(tenant, 0.1),
                    field(event_type.boxed(), 0.97),
                    field(schema_version, 0.2),
                    field(occurred_at, 0.97),
                    field(actor.boxed(), 0.97),
                    field(party(), 0.2),
                    field(impersonation.boxed(), 0.2),
                ),
                (
                    field(party(), 0.97),
                    field(outcome, 0.2),
                    field(reason.boxed(), 0.2),
                    field(changes.boxed(), 0.2),
                    field(object_value().boxed(), 0.2),
                    field(object_value().boxed(), 0.2),
                    field(context.boxed(), 0.2),
                    field(refs.boxed(), 0.2),
                    field(object_value().boxed(), 0.3),
                    field(value().boxed(), 0.02),
                ),
            )
                .prop_map(|(a, b)| {
                    // The generators above are in the envelope's field order, then one field
                    // the envelope does not have.
                    let names = sealbook_domain::ENVELOPE_FIELDS
                        .iter()
                        .copied()
                        .chain(["unknown"]);
                    let values = [
                        a.0, a.1, a.2, a.3, a.4, a.5, a.6, a.7, b.0, b.1, b.2, b.3, b.4, b.5, b.6,
                        b.7, b.8, b.9,
                    ];
                    let mut m = Map::new();
                    for (k, v) in names.zip(values) {
                        if let Some(v) = v {
                            m.insert(k.to_owned(), v);
                        }
                    }
                    Value::Object(m)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]
            #[test]
            fn schema_accepts_exactly_what_the_domain_accepts(v in envelope()) {
                thread_local!(static V: jsonschema::Validator = validator());
                V.with(|validator| check(validator, &v))?;
            }
        }

        /// Valid envelopes are generated often enough for the property to mean something.
        #[test]
        fn the_generator_reaches_both_verdicts() {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let strategy = envelope();
            let n = 2000;
            let ok = (0..n)
                .filter(|_| accepted(&strategy.new_tree(&mut runner).unwrap().current()).is_ok())
                .count();
            eprintln!("{ok} of {n} accepted");
            assert!(ok > n / 20 && ok < n * 19 / 20, "{ok} of {n} accepted");
        }

        /// Every field of a complete envelope, one at a time, set to each edge the domain checks:
        /// the bounds of each string, each wrong type, null, unknown fields in each object.
        #[test]
        fn every_field_at_every_edge() {
            let validator = validator();
            let full = json!({
                "id": "e-1", "tenant": "acme", "type": "order.status_changed", "schema_version": 1,
                "occurred_at": "2026-01-31T10:00:00Z",
                "actor": {"type": "user", "id": "u1", "name": "Ada", "email": "ada@example.com"},
                "on_behalf_of": {"type": "customer", "id": "c1", "name": "C"},
                "impersonation": {"session_id": "s1", "ticket": "T-1"},
                "subject": {"type": "order", "id": "o1", "name": "O"}, "outcome": "success",
                "reason": {"code": "c", "ticket": "t", "note": "n"},
                "changes": [{"field": "status", "before": "open", "after": "shipped"}],
                "context": {"ip": "192.0.2.1", "user_agent": "ua", "session_id": "s", "request_id": "r", "correlation_id": "c"},
                "refs": {"order": "o1"}, "data": {"k": [1, "v", null]},
            });
            assert!(validator.is_valid(&full) && accepted(&full).is_ok());
            let strings: &[(&str, usize)] = &[
                ("/id", 128),
                ("/actor/id", 256),
                ("/actor/name", 256),
                ("/actor/email", 320),
                ("/on_behalf_of/id", 256),
                ("/on_behalf_of/name", 256),
                ("/subject/id", 256),
                ("/subject/name", 256),
                ("/impersonation/session_id", 256),
                ("/impersonation/ticket", 256),
                ("/reason/code", 128),
                ("/reason/ticket", 256),
                ("/reason/note", 4096),
                ("/changes/0/field", 256),
                ("/context/user_agent", 1024),
                ("/context/session_id", 256),
                ("/context/request_id", 256),
                ("/context/correlation_id", 256),
                ("/refs/order", 512),
                ("/type", 128),
                ("/subject/type", 64),
                ("/on_behalf_of/type", 64),
            ];
            let mut cases = Vec::new();
            for (p, max) in strings {
                let fill = |c: &str, n: usize| json!(c.repeat(n));
                let word = |n: usize| json!(format!("a.{}", "b".repeat(n - 2)));
                let edges = if p.ends_with("/type") {
                    vec![word(*max), word(max + 1), json!("a"), json!("a.B")]
                } else {
                    vec![
                        fill("x", *max),
                        fill("é", *max),
                        fill("x", max + 1),
                        fill("😀", max + 1),
                        json!("a\u{7}"),
                        json!("a\u{9f}"),
                    ]
                };
                for v in
                    edges
                        .into_iter()
                        .chain([json!(""), Value::Null, json!(1), json!("a\u{0}")])
                {
                    cases.push((p.to_string(), v));
                }
            }
            for p in [
                "/actor",
                "/on_behalf_of",
                "/impersonation",
                "/subject",
                "/reason",
                "/changes/0",
                "/context",
                "/refs",
                "/data",
                "/changes",
            ] {
                for v in [Value::Null, json!([]), json!("x"), json!({})] {
                    cases.push((p.to_string(), v));
                }
                if p != "/changes" {
                    cases.push((format!("{p}/unknown"), json!("x")));
                }
            }
            for p in [
                "/actor/type",
                "/outcome",
                "/schema_version",
                "/occurred_at",
                "/tenant",
                "/context/ip",
            ] {
                for v in [Value::Null, json!(""), json!(0), json!(1.0), json!("X")] {
                    cases.push((p.to_string(), v));
                }
            }
            for p in [
                "/unknown",
                "/data/x",
                "/changes/0/before",
                "/refs/a:b",
                "/refs/é",
                "/before",
                "/after",
            ] {
                // (An integer beyond ±(2^53-1) is a known difference: `the_known_differences`.)
                for v in [json!({}), json!(true), json!("\u{0}")] {
                    cases.push((p.to_string(), v));
                }
            }
            let mut disagree = Vec::new();
            for (p, v) in cases {
                let mut e = full.clone();
                let (parent, key) = p.rsplit_once('/').unwrap();
                match e.pointer_mut(parent).unwrap() {
                    Value::Object(m) => {
                        m.insert(key.to_owned(), v.clone());
                    }
                    Value::Array(a) => a[key.parse::<usize>().unwrap()] = v.clone(),
                    _ => unreachable!(),
                }
                if validator.is_valid(&e) != accepted(&e).is_ok() {
                    let v: String = v.to_string().chars().take(40).collect();
                    disagree.push(format!(
                        "{p} = {v}: schema {}, domain {:?}",
                        validator.is_valid(&e),
                        accepted(&e)
                    ));
                }
            }
            assert!(disagree.is_empty(), "{disagree:#?}");
        }

        /// Where the two cannot agree, and why: each side of every known difference.
        #[test]
        fn the_known_differences() {
            let validator = validator();
            let good = json!({
                "type": "order.status_changed", "occurred_at": "2026-01-31T10:00:00Z",
                "actor": {"type": "user", "id": "u1"}, "subject": {"type": "order", "id": "o1"},
            });
            let with = |k: &str, v: Value| {
                let mut e = good.clone();
                e[k] = v;
                e
            };
            assert!(validator.is_valid(&good) && accepted(&good).is_ok());
            // Another tenant's id: valid as a tenant id, refused for this key (only there).
            let e = with("tenant", json!("globex"));
            assert!(validator.is_valid(&e));
            assert!(accepted(&e).unwrap_err().contains("\"/tenant\""));
            // The year range holds in UTC, which a pattern cannot follow across offsets.
            for t in ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00"] {
                let e = with("occurred_at", json!(t));
                assert!(validator.is_valid(&e), "{t}");
                assert!(
                    accepted(&e).unwrap_err().contains("year out of range"),
                    "{t}"
                );
            }
            // A leap second is only valid as the last second of a month in UTC (`time`); the
            // checker of `date-time` takes 23:59:60 on any day. Clients cannot generate either from
            // common date libraries.
            let e = with("occurred_at", json!("2016-12-30T23:59:60Z"));
            assert!(validator.is_valid(&e));
            assert!(accepted(&e).is_err());
            assert!(accepted(&with("occurred_at", json!("2016-12-31T23:59:60Z"))).is_ok());
            // Integers beyond ±(2^53-1) are refused by the domain; the schema says so in its
            // description only (see `JsonValue`): it is the looser side here.
            for n in [
                json!(1i64 << 53),
                json!(-(1i64 << 53)),
                json!(i64::MAX),
                json!(u64::MAX),
            ] {
                let e = with("data", json!({ "n": n }));
                assert!(validator.is_valid(&e), "{n}");
                assert!(accepted(&e).is_err(), "{n}");
            }
            // A field name holding a card number is refused by the domain (it cannot be redacted
            // in place); Luhn is beyond a schema, which says so in words.
            let e = with("data", json!({"4242 4242 4242 4242": "visa"}));
            assert!(validator.is_valid(&e));
            assert!(accepted(&e).unwrap_err().contains("payment card number"));
            // A number written with a fraction or an exponent is kept as the binary64 sent, at
            // any size: both sides take 1e21.
            let e = with("data", json!({"n": 1e21}));
            assert!(validator.is_valid(&e));
            assert!(accepted(&e).is_ok());
        }
    }
}
