//! The reading pages: search, one event (with its verified badge and correlation timeline), a
//! subject's history, and exports of the current filters.
//!
//! Every page reads through the same store calls and [`crate::events::reader_view`] as the JSON
//! API, for the signed-in person's tenant only, with what their role grants: personal values are
//! masked for roles without [`Action::ViewPersonal`] (auditor, viewer), and those roles may not
//! search free text (`q` looks into names and e-mail addresses: a match would reveal them).
//! Search filters live in the URL with the API's own parameter names, so a page is a deep link
//! and the back button works; `from`/`to` are local times in the time zone `tz` (the browser's,
//! filled in by the script; UTC without it).

use super::session::{urlencoding, UiSession};
use super::{page_error, render, Chrome};
use crate::error::ApiError;
use crate::events::reader_view;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sealbook_domain::view::display_text as text;
use sealbook_domain::{Action, Cursor, EventFilter};
use serde_json::Value;

/// Results per search page.
const PAGE: usize = 50;
/// Events of one correlation id shown on an event's page.
const TIMELINE: usize = 50;

/// One row of a results table.
pub(crate) struct Row {
    id: String,
    time: String,
    label: String,
    kind: String,
    actor: String,
    subject: String,
    subject_link: Option<String>,
    outcome: String,
}

/// A party (`{type, id, name?}`) as `name (type id)`.
fn party(v: Option<&Value>) -> String {
    let Some(p) = v.filter(|p| p.is_object()) else {
        return String::new();
    };
    let f = |k: &str| p.get(k).map(text).unwrap_or_default();
    match f("name") {
        n if n.is_empty() => format!("{} {}", f("type"), f("id")),
        n => format!("{n} ({} {})", f("type"), f("id")),
    }
}

fn subject_link(v: &Value) -> Option<String> {
    let t = v.pointer("/subject/type")?.as_str()?;
    let id = v.pointer("/subject/id")?.as_str()?;
    Some(format!(
        "/ui/subjects/{}/{}",
        urlencoding(t),
        urlencoding(id)
    ))
}

fn row(v: &Value) -> Row {
    let s = |p: &str| v.pointer(p).map(text).unwrap_or_default();
    Row {
        id: s("/id"),
        time: s("/occurred_at"),
        label: match s("/label") {
            l if l.is_empty() => s("/type"),
            l => l,
        },
        kind: s("/type"),
        actor: party(v.get("actor")),
        subject: party(v.get("subject")),
        subject_link: subject_link(v),
        outcome: s("/outcome"),
    }
}

/// The filters of the search form, as the person typed them.
#[derive(Default)]
pub(crate) struct Form {
    actor: String,
    subject: String,
    kind: String,
    outcome: String,
    from: String,
    to: String,
    tz: String,
    correlation_id: String,
    reference: String,
    q: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    heading: String,
    form: Form,
    rows: Vec<Row>,
    error: Option<String>,
    next: Option<String>,
    export_csv: Option<String>,
    export_jsonl: Option<String>,
    masked: bool,
    types: Vec<(String, String)>,
}

/// A local date-time of the form (`YYYY-MM-DDTHH:MM`) in zone `tz`, as RFC 3339 UTC.
fn to_utc(local: &str, tz: &str) -> Result<String, String> {
    let dt: jiff::civil::DateTime = local
        .parse()
        .map_err(|_| format!("{local:?} is not a date and time"))?;
    let zone = if tz.is_empty() {
        jiff::tz::TimeZone::UTC
    } else {
        jiff::tz::TimeZone::get(tz).map_err(|_| format!("unknown time zone {tz:?}"))?
    };
    let ts = dt.to_zoned(zone).map_err(|e| e.to_string())?.timestamp();
    Ok(ts.to_string())
}

/// A search page's query, taken apart.
struct Parsed {
    /// The API's filter pairs (`since`/`until` from the local `from`/`to`).
    api: Vec<(String, String)>,
    /// The form's fields as typed.
    form: Form,
    cursor: Option<String>,
}

/// Splits the page's query into the API's filter pairs, the form's fields, and the cursor.
fn filters(pairs: &[(String, String)]) -> Result<Parsed, String> {
    let mut out = Vec::new();
    let mut form = Form::default();
    let mut cursor = None;
    for (k, v) in pairs {
        let v = v.trim();
        match k.as_str() {
            "cursor" if !v.is_empty() => cursor = Some(v.to_owned()),
            "tz" => form.tz = v.to_owned(),
            "from" => form.from = v.to_owned(),
            "to" => form.to = v.to_owned(),
            _ if v.is_empty() => {}
            "actor" => {
                form.actor = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "subject" => {
                form.subject = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "type" => {
                form.kind = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "outcome" => {
                form.outcome = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "correlation_id" => {
                form.correlation_id = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "ref" => {
                form.reference = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "q" => {
                form.q = v.to_owned();
                out.push((k.clone(), v.to_owned()));
            }
            "actor_type" | "subject_type" | "recorded_by" | "since" | "until" => {
                out.push((k.clone(), v.to_owned()))
            }
            other => return Err(format!("unknown filter {other:?}")),
        }
    }
    if !form.from.is_empty() {
        out.push(("since".into(), to_utc(&form.from, &form.tz)?));
    }
    if !form.to.is_empty() {
        out.push(("until".into(), to_utc(&form.to, &form.tz)?));
    }
    Ok(Parsed {
        api: out,
        form,
        cursor,
    })
}

/// The page's own query (without the cursor), to build paging and export links.
fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.trim().is_empty())
        .map(|(k, v)| format!("{}={}", urlencoding(k), urlencoding(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn type_choices(state: &AppState, session: &UiSession) -> Vec<(String, String)> {
    match state.catalogs(session.tenant()).await {
        Ok(c) => c.type_labels(),
        Err(_) => Vec::new(),
    }
}

/// `GET /ui/search`: the search page; also what [`subject`] shows, with the subject fixed.
pub(crate) async fn search(
    State(state): State<AppState>,
    session: UiSession,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    results(state, session, pairs, "Search events".into(), "/ui/search").await
}

async fn results(
    state: AppState,
    session: UiSession,
    pairs: Vec<(String, String)>,
    heading: String,
    nav: &str,
) -> Response {
    if let Err(e) = session.require(Action::SearchEvents) {
        return page_error(e);
    }
    let chrome = Chrome::new(&state, &session, nav);
    let types = type_choices(&state, &session).await;
    let masked = !session.may(Action::ViewPersonal);
    let page = |form: Form, error: Option<String>| SearchPage {
        chrome: chrome.clone(),
        heading: heading.clone(),
        form,
        rows: Vec::new(),
        error,
        next: None,
        export_csv: None,
        export_jsonl: None,
        masked,
        types: types.clone(),
    };
    let Parsed {
        api: api_pairs,
        form,
        cursor,
    } = match filters(&pairs) {
        Ok(v) => v,
        Err(e) => return render(StatusCode::BAD_REQUEST, &page(Form::default(), Some(e))),
    };
    if masked && !form.q.is_empty() {
        let e = "Free-text search looks into names and e-mail addresses, which your role may not see; search by actor id, subject, type or reference instead.".to_owned();
        return render(StatusCode::FORBIDDEN, &page(form, Some(e)));
    }
    let mut with_cursor = api_pairs.clone();
    if let Some(c) = &cursor {
        with_cursor.push(("cursor".into(), c.clone()));
    }
    with_cursor.push(("limit".into(), (PAGE + 1).to_string()));
    let tenant = session.tenant().clone();
    let mut filter = match EventFilter::from_query(&with_cursor, &state.search_key(&tenant)) {
        Ok(f) => f,
        Err(e) => {
            return render(
                StatusCode::BAD_REQUEST,
                &page(form, Some(format!("{}: {}", e.param, e.problem))),
            )
        }
    };
    filter.limit = PAGE + 1;
    let found = match state.inner.store.query(&tenant, &filter).await {
        Ok(f) => f,
        Err(e) => return page_error(ApiError::from(e)),
    };
    let catalogs = match state.catalogs(&tenant).await {
        Ok(c) => c,
        Err(e) => return page_error(e),
    };
    let more = found.len() > PAGE;
    let shown = &found[..found.len().min(PAGE)];
    let own = query_string(&pairs);
    let next = more.then(|| {
        let c = Cursor(shown.last().map_or(0, |e| e.index)).encode();
        format!(
            "/ui/search?{own}{}cursor={c}",
            if own.is_empty() { "" } else { "&" }
        )
    });
    let export_query = query_string(&api_pairs);
    let sep = if export_query.is_empty() { "" } else { "&" };
    let mut p = page(form, None);
    p.rows = shown
        .iter()
        .map(|e| row(&reader_view(&catalogs, e, &session.grant)))
        .collect();
    p.next = next;
    if session.may(Action::ExportEvents) {
        p.export_csv = Some(format!("/ui/export?{export_query}{sep}format=csv&bom=true"));
    }
    if session.may(Action::ReadPersonalBundles) {
        p.export_jsonl = Some(format!("/ui/export?{export_query}{sep}format=jsonl"));
    }
    render(StatusCode::OK, &p)
}

/// `GET /ui/subjects/{type}/{id}`: everything that happened to one record, newest first.
pub(crate) async fn subject(
    State(state): State<AppState>,
    session: UiSession,
    Path((kind, id)): Path<(String, String)>,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> Response {
    pairs.retain(|(k, _)| k != "subject");
    pairs.push(("subject".into(), format!("{kind}:{id}")));
    results(
        state,
        session,
        pairs,
        format!("History of {kind} {id}"),
        "/ui/search",
    )
    .await
}

/// One changed field: its name, before, after.
struct Change {
    field: String,
    before: String,
    after: String,
}

/// The verified badge: what was checked, or why it could not be.
struct Verified {
    ok: bool,
    summary: String,
    checkpoint: Option<String>,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    id: String,
    label: String,
    kind: String,
    time: String,
    received: String,
    facts: Vec<(String, String)>,
    subject: String,
    subject_link: Option<String>,
    changes: Vec<Change>,
    timeline: Vec<(Row, bool)>,
    raw: String,
    verified: Option<Verified>,
    masked: bool,
}

/// Checks the event against the latest signed checkpoint: the checkpoint's signature by the log's
/// keys, the leaf hash of the stored bytes, and the inclusion proof to the checkpoint's root.
async fn verify(
    state: &AppState,
    tenant: &sealbook_domain::TenantId,
    e: &sealbook_store::StoredEvent,
) -> Verified {
    let log = &state.inner.log;
    let fail = |summary: &str| Verified {
        ok: false,
        summary: summary.to_owned(),
        checkpoint: None,
    };
    let Ok(cp) = log.checkpoint(tenant).await else {
        return fail("Not verified yet: the log has no signed checkpoint.");
    };
    if cp.size <= e.index {
        return Verified {
            ok: false,
            summary: format!(
                "Not verified yet: the latest signed checkpoint (size {}) predates this event; it is checked once the next one is signed.",
                cp.size
            ),
            checkpoint: Some(cp.note.clone()),
        };
    }
    let keys: Vec<sealbook_logmath::note::NoteVerifier> = match log.verifier_keys(tenant).await {
        Ok(k) => k
            .iter()
            .filter_map(|k| sealbook_logmath::note::NoteVerifier::parse(k).ok())
            .collect(),
        Err(_) => return fail("Not verified: the log's verifier keys could not be read."),
    };
    let signed = sealbook_logmath::note::open(&cp.note, &keys).is_ok();
    let leaf_ok = sealbook_logmath::leaf_hash(&e.leaf) == e.leaf_hash;
    let proof = log.inclusion(tenant, e.index, cp.size).await;
    let included = proof.as_ref().is_ok_and(|p| {
        sealbook_logmath::verify_inclusion(&e.leaf_hash, e.index, cp.size, &p.hashes, &cp.root)
            .is_ok()
    });
    let (ok, summary) = match (signed, leaf_ok, included) {
        (true, true, true) => (true, format!("Verified: this event is entry {} of the tenant's log, included in the signed checkpoint of size {} (signature, leaf hash and inclusion proof checked).", e.index, cp.size)),
        (false, _, _) => (false, "NOT verified: the checkpoint's signature does not verify with the log's keys.".to_owned()),
        (_, false, _) => (false, "NOT verified: the stored event does not hash to its leaf hash.".to_owned()),
        _ => (false, "NOT verified: the inclusion proof does not lead to the checkpoint's root.".to_owned()),
    };
    if !ok {
        tracing::error!(tenant = %tenant, index = e.index, "{summary}");
    }
    Verified {
        ok,
        summary,
        checkpoint: Some(cp.note.clone()),
    }
}

/// `GET /ui/events/{id}`: one event.
pub(crate) async fn event(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = session.require(Action::SearchEvents) {
        return page_error(e);
    }
    let tenant = session.tenant().clone();
    let stored = match state.inner.store.event(&tenant, &id).await {
        Ok(Some(e)) => e,
        Ok(None) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(ApiError::from(e)),
    };
    let catalogs = match state.catalogs(&tenant).await {
        Ok(c) => c,
        Err(e) => return page_error(e),
    };
    let v = reader_view(&catalogs, &stored, &session.grant);
    let s = |p: &str| v.pointer(p).map(text).unwrap_or_default();
    let mut facts = vec![("Actor".to_owned(), party(v.get("actor")))];
    if v.get("on_behalf_of").is_some() {
        facts.push(("On behalf of".into(), party(v.get("on_behalf_of"))));
        let session_id = s("/on_behalf_of/impersonation/session_id");
        if !session_id.is_empty() {
            facts.push(("Impersonation session".into(), session_id));
        }
        let ticket = s("/on_behalf_of/impersonation/ticket");
        if !ticket.is_empty() {
            facts.push(("Impersonation ticket".into(), ticket));
        }
    }
    for (label, pointer) in [
        ("Outcome", "/outcome"),
        ("Reason", "/reason/code"),
        ("Ticket", "/reason/ticket"),
        ("Note", "/reason/note"),
        ("Correlation id", "/context/correlation_id"),
        ("IP address", "/context/ip"),
        ("User agent", "/context/user_agent"),
        ("Recorded by", "/recorded_by"),
    ] {
        let t = s(pointer);
        if !t.is_empty() {
            facts.push((label.to_owned(), t));
        }
    }
    if let Some(Value::Object(refs)) = v.get("refs") {
        for (k, r) in refs {
            facts.push((format!("Reference {k}"), text(r)));
        }
    }
    let changes = match v.get("changes") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| Change {
                field: c.get("field").map(text).unwrap_or_default(),
                before: c.get("before").map(text).unwrap_or_default(),
                after: c.get("after").map(text).unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut timeline = Vec::new();
    let correlation = s("/context/correlation_id");
    if !correlation.is_empty() {
        let pairs = vec![
            ("correlation_id".to_owned(), correlation),
            ("limit".to_owned(), TIMELINE.to_string()),
        ];
        if let Ok(filter) = EventFilter::from_query(&pairs, &state.search_key(&tenant)) {
            if let Ok(found) = state.inner.store.query(&tenant, &filter).await {
                timeline = found
                    .iter()
                    .rev()
                    .map(|e| {
                        let r = row(&reader_view(&catalogs, e, &session.grant));
                        let current = e.index == stored.index;
                        (r, current)
                    })
                    .collect();
            }
        }
    }
    let verified = if session.may(Action::VerifyLog) {
        Some(verify(&state, &tenant, &stored).await)
    } else {
        None
    };
    let page = EventPage {
        chrome: Chrome::new(&state, &session, "/ui/search"),
        id: s("/id"),
        label: match s("/label") {
            l if l.is_empty() => s("/type"),
            l => l,
        },
        kind: s("/type"),
        time: s("/occurred_at"),
        received: s("/received_at"),
        facts,
        subject: party(v.get("subject")),
        subject_link: subject_link(&v),
        changes,
        timeline,
        raw: serde_json::to_string_pretty(&v).unwrap_or_default(),
        verified,
        masked: !session.may(Action::ViewPersonal),
    };
    render(StatusCode::OK, &page)
}

/// `GET /ui/export?…&format=csv|jsonl`: the current filters as a file, through the API's export
/// (the same checks, slot and `audit_log.exported` record), one export at a time per person.
pub(crate) async fn export(
    State(state): State<AppState>,
    session: UiSession,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = session.require(Action::ExportEvents) {
        return page_error(e);
    }
    let (format, search): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(k, _)| k == "format" || k == "bom");
    let mut api_pairs = match filters(&search) {
        Ok(v) => v.api,
        Err(e) => return page_error(ApiError::Malformed(e)),
    };
    api_pairs.extend(format);
    let started = crate::export::start(
        state.clone(),
        &session.grant,
        session.actor(),
        session.tenant().clone(),
        api_pairs,
        Some(session.user.id.clone()),
    )
    .await;
    started.unwrap_or_else(page_error)
}
