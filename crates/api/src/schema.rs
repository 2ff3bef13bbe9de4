//! The schemas of the OpenAPI document that no handler type carries: the event envelope as a
//! client sends it (validation itself lives in the domain crate, which must report every problem
//! with a JSON pointer, something a typed deserializer cannot do; `openapi`'s
//! `openapi_matches_validation` and `envelope_drift` tests keep the two in step: the schema
//! accepts an envelope if and only if the domain does, the catalog aside).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// Reusable error responses: an RFC 9457 [`Problem`](crate::error::Problem) as
/// `application/problem+json`, with `Retry-After` where the server sends it. Operations refer to
/// them as `(status = 401, response = schema::Unauthorized)`.
macro_rules! problem_responses {
    ($($name:ident: $description:literal $(, retry_after = $retry:literal)?;)*) => {$(
        #[doc = $description]
        pub(crate) struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (
                &'r str,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            ) {
                use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build();
                #[allow(unused_mut)]
                let mut response = ResponseBuilder::new()
                    .description($description)
                    .content(PROBLEM_JSON, content);
                $(
                    response = response.header(
                        "Retry-After",
                        utoipa::openapi::header::HeaderBuilder::new()
                            .schema(
                                utoipa::openapi::ObjectBuilder::new()
                                    .schema_type(utoipa::openapi::Type::Integer)
                                    .minimum(Some(1)),
                            )
                            .description(Some($retry))
                            .build(),
                    );
                )?
                (stringify!($name), response.build().into())
            }
        }
    )*};
}

problem_responses! {
    BadRequest: "malformed body, or a query or path parameter the server cannot use (the problem names it)";
    Unauthorized: "no credentials, or not the ones this operation takes: an unknown or revoked key, a tenant key on an operator route, the operator token on a tenant route";
    Forbidden: "the key lacks the scope this operation needs";
    NotFound: "nothing here, or nothing this key may see";
    TooLarge: "a size or count limit";
    UnsupportedMediaType: "the body's content type is not accepted";
    Unprocessable: "the body breaks the rules; `errors` names each problem with its JSON pointer";
    RateLimited: "a request limit is exceeded: this key's request rate, this tenant's checkpoint requests, or failed authentications from this client", retry_after = "seconds until a request is accepted";
    IntegrityFailure: "the stored log failed an integrity check; nothing was signed or served";
    Unavailable: "overloaded, or the store is unavailable; nothing was stored", retry_after = "seconds to wait before retrying";
}

/// A schema written by hand: `$name` is the component's name, `$schema` builds it.
macro_rules! hand_schema {
    ($(#[doc = $doc:literal])* $name:ident => $schema:expr) => {
        $(#[doc = $doc])*
        pub(crate) struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $name {}
    };
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn strings() -> ArrayBuilder {
    ArrayBuilder::new().items(string())
}

fn closed(o: ObjectBuilder) -> ObjectBuilder {
    o.additional_properties(Some(
        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
    ))
}

hand_schema! {
    /// The ingest body as JSON: one event, or an array of 1 to 1,000 (the default limit).
    Batch => OneOfBuilder::new()
        .item(Ref::from_schema_name("EventEnvelope"))
        .item(
            ArrayBuilder::new()
                .items(Ref::from_schema_name("EventEnvelope"))
                .min_items(Some(1))
                .max_items(Some(1000)),
        )
}

hand_schema! {
    /// An event's outcome.
    Outcome => string().enum_values(Some(sealbook_domain::OUTCOMES.iter().copied()))
}

hand_schema! {
    /// Who recorded an event: `sealbook` (Sealbook's own records, marked `"recorded_by":
    /// "sealbook"`) or `client` (every event a client sent).
    RecordedBy => string().enum_values(Some(["sealbook", "client"]))
}

hand_schema! {
    /// The format of an export.
    ExportFormat => string().enum_values(Some(["jsonl", "csv"]))
}

hand_schema! {
    /// A `ref` filter, `key:value`.
    RefFilter => string().pattern(Some(":"))
}

hand_schema! {
    /// A `ref` filter of an export, `key:value`, recorded in the export's audit event: no control
    /// character, at most 256 characters.
    AuditedRefFilter => string().max_length(Some(256)).pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]*:[^\\u0000-\\u001F\\u007F-\\u009F]*$"))
}

hand_schema! {
    /// A liveness or readiness answer.
    Status => closed(ObjectBuilder::new().property("status", string()).required("status"))
}

hand_schema! {
    /// The personal values and salts of the events of one entry bundle (events without personal
    /// values are left out).
    PersonalBundle => closed(ObjectBuilder::new()
        .property(
            "entries",
            ArrayBuilder::new().items(closed(
                ObjectBuilder::new()
                    .property("index", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                    .required("index")
                    .property(
                        "personal",
                        ArrayBuilder::new().items(closed(
                            ObjectBuilder::new()
                                .property("p", string().description(Some("JSON pointer of the field")))
                                .required("p")
                                .property("v", ObjectBuilder::new().description(Some("the value in the clear")))
                                .required("v")
                                .property("s", string().description(Some("the salt, hex")))
                                .required("s"),
                        )),
                    )
                    .required("personal"),
            )),
        )
        .required("entries"))
}

hand_schema! {
    /// A type definition as `PUT /v1/catalog/types/{type}` takes it (the fields of a catalog
    /// file's `[[type]]` table, the name aside, with `schema`, `sample` and `rejected` of each
    /// version as JSON). What JSON Schema cannot say (a schema that compiles, samples it accepts
    /// and refuses, additive evolution) the catalog's lint checks, answering 422.
    TypeDefinition => {
        let version = closed(
            ObjectBuilder::new()
                .property("version", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(u32::MAX)))
                .required("version")
                .property("requires", strings())
                .property("schema", ObjectBuilder::new().schema_type(Type::Object).description(Some("JSON Schema 2020-12 of `data`")))
                .required("schema")
                .property("sample", ObjectBuilder::new().description(Some("a `data` the schema accepts")))
                .required("sample")
                .property("rejected", ObjectBuilder::new().description(Some("a `data` the schema refuses")))
                .required("rejected"),
        );
        let ocsf = closed(
            ObjectBuilder::new()
                .property("class_uid", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(u32::MAX)))
                .required("class_uid")
                .property("class_name", string())
                .required("class_name")
                .property("activity_id", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(u32::MAX)))
                .required("activity_id"),
        );
        let mut o = ObjectBuilder::new();
        for f in ["description", "owner", "retention", "label"] {
            o = o.property(f, string()).required(f);
        }
        closed(
            o.property("severity", string().enum_values(Some(["info", "low", "medium", "high", "critical"])))
                .required("severity")
                .property("controls", strings())
                .property("ocsf", ocsf)
                .required("ocsf")
                .property("personal", strings())
                .property("secrets", strings())
                .property("versions", ArrayBuilder::new().items(version).min_items(Some(1)))
                .required("versions"),
        )
    }
}

/// A schema written as JSON Schema 2020-12 text, for keywords utoipa's builders lack (`not`,
/// `dependentRequired`, `$ref` beside other keywords): every key is carried verbatim.
fn raw(v: serde_json::Value) -> Schema {
    let serde_json::Value::Object(m) = v else {
        unreachable!("a schema is an object")
    };
    let mut o = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .build();
    o.extensions = Some(m.into_iter().collect());
    Schema::Object(o)
}

fn component(name: &str) -> serde_json::Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// No NUL character: the validator refuses one in any string and any field name, at any depth.
const NO_NUL: &str = "^[^\\u0000]*$";
/// `char::is_control` (Unicode Cc): what "printable characters only" refuses.
const PRINTABLE: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// A string of 1 to `max` characters, `null` allowed (an optional field the validator treats as
/// absent when null) or not.
fn text(max: usize, nullable: bool) -> serde_json::Value {
    let t = if nullable {
        serde_json::json!(["string", "null"])
    } else {
        serde_json::json!("string")
    };
    serde_json::json!({"type": t, "minLength": 1, "maxLength": max, "pattern": NO_NUL})
}

/// The types a client may not send: those in Sealbook's namespaces.
fn reserved_pattern() -> String {
    format!("^({})\\.", sealbook_catalog::RESERVED_NAMESPACES.join("|"))
}

/// The built-in catalog's type names a client may send, as `examples` of `type` (not an enum:
/// tenants add types).
fn builtin_type_names() -> Vec<String> {
    let mut names: Vec<String> = sealbook_catalog::Catalog::builtin()
        .types()
        .map(|t| t.name.clone())
        .filter(|n| !sealbook_catalog::is_reserved(n))
        .collect();
    names.sort();
    names
}

/// Field names of client JSON: no NUL, and not one of the names Sealbook writes itself
/// (`sealbook_domain::RESERVED_KEYS`).
fn reserved_names() -> serde_json::Value {
    serde_json::json!({"pattern": NO_NUL, "not": {"enum": sealbook_domain::RESERVED_KEYS}})
}

hand_schema! {
    /// Any JSON value the log stores as sent: no NUL character in a string or a field name, and
    /// integers within ±(2^53-1) (send larger ones as strings).
    ///
    /// One schema with a list of types rather than an `anyOf` of one schema per type: each keyword
    /// applies to its own type only, so the two say the same, and a test generator that breaks
    /// one branch of an `anyOf` to make an invalid value (schemathesis does) cannot produce a value
    /// another branch accepts. The integer range is said in words only: as `minimum`/`maximum` it
    /// would bind numbers with a fraction too, which the log keeps at any size.
    JsonValue => raw(serde_json::json!({
        "type": ["null", "boolean", "string", "number", "array", "object"],
        "description": "Any JSON value: no NUL character in a string or a field name; integers within ±(2^53-1) (9007199254740991), larger ones are refused (send them as strings). The field names `$redacted` and `$commitment` are Sealbook's and refused, and so is a field name holding a payment card number (13-19 digits passing Luhn).",
        "pattern": NO_NUL,
        "items": component("JsonValue"),
        "propertyNames": reserved_names(),
        "additionalProperties": component("JsonValue"),
    }))
}

hand_schema! {
    /// A JSON object whose values are [`JsonValue`]s.
    JsonObject => raw(serde_json::json!({
        "type": "object",
        "propertyNames": reserved_names(),
        "additionalProperties": component("JsonValue"),
    }))
}

hand_schema! {
    /// Who acted.
    Actor => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "id"],
        "properties": {
            "type": {"type": "string", "enum": sealbook_domain::ACTOR_TYPES},
            "id": {"description": "Personal data: stored beside the leaf, committed inside it.", "allOf": [text(256, false)]},
            "name": text(256, true),
            "email": text(320, true),
        },
    }))
}

hand_schema! {
    /// A party: `on_behalf_of` or `subject`.
    Party => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "id"],
        "properties": {
            "type": {"type": "string", "description": "A lower_snake word, e.g. `order`.", "maxLength": 64, "pattern": "^[a-z][a-z0-9_]*$"},
            "id": text(256, false),
            "name": text(256, true),
        },
    }))
}

hand_schema! {
    /// An impersonation session.
    Impersonation => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["session_id"],
        "properties": {"session_id": text(256, false), "ticket": text(256, true)},
    }))
}

hand_schema! {
    /// Why a human overrode a rule.
    Reason => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {"code": text(128, true), "ticket": text(256, true), "note": text(4096, true)},
    }))
}

hand_schema! {
    /// One changed field.
    Change => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["field"],
        "properties": {
            "field": text(256, false),
            "before": component("JsonValue"),
            "after": component("JsonValue"),
        },
    }))
}

hand_schema! {
    /// Where the action came from.
    Context => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "ip": {"anyOf": [
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
                {"type": "null"},
            ]},
            "user_agent": text(1024, true),
            "session_id": text(256, true),
            "request_id": text(256, true),
            "correlation_id": text(256, true),
        },
    }))
}

hand_schema! {
    /// The event envelope. Unknown fields are rejected. Beyond this schema: 48 KiB per event
    /// (compact JSON), 32 levels of nesting, no two events of a request with the same `id`, no
    /// duplicate field names; 1,000 events and 5 MiB per request. What depends on the tenant: the
    /// type must be in its catalog (`GET /v1/catalog`), `data` must pass that type's schema and
    /// the fields it requires must be present, `schema_version` must be one of its versions.
    EventEnvelope => raw(serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["type", "occurred_at", "actor", "subject"],
        "properties": {
            "id": {
                "type": ["string", "null"], "minLength": 1, "maxLength": 128, "pattern": PRINTABLE,
                "description": "Idempotency key, 1-128 printable characters; a UUIDv7 is assigned when absent.",
            },
            "tenant": {
                "type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$",
                "description": "Must equal the API key's tenant when present.",
            },
            "type": {
                "type": "string", "maxLength": 128,
                "pattern": "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$",
                "not": {"pattern": reserved_pattern()},
                "examples": builtin_type_names(),
                "description": "Dot-separated lower_snake segments, at least two, e.g. `order.status_changed`; a type of the tenant's catalog. Types in the namespaces Sealbook writes itself (`api_key.*`, `audit_log.*`, `catalog.*`, `sealbook.*`) cannot be sent.",
            },
            "schema_version": {
                "type": "integer", "minimum": 1, "maximum": u32::MAX,
                "description": "Default 1.",
            },
            "occurred_at": {
                "type": "string", "format": "date-time",
                "pattern": "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-",
                "description": "RFC 3339 with an offset (`Z` or `±hh:mm`); years 0001 to 9999 in UTC (so not 0001-01-01T00:30:00+01:00).",
            },
            "actor": component("Actor"),
            "on_behalf_of": component("Party"),
            "impersonation": component("Impersonation"),
            "subject": component("Party"),
            "outcome": {"allOf": [component("Outcome")], "description": "Default `success`."},
            "reason": component("Reason"),
            "changes": {
                "type": "array", "items": component("Change"),
                "description": "Field changes; secrets among them are redacted on both sides.",
            },
            "before": {
                "allOf": [component("JsonObject")],
                "description": "The object before the change, instead of `changes` (with `after`): Sealbook computes the field-level diff (nested paths, arrays by index) and stores it as `changes`.",
            },
            "after": {"allOf": [component("JsonObject")], "description": "The object after the change (with `before`)."},
            "context": component("Context"),
            "refs": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 512, "pattern": NO_NUL},
                "description": "Business references, searchable with `ref=key:value`.",
            },
            "data": {
                "allOf": [component("JsonObject")],
                "description": "The type's own payload. Values under secret keys (`password`, `api_key`, `token`, …) and card numbers (Luhn-valid) here, in `refs` and in `changes` are replaced by `{\"$redacted\": true, \"preview\", \"fingerprint\"}` before anything is stored.",
            },
        },
        "dependentRequired": {"before": ["after"], "after": ["before"]},
        "not": {"required": ["changes", "before"]},
    }))
}

/// `POST /v1/tenants`'s `id`: a tenant id, `platform` aside.
pub(crate) fn new_tenant_id() -> Schema {
    raw(serde_json::json!({
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9-]{0,62}$",
        "not": {"const": "platform"},
        "description": "`[a-z0-9][a-z0-9-]{0,62}`; `platform` is the platform's own log.",
    }))
}

/// A display name of a tenant or a key: 1-200 printable characters, null for the default.
pub(crate) fn display_name() -> Schema {
    raw(serde_json::json!({
        "type": ["string", "null"], "minLength": 1, "maxLength": 200, "pattern": PRINTABLE,
    }))
}

/// The scopes of a new key: at least one (repeats collapse). On the `platform` tenant only
/// `events:read` and `events:export` (otherwise 422).
pub(crate) fn scopes() -> Schema {
    let all: Vec<&str> = sealbook_domain::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    raw(serde_json::json!({
        "type": "array", "minItems": 1,
        "items": {"type": "string", "enum": all},
        "description": "At least one of the scopes; on the `platform` tenant only `events:read` and `events:export`.",
    }))
}
