//! The event envelope: turning a request body (one event, a JSON array, or NDJSON) into validated
//! events, or into errors that name the event, the JSON pointer and the problem.
//!
//! Validation is strict on purpose. An audit record that a buyer's auditor reads years later must
//! not carry fields nobody defined, ambiguous timestamps or values other tools cannot read back, so
//! unknown fields, missing offsets, NUL characters and integers beyond I-JSON's range are refused.

use crate::error::{BatchError, FieldError};
use crate::scan::scan;
use crate::tenant::TenantId;
use crate::timestamp::{self, Timestamp};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Configurable limits on what one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest event, in bytes of compact JSON (default 48 KiB, so a leaf fits a C2SP entry bundle).
    pub max_event_bytes: usize,
    /// Deepest nesting inside one event, the event object itself being level 1 (default 32).
    pub max_depth: usize,
    /// Most events in one request (default 1,000).
    pub max_batch_events: usize,
    /// Largest request body in bytes (default 5 MiB).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 48 * 1024,
            max_depth: 32,
            max_batch_events: 1000,
            max_body_bytes: 5 * 1024 * 1024,
        }
    }
}

/// How the body is framed, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: one event object, or an array of them.
    Json,
    /// `application/x-ndjson`: one event object per line.
    Ndjson,
}

/// An event that passed every envelope rule, normalised (defaults filled in, `occurred_at` in UTC,
/// the optional body `tenant` removed) and ready to be shaped into a leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    /// Position in the request batch.
    pub position: usize,
    /// The client's id, if it sent one.
    pub id: Option<String>,
    /// The event type, e.g. `order.status_changed`.
    pub event_type: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The actor's type.
    pub actor_type: String,
    /// The subject's type.
    pub subject_type: String,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The normalised event object, personal values still in the clear.
    pub body: Map<String, Value>,
}

/// The top-level fields of the envelope; any other is rejected.
pub const ENVELOPE_FIELDS: &[&str] = &[
    "id",
    "tenant",
    "type",
    "schema_version",
    "occurred_at",
    "actor",
    "on_behalf_of",
    "impersonation",
    "subject",
    "outcome",
    "reason",
    "changes",
    "before",
    "after",
    "context",
    "refs",
    "data",
];
/// The actor types an event may name.
pub const ACTOR_TYPES: &[&str] = &["user", "service_account", "api_key", "system", "support"];
/// An event's outcomes.
pub const OUTCOMES: &[&str] = &["success", "failure", "denied"];
/// Largest integer magnitude that every JSON reader represents exactly (RFC 7493, I-JSON).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Parses and validates a request body for `tenant`.
///
/// All-or-nothing: any problem in any event rejects the whole body, and every problem found is
/// reported, not only the first.
pub fn parse_batch(
    body: &[u8],
    format: BodyFormat,
    tenant: &TenantId,
    limits: &Limits,
) -> Result<Vec<ValidEvent>, BatchError> {
    if body.len() > limits.max_body_bytes {
        return Err(BatchError::TooLarge {
            detail: format!("body exceeds {} bytes", limits.max_body_bytes),
            errors: vec![],
        });
    }
    if std::str::from_utf8(body).is_err() {
        return Err(BatchError::Malformed {
            detail: "body is not valid UTF-8".into(),
        });
    }
    let raw = match format {
        BodyFormat::Json => split_json(body, limits)?,
        BodyFormat::Ndjson => split_ndjson(body, limits)?,
    };
    if raw.is_empty() {
        return Err(BatchError::Invalid(vec![FieldError {
            event: None,
            path: String::new(),
            problem: "the batch holds no events".into(),
        }]));
    }
    if raw.len() > limits.max_batch_events {
        return Err(BatchError::TooLarge {
            detail: format!(
                "{} events in one request; the limit is {}",
                raw.len(),
                limits.max_batch_events
            ),
            errors: vec![],
        });
    }
    let mut errors = Vec::new();
    let mut events = Vec::with_capacity(raw.len());
    let mut seen_ids: HashSet<String> = HashSet::new();
    for (position, value) in raw.into_iter().enumerate() {
        let before = errors.len();
        if let Some(ev) = validate(position, value, tenant, &mut errors) {
            if let Some(id) = &ev.id {
                if !seen_ids.insert(id.clone()) {
                    errors.push(FieldError::new(
                        position,
                        "/id",
                        "the same id appears earlier in this batch",
                    ));
                }
            }
            if errors.len() == before {
                events.push(ev);
            }
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(BatchError::Invalid(errors))
    }
}

fn too_deep(position: usize, limits: &Limits) -> BatchError {
    BatchError::Invalid(vec![FieldError::new(
        position,
        "",
        format!("nesting deeper than {} levels", limits.max_depth),
    )])
}

fn too_big(position: usize, limits: &Limits) -> BatchError {
    BatchError::TooLarge {
        detail: format!("event exceeds {} bytes", limits.max_event_bytes),
        errors: vec![FieldError::new(
            position,
            "",
            format!("event exceeds {} bytes", limits.max_event_bytes),
        )],
    }
}

fn malformed(e: serde_json::Error, line: Option<usize>) -> BatchError {
    let detail = match line {
        Some(l) => format!("line {l}: {e}"),
        None => e.to_string(),
    };
    BatchError::Malformed { detail }
}

/// Checks size against the compact form: whitespace a client added must not count against it.
fn check_size(
    position: usize,
    raw_len: usize,
    value: &Value,
    limits: &Limits,
) -> Result<(), BatchError> {
    if raw_len > limits.max_event_bytes {
        let compact = serde_json::to_vec(value)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if compact > limits.max_event_bytes {
            return Err(too_big(position, limits));
        }
    }
    Ok(())
}

fn split_json(body: &[u8], limits: &Limits) -> Result<Vec<Value>, BatchError> {
    let s = scan(body);
    if s.items.len() > limits.max_batch_events {
        return Err(BatchError::TooLarge {
            detail: format!(
                "more than {} events in one request",
                limits.max_batch_events
            ),
            errors: vec![],
        });
    }
    for (position, span) in s.items.iter().enumerate() {
        if span.depth > limits.max_depth {
            return Err(too_deep(position, limits));
        }
    }
    let value: Value = strict::from_slice(body).map_err(|e| malformed(e, None))?;
    let values = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for (position, value) in values.iter().enumerate() {
        let raw_len = s.items.get(position).map_or(0, |sp| sp.end - sp.start);
        check_size(position, raw_len, value, limits)?;
    }
    Ok(values)
}

fn split_ndjson(body: &[u8], limits: &Limits) -> Result<Vec<Value>, BatchError> {
    let mut values = Vec::new();
    for (line_no, line) in body.split(|c| *c == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let position = values.len();
        if position >= limits.max_batch_events {
            return Err(BatchError::TooLarge {
                detail: format!(
                    "more than {} events in one request",
                    limits.max_batch_events
                ),
                errors: vec![],
            });
        }
        let s = scan(line);
        if s.is_array || s.items.iter().any(|sp| sp.depth > limits.max_depth) {
            if s.is_array {
                return Err(BatchError::Malformed {
                    detail: format!(
                        "line {}: each NDJSON line must hold one event object",
                        line_no + 1
                    ),
                });
            }
            return Err(too_deep(position, limits));
        }
        let value: Value = strict::from_slice(line).map_err(|e| malformed(e, Some(line_no + 1)))?;
        check_size(position, line.len(), &value, limits)?;
        values.push(value);
    }
    Ok(values)
}

/// Collects the problems of one event.
struct Check<'a> {
    position: usize,
    errors: &'a mut Vec<FieldError>,
}

impl Check<'_> {
    fn err(&mut self, path: &str, problem: impl Into<String>) {
        self.errors
            .push(FieldError::new(self.position, path, problem));
    }

    /// A required or optional string, with length bounds in characters.
    fn string(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let p = format!("{path}/{key}");
        match obj.get(key) {
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                self.err(&p, "is required");
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 {
                    self.err(&p, "must not be empty");
                    None
                } else if n > max {
                    self.err(&p, format!("must be at most {max} characters"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.err(&p, "must be a string");
                None
            }
        }
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => {
                self.err(path, "must be an object");
                None
            }
        }
    }

    fn only(&mut self, obj: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(
                    &format!("{path}/{}", escape_pointer(k)),
                    format!("unknown field; allowed here: {}", allowed.join(", ")),
                );
            }
        }
    }

    /// `{type, id, name?}`-shaped parties (actor, on_behalf_of, subject).
    fn party(&mut self, obj: &Map<String, Value>, path: &str, extra: &[&str]) -> Option<String> {
        let mut allowed = vec!["type", "id", "name"];
        allowed.extend_from_slice(extra);
        self.only(obj, path, &allowed);
        let t = self.string(obj, path, "type", true, 64);
        self.string(obj, path, "id", true, 256);
        self.string(obj, path, "name", false, 256);
        t
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn is_token(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn is_event_type(s: &str) -> bool {
    s.len() <= 128 && s.split('.').count() >= 2 && s.split('.').all(is_token)
}

fn is_ref_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// Field names Sealbook writes itself: a redacted secret (`crate::redact::REDACTED_KEY`) and a
/// committed personal value (`crate::shape::COMMITMENT_KEY`). A client that could send them could
/// have a secret skipped by redaction, a personal value skipped by erasure, or forge a
/// fingerprint; so no part of an event may carry them, at any depth.
pub const RESERVED_KEYS: &[&str] = &[crate::redact::REDACTED_KEY, crate::shape::COMMITMENT_KEY];

/// Rejects NUL characters anywhere (keys included), integers beyond I-JSON's exact range, the
/// reserved field names and field names holding a card number.
fn check_values(c: &mut Check<'_>, v: &Value, path: &mut String) {
    match v {
        Value::String(s) if s.contains('\0') => c.err(path, "must not contain NUL characters"),
        Value::Number(n) => {
            let unsafe_int = n.as_u64().is_some_and(|u| u > MAX_SAFE_INTEGER)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() > MAX_SAFE_INTEGER);
            if unsafe_int {
                c.err(path, "integer beyond ±(2^53-1) cannot be represented exactly (I-JSON); send it as a string");
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                check_values(c, item, path);
                path.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let len = path.len();
                path.push('/');
                path.push_str(&escape_pointer(k));
                if k.contains('\0') {
                    c.err(path, "field names must not contain NUL characters");
                }
                if RESERVED_KEYS.contains(&k.as_str()) {
                    c.err(
                        path,
                        format!("{k} is reserved: Sealbook writes it where it redacted or committed a value, so no event may carry it"),
                    );
                } else if crate::redact::holds_card(k) {
                    // The card number is not echoed: the pointer names the field with it masked.
                    path.truncate(len);
                    path.push('/');
                    path.push_str(&escape_pointer(&crate::redact::mask_cards(k).0));
                    c.err(
                        path,
                        "this field name holds a payment card number, which Sealbook cannot redact in a name; send it as a value",
                    );
                }
                check_values(c, item, path);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn validate(
    position: usize,
    value: Value,
    tenant: &TenantId,
    errors: &mut Vec<FieldError>,
) -> Option<ValidEvent> {
    let mut c = Check { position, errors };
    let Value::Object(mut obj) = value else {
        c.err("", "each event must be a JSON object");
        return None;
    };
    let before = c.errors.len();
    let mut path = String::new();
    for (k, item) in &obj {
        path.clear();
        path.push('/');
        path.push_str(&escape_pointer(k));
        check_values(&mut c, item, &mut path);
    }
    c.only(&obj, "", ENVELOPE_FIELDS);

    let id = c.string(&obj, "", "id", false, 128);
    if let Some(id) = &id {
        if id.chars().any(char::is_control) {
            c.err("/id", "must hold printable characters only");
        }
    }
    match obj.get("tenant") {
        None => {}
        Some(Value::String(t)) if t == tenant.as_str() => {}
        Some(Value::String(_)) => c.err("/tenant", "does not match the tenant of the API key"),
        Some(_) => c.err("/tenant", "must be a string"),
    }
    obj.remove("tenant");

    let event_type = c.string(&obj, "", "type", true, 128);
    if let Some(t) = &event_type {
        if !is_event_type(t) {
            c.err("/type", "must be dot-separated lower_snake segments, at least two, e.g. order.status_changed");
        }
    }
    match obj.get("schema_version") {
        None => {
            obj.insert("schema_version".into(), Value::from(1));
        }
        Some(Value::Number(n)) => {
            // `200.0` is the integer 200 to JSON Schema (and to JavaScript); it is stored as `200`.
            let v = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(f))
                    .map(|f| f as u64)
            });
            match v {
                Some(v) if (1..=u64::from(u32::MAX)).contains(&v) => {
                    obj.insert("schema_version".into(), Value::from(v));
                }
                _ => c.err("/schema_version", "must be an integer ≥ 1"),
            }
        }
        Some(_) => c.err("/schema_version", "must be an integer ≥ 1"),
    }
    let occurred_at = match obj.get("occurred_at") {
        None | Some(Value::Null) => {
            c.err("/occurred_at", "is required");
            None
        }
        Some(Value::String(s)) => match timestamp::parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                c.err("/occurred_at", e.to_string());
                None
            }
        },
        Some(_) => {
            c.err("/occurred_at", "must be an RFC 3339 string");
            None
        }
    };
    if let Some(t) = &occurred_at {
        obj.insert("occurred_at".into(), Value::String(t.utc.clone()));
    }

    let mut actor_type = None;
    match obj.get("actor") {
        None | Some(Value::Null) => c.err("/actor", "is required"),
        Some(v) => {
            if let Some(a) = c.object(v, "/actor") {
                actor_type = c.party(a, "/actor", &["email"]);
                c.string(a, "/actor", "email", false, 320);
                if let Some(t) = &actor_type {
                    if !ACTOR_TYPES.contains(&t.as_str()) {
                        c.err(
                            "/actor/type",
                            format!("must be one of {}", ACTOR_TYPES.join(", ")),
                        );
                    }
                }
            }
        }
    }
    if let Some(v) = obj.get("on_behalf_of") {
        if let Some(o) = c.object(v, "/on_behalf_of") {
            if let Some(t) = c.party(o, "/on_behalf_of", &[]) {
                if !is_token(&t) {
                    c.err("/on_behalf_of/type", "must be a lower_snake word");
                }
            }
        }
    }
    if let Some(v) = obj.get("impersonation") {
        if let Some(o) = c.object(v, "/impersonation") {
            c.only(o, "/impersonation", &["session_id", "ticket"]);
            c.string(o, "/impersonation", "session_id", true, 256);
            c.string(o, "/impersonation", "ticket", false, 256);
        }
    }
    let mut subject_type = None;
    match obj.get("subject") {
        None | Some(Value::Null) => c.err("/subject", "is required"),
        Some(v) => {
            if let Some(s) = c.object(v, "/subject") {
                subject_type = c.party(s, "/subject", &[]);
                if let Some(t) = &subject_type {
                    if !is_token(t) {
                        c.err("/subject/type", "must be a lower_snake word, e.g. order");
                    }
                }
            }
        }
    }
    let outcome = match obj.get("outcome") {
        None => {
            obj.insert("outcome".into(), Value::from("success"));
            Some("success".to_owned())
        }
        Some(Value::String(s)) if OUTCOMES.contains(&s.as_str()) => Some(s.clone()),
        Some(_) => {
            c.err(
                "/outcome",
                format!("must be one of {}", OUTCOMES.join(", ")),
            );
            None
        }
    };
    if let Some(v) = obj.get("reason") {
        if let Some(o) = c.object(v, "/reason") {
            c.only(o, "/reason", &["code", "ticket", "note"]);
            c.string(o, "/reason", "code", false, 128);
            c.string(o, "/reason", "ticket", false, 256);
            c.string(o, "/reason", "note", false, 4096);
        }
    }
    if let Some(v) = obj.get("changes") {
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("/changes/{i}");
                    if let Some(o) = c.object(item, &p) {
                        c.only(o, &p, &["field", "before", "after"]);
                        c.string(o, &p, "field", true, 256);
                    }
                }
            }
            _ => c.err("/changes", "must be an array of {field, before?, after?}"),
        }
    }
    if let Some(v) = obj.get("context") {
        if let Some(o) = c.object(v, "/context") {
            c.only(
                o,
                "/context",
                &[
                    "ip",
                    "user_agent",
                    "session_id",
                    "request_id",
                    "correlation_id",
                ],
            );
            if let Some(ip) = c.string(o, "/context", "ip", false, 64) {
                if ip.parse::<std::net::IpAddr>().is_err() {
                    c.err("/context/ip", "must be an IPv4 or IPv6 address");
                }
            }
            c.string(o, "/context", "user_agent", false, 1024);
            c.string(o, "/context", "session_id", false, 256);
            c.string(o, "/context", "request_id", false, 256);
            c.string(o, "/context", "correlation_id", false, 256);
        }
    }
    if let Some(v) = obj.get("refs") {
        if let Some(o) = c.object(v, "/refs") {
            for (k, val) in o {
                let p = format!("/refs/{}", escape_pointer(k));
                if !is_ref_key(k) {
                    c.err(
                        &p,
                        "reference names are 1-64 characters of A-Z a-z 0-9 _ - .",
                    );
                }
                match val {
                    Value::String(s) if !s.is_empty() && s.chars().count() <= 512 => {}
                    _ => c.err(&p, "must be a non-empty string of at most 512 characters"),
                }
            }
        }
    }
    if let Some(v) = obj.get("data") {
        c.object(v, "/data");
    }
    // Whole `before`/`after` objects instead of `changes`: Sealbook computes the diff.
    match (obj.get("before"), obj.get("after")) {
        (None, None) => {}
        (Some(_), _) | (_, Some(_)) if obj.contains_key("changes") => {
            c.err("/before", "give either changes or before/after, not both");
        }
        (Some(Value::Object(_)), Some(Value::Object(_))) => {}
        (b, a) => {
            if !matches!(b, Some(Value::Object(_))) {
                c.err("/before", "must be an object, with after");
            }
            if !matches!(a, Some(Value::Object(_))) {
                c.err("/after", "must be an object, with before");
            }
        }
    }

    if c.errors.len() != before {
        return None;
    }
    if let (Some(Value::Object(b)), Some(Value::Object(a))) =
        (obj.remove("before"), obj.remove("after"))
    {
        obj.insert("changes".into(), Value::Array(crate::diff::diff(&b, &a)));
    }
    Some(ValidEvent {
        position,
        id,
        event_type: event_type?,
        outcome: outcome?,
        actor_type: actor_type?,
        subject_type: subject_type?,
        occurred_at: occurred_at?,
        body: obj,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn duplicate_keys_are_malformed_at_any_depth() {
        for body in [
            r#"{"type":"a.b","type":"c.d"}"#,
            r#"[{"type":"a.b","actor":{"id":"1","id":"2"}}]"#,
        ] {
            let err = parse_batch(
                body.as_bytes(),
                BodyFormat::Json,
                &tenant(),
                &Limits::default(),
            )
            .unwrap_err();
            match err {
                BatchError::Malformed { detail } => {
                    assert!(detail.contains("duplicate key"), "{detail}")
                }
                other => panic!("{other:?}"),
            }
        }
        let ndjson = "{\"type\":\"a.b\"}\n{\"x\":1,\"x\":2}\n";
        let err = parse_batch(
            ndjson.as_bytes(),
            BodyFormat::Ndjson,
            &tenant(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, BatchError::Malformed { ref detail } if detail.starts_with("line 2:") && detail.contains("duplicate key")),
            "{err:?}"
        );
    }

    #[test]
    fn before_and_after_become_changes() {
        let mut v = good();
        v["before"] = json!({"status": "open", "total": 10});
        v["after"] = json!({"status": "shipped", "total": 10});
        let e = parse_batch(
            v.to_string().as_bytes(),
            BodyFormat::Json,
            &tenant(),
            &Limits::default(),
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            e.body["changes"],
            json!([{"field": "status", "before": "open", "after": "shipped"}])
        );
        assert!(e.body.get("before").is_none() && e.body.get("after").is_none());
        for (b, a, with_changes) in [
            (json!({}), Value::Null, false),
            (json!("x"), json!({}), false),
            (json!({}), json!({}), true),
        ] {
            let mut v = good();
            v["before"] = b;
            if !a.is_null() {
                v["after"] = a;
            }
            if with_changes {
                v["changes"] = json!([]);
            }
            let err = parse_batch(
                v.to_string().as_bytes(),
                BodyFormat::Json,
                &tenant(),
                &Limits::default(),
            )
            .unwrap_err();
            assert!(matches!(err, BatchError::Invalid(_)), "{v}");
        }
    }

    fn good() -> Value {
        json!({
            "type": "order.status_changed",
            "occurred_at": "2026-01-31T10:00:00.5+01:00",
            "actor": {"type": "user", "id": "u1", "name": "Ada"},
            "subject": {"type": "order", "id": "o-1"},
        })
    }

    fn errs(body: &Value) -> Vec<FieldError> {
        match parse_batch(
            body.to_string().as_bytes(),
            BodyFormat::Json,
            &tenant(),
            &Limits::default(),
        ) {
            Err(BatchError::Invalid(e)) => e,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_and_normalises() {
        let evs = parse_batch(
            good().to_string().as_bytes(),
            BodyFormat::Json,
            &tenant(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(evs.len(), 1);
        let e = &evs[0];
        assert_eq!(e.body["occurred_at"], "2026-01-31T09:00:00.5Z");
        assert_eq!(e.body["outcome"], "success");
        assert_eq!(e.body["schema_version"], 1);
        assert_eq!(e.id, None);
    }

    #[test]
    fn reports_every_problem_with_pointer() {
        let mut v = good();
        v["occurred_at"] = json!("2026-01-31T10:00:00");
        v["actor"]["type"] = json!("robot");
        v["bogus"] = json!(1);
        v["refs"] = json!({"a:b": "x"});
        let e = errs(&json!([good(), v]));
        let paths: Vec<_> = e.iter().map(|e| (e.event, e.path.as_str())).collect();
        assert!(paths.contains(&(Some(1), "/occurred_at")), "{paths:?}");
        assert!(paths.contains(&(Some(1), "/actor/type")), "{paths:?}");
        assert!(paths.contains(&(Some(1), "/bogus")), "{paths:?}");
        assert!(paths.contains(&(Some(1), "/refs/a:b")), "{paths:?}");
        assert!(e.iter().all(|e| e.event == Some(1)));
    }

    /// An integral number is an integer whichever way it is written, as JSON Schema says.
    #[test]
    fn schema_version_is_an_integer_however_written() {
        for (sent, stored) in [("2", 2), ("2.0", 2), ("4294967295", 4_294_967_295u64)] {
            let mut v = good().to_string();
            v.insert_str(v.len() - 1, &format!(r#","schema_version":{sent}"#));
            let e = parse_batch(
                v.as_bytes(),
                BodyFormat::Json,
                &tenant(),
                &Limits::default(),
            )
            .unwrap()
            .remove(0);
            assert_eq!(e.body["schema_version"], json!(stored), "{sent}");
            assert!(e.body["schema_version"].is_u64());
        }
        for bad in [
            json!(0),
            json!(2.5),
            json!(4_294_967_296u64),
            json!(-1),
            json!("1"),
            Value::Null,
        ] {
            let mut v = good();
            v["schema_version"] = bad.clone();
            assert_eq!(errs(&v)[0].path, "/schema_version", "{bad}");
        }
    }

    #[test]
    fn duplicate_id_in_batch() {
        let mut a = good();
        a["id"] = json!("e1");
        let e = errs(&json!([a.clone(), a]));
        assert_eq!(
            e,
            vec![FieldError::new(
                1,
                "/id",
                "the same id appears earlier in this batch"
            )]
        );
    }

    #[test]
    fn nul_and_unsafe_integers() {
        let mut v = good();
        v["data"] = json!({"n": 9007199254740993u64, "s": "a\u{0}b"});
        let e = errs(&v);
        let paths: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["/data/n", "/data/s"]);
    }

    /// `$redacted` and `$commitment` are Sealbook's; in any client-sent part of an event, at any
    /// depth, they are refused with their pointer (the issue's reproduction first).
    #[test]
    fn reserved_keys_are_refused_everywhere() {
        let places: Vec<(&str, Value, &str)> = vec![
            (
                "data",
                json!({"$redacted": 0, "password": "hunter2", "card": "4242 4242 4242 4242"}),
                "/data/$redacted",
            ),
            (
                "data",
                json!({"email": {"$commitment": "sha256:00"}}),
                "/data/email/$commitment",
            ),
            (
                "data",
                json!({"a": [{"b": {"$redacted": true, "fingerprint": "hmac-sha256:00"}}]}),
                "/data/a/0/b/$redacted",
            ),
            (
                "changes",
                json!([{"field": "x", "after": {"$redacted": true}}]),
                "/changes/0/after/$redacted",
            ),
            (
                "before",
                json!({"x": {"$commitment": "sha256:00"}}),
                "/before/x/$commitment",
            ),
            (
                "actor",
                json!({"type": "user", "id": "u1", "$redacted": true}),
                "/actor/$redacted",
            ),
            (
                "context",
                json!({"$commitment": "x"}),
                "/context/$commitment",
            ),
            (
                "impersonation",
                json!({"session_id": "s", "$redacted": 1}),
                "/impersonation/$redacted",
            ),
            ("refs", json!({"$redacted": "x"}), "/refs/$redacted"),
            ("reason", json!({"$commitment": "x"}), "/reason/$commitment"),
        ];
        for (field, value, pointer) in places {
            let mut v = good();
            v[field] = value;
            if field == "before" {
                v["after"] = json!({"x": 1});
            }
            let e = errs(&v);
            assert!(
                e.iter()
                    .any(|e| e.path == pointer && e.problem.contains("is reserved")),
                "{pointer}: {e:?}"
            );
        }
        // Other `$` names are the client's own: JSON Schema, MongoDB operators.
        let mut v = good();
        v["data"] = json!({"$set": {"a": 1}, "$ref": "#/x", "$Redacted": 1});
        assert!(parse_batch(
            v.to_string().as_bytes(),
            BodyFormat::Json,
            &tenant(),
            &Limits::default()
        )
        .is_ok());
    }

    /// A card number in a field name cannot be redacted in place: refused, without echoing it.
    #[test]
    fn card_numbers_in_field_names_are_refused_masked() {
        let mut v = good();
        v["data"] = json!({"cards": {"4242 4242 4242 4242": "visa"}, "order 1234": 1});
        let e = errs(&v);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].path, "/data/cards/[redacted card ****4242]");
        assert!(!format!("{e:?}").contains("4242 4242 4242 4242"));
    }

    #[test]
    fn tenant_must_match() {
        let mut v = good();
        v["tenant"] = json!("other");
        assert_eq!(errs(&v)[0].path, "/tenant");
        v["tenant"] = json!("acme");
        let evs = parse_batch(
            v.to_string().as_bytes(),
            BodyFormat::Json,
            &tenant(),
            &Limits::default(),
        )
        .unwrap();
        assert!(!evs[0].body.contains_key("tenant"));
    }

    #[test]
    fn limits() {
        let l = Limits::default();
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(matches!(
            parse_batch(deep.as_bytes(), BodyFormat::Json, &tenant(), &l),
            Err(BatchError::Invalid(_))
        ));
        let mut v = good();
        v["data"] = json!({"big": "x".repeat(60_000)});
        assert!(matches!(
            parse_batch(v.to_string().as_bytes(), BodyFormat::Json, &tenant(), &l),
            Err(BatchError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_batch(b"[]", BodyFormat::Json, &tenant(), &l),
            Err(BatchError::Invalid(_))
        ));
        assert!(matches!(
            parse_batch(b"{", BodyFormat::Json, &tenant(), &l),
            Err(BatchError::Malformed { .. })
        ));
        assert!(matches!(
            parse_batch(b"\xff\xfe", BodyFormat::Json, &tenant(), &l),
            Err(BatchError::Malformed { .. })
        ));
    }

    #[test]
    fn ndjson() {
        let body = format!("{}\n\n{}\n", good(), good());
        let evs = parse_batch(
            body.as_bytes(),
            BodyFormat::Ndjson,
            &tenant(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[1].position, 1);
        let bad = format!("{}\n{{\"type\":", good());
        match parse_batch(
            bad.as_bytes(),
            BodyFormat::Ndjson,
            &tenant(),
            &Limits::default(),
        ) {
            Err(BatchError::Malformed { detail }) => {
                assert!(detail.starts_with("line 2"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// JSON parsing that refuses duplicate object keys. `serde_json` keeps the last of two equal keys
/// silently; a SIEM or a reviewer reading the same bytes might keep the first. An audit event must
/// have one meaning, so `{"actor": …, "actor": …}` is malformed.
pub(crate) mod strict {
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    pub(super) struct Strict(pub(super) Value);

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
            d.deserialize_any(V).map(Strict)
        }
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("not a finite number"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(Strict(v)) = seq.next_element()? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format!(
                        "duplicate key {k:?}: the key appears twice in one object"
                    )));
                }
                let Strict(v) = map.next_value()?;
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
    }

    /// Parses one JSON document, refusing duplicate keys at any depth.
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let Strict(v) = Strict::deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}
