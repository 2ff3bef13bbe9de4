//! Verifiable exports: `GET /v1/exports/events?format=jsonl` streams the events a search selects,
//! page by page, never holding the whole result.
//!
//! The file is JSON lines: a header (tenant, filters, the checkpoint size the export is pinned
//! to), one line per event (see `sealbook_domain::view::export_line`: values in the clear with the
//! salts that rebuild the exact leaf), and a trailer with the signed checkpoint, one batch proof
//! covering every exported event, and the export's claims (`sealbook_domain::view::ExportClaims`:
//! tenant, filters, size, count, first and last index, the audit event) signed with the key that
//! signs the tenant's checkpoints. `sealbook verify-export` checks it offline with a verifier key.
//!
//! Every export is audited, fail closed: the `audit_log.exported` event (the key, the filters with
//! secrets and card numbers redacted as in events, how many events the export holds, the
//! checkpoint size it is pinned to) is committed before the first byte is sent; if it cannot be,
//! the export is a problem and sends nothing.
//!
//! Exports are bounded: at most `ReadLimits::export_concurrency_per_tenant` run at once per tenant
//! on a node (one more is a 429 with `Retry-After`), and an export whose client accepts no data
//! for `ReadLimits::export_idle_timeout` is ended, its work stopped and its slot released.

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
use sealbook_domain::view::{export_line, ExportClaims};
use sealbook_domain::{Cursor, EventFilter, FilterError, Scope, TenantId};
use sealbook_store::KeyRecord;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// Events read from the store per page.
const PAGE: usize = 1000;
/// Longest filter value an export takes, in characters (so at most 1 KiB). With [`MAX_REFS`], the
/// export's audit event always fits in one event.
const MAX_VALUE_CHARS: usize = 256;
/// Most `ref` filters of one export.
const MAX_REFS: usize = 8;
/// What a refused export (too many at once) is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

type Tx = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Export events as verifiable JSON lines. The filters are the search's and are recorded in the
/// export's audit event before anything is sent, so each value must be at most 256 characters
/// without control characters, with at most 8 `ref`: 400 otherwise. A tenant runs at most
/// `export_concurrency_per_tenant` exports at once per node: 429 with `Retry-After` beyond.
#[utoipa::path(get, path = "/v1/exports/events", tag = "events", security(("tenant_key" = ["events:export"])),
    params(
        ("format" = Option<crate::schema::ExportFormat>, Query, description = "`jsonl` (the default and, for now, the only format)"),
        ("actor" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$", description = "actor id"),
        ("actor_type" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$", description = "actor type: user, service_account, api_key, system or support"),
        ("subject" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$", description = "`type:id`, or a bare id"),
        ("subject_type" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$", description = "subject type"),
        ("type" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^(?:[^\u0000-\u001F\u007F-\u009F]*[^*\u0000-\u001F\u007F-\u009F]|[^\u0000-\u001F\u007F-\u009F]*\.\*)$", description = "exact type, or a prefix such as `order.*`"),
        ("outcome" = Option<crate::schema::Outcome>, Query, description = "outcome"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at >= since"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at < until"),
        ("correlation_id" = Option<String>, Query, min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$", description = "context.correlation_id"),
        ("recorded_by" = Option<crate::schema::RecordedBy>, Query, description = "`sealbook`: only Sealbook's own records; `client`: only events clients sent"),
        ("ref" = Option<Vec<crate::schema::AuditedRefFilter>>, Query, explode, max_items = 8, description = "`key:value`, repeatable up to 8 times; all must match"),
        ("q" = Option<String>, Query, max_length = 256, pattern = r"^(?:[^\u0000-\u001F\u007F-\u009F]*[^\p{L}\p{N}\u0000-\u001F\u007F-\u009F])?[\p{L}\p{N}]{2,64}(?:[^\p{L}\p{N}\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*)?$", description = "words (runs of 2 to 64 letters or digits) that must all occur in names, references or the reason; at least one"),
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
    recordable(&filters)?;
    let tenant = key.tenant().clone();
    let permit = slot(&state, &tenant)?;
    // Pin the export to a checkpoint signed now (if the log grew), so the trailer can prove every
    // line against it.
    let checkpoint = state.inner.log.sign_now(&tenant).await?;
    let size = checkpoint.size;
    // Fail closed: the record, with how many events the export holds, is durable before the first
    // byte leaves. A failure here is the export's answer, and nothing has been sent. Counting
    // reads the selection once more than streaming it would; an export is rare and audited, and
    // its record is then exact.
    let count = count(&state, &tenant, &filter, size).await?;
    let audit = record(&state, &key.0, &tenant, &filters, count, size).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let header = json!({
        "sealbook_export": 1,
        "format": "jsonl",
        "tenant": tenant.as_str(),
        "filters": filters_json(&filters),
        "checkpoint_size": size,
    });
    let job = Job {
        state,
        tenant,
        filters,
        note: checkpoint.note,
        size,
        audit,
        _permit: permit,
    };
    tokio::spawn(job.produce(filter, header, tx));
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

/// Refuses, before anything is recorded or sent, filters the export's audit event could not hold
/// faithfully: a control character (NUL cannot be in an event at all, and none belongs in a
/// search), a value over [`MAX_VALUE_CHARS`], more than [`MAX_REFS`] `ref`. Bounded this way, the
/// event always fits in one event, so recording it cannot fail on its size.
fn recordable(filters: &[(String, String)]) -> Result<(), ApiError> {
    let bad = |param: &str, problem: &str| {
        ApiError::BadQuery(FilterError {
            param: param.to_owned(),
            problem: problem.to_owned(),
        })
    };
    for (k, v) in filters {
        if v.chars().any(char::is_control) {
            return Err(bad(k, "must not contain control characters (such as NUL)"));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(bad(k, "must be at most 256 characters in an export"));
        }
    }
    if filters.iter().filter(|(k, _)| k == "ref").count() > MAX_REFS {
        return Err(bad("ref", "an export takes at most 8 ref filters"));
    }
    Ok(())
}

/// How many events below `size` the filter selects.
async fn count(
    state: &AppState,
    tenant: &TenantId,
    filter: &EventFilter,
    size: u64,
) -> Result<u64, ApiError> {
    let mut filter = filter.clone();
    filter.cursor = Some(Cursor(size));
    let mut n = 0u64;
    loop {
        let page = state.inner.store.query(tenant, &filter).await?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        filter.cursor = Some(Cursor(last.index));
        n += page.len() as u64;
    }
}

/// One of the tenant's export slots on this node, or a 429.
fn slot(state: &AppState, tenant: &TenantId) -> Result<OwnedSemaphorePermit, ApiError> {
    let cap = state
        .inner
        .config
        .reads
        .export_concurrency_per_tenant
        .max(1) as usize;
    let semaphore = {
        let mut map = state
            .inner
            .exports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One entry per tenant that exported on this node: bounded by the tenants.
        Arc::clone(
            map.entry(tenant.clone())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(cap))),
        )
    };
    semaphore.try_acquire_owned().map_err(|_| {
        metrics::counter!("sealbook_exports_refused_total", "reason" => "concurrency").increment(1);
        ApiError::RateLimited {
            retry_after: RETRY_AFTER_SECS,
        }
    })
}

/// A running export: what its trailer needs, and its slot, released when it ends.
struct Job {
    state: AppState,
    tenant: TenantId,
    filters: Vec<(String, String)>,
    note: String,
    size: u64,
    audit: sealbook_store::Receipt,
    _permit: OwnedSemaphorePermit,
}

/// Sending stopped: the client went away, or accepted nothing for the idle timeout.
struct Stopped;

impl Job {
    /// Sends one chunk, waiting at most the idle timeout for the client to take it.
    async fn send(&self, tx: &Tx, chunk: Bytes) -> Result<(), Stopped> {
        let idle = self.state.inner.config.reads.export_idle_timeout;
        match tokio::time::timeout(idle, tx.send(Ok(chunk))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stopped),
            Err(_) => {
                metrics::counter!("sealbook_exports_idle_ended_total").increment(1);
                tracing::info!(tenant = %self.tenant, "export ended: the client read nothing for the idle timeout");
                Err(Stopped)
            }
        }
    }

    /// Streams the export into `tx`; stops when the client goes away or stops reading.
    async fn produce(self, mut filter: EventFilter, header: Value, tx: Tx) {
        if self.send(&tx, line(&header)).await.is_err() {
            return;
        }
        let mut indexes: Vec<u64> = Vec::new();
        filter.cursor = Some(Cursor(self.size));
        loop {
            let page = match self.state.inner.store.query(&self.tenant, &filter).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, error = %e, "export failed midway");
                    let _ = self
                        .send(&tx, line(&json!({"error": "the export failed midway; it is incomplete and has no trailer"})))
                        .await;
                    return;
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
            if self.send(&tx, Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
        let trailer = match self.trailer(indexes).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(tenant = %self.tenant, error = %e, "export trailer failed");
                json!({"error": "the export's proof or claims could not be made; it has no trailer"})
            }
        };
        let _ = self.send(&tx, line(&trailer)).await;
    }

    /// The trailer: the checkpoint, one batch proof for every line, and the signed claims.
    async fn trailer(&self, mut indexes: Vec<u64>) -> Result<Value, ApiError> {
        indexes.reverse();
        let log = &self.state.inner.log;
        let proof = if indexes.is_empty() {
            Vec::new()
        } else {
            log.batch_proof(&self.tenant, &indexes, self.size).await?
        };
        let claims = ExportClaims {
            tenant: self.tenant.as_str().to_owned(),
            filters: self.filters.clone(),
            size: self.size,
            count: indexes.len() as u64,
            first: indexes.first().copied(),
            last: indexes.last().copied(),
            audit_event: self.audit.id.clone(),
            audit_index: self.audit.index,
        };
        let signed = log.sign_note(&self.tenant, &claims.note_body())?;
        Ok(json!({"trailer": {
            "count": indexes.len(),
            "size": self.size,
            "checkpoint": self.note,
            "proof": proof.iter().map(|h| STANDARD.encode(h.0)).collect::<Vec<_>>(),
            "export_event": {"id": self.audit.id, "index": self.audit.index},
            "claims": signed,
        }}))
    }
}

/// The `audit_log.exported` event of an export (version 1 of the built-in type: `count` is
/// required).
fn audit_event(
    key: &KeyRecord,
    tenant: &TenantId,
    filters: Value,
    count: u64,
    size: u64,
    now: time::OffsetDateTime,
) -> Value {
    json!({
        "type": "audit_log.exported",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.id, "name": key.name},
        "subject": {"type": "audit_log", "id": tenant.as_str()},
        "data": {
            "format": "jsonl",
            "filters": filters,
            "count": count,
            "checkpoint_size": size,
        },
    })
}

/// Appends and commits the export's `audit_log.exported` event; returns its receipt.
async fn record(
    state: &AppState,
    key: &KeyRecord,
    tenant: &TenantId,
    filters: &[(String, String)],
    count: u64,
    size: u64,
) -> Result<sealbook_store::Receipt, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let filters = crate::audit::recorded_filters(&state.redaction_key(tenant), filters);
    let event = audit_event(key, tenant, filters, count, size, now);
    let shaped = vec![crate::audit::event(
        &state.keys(tenant),
        tenant,
        &event,
        now,
    )?];
    append(state, tenant.clone(), shaped, None)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Unavailable("recording the export: no receipt".into()))
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

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// Every filter set `recordable` lets through makes an audit event that validates, however
    /// wide its values: recording it can then only fail on the store, before anything is sent.
    #[test]
    fn recordable_filters_always_make_a_valid_audit_event() {
        let (k, t) = (key(), TenantId::parse("acme").unwrap());
        let now = time::OffsetDateTime::now_utc();
        // Four bytes a character: the widest a value can be.
        let widest = "\u{1F600}".repeat(MAX_VALUE_CHARS);
        let mut all: Vec<(String, String)> = [
            "actor",
            "actor_type",
            "subject",
            "subject_type",
            "type",
            "outcome",
            "since",
            "until",
            "correlation_id",
            "q",
        ]
        .iter()
        .map(|n| (n.to_string(), widest.clone()))
        .collect();
        for i in 0..MAX_REFS {
            let value = "\u{1F600}".repeat(MAX_VALUE_CHARS - 3);
            all.push(("ref".into(), format!("k{i}:{value}")));
        }
        assert!(recordable(&all).is_ok());
        const WIDEST: u64 = (1 << 53) - 1;
        let filters = crate::audit::recorded_filters(&[7; 32], &all);
        let event = audit_event(&k, &t, filters, WIDEST, WIDEST, now);
        assert!(crate::audit::event(
            &crate::keyring::Keyring::new([1; 32]).tenant_keys(&t),
            &t,
            &event,
            now
        )
        .is_ok());

        for bad in [
            f(&[("actor", "u\u{0}1")]),
            f(&[("q", "two\nlines")]),
            f(&[("q", &"x".repeat(MAX_VALUE_CHARS + 1))]),
        ] {
            assert!(
                matches!(recordable(&bad), Err(ApiError::BadQuery(_))),
                "{bad:?}"
            );
        }
        let mut refs = f(&[("actor", "u1")]);
        refs.extend((0..=MAX_REFS).map(|i| ("ref".to_string(), format!("k:{i}"))));
        match recordable(&refs) {
            Err(ApiError::BadQuery(e)) => assert_eq!(e.param, "ref"),
            other => panic!("{other:?}"),
        }
    }

    /// Card numbers and values under secret ref keys never reach the record, wherever they sit.
    #[test]
    fn recorded_filters_are_redacted() {
        let rec = crate::audit::recorded_filters(
            &[7; 32],
            &f(&[
                ("ref", "card:4242 4242 4242 4242"),
                ("ref", "password:hunter22"),
                ("ref", "order:PO-1"),
                ("q", "paid with 4242-4242-4242-4242 today"),
                ("actor", "u-1"),
            ]),
        );
        let text = rec.to_string();
        for secret in ["4242 4242", "4242-4242", "hunter22"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(rec[0]["key"], "card");
        assert_eq!(rec[0]["value"]["$redacted"], true);
        assert_eq!(rec[1]["value"]["$redacted"], true);
        assert_eq!(
            rec[2],
            json!({"name": "ref", "key": "order", "value": "PO-1"})
        );
        assert_eq!(rec[3]["value"]["$redacted"], true);
        assert_eq!(rec[4], json!({"name": "actor", "value": "u-1"}));
    }
}
