//! The schemas of the OpenAPI document that no handler type carries: the event envelope as a
//! client sends it (validation itself lives in the domain crate, which must report every problem
//! with a JSON pointer, something a typed deserializer cannot do; `openapi`'s
//! `openapi_matches_validation` test keeps the two in step).

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
