//! Sealbook's own audit events (key changes, exports, reads of personal values, bulk searches,
//! redaction questions, catalog changes): built as JSON, then validated and shaped exactly like
//! ingested events, so they are ordinary leaves of the tenant's log. Query filters go into a record
//! only through [`recorded_filters`], which redacts them like event values.
//!
//! Each carries `"recorded_by": "sealbook"`, a field the envelope refuses from clients: a reader
//! (and the catalog loader, and the `recorded_by` search filter) tells Sealbook's own records from
//! events a client sent. Clients can no longer send these types (their namespaces are reserved,
//! `sealbook_catalog::is_reserved`), but look-alikes stored before that carry no mark. Each is
//! shaped with its tenant's keys, like every event.

use crate::error::ApiError;
use sealbook_domain::{parse_batch, shape, BodyFormat, ShapedEvent, TenantId, TenantKeys};
use sealbook_pipeline::OsEntropy;

/// The field that marks Sealbook's own records, and its value.
pub(crate) const RECORDED_BY: &str = "recorded_by";
pub(crate) const SEALBOOK: &str = sealbook_domain::SEALBOOK;

/// True for an event (as a reader sees it) that Sealbook recorded itself.
pub(crate) fn is_sealbooks(view: &serde_json::Value) -> bool {
    view[RECORDED_BY] == SEALBOOK
}

/// `event` with `occurred_at` set to `at`.
pub(crate) fn at_time(event: &serde_json::Value, at: time::OffsetDateTime) -> serde_json::Value {
    let mut e = event.clone();
    e["occurred_at"] = serde_json::Value::String(sealbook_domain::timestamp::format_utc(at, 6));
    e
}

/// Shapes one audit event of `tenant` (whose keys are `keys`) from its JSON, received at `at`.
pub(crate) fn event(
    keys: &TenantKeys,
    tenant: &TenantId,
    json: &serde_json::Value,
    at: time::OffsetDateTime,
) -> Result<ShapedEvent, ApiError> {
    // Values Sealbook redacted itself (filters in an export's record) carry `$redacted`, which
    // validation refuses from clients: validate the record with them set aside, then put them
    // back where they were.
    let mut probe = json.clone();
    let mut redacted = Vec::new();
    set_aside_redacted(&mut probe, &mut String::new(), &mut redacted);
    let valid = parse_batch(
        probe.to_string().as_bytes(),
        BodyFormat::Json,
        tenant,
        &Default::default(),
    )?;
    let mut v = valid
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Malformed("an audit event is missing".into()))?;
    for (pointer, value) in redacted {
        let mut body = serde_json::Value::Object(std::mem::take(&mut v.body));
        if let Some(slot) = body.pointer_mut(&pointer) {
            *slot = value;
        }
        if let serde_json::Value::Object(m) = body {
            v.body = m;
        }
    }
    v.body.insert(RECORDED_BY.into(), SEALBOOK.into());
    Ok(shape(v, tenant, at, &mut OsEntropy, keys))
}

/// Replaces every redacted value (an object carrying `$redacted`) inside `v` with `null`, and
/// collects each with its JSON pointer.
fn set_aside_redacted(
    v: &mut serde_json::Value,
    path: &mut String,
    out: &mut Vec<(String, serde_json::Value)>,
) {
    use serde_json::Value;
    if v.get(sealbook_domain::redact::REDACTED_KEY).is_some() {
        out.push((path.clone(), std::mem::replace(v, Value::Null)));
        return;
    }
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                set_aside_redacted(item, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push('/');
                path.push_str(&i.to_string());
                set_aside_redacted(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Query filters as an audit event records them (exports, bulk reads): each value through the same redaction as an
/// event's (`sealbook_domain::redact`), a `ref` as its key and value (a secret key such as
/// `password` masks its value), and any value holding a card number masked whole. Control
/// characters are dropped and each value cut at 256 characters, so the record always validates
/// (an export refuses such filters before this; a search records what it can).
pub(crate) fn recorded_filters(
    redaction_key: &[u8; 32],
    filters: &[(String, String)],
) -> serde_json::Value {
    use sealbook_domain::redact::{card_digits, redact};
    // A value that is a card number is found by the event redaction itself (with the card's
    // preview); one that holds a card among other text is masked whole.
    let holds_card = |v: &str| {
        card_digits(v).is_none()
            && v.split(|c: char| !(c.is_ascii_digit() || c == ' ' || c == '-'))
                .chain(v.split_whitespace())
                .any(|run| card_digits(run).is_some())
    };
    let one = |section: &str, name: &str, value: &str| -> serde_json::Value {
        let mut inner = serde_json::Map::new();
        inner.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
        let mut body = serde_json::Map::new();
        body.insert(section.into(), serde_json::Value::Object(inner));
        let whole = format!("/{section}/{}", name.replace('~', "~0").replace('/', "~1"));
        let paths = if holds_card(value) {
            vec![whole]
        } else {
            vec![]
        };
        redact(&mut body, redaction_key, &paths);
        body[section][name].take()
    };
    serde_json::Value::Array(
        filters
            .iter()
            .map(|(k, v)| {
                (
                    k,
                    v.chars()
                        .filter(|c| !c.is_control())
                        .take(256)
                        .collect::<String>(),
                )
            })
            .map(|(k, v)| match (k.as_str(), v.split_once(':')) {
                ("ref", Some((rk, rv))) => {
                    serde_json::json!({"name": "ref", "key": rk, "value": one("refs", rk, rv)})
                }
                _ => serde_json::json!({"name": k, "value": one("data", "value", &v)}),
            })
            .collect(),
    )
}
