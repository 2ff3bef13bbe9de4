//! The tenant's verifiable log over HTTP: the signed checkpoint, C2SP tiles and entry bundles,
//! inclusion and consistency proofs, and the verifier keys. The tenant comes from the key; every
//! answer is bounded by the latest signed checkpoint so a client can check it against a signature.
//!
//! Entry bundles hold the leaves, which carry salted commitments instead of personal values, so
//! `events:read` serves verifiers. The personal values with their salts are a bulk export of
//! personal data: `/v1/log/personal/…` needs `events:export`, and every answer is recorded as an
//! `audit_log.personal_read` event before it is sent (`docs/security/roles.md`).

use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::schema::PersonalBundle;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::{engine::general_purpose::STANDARD, Engine};
use sealbook_domain::Action;
use sealbook_logmath::tile::parse_number_and_width;
use sealbook_pipeline::Proof;
use std::collections::HashMap;

const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";
/// Full tiles and bundles never change; only the key's holder may cache them.
const IMMUTABLE: &str = "private, max-age=31536000, immutable";
const FRESH: &str = "no-cache";

/// A proof as JSON: hashes and roots in standard base64.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ProofBody {
    /// Leaf index (inclusion), or the old tree size (consistency).
    index: u64,
    /// Tree size the proof is for.
    size: u64,
    /// Root hash at `size`, base64.
    root: String,
    /// Root hash at `index`, base64 (consistency proofs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    first_root: Option<String>,
    /// The proof, base64 hashes in RFC 9162 order.
    hashes: Vec<String>,
    /// The event's leaf hash, hex (event proofs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf_hash: Option<String>,
    /// The signed checkpoint the proof's size is covered by (event proofs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<String>,
}

impl From<Proof> for ProofBody {
    fn from(p: Proof) -> ProofBody {
        ProofBody {
            index: p.index,
            size: p.size,
            root: STANDARD.encode(p.root.0),
            first_root: p.first_root.map(|r| STANDARD.encode(r.0)),
            hashes: p.hashes.iter().map(|h| STANDARD.encode(h.0)).collect(),
            leaf_hash: None,
            checkpoint: None,
        }
    }
}

fn text(body: String, cache: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT), (header::CACHE_CONTROL, cache)],
        body,
    )
        .into_response()
}

/// The latest signed checkpoint, byte-exact C2SP.
#[utoipa::path(get, path = "/v1/log/checkpoint", tag = "log", security(("tenant_key" = ["events:read"])),
    responses((status = 200, description = "C2SP signed checkpoint", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no signed checkpoint yet (it has no events)", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn checkpoint(
    State(state): State<AppState>,
    key: TenantKey,
) -> Result<Response, ApiError> {
    key.require(Action::VerifyLog)?;
    let cp = state.inner.log.checkpoint(key.tenant()).await?;
    Ok(text(cp.note.clone(), FRESH))
}

/// Signs a checkpoint of the log now (if it grew) and returns the latest.
#[utoipa::path(post, path = "/v1/log/checkpoint", tag = "log", security(("tenant_key" = ["events:read"])),
    responses((status = 200, description = "C2SP signed checkpoint", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no events, so nothing to sign", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn sign_checkpoint(
    State(state): State<AppState>,
    key: TenantKey,
) -> Result<Response, ApiError> {
    key.require(Action::VerifyLog)?;
    checkpoint_request(&state, key.tenant())?;
    let cp = state.inner.log.sign_now(key.tenant()).await?;
    Ok(text(cp.note, FRESH))
}

/// Every key that verifies this log's checkpoints (current and retired), one vkey per line.
#[utoipa::path(get, path = "/v1/log/verifier-keys", tag = "log", security(("tenant_key" = ["events:read"])),
    responses((status = 200, description = "signed-note verifier keys, one per line", body = String, content_type = "text/plain; charset=utf-8"), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn verifier_keys(
    State(state): State<AppState>,
    key: TenantKey,
) -> Result<Response, ApiError> {
    key.require(Action::VerifyLog)?;
    let keys = state.inner.log.verifier_keys(key.tenant()).await?;
    let mut body = keys.join("\n");
    body.push('\n');
    Ok(text(body, FRESH))
}

fn bad_path(detail: impl Into<String>) -> ApiError {
    ApiError::OutOfRange {
        param: "",
        detail: detail.into(),
    }
}

/// `<N>[.p/<W>]` into number and optional partial width.
fn number_and_width(s: &str) -> Result<(u64, Option<u32>), ApiError> {
    let (n, w) = parse_number_and_width(s).map_err(|e| bad_path(e.to_string()))?;
    Ok((n, s.contains(".p/").then_some(w)))
}

/// C2SP tiles: `tile/<L>/<N>[.p/<W>]` (hashes) and `tile/entries/<N>[.p/<W>]` (entry bundles,
/// each entry the canonical event bytes prefixed by their big-endian u16 length).
#[utoipa::path(get, path = "/v1/log/tile/{path}", tag = "log", security(("tenant_key" = ["events:read"])),
    params(("path" = String, Path, pattern = r"^(?:entries|[0-9]|[1-5][0-9]|6[0-3])/(?:x(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(?:x[0-9]{3}/){0,5})?[0-9]{3}(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$", description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, C2SP tlog-tiles (`N` in groups of three digits, `x` before all but the last, no leading `x000`)")),
    responses((status = 200, description = "tile or entry bundle", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "a path that names no tile, or a tile beyond the latest checkpoint", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no signed checkpoint yet", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn tile(
    State(state): State<AppState>,
    key: TenantKey,
    PathParams(path): PathParams<String>,
) -> Result<Response, ApiError> {
    key.require(Action::VerifyLog)?;
    let (first, rest) = path
        .split_once('/')
        .ok_or_else(|| bad_path("expected <L>/<N> or entries/<N>"))?;
    let log = &state.inner.log;
    let tenant = key.tenant();
    let (body, full) = if first == "entries" {
        let (n, w) = number_and_width(rest)?;
        let leaves = log.bundle(tenant, n, w).await?;
        let mut body = Vec::with_capacity(leaves.iter().map(|(_, l)| l.len() + 2).sum());
        for (index, leaf) in &leaves {
            let len = u16::try_from(leaf.len()).map_err(|_| {
                ApiError::LogIntegrity(crate::error::Integrity::cause(format!(
                    "entry {index} exceeds 65,535 bytes"
                )))
            })?;
            body.extend_from_slice(&len.to_be_bytes());
            body.extend_from_slice(leaf);
        }
        (body, w.is_none())
    } else {
        let level: u32 = first
            .parse()
            .ok()
            .filter(|l| *l <= 63 && (first == "0" || !first.starts_with('0')))
            .ok_or_else(|| bad_path("tile level must be 0..63 without leading zeros"))?;
        let (n, w) = number_and_width(rest)?;
        let hashes = log.tile(tenant, level, n, w).await?;
        (hashes.iter().flat_map(|h| h.0).collect(), w.is_none())
    };
    let cache = if full { IMMUTABLE } else { FRESH };
    Ok((
        [
            (header::CONTENT_TYPE, OCTETS),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}

/// Personal values and salts of the events in entry bundle `<N>[.p/<W>]`, so a verifier can check
/// each against the salted commitment in its leaf.
/// Needs `events:export`; recorded (`audit_log.personal_read`: key, bundle, events) before it is
/// answered, fail closed.
#[utoipa::path(get, path = "/v1/log/personal/{path}", tag = "log", security(("tenant_key" = ["events:export"])),
    params(("path" = String, Path, pattern = r"^(?:x(?:00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(?:x[0-9]{3}/){0,5})?[0-9]{3}(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$", description = "`<N>[.p/<W>]` as for entry bundles")),
    responses((status = 200, description = "the personal values and salts of each event in the bundle", body = PersonalBundle),
        (status = 400, description = "a path that names no bundle, or a bundle beyond the latest checkpoint", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no signed checkpoint yet", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn personal(
    State(state): State<AppState>,
    key: TenantKey,
    PathParams(path): PathParams<String>,
) -> Result<Response, ApiError> {
    key.require(Action::ReadPersonalBundles)?;
    let (n, w) = number_and_width(&path)?;
    let tenant = key.tenant().clone();
    let rows = state.inner.log.personal(&tenant, n, w).await?;
    // Fail closed: the read is durable in the log before any value leaves.
    let now = time::OffsetDateTime::now_utc();
    let audit = serde_json::json!({
        "type": "audit_log.personal_read",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.0.id, "name": key.0.name},
        "subject": {"type": "audit_log", "id": tenant.as_str()},
        "data": {"bundle": path, "events": rows.len()},
    });
    let shaped = vec![crate::audit::event(
        &state.keys(&tenant),
        &tenant,
        &audit,
        now,
    )?];
    crate::append::append(&state, tenant, shaped, None).await?;
    // The stored values are spliced in as they are: re-encoding them would cost more than the
    // whole request, and a verifier checks every byte anyway.
    let mut body = Vec::with_capacity(rows.iter().map(|(_, r)| r.len() + 32).sum::<usize>() + 16);
    body.extend_from_slice(b"{\"entries\":[");
    for (i, (index, raw)) in rows.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!("{{\"index\":{index},\"personal\":").as_bytes());
        body.extend_from_slice(raw);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn param(
    query: &Result<Query<HashMap<String, String>>, QueryRejection>,
    name: &'static str,
) -> Result<Option<u64>, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::Malformed("unreadable query string".into()));
    };
    q.get(name)
        .map(|v| {
            v.parse::<u64>().map_err(|_| ApiError::OutOfRange {
                param: name,
                detail: format!("{name} must be a non-negative integer"),
            })
        })
        .transpose()
}

fn required(v: Option<u64>, name: &'static str) -> Result<u64, ApiError> {
    v.ok_or(ApiError::OutOfRange {
        param: name,
        detail: format!("{name} is required"),
    })
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves.
#[utoipa::path(get, path = "/v1/log/proof/inclusion", tag = "log", security(("tenant_key" = ["events:read"])),
    params(("index" = u64, Query, description = "leaf index, below `size`"), ("size" = u64, Query, minimum = 1, description = "tree size, at most the latest checkpoint's")),
    responses((status = 200, body = ProofBody),
        (status = 400, description = "a parameter missing or not a number, `index` not below `size`, or `size` beyond the latest checkpoint", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no signed checkpoint yet", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn inclusion(
    State(state): State<AppState>,
    key: TenantKey,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<ProofBody>, ApiError> {
    key.require(Action::VerifyLog)?;
    let index = required(param(&query, "index")?, "index")?;
    let size = required(param(&query, "size")?, "size")?;
    let p = state.inner.log.inclusion(key.tenant(), index, size).await?;
    Ok(Json(p.into()))
}

/// Consistency proof between the trees of `from` and `to` leaves.
#[utoipa::path(get, path = "/v1/log/proof/consistency", tag = "log", security(("tenant_key" = ["events:read"])),
    params(("from" = u64, Query, minimum = 1, description = "old tree size, at most `to`"), ("to" = u64, Query, minimum = 1, description = "new tree size, at most the latest checkpoint's")),
    responses((status = 200, body = ProofBody),
        (status = 400, description = "a parameter missing or not a number, `from` above `to`, or `to` beyond the latest checkpoint", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, description = "the log has no signed checkpoint yet", body = crate::error::Problem, content_type = "application/problem+json"), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn consistency(
    State(state): State<AppState>,
    key: TenantKey,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<ProofBody>, ApiError> {
    key.require(Action::VerifyLog)?;
    let from = required(param(&query, "from")?, "from")?;
    let to = required(param(&query, "to")?, "to")?;
    let p = state.inner.log.consistency(key.tenant(), from, to).await?;
    Ok(Json(p.into()))
}

/// Inclusion proof of one event, with its leaf hash and the checkpoint it is proven against.
/// Without `size`, the latest checkpoint is used, signed now if the event is newer than it.
#[utoipa::path(get, path = "/v1/events/{id}/proof", tag = "log", security(("tenant_key" = ["events:read"])),
    params(("id" = String, Path, min_length = 1, description = "event id"), ("size" = Option<u64>, Query, minimum = 1, description = "tree size, above the event's index and at most the latest checkpoint's; default: the latest checkpoint")),
    responses((status = 200, body = ProofBody),
        (status = 400, description = "`size` not a number, not above the event's index, or beyond the latest checkpoint", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, response = crate::schema::NotFound), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn event_proof(
    State(state): State<AppState>,
    key: TenantKey,
    PathParams(id): PathParams<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<ProofBody>, ApiError> {
    key.require(Action::VerifyLog)?;
    let size = param(&query, "size")?;
    let tenant = key.tenant();
    let event = state
        .inner
        .store
        .event(tenant, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let log = &state.inner.log;
    let cp = match size {
        Some(_) => log.checkpoint(tenant).await?,
        None => {
            let cp = log.checkpoint(tenant).await.ok();
            match cp {
                Some(cp) if cp.size > event.index => cp,
                _ => {
                    checkpoint_request(&state, tenant)?;
                    std::sync::Arc::new(log.sign_now(tenant).await?)
                }
            }
        }
    };
    let size = size.unwrap_or(cp.size);
    let p = log.inclusion(tenant, event.index, size).await?;
    let mut body = ProofBody::from(p);
    body.leaf_hash = Some(event.leaf_hash.to_hex());
    if size == cp.size {
        body.checkpoint = Some(cp.note.clone());
    }
    Ok(Json(body))
}

/// Counts a request that makes the signer work for `tenant`: 429 beyond the tenant's limit, so a
/// flood of them costs the signer a bounded amount per tenant.
fn checkpoint_request(
    state: &AppState,
    tenant: &sealbook_domain::TenantId,
) -> Result<(), ApiError> {
    state
        .inner
        .checkpoint_requests
        .check(tenant)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}
