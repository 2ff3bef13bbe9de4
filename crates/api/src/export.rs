//! Verifiable exports: `GET /v1/exports/events?format=jsonl` streams the events a search selects,
//! page by page, never holding the whole result.
//!
//! The file is JSON lines: a header (tenant, filters, the checkpoint size the export is pinned
//! to), one line per event (see `sealbook_domain::view::export_line`: values in the clear with the
//! salts that rebuild the exact leaf), and a trailer with the signed checkpoint and one batch proof
//! covering every exported event. `sealbook verify-export` checks it offline with a verifier key.
//!
//! Every export is itself audited: an `audit_log.exported` event in the tenant's log records the
//! key that exported, the filters and how many events went out, including exports the client
//! abandoned halfway.

use crate::append::append;
use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::{engine::general_purpose::STANDARD, Engine};
use sealbook_domain::view::export_line;
use sealbook_domain::{Cursor, EventFilter, Scope, TenantId};
use sealbook_pipeline::LogError;
use sealbook_store::KeyRecord;
use serde_json::{json, Value};

/// Events read from the store per page.
const PAGE: usize = 1000;

/// Export events as verifiable JSON lines. The filters are the search's, recorded in the export's
/// audit event, so none may hold a NUL character (that event could not) and together they must fit
/// in one event (48 KiB): 400 otherwise, before anything is sent.
#[utoipa::path(get, path = "/v1/exports/events", tag = "events", security(("tenant_key" = ["events:export"])),
    params(
        ("format" = Option<crate::schema::ExportFormat>, Query, description = "`jsonl` (the default and, for now, the only format)"),
        ("actor" = Option<String>, Query, min_length = 1, pattern = r"^[^\u0000]+$", description = "actor id"),
        ("actor_type" = Option<String>, Query, min_length = 1, pattern = r"^[^\u0000]+$", description = "actor type: user, service_account, api_key, system or support"),
        ("subject" = Option<String>, Query, min_length = 1, pattern = r"^[^\u0000]+$", description = "`type:id`, or a bare id"),
        ("subject_type" = Option<String>, Query, min_length = 1, pattern = r"^[^\u0000]+$", description = "subject type"),
        ("type" = Option<String>, Query, min_length = 1, pattern = r"^(?:[^\u0000]*[^*\u0000]|[^\u0000]*\.\*)$", description = "exact type, or a prefix such as `order.*`"),
        ("outcome" = Option<crate::schema::Outcome>, Query, description = "outcome"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at >= since"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at < until"),
        ("correlation_id" = Option<String>, Query, min_length = 1, pattern = r"^[^\u0000]+$", description = "context.correlation_id"),
        ("recorded_by" = Option<crate::schema::RecordedBy>, Query, description = "`sealbook`: only Sealbook's own records; `client`: only events clients sent"),
        ("ref" = Option<Vec<crate::schema::AuditedRefFilter>>, Query, explode, description = "`key:value`, repeatable; all must match"),
        ("q" = Option<String>, Query, pattern = r"^(?:[^\u0000]*[^\p{L}\p{N}\u0000])?[\p{L}\p{N}]{2,64}(?:[^\p{L}\p{N}\u0000][^\u0000]*)?$", description = "words (runs of 2 to 64 letters or digits) that must all occur in names, references or the reason; at least one"),
    ),
    responses((status = 200, description = "header line, one line per event (newest first), trailer with the signed checkpoint and a batch proof", body = String, content_type = "application/x-ndjson"),
        (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    key: TenantKey,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Scope::EventsExport)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::Malformed(format!("query string: {}", e.body_text())))?;
    let mut filters = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "format" if v == "jsonl" => {}
            "format" => {
                return Err(ApiError::OutOfRange {
                    param: "format",
                    detail: "format must be jsonl".into(),
                })
            }
            "limit" | "cursor" => {
                return Err(ApiError::OutOfRange {
                    param: if k == "limit" { "limit" } else { "cursor" },
                    detail: "an export holds every matching event: limit and cursor do not apply"
                        .into(),
                })
            }
            _ => filters.push((k, v)),
        }
    }
    let mut filter = EventFilter::from_query(&filters, &state.search_key(key.tenant()))?;
    filter.limit = PAGE;
    let tenant = key.tenant().clone();
    auditable(&state.keys(&tenant), &key.0, &tenant, &filters)?;
    // Pin the export to a signed checkpoint (signing one now if the log grew), so the trailer can
    // prove every line against it.
    let checkpoint = match state.inner.log.sign_now(&tenant).await {
        Ok(cp) => Some(cp),
        Err(LogError::NoCheckpoint) => None,
        Err(e) => return Err(e.into()),
    };
    let size = checkpoint.as_ref().map_or(0, |c| c.size);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let header = json!({
        "sealbook_export": 1,
        "format": "jsonl",
        "tenant": tenant.as_str(),
        "filters": filters_json(&filters),
        "checkpoint_size": size,
    });
    tokio::spawn(produce(
        state,
        key.0,
        filter,
        filters,
        checkpoint.map(|c| c.note),
        size,
        header,
        tx,
    ));
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"sealbook-export.jsonl\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

fn filters_json(filters: &[(String, String)]) -> Value {
    Value::Array(
        filters
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("JSON values serialize");
    b.push(b'\n');
    Bytes::from(b)
}

/// Streams the export into `tx`; stops when the client goes away. Records the export in the log
/// either way.
#[allow(clippy::too_many_arguments)]
async fn produce(
    state: AppState,
    key: KeyRecord,
    mut filter: EventFilter,
    filters: Vec<(String, String)>,
    note: Option<String>,
    size: u64,
    header: Value,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let tenant = key.tenant.clone();
    let mut indexes: Vec<u64> = Vec::new();
    let mut complete = tx.send(Ok(line(&header))).await.is_ok();
    let mut failure: Option<String> = None;
    filter.cursor = Some(Cursor(size));
    while complete && size > 0 {
        let page = match state.inner.store.query(&tenant, &filter).await {
            Ok(p) => p,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        let Some(last) = page.last() else { break };
        filter.cursor = Some(Cursor(last.index));
        let mut chunk = Vec::with_capacity(page.len() * 1024);
        for e in &page {
            let l = export_line(&e.leaf, &e.personal, e.index, &e.leaf_hash.to_hex());
            serde_json::to_writer(&mut chunk, &l).expect("JSON values serialize");
            chunk.push(b'\n');
            indexes.push(e.index);
        }
        complete = tx.send(Ok(Bytes::from(chunk))).await.is_ok();
    }
    if failure.is_some() {
        complete = false;
    }
    let count = indexes.len();
    let recorded = record(&state, &key, &tenant, &filters, count, size, complete).await;
    if !complete {
        if let Some(f) = failure {
            tracing::warn!(tenant = %tenant, error = %f, "export failed midway");
            let _ = tx
                .send(Ok(line(&json!({"error": "the export failed midway; it is incomplete and has no trailer"}))))
                .await;
        }
        return;
    }
    indexes.reverse();
    let proof = if indexes.is_empty() {
        Ok(Vec::new())
    } else {
        state.inner.log.batch_proof(&tenant, &indexes, size).await
    };
    let trailer = match (proof, recorded) {
        (Ok(proof), Ok(audit)) => json!({"trailer": {
            "count": count,
            "size": size,
            "checkpoint": note,
            "proof": proof.iter().map(|h| STANDARD.encode(h.0)).collect::<Vec<_>>(),
            "export_event": audit,
        }}),
        (Err(e), _) => {
            tracing::error!(tenant = %tenant, error = %e, "export proof failed");
            json!({"error": "the export's proof could not be computed; it has no trailer"})
        }
        (_, Err(e)) => {
            tracing::error!(tenant = %tenant, error = %e, "export could not be audited");
            json!({"error": "the export could not be recorded in the audit log; it has no trailer"})
        }
    };
    let _ = tx.send(Ok(line(&trailer))).await;
}

/// Appends the `audit_log.exported` event; returns its id and index.
/// Refuses, before anything is streamed, an export whose audit event could not be recorded: a
/// filter value with a NUL character, or filters too large for one event, made the event fail
/// envelope validation after the events had gone out, so the export left no record in the log.
fn auditable(
    keys: &sealbook_domain::TenantKeys,
    key: &KeyRecord,
    tenant: &TenantId,
    filters: &[(String, String)],
) -> Result<(), ApiError> {
    let now = time::OffsetDateTime::now_utc();
    // Count and size as wide as the record ever holds them (2^53-1): the real event is no bigger.
    const WIDEST: u64 = (1 << 53) - 1;
    let event = audit_event(key, tenant, filters, WIDEST as usize, WIDEST, false, now);
    match crate::audit::event(keys, tenant, &event, now) {
        Ok(_) => Ok(()),
        Err(e) => {
            let problem = match &e {
                ApiError::Invalid(errors) if errors.iter().any(|f| f.problem.contains("NUL")) => {
                    "must not contain NUL characters".to_owned()
                }
                _ => format!(
                    "the filters are too large to be recorded in the export's audit event ({e})"
                ),
            };
            let param = match &e {
                ApiError::Invalid(errors) => errors
                    .iter()
                    .find_map(|f| {
                        let i: usize = f
                            .path
                            .strip_prefix("/data/filters/")?
                            .split('/')
                            .next()?
                            .parse()
                            .ok()?;
                        filters.get(i).map(|(k, _)| k.clone())
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Err(ApiError::BadQuery(sealbook_domain::FilterError {
                param,
                problem,
            }))
        }
    }
}

/// The `audit_log.exported` event of an export.
fn audit_event(
    key: &KeyRecord,
    tenant: &TenantId,
    filters: &[(String, String)],
    count: usize,
    size: u64,
    complete: bool,
    now: time::OffsetDateTime,
) -> Value {
    json!({
        "type": "audit_log.exported",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.id, "name": key.name},
        "subject": {"type": "audit_log", "id": tenant.as_str()},
        "data": {
            "format": "jsonl",
            "filters": filters_json(filters),
            "count": count,
            "checkpoint_size": size,
            "complete": complete,
        },
    })
}

async fn record(
    state: &AppState,
    key: &KeyRecord,
    tenant: &TenantId,
    filters: &[(String, String)],
    count: usize,
    size: u64,
    complete: bool,
) -> Result<Value, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let event = audit_event(key, tenant, filters, count, size, complete, now);
    let shaped = vec![crate::audit::event(
        &state.keys(tenant),
        tenant,
        &event,
        now,
    )?];
    let receipts = append(state, tenant.clone(), shaped, None).await?;
    let r = receipts
        .first()
        .ok_or_else(|| ApiError::Unavailable("recording the export: no receipt".into()))?;
    Ok(json!({"id": r.id, "index": r.index}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyRecord {
        KeyRecord {
            id: "key_1".into(),
            tenant: TenantId::parse("acme").unwrap(),
            name: "exporter".into(),
            scopes: vec![Scope::EventsExport],
            prefix: "sbk_abcdef".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        }
    }

    /// Schemathesis found it: `GET /v1/exports/events?actor=%00` streamed the export, then failed
    /// to record it ("export could not be audited"). Such filters are now refused up front.
    #[test]
    fn an_export_that_could_not_be_audited_is_refused_before_it_starts() {
        let (k, t) = (key(), TenantId::parse("acme").unwrap());
        let keys = crate::keyring::Keyring::new([1; 32]).tenant_keys(&t);
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert!(auditable(&keys, &k, &t, &f(&[("actor", "u1"), ("ref", "order:PO-1")])).is_ok());
        assert!(auditable(&keys, &k, &t, &f(&[("q", &"word ".repeat(2000))])).is_ok());
        match auditable(&keys, &k, &t, &f(&[("type", "a.b"), ("actor", "u\u{0}1")])) {
            Err(ApiError::BadQuery(e)) => {
                assert_eq!(e.param, "actor");
                assert!(e.problem.contains("NUL"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        let big = "x".repeat(60_000);
        assert!(matches!(
            auditable(&keys, &k, &t, &f(&[("q", &big)])),
            Err(ApiError::BadQuery(_))
        ));
    }
}
