//! The schemas of the OpenAPI document that no handler type carries: the event envelope as a
//! client sends it (validation itself lives in the domain crate, which must report every problem
//! with a JSON pointer, something a typed deserializer cannot do; `openapi`'s
//! `openapi_matches_validation` test keeps the two in step).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

/// Who acted.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Actor {
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
pub(crate) struct Party {
    /// A lower_snake word, e.g. `order`.
    r#type: String,
    id: String,
    name: Option<String>,
}

/// An impersonation session.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Impersonation {
    session_id: String,
    ticket: Option<String>,
}

/// Why a human overrode a rule.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Reason {
    code: Option<String>,
    ticket: Option<String>,
    note: Option<String>,
}

/// One changed field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Change {
    field: String,
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
}

/// Where the action came from.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Context {
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
pub(crate) struct EventEnvelope {
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
    RateLimited: "this key's request rate is over its limit", retry_after = "seconds until a request is accepted";
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
    Outcome => string().enum_values(Some(["success", "failure", "denied"]))
}

hand_schema! {
    /// The format of an export.
    ExportFormat => string().enum_values(Some(["jsonl"]))
}

hand_schema! {
    /// A `ref` filter, `key:value`.
    RefFilter => string().pattern(Some(":"))
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
