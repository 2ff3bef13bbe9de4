//! The embedded viewer: a tenant's audit log shown read-only inside another product's pages, to
//! whoever holds a viewer token (`crate::viewer`): `/ui/embed?token=…` (search) and
//! `/ui/embed/events/{id}?token=…` (one event).
//!
//! No session and no cookie: the token in the URL is the credential, carried by every link and
//! form of the view, and it may be framed only by the origins the tenant allows
//! (`Content-Security-Policy: frame-ancestors`, from `TenantSettings::frame_ancestors`; none
//! unless set). It reads through the same [`pages::find`] and [`pages::detail`] as the signed-in
//! pages, with [`sealbook_domain::Grant::ViewerToken`] (personal values masked), the token's
//! limits and the tenant's viewer types. Each page served is an `audit_log.viewed` event in the
//! tenant's log (the token's id, the filters, the number of events shown), recorded before the
//! page is sent: when it cannot be recorded, the page is not shown.

use super::pages::{self, EventData, Reader, Results};
use super::{notice, page_error, render};
use crate::error::ApiError;
use crate::people::{commit, Record};
use crate::state::AppState;
use crate::viewer::ViewerScope;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use sealbook_domain::{Grant, TenantSettings};
use serde_json::json;

/// Marks a response that may be framed (by the origins of its own CSP): the UI's security
/// headers then add no `X-Frame-Options`.
#[derive(Clone, Copy)]
pub(crate) struct Frameable;

#[derive(Template)]
#[template(path = "embed_search.html")]
struct EmbedSearch {
    tenant_name: String,
    limits: Vec<String>,
    expires_at: String,
    res: Results,
    export_csv: Option<String>,
    export_jsonl: Option<String>,
}

#[derive(Template)]
#[template(path = "embed_event.html")]
struct EmbedEvent {
    tenant_name: String,
    limits: Vec<String>,
    expires_at: String,
    ev: EventData,
}

fn expired() -> Response {
    notice(
        StatusCode::UNAUTHORIZED,
        "This view has expired",
        "The link to this audit log is no longer valid. Reload the page that shows it to get a new one.",
    )
}

/// The token of a request, opened, and the reader it makes.
async fn reader(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<(ViewerScope, Reader), Response> {
    let token = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let Some(scope) = crate::viewer::open(state, token) else {
        return Err(expired());
    };
    // Every page is a record in the tenant's log: a token holder may not flood it.
    if let Err(retry_after) = state.inner.viewer_views.check(&scope.id) {
        let mut r = notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "This view was opened too often in a short time; wait a moment and reload.",
        );
        if let Ok(v) = retry_after.to_string().parse() {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(r);
    }
    let settings: TenantSettings = state
        .inner
        .store
        .settings(&scope.tenant)
        .await
        .map_err(|e| page_error(e.into()))?
        .unwrap_or_default();
    Ok((
        scope.clone(),
        Reader {
            tenant: scope.tenant.clone(),
            grant: Grant::ViewerToken,
            base: "/ui/embed",
            carry: format!("token={}", super::session::urlencoding(token)),
            scope: Some(scope),
            settings,
        },
    ))
}

/// The token's limits, in words.
fn limits(scope: &ViewerScope) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(a) = &scope.actor {
        out.push(format!("actor {a}"));
    }
    if let Some(s) = &scope.subject {
        out.push(format!("subject {s}"));
    }
    if let Some(p) = &scope.type_prefix {
        out.push(format!("types {p}*"));
    }
    out
}

/// Records one page of the view as `audit_log.viewed`: its filters as exports record theirs
/// (`audit::recorded_filters`: secrets and card numbers typed into a filter are redacted).
async fn record(
    state: &AppState,
    scope: &ViewerScope,
    filters: &[(String, String)],
    count: usize,
) -> Result<(), ApiError> {
    let filters = crate::audit::recorded_filters(&state.redaction_key(&scope.tenant), filters);
    commit(
        state,
        &scope.tenant,
        Record {
            event_type: "audit_log.viewed",
            actor: json!({"type": "system", "id": scope.id, "name": "Embedded viewer (token)"}),
            subject: json!({"type": "tenant", "id": scope.tenant.as_str()}),
            data: json!({"filters": filters, "count": count}),
            ip: None,
        },
        None,
    )
    .await
    .map(|_| ())
}

/// The page with the embedding headers: framed only by the tenant's allowed origins.
fn framed(mut r: Response, settings: &TenantSettings) -> Response {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors {}",
        settings.frame_ancestors_source()
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r.extensions_mut().insert(Frameable);
    r
}

async fn tenant_name(state: &AppState, scope: &ViewerScope) -> String {
    match state.inner.store.tenant(&scope.tenant).await {
        Ok(Some(t)) => t.name,
        _ => scope.tenant.to_string(),
    }
}

/// `GET /ui/embed?token=…&…filters`.
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let (scope, reader) = match reader(&state, &pairs).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (status, res) = pages::find(&state, &reader, &pairs).await;
    let status = match status {
        Ok(s) => s,
        Err(e) => return page_error(e),
    };
    if let Err(e) = record(&state, &scope, &res.api_pairs, res.rows.len()).await {
        return page_error(e);
    }
    let page = EmbedSearch {
        tenant_name: tenant_name(&state, &scope).await,
        limits: limits(&scope),
        expires_at: scope.expires_at.clone(),
        res,
        export_csv: None,
        export_jsonl: None,
    };
    framed(render(status, &page), &reader.settings)
}

/// `GET /ui/embed/events/{id}?token=…`.
pub(crate) async fn event(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let (scope, reader) = match reader(&state, &pairs).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ev = match pages::detail(&state, &reader, &id).await {
        Ok(ev) => ev,
        Err(e) => return framed(page_error(e), &reader.settings),
    };
    if let Err(e) = record(&state, &scope, &[("event".to_owned(), id.clone())], 1).await {
        return page_error(e);
    }
    let page = EmbedEvent {
        tenant_name: tenant_name(&state, &scope).await,
        limits: limits(&scope),
        expires_at: scope.expires_at.clone(),
        ev,
    };
    framed(render(StatusCode::OK, &page), &reader.settings)
}
