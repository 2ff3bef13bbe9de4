//! Reading events: search with filters and cursor paging, and fetch by id. Both are scoped to the
//! key's tenant; another tenant's id answers exactly like an id that does not exist.
//!
//! A reader without `tenant:admin` sees redacted values without their keyed fingerprints. Search
//! is a read, not an export, but paging through it can dump the log: the events each key reads
//! are counted per UTC day on this node, and once a key is over
//! `ReadLimits::bulk_read_audit_events`, every further page is recorded as an
//! `audit_log.bulk_read` event before it is answered (`docs/security/roles.md`).

use crate::auth::TenantKey;
use crate::catalog_cache::Catalogs;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use sealbook_domain::view::{event_view, hide_fingerprints};
use sealbook_domain::{Action, Cursor, EventFilter, Grant};
use sealbook_store::StoredEvent;

/// A page of events.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    /// Events, newest (highest index) first, with `index`, `leaf_hash` and `received_at`.
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The event as a reader with `grant` sees it, with its rendered label (never showing a redacted
/// value): personal values masked (left as their commitments) unless the grant may see them, and
/// without redaction fingerprints unless it may see those.
pub(crate) fn reader_view(
    catalogs: &Catalogs,
    e: &StoredEvent,
    grant: &Grant,
) -> serde_json::Value {
    let personal: &[_] = if grant.may(Action::ViewPersonal) {
        &e.personal
    } else {
        &[]
    };
    let mut v = event_view(&e.leaf, personal, e.index, &e.leaf_hash.to_hex());
    if !grant.may(Action::SeeFingerprints) {
        hide_fingerprints(&mut v);
    }
    if let Some(label) = catalogs.label(&v) {
        if let Some(m) = v.as_object_mut() {
            m.insert("label".into(), serde_json::Value::String(label));
        }
    }
    v
}

/// Search the tenant's events, newest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("tenant_key" = ["events:read"])),
    params(
        ("actor" = Option<String>, Query, min_length = 1, description = "actor id"),
        ("actor_type" = Option<String>, Query, min_length = 1, description = "actor type: user, service_account, api_key, system or support"),
        ("subject" = Option<String>, Query, min_length = 1, description = "`type:id`, or a bare id"),
        ("subject_type" = Option<String>, Query, min_length = 1, description = "subject type"),
        ("type" = Option<String>, Query, min_length = 1, pattern = r"^(?:[\s\S]*[^*]|[\s\S]*\.\*)$", description = "exact type, or a prefix such as `order.*`"),
        ("outcome" = Option<crate::schema::Outcome>, Query, description = "outcome"),
        ("since" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at >= since"),
        ("until" = Option<String>, Query, format = DateTime, description = "RFC 3339 with an offset, year 1 to 9999 in UTC; occurred_at < until"),
        ("correlation_id" = Option<String>, Query, min_length = 1, description = "context.correlation_id"),
        ("recorded_by" = Option<crate::schema::RecordedBy>, Query, description = "`sealbook`: only Sealbook's own records (key changes, exports, catalog changes, redaction questions); `client`: only events clients sent, such as look-alikes of those types sent before their namespaces were reserved"),
        ("ref" = Option<Vec<crate::schema::RefFilter>>, Query, explode, description = "`key:value`, repeatable; all must match"),
        ("q" = Option<String>, Query, pattern = r"(?:^|[^\p{L}\p{N}])[\p{L}\p{N}]{2,64}(?:[^\p{L}\p{N}]|$)", description = "words (runs of 2 to 64 letters or digits) that must all occur in names, references or the reason; at least one"),
        ("limit" = Option<u16>, Query, minimum = 1, maximum = 1000, description = "page size, default 100"),
        ("cursor" = Option<String>, Query, format = "cursor", description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, body = EventPage), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    key: TenantKey,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    key.require(Action::SearchEvents)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::Malformed(format!("query string: {}", e.body_text())))?;
    let mut filter = EventFilter::from_query(&pairs, &state.search_key(key.tenant()))?;
    let limit = filter.limit;
    // One extra row tells whether another page exists without a second query.
    filter.limit = limit + 1;
    let mut found = state.inner.store.query(key.tenant(), &filter).await?;
    let catalogs = state.catalogs(key.tenant()).await?;
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|e| Cursor(e.index).encode())
    } else {
        None
    };
    bulk_read(
        &state,
        key.tenant(),
        &key.0.id,
        serde_json::json!({"type": "api_key", "id": key.0.id, "name": key.0.name}),
        &pairs,
        found.len(),
    )
    .await?;
    Ok(Json(EventPage {
        events: found
            .iter()
            .map(|e| reader_view(&catalogs, e, &key.grant()))
            .collect(),
        next_cursor,
    }))
}

/// Counts a page of `events` of `tenant` against the reads of today (UTC) of `reader` (a key id,
/// or a person's `tenant:usr_…`, from the search page) and, over the threshold, records the page
/// as an `audit_log.bulk_read` event by `actor` before it is answered (fail closed). The counter
/// is per node and holds one entry per reader that searched today: bounded by the keys and people.
pub(crate) async fn bulk_read(
    state: &AppState,
    tenant: &sealbook_domain::TenantId,
    reader: &str,
    actor: serde_json::Value,
    query: &[(String, String)],
    events: usize,
) -> Result<(), ApiError> {
    let threshold = state.inner.config.reads.bulk_read_audit_events;
    let now = time::OffsetDateTime::now_utc();
    let day = now.date().to_julian_day();
    let total = {
        let mut reads = state
            .inner
            .bulk_reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reads.retain(|_, (d, _)| *d == day);
        let entry = reads.entry(reader.to_owned()).or_insert((day, 0));
        entry.1 += events as u64;
        entry.1
    };
    if total <= threshold || events == 0 {
        return Ok(());
    }
    let tenant = tenant.clone();
    // The query as the page was asked for, minus the cursor and the limit, redacted and bounded.
    let query: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k != "cursor" && k != "limit")
        .cloned()
        .collect();
    let query = crate::audit::recorded_filters(&state.redaction_key(&tenant), &query);
    let audit = serde_json::json!({
        "type": "audit_log.bulk_read",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": actor,
        "subject": {"type": "audit_log", "id": tenant.as_str()},
        "data": {"events": events, "events_today": total, "threshold": threshold, "query": query},
    });
    let shaped = vec![crate::audit::event(
        &state.keys(&tenant),
        &tenant,
        &audit,
        now,
    )?];
    crate::append::append(state, tenant, shaped, None).await?;
    Ok(())
}

/// One event by id.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", security(("tenant_key" = ["events:read"])),
    params(("id" = String, Path, min_length = 1, description = "event id")),
    responses((status = 200, description = "the event with index, leaf_hash and received_at", body = Object), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, response = crate::schema::NotFound), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    key: TenantKey,
    PathParams(id): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    key.require(Action::SearchEvents)?;
    let e = state
        .inner
        .store
        .event(key.tenant(), &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let catalogs = state.catalogs(key.tenant()).await?;
    Ok(Json(reader_view(&catalogs, &e, &key.grant())))
}
