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
//!
//! What a page reads is described by a [`Reader`]: the tenant, the grant, where links lead, and
//! the limits that apply beyond the grant (an embedded viewer token's, and the tenant's viewer
//! types for the `viewer` role and viewer tokens). The signed-in pages here and the embedded
//! viewer (`super::embed`) read through the same [`find`] and [`detail`].

use super::session::{urlencoding, UiSession};
use super::{page_error, render, Chrome};
use crate::error::ApiError;
use crate::events::reader_view;
use crate::state::AppState;
use crate::viewer::ViewerScope;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sealbook_domain::view::display_text as text;
use sealbook_domain::{Action, Cursor, EventFilter, Grant, Role, TenantId, TenantSettings};
use serde_json::Value;

/// Results per search page.
const PAGE: usize = 50;
/// Events of one correlation id shown on an event's page.
const TIMELINE: usize = 50;
/// With limits beyond the filter (viewer types), at most this many store pages are read to fill
/// one page of results; the next page goes on from there.
const SCAN_ROUNDS: usize = 10;

/// Who reads, and how: see the module documentation.
pub(crate) struct Reader {
    pub(crate) tenant: TenantId,
    pub(crate) grant: Grant,
    /// Where the pages live: `/ui` for signed-in people, `/ui/embed` for the embedded viewer.
    pub(crate) base: &'static str,
    /// Added to every link of the pages (`token=…` for the embedded viewer), already encoded.
    pub(crate) carry: String,
    /// An embedded viewer token's limits.
    pub(crate) scope: Option<ViewerScope>,
    /// The tenant's settings (record links, viewer types).
    pub(crate) settings: TenantSettings,
}

impl Reader {
    /// The reader of a signed-in person's pages.
    pub(crate) async fn of_session(
        state: &AppState,
        session: &UiSession,
    ) -> Result<Reader, ApiError> {
        Ok(Reader {
            tenant: session.tenant().clone(),
            grant: session.grant.clone(),
            base: "/ui",
            carry: String::new(),
            scope: None,
            settings: state
                .inner
                .store
                .settings(session.tenant())
                .await?
                .unwrap_or_default(),
        })
    }

    /// Whether the tenant's viewer types apply to this reader.
    fn limited_to_viewer_types(&self) -> bool {
        matches!(self.grant, Grant::ViewerToken | Grant::Person(Role::Viewer))
    }

    /// Whether this reader sees only what clients sent: an embedded viewer token of a tenant that
    /// named no viewer types. Sealbook's own records (sign-ins, keys, settings, operators'
    /// accesses, exports) are the tenant's administration, not its product's audit trail; a
    /// tenant that wants them embedded names their types.
    fn clients_only(&self) -> bool {
        matches!(self.grant, Grant::ViewerToken) && self.settings.viewer_types.is_empty()
    }

    /// Whether this reader may see event `e`, whose reader's view is `v`. A token's actor and
    /// subject limits are checked against the event's own values (an actor id is personal, so
    /// `v` may hold it masked); the token's holder names them, so nothing is revealed.
    fn may_see(&self, e: &sealbook_store::StoredEvent, v: &Value) -> bool {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        if self.limited_to_viewer_types() && !self.settings.viewer_may_see(kind) {
            return false;
        }
        if self.clients_only() && v.get("recorded_by").and_then(Value::as_str) == Some("sealbook") {
            return false;
        }
        self.scope.as_ref().is_none_or(|s| {
            s.covers(&sealbook_domain::view::event_view(
                &e.leaf,
                &e.personal,
                e.index,
                "",
            ))
        })
    }

    /// A link to `path` (under the reader's base) with `query` and what every link carries.
    fn link(&self, path: &str, query: &str) -> String {
        let mut q = self.carry.clone();
        if !query.is_empty() {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(query);
        }
        if q.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{q}", self.base)
        }
    }

    /// The search page's path: `/ui/search` or `/ui/embed`.
    fn search_path(&self) -> &'static str {
        if self.base == "/ui" {
            "/search"
        } else {
            ""
        }
    }

    fn row(&self, v: &Value) -> Row {
        let mut r = row(v);
        r.href = self.link(&format!("/events/{}", urlencoding(&r.id)), "");
        r.subject_link = match (v.pointer("/subject/type"), v.pointer("/subject/id")) {
            (Some(Value::String(t)), Some(Value::String(id))) if self.base == "/ui" => Some(
                format!("/ui/subjects/{}/{}", urlencoding(t), urlencoding(id)),
            ),
            (Some(Value::String(t)), Some(Value::String(id))) => Some(self.link(
                self.search_path(),
                &format!("subject={}", urlencoding(&format!("{t}:{id}"))),
            )),
            _ => None,
        };
        r
    }
}

/// One row of a results table.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) href: String,
    pub(crate) time: String,
    pub(crate) label: String,
    pub(crate) kind: String,
    pub(crate) actor: String,
    pub(crate) subject: String,
    pub(crate) subject_link: Option<String>,
    pub(crate) outcome: String,
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
        subject_link: None,
        outcome: s("/outcome"),
        href: String::new(),
    }
}

/// The filters of the search form, as the person typed them.
#[derive(Default)]
pub(crate) struct Form {
    pub(crate) actor: String,
    pub(crate) subject: String,
    pub(crate) kind: String,
    pub(crate) outcome: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) tz: String,
    pub(crate) correlation_id: String,
    pub(crate) reference: String,
    pub(crate) q: String,
}

/// A page of search results, for the signed-in search page and the embedded viewer alike.
pub(crate) struct Results {
    pub(crate) form: Form,
    pub(crate) rows: Vec<Row>,
    pub(crate) error: Option<String>,
    pub(crate) next: Option<String>,
    /// Personal values are masked for this reader (and free text is not offered).
    pub(crate) masked: bool,
    /// The type choices: (name, description).
    pub(crate) types: Vec<(String, String)>,
    /// Where the filter form is sent, and what it carries hidden (the viewer token).
    pub(crate) action: String,
    pub(crate) hidden: Vec<(String, String)>,
    /// The "clear" link.
    pub(crate) clear: String,
    /// Which filters the reader may set (an embedded token fixes some).
    pub(crate) show_actor: bool,
    pub(crate) show_subject: bool,
    pub(crate) show_type: bool,
    /// The API's filter pairs of this page, as a query string (for export links).
    pub(crate) api_query: String,
    /// The same pairs (for the embedded viewer's `audit_log.viewed` record).
    pub(crate) api_pairs: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    heading: String,
    res: Results,
    export_csv: Option<String>,
    export_jsonl: Option<String>,
    /// The person's saved searches: (name, link, id); `None` where searches cannot be saved (an
    /// operator's access).
    saved: Option<Vec<(String, String, String)>>,
    /// This page's filters, to save (empty without filters).
    save_query: String,
}

/// At most this long, a saved search's query string.
const MAX_SAVED_QUERY: usize = 2000;

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

async fn type_choices(state: &AppState, reader: &Reader) -> Vec<(String, String)> {
    let all = match state.catalogs(&reader.tenant).await {
        Ok(c) => c.type_labels(),
        Err(_) => Vec::new(),
    };
    all.into_iter()
        .filter(|(name, _)| {
            !(reader.clients_only() && sealbook_catalog::is_reserved(name))
                && (!reader.limited_to_viewer_types() || reader.settings.viewer_may_see(name))
                && reader
                    .scope
                    .as_ref()
                    .and_then(|s| s.type_prefix.as_deref())
                    .is_none_or(|p| name.starts_with(p))
        })
        .collect()
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
    let reader = match Reader::of_session(&state, &session).await {
        Ok(r) => r,
        Err(e) => return page_error(e),
    };
    let (status, res) = find(&state, &reader, &pairs).await;
    if let Err(e) = status {
        return page_error(e);
    }
    let status = status.unwrap_or(StatusCode::OK);
    // A person paging through much of the log is recorded like a key doing it through the API.
    if let Err(e) = crate::events::bulk_read(
        &state,
        session.tenant(),
        &format!(
            "{}:{}:{}",
            session.tenant(),
            session.user.tenant,
            session.user.id
        ),
        session.actor(),
        &res.api_pairs,
        res.rows.len(),
    )
    .await
    {
        return page_error(e);
    }
    let sep = if res.api_query.is_empty() { "" } else { "&" };
    let ok = res.error.is_none();
    let saved = if session.access.is_none() {
        match state
            .inner
            .store
            .saved_searches(&session.user.tenant, &session.user.id)
            .await
        {
            Ok(list) => Some(
                list.into_iter()
                    .map(|x| (x.name, format!("/ui/search?{}", x.query), x.id))
                    .collect(),
            ),
            Err(e) => return page_error(e.into()),
        }
    } else {
        None
    };
    let save_query = if ok {
        query_string(&pairs)
    } else {
        String::new()
    };
    let page = SearchPage {
        saved,
        save_query,
        chrome: Chrome::new(&state, &session, nav),
        heading,
        export_csv: (ok && session.may(Action::ExportEvents))
            .then(|| format!("/ui/export?{}{sep}format=csv&bom=true", res.api_query)),
        export_jsonl: (ok && session.may(Action::ReadPersonalBundles))
            .then(|| format!("/ui/export?{}{sep}format=jsonl", res.api_query)),
        res,
    };
    render(status, &page)
}

/// One page of results for `reader` and the page's query `pairs`: the status to answer with (or
/// a failure to show as an error page) and the page's content. Filters the reader's limits fix
/// replace the reader's own.
pub(crate) async fn find(
    state: &AppState,
    reader: &Reader,
    pairs: &[(String, String)],
) -> (Result<StatusCode, ApiError>, Results) {
    let mut fixed: Vec<(String, String)> = reader
        .scope
        .as_ref()
        .map(|s| s.filters())
        .unwrap_or_default();
    if reader.clients_only() {
        fixed.push(("recorded_by".into(), "client".into()));
    }
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "token" && !fixed.iter().any(|(f, _)| f == k))
        .cloned()
        .collect();
    let masked = !reader.grant.may(Action::ViewPersonal);
    let mut res = Results {
        form: Form::default(),
        rows: Vec::new(),
        error: None,
        next: None,
        masked,
        types: type_choices(state, reader).await,
        action: reader
            .link(reader.search_path(), "")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned(),
        hidden: reader
            .scope
            .as_ref()
            .map(|_| {
                reader
                    .carry
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        clear: reader.link(reader.search_path(), ""),
        show_actor: !fixed.iter().any(|(k, _)| k == "actor"),
        show_subject: !fixed.iter().any(|(k, _)| k == "subject"),
        show_type: !fixed.iter().any(|(k, _)| k == "type"),
        api_query: String::new(),
        api_pairs: Vec::new(),
    };
    let Parsed {
        api: mut api_pairs,
        form,
        cursor,
    } = match filters(&pairs) {
        Ok(v) => v,
        Err(e) => {
            res.error = Some(e);
            return (Ok(StatusCode::BAD_REQUEST), res);
        }
    };
    res.form = form;
    if masked && !res.form.q.is_empty() {
        res.error = Some("Free-text search looks into names and e-mail addresses, which may not be shown here; search by actor id, subject, type or reference instead.".to_owned());
        return (Ok(StatusCode::FORBIDDEN), res);
    }
    api_pairs.extend(fixed);
    res.api_query = query_string(&api_pairs);
    res.api_pairs = api_pairs.clone();
    let catalogs = match state.catalogs(&reader.tenant).await {
        Ok(c) => c,
        Err(e) => return (Err(e), res),
    };
    let key = state.search_key(&reader.tenant);
    let mut cursor = cursor;
    let mut last = None;
    let mut more = false;
    for _ in 0..SCAN_ROUNDS {
        let mut with_cursor = api_pairs.clone();
        if let Some(c) = &cursor {
            with_cursor.push(("cursor".into(), c.clone()));
        }
        let mut filter = match EventFilter::from_query(&with_cursor, &key) {
            Ok(f) => f,
            Err(e) => {
                res.error = Some(format!("{}: {}", e.param, e.problem));
                return (Ok(StatusCode::BAD_REQUEST), res);
            }
        };
        filter.limit = PAGE + 1;
        let found = match state.inner.store.query(&reader.tenant, &filter).await {
            Ok(f) => f,
            Err(e) => return (Err(ApiError::from(e)), res),
        };
        let n = found.len();
        let mut full_at = None;
        for (i, e) in found.iter().take(PAGE).enumerate() {
            last = Some(e.index);
            let v = reader_view(&catalogs, e, &reader.grant);
            if reader.may_see(e, &v) {
                res.rows.push(reader.row(&v));
                if res.rows.len() == PAGE {
                    full_at = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = full_at {
            more = i + 1 < n;
            break;
        }
        more = n > PAGE;
        if !more {
            break;
        }
        cursor = last.map(|l| Cursor(l).encode());
    }
    if more {
        if let Some(l) = last {
            let own = query_string(&pairs);
            let sep = if own.is_empty() { "" } else { "&" };
            res.next = Some(reader.link(
                reader.search_path(),
                &format!("{own}{sep}cursor={}", Cursor(l).encode()),
            ));
        }
    }
    (Ok(StatusCode::OK), res)
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
pub(crate) struct Change {
    pub(crate) field: String,
    pub(crate) before: String,
    pub(crate) after: String,
}

/// The verified badge: what was checked, or why it could not be.
pub(crate) struct Verified {
    pub(crate) ok: bool,
    pub(crate) summary: String,
    pub(crate) checkpoint: Option<String>,
}

/// One event, as its page shows it (signed in or embedded).
pub(crate) struct EventData {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) kind: String,
    pub(crate) time: String,
    pub(crate) received: String,
    pub(crate) facts: Vec<(String, String)>,
    pub(crate) subject: String,
    pub(crate) subject_link: Option<String>,
    pub(crate) changes: Vec<Change>,
    pub(crate) timeline: Vec<(Row, bool)>,
    pub(crate) raw: String,
    pub(crate) verified: Option<Verified>,
    pub(crate) masked: bool,
    /// The link to the business record (the tenant's record-link template for the subject's type).
    pub(crate) record_link: Option<String>,
    /// Back to the search.
    pub(crate) back: String,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    ev: EventData,
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
    let reader = match Reader::of_session(&state, &session).await {
        Ok(r) => r,
        Err(e) => return page_error(e),
    };
    match detail(&state, &reader, &id).await {
        Ok(ev) => render(
            StatusCode::OK,
            &EventPage {
                chrome: Chrome::new(&state, &session, "/ui/search"),
                ev,
            },
        ),
        Err(e) => page_error(e),
    }
}

/// One event for `reader`: 404 alike for an unknown id, another tenant's, and one outside the
/// reader's limits.
pub(crate) async fn detail(
    state: &AppState,
    reader: &Reader,
    id: &str,
) -> Result<EventData, ApiError> {
    let tenant = reader.tenant.clone();
    let stored = state
        .inner
        .store
        .event(&tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let catalogs = state.catalogs(&tenant).await?;
    let v = reader_view(&catalogs, &stored, &reader.grant);
    if !reader.may_see(&stored, &v) {
        return Err(ApiError::NotFound);
    }
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
                    .filter_map(|e| {
                        let v = reader_view(&catalogs, e, &reader.grant);
                        reader
                            .may_see(e, &v)
                            .then(|| (reader.row(&v), e.index == stored.index))
                    })
                    .collect();
            }
        }
    }
    let verified = if reader.grant.may(Action::VerifyLog) {
        Some(verify(state, &tenant, &stored).await)
    } else {
        None
    };
    let row = reader.row(&v);
    let record_link = match (v.pointer("/subject/type"), v.pointer("/subject/id")) {
        (Some(Value::String(t)), Some(Value::String(id))) => reader.settings.record_link(t, id),
        _ => None,
    };
    Ok(EventData {
        id: s("/id"),
        label: row.label,
        kind: s("/type"),
        time: s("/occurred_at"),
        received: s("/received_at"),
        facts,
        subject: party(v.get("subject")),
        subject_link: row.subject_link,
        changes,
        timeline,
        raw: serde_json::to_string_pretty(&v).unwrap_or_default(),
        verified,
        masked: !reader.grant.may(Action::ViewPersonal),
        record_link,
        back: reader.link(reader.search_path(), ""),
    })
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

#[derive(serde::Deserialize)]
pub(crate) struct SaveForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    query: String,
}

/// `POST /ui/searches`: saves the search page's filters under a name, for this person only.
pub(crate) async fn save_search(
    State(state): State<AppState>,
    session: UiSession,
    headers: axum::http::HeaderMap,
    axum::Form(f): axum::Form<SaveForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| session.require(Action::SearchEvents))
    {
        return page_error(e);
    }
    if session.access.is_some() {
        return page_error(ApiError::Malformed(
            "searches are not saved during an operator's access".into(),
        ));
    }
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return page_error(ApiError::Malformed(
            "a saved search's name is 1 to 100 printable characters".into(),
        ));
    }
    // Only a query the search page accepts is saved, in the page's own spelling.
    let uri: axum::http::Uri = match format!("/ui/search?{}", f.query).parse() {
        Ok(u) if f.query.len() <= MAX_SAVED_QUERY => u,
        _ => return page_error(ApiError::Malformed("not a search page's query".into())),
    };
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        Ok(Query(p)) => p,
        Err(_) => return page_error(ApiError::Malformed("not a search page's query".into())),
    };
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "cursor").collect();
    if let Err(e) = filters(&pairs) {
        return page_error(ApiError::Malformed(e));
    }
    let search = sealbook_store::SavedSearch {
        id: crate::people::new_id("srch"),
        user_id: session.user.id.clone(),
        name: name.to_owned(),
        query: query_string(&pairs),
        created_at: crate::people::now().1,
    };
    match state
        .inner
        .store
        .save_search(&session.user.tenant, &search)
        .await
    {
        Ok(true) => super::session::see_other(&format!("/ui/search?{}", search.query), None),
        Ok(false) => super::notice(
            StatusCode::CONFLICT,
            "Too many saved searches",
            "You have 50 saved searches; delete one first.",
        ),
        Err(e) => page_error(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /ui/searches/{id}/delete`: deletes one of my saved searches.
pub(crate) async fn delete_search(
    State(state): State<AppState>,
    session: UiSession,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<DeleteForm>,
) -> Response {
    if let Err(e) = session.check_form(&state, &headers, &f.csrf) {
        return page_error(e);
    }
    match state
        .inner
        .store
        .delete_saved_search(&session.user.tenant, &session.user.id, &id)
        .await
    {
        Ok(true) => super::session::see_other("/ui/search", None),
        Ok(false) => page_error(ApiError::NotFound),
        Err(e) => page_error(e.into()),
    }
}
