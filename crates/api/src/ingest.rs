//! `POST /v1/events`: the front door of the write path.
//!
//! Order matters here: authenticate and authorise, refuse a key that spent its budget of
//! idempotency conflicts, check the content type, read the body under its size limit, validate
//! every event (all or nothing; no type in Sealbook's namespaces), redact, shape each into its leaf
//! with the tenant's keys, then hand the batch to the sequencer and answer only once it is durable.
//! A conflict is counted against the key that got it (`docs/security/hashing.md`).

use crate::append::append_client;
use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::state::{AppState, CONFLICTS_PER_MINUTE};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use sealbook_catalog::is_reserved;
use sealbook_domain::{
    parse_batch, shape_with, Action, BodyFormat, FieldError, Limits, ShapedEvent,
};
use sealbook_pipeline::OsEntropy;
use sealbook_store::Receipt;

/// One durable receipt.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReceiptBody {
    /// Event id (the client's, or the UUIDv7 the server assigned).
    id: String,
    /// Index in the tenant's log.
    index: u64,
    /// `SHA-256(0x00 || canonical event)`, lowercase hex.
    leaf_hash: String,
}

/// The answer to an ingest request.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Receipts {
    /// One receipt per event, in request order.
    receipts: Vec<ReceiptBody>,
}

/// Ingest one event, a JSON array of events, or NDJSON. All or nothing.
#[utoipa::path(post, path = "/v1/events", tag = "events", security(("tenant_key" = ["events:write"])),
    request_body(description = "one event, a JSON array of 1 to 1,000 events, or NDJSON (one event per line); at most 5 MiB, 48 KiB per event (the defaults)", content(
        (crate::schema::Batch = "application/json"),
        (String = "application/x-ndjson"),
        (String = "application/ndjson")
    )),
    responses(
        (status = 201, description = "stored durably", body = Receipts),
        (status = 200, description = "every event was already stored with identical content; original receipts", body = Receipts),
        (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden),
        (status = 409, description = "an id is stored with different content (a retry compares the redacted event with redacted values masked: docs/security/hashing.md); counted, and each key is answered at most 10 a minute: then 429 for its ingest requests until Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, response = crate::schema::TooLarge), (status = 415, response = crate::schema::UnsupportedMediaType),
        (status = 422, description = "invalid events (the envelope, an unknown type, the type's schema): `errors` name event, JSON pointer and problem", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, response = crate::schema::RateLimited), (status = 503, response = crate::schema::Unavailable),
    ))]
pub(crate) async fn ingest(
    State(state): State<AppState>,
    key: TenantKey,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Receipts>), ApiError> {
    key.require(Action::WriteEvents)?;
    // A key that was answered too many conflicts lately gets no answer about any id: a 200 or a
    // 409 to a resent id would say whether a guess of its content was right.
    state
        .inner
        .conflicts
        .check(&key.0.id)
        .map_err(|retry_after| ApiError::ConflictsLimited {
            limit: CONFLICTS_PER_MINUTE,
            retry_after,
        })?;
    let tenant = key.tenant().clone();
    let format = body_format(&headers)?;
    let limits = state.inner.config.limits;
    let bytes = read_body(&headers, body, &limits).await?;
    let valid = parse_batch(&bytes, format, &tenant, &limits).inspect_err(|e| {
        metrics::counter!("sealbook_events_rejected_total", "tenant" => tenant.to_string(), "reason" => reason(e)).increment(1);
    })?;
    // The catalog: known types, their required fields and their data schemas.
    let catalogs = state.catalogs(&tenant).await?;
    let open = catalogs.own.open_types || state.inner.open_types.allows(&tenant);
    let mut problems = Vec::new();
    let mut valid = valid;
    for v in &mut valid {
        if is_reserved(&v.event_type) {
            problems.push(FieldError {
                event: Some(v.position),
                path: "/type".into(),
                problem: format!(
                    "{} is written by Sealbook itself and cannot be sent (the namespaces {} are Sealbook's)",
                    v.event_type,
                    sealbook_catalog::RESERVED_NAMESPACES.join(", ")
                ),
            });
            continue;
        }
        let checked = match catalogs.of(&v.event_type) {
            Some(c) => c.check(v),
            None => Ok(false),
        };
        match checked {
            Ok(true) => {}
            Ok(false) if open => {
                v.body
                    .insert("uncatalogued".into(), serde_json::Value::Bool(true));
            }
            Ok(false) => problems.push(FieldError {
                event: Some(v.position),
                path: "/type".into(),
                problem: format!(
                    "unknown event type {:?}: GET /v1/catalog lists the known ones",
                    v.event_type
                ),
            }),
            Err(errs) => problems.extend(errs),
        }
    }
    if !problems.is_empty() {
        metrics::counter!("sealbook_events_rejected_total", "tenant" => tenant.to_string(), "reason" => "catalog").increment(1);
        return Err(ApiError::Invalid(problems));
    }
    let received_at = time::OffsetDateTime::now_utc();
    let mut entropy = OsEntropy;
    // Secrets go before anything is hashed or stored.
    let redaction_key = state.redaction_key(&tenant);
    let keys = state.keys(&tenant);
    let none: &[String] = &[];
    let events: Vec<ShapedEvent> = valid
        .into_iter()
        .map(|mut v| {
            let (secrets, personal) = match catalogs.of(&v.event_type) {
                Some(c) => (
                    c.secret_paths(&v.event_type),
                    c.personal_paths(&v.event_type),
                ),
                None => (none, none),
            };
            let n = sealbook_domain::redact::redact(&mut v.body, &redaction_key, secrets);
            if n > 0 {
                metrics::counter!("sealbook_values_redacted_total").increment(n as u64);
            }
            shape_with(v, &tenant, received_at, &mut entropy, personal, &keys)
        })
        .collect();
    let receipts = match append_client(&state, tenant.clone(), events).await {
        Err(e @ ApiError::IdConflict(_)) => {
            metrics::counter!("sealbook_idempotency_conflicts_total", "tenant" => tenant.to_string(), "key" => key.0.id.clone()).increment(1);
            if state.inner.conflicts.spend(&key.0.id) {
                tracing::warn!(%tenant, key = %key.0.id, limit = CONFLICTS_PER_MINUTE,
                    "a key spent its budget of idempotency conflicts; its ingest requests answer 429 until it refills");
            }
            return Err(e);
        }
        r => r?,
    };
    let status = if receipts.iter().all(|r| r.replayed) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Receipts {
            receipts: receipts.into_iter().map(receipt_body).collect(),
        }),
    ))
}

fn reason(e: &sealbook_domain::BatchError) -> &'static str {
    match e {
        sealbook_domain::BatchError::Malformed { .. } => "malformed",
        sealbook_domain::BatchError::TooLarge { .. } => "too_large",
        sealbook_domain::BatchError::Invalid(_) => "invalid",
    }
}

pub(crate) fn receipt_body(r: Receipt) -> ReceiptBody {
    ReceiptBody {
        id: r.id,
        index: r.index,
        leaf_hash: r.leaf_hash.to_hex(),
    }
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    const EXPECTED: &str = "application/json or application/x-ndjson";
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::UnsupportedMediaType(EXPECTED))?;
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if let Some(charset) = ct
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("charset="))
    {
        if !charset.trim_matches('"').eq_ignore_ascii_case("utf-8") {
            return Err(ApiError::UnsupportedMediaType(
                "a UTF-8 body (charset=utf-8)",
            ));
        }
    }
    match mime.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/x-ndjson" | "application/ndjson" => Ok(BodyFormat::Ndjson),
        _ => Err(ApiError::UnsupportedMediaType(EXPECTED)),
    }
}

/// How much of an oversized body is still read and thrown away before answering 413, so that a
/// client still sending gets the 413 instead of a broken pipe. Beyond it the connection is dropped.
const DRAIN_BYTES: usize = 32 * 1024 * 1024;

async fn read_body(headers: &HeaderMap, body: Body, limits: &Limits) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let limit = limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    let mut buf = Vec::with_capacity(declared.map_or(64 * 1024, |n| n.min(limit as u64) as usize));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::Malformed(format!("could not read the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_BYTES.max(limit) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge {
            detail: format!("body exceeds {limit} bytes"),
            errors: vec![],
        });
    }
    Ok(Bytes::from(buf))
}
