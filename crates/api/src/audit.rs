//! Sealbook's own audit events (key changes, exports, redaction questions): built as JSON, then
//! validated and shaped exactly like ingested events, so they are ordinary leaves of the tenant's
//! log.

use crate::error::ApiError;
use sealbook_domain::{parse_batch, shape, BodyFormat, ShapedEvent, TenantId};
use sealbook_pipeline::OsEntropy;

/// Shapes one audit event of `tenant` from its JSON, received at `at`.
pub(crate) fn event(
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
    let v = valid
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Malformed("an audit event is missing".into()))?;
    Ok(shape(v, tenant, at, &mut OsEntropy))
}
