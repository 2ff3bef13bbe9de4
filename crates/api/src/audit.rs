//! Sealbook's own audit events (key changes, exports, redaction questions, catalog changes): built
//! as JSON, then validated and shaped exactly like ingested events, so they are ordinary leaves of
//! the tenant's log.
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
    let valid = parse_batch(
        json.to_string().as_bytes(),
        BodyFormat::Json,
        tenant,
        &Default::default(),
    )?;
    let mut v = valid
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Malformed("an audit event is missing".into()))?;
    v.body.insert(RECORDED_BY.into(), SEALBOOK.into());
    Ok(shape(v, tenant, at, &mut OsEntropy, keys))
}
