//! Exports: `GET /v1/exports/events?format=jsonl|csv` streams the events a search selects, page
//! by page, never holding the whole result.
//!
//! `format=csv` is for spreadsheets (`sealbook_domain::csv`: RFC 4180, stable columns, formula
//! starts neutralised, an optional BOM): each row is the event as the requester may read it, with
//! its index and leaf hash, and no proof. The default, `format=jsonl`, is verifiable. Its file is
//! JSON lines: a header (tenant, filters, the checkpoint size the export is pinned
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
use sealbook_domain::{csv, Action, Cursor, EventFilter, FilterError, Grant, TenantId};
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

/// Export events as verifiable JSON lines, or as CSV for spreadsheets. The filters are the search's and are recorded in the
/// export's audit event before anything is sent, so each value must be at most 256 characters
/// without control characters, with at most 8 `ref`: 400 otherwise. A tenant runs at most
/// `export_concurrency_per_tenant` exports at once per node: 429 with `Retry-After` beyond.
#[utoipa::path(get, path = "/v1/exports/events", tag = "events", security(("tenant_key" = ["events:export"])),
    params(
        ("format" = Option<crate::schema::ExportFormat>, Query, description = "`jsonl` (the default: verifiable JSON lines with salts, a trailer and a batch proof) or `csv` (RFC 4180 for spreadsheets: one row per event, formula starts neutralised)"),
        ("bom" = Option<bool>, Query, description = "with `format=csv`: start the file with a UTF-8 byte order mark, for Excel (ignored for `jsonl`)"),
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
    responses((status = 200, description = "jsonl: header line, one line per event (newest first), trailer with the signed checkpoint and a batch proof; csv: a header row and one row per event (newest first)", content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 500, response = crate::schema::IntegrityFailure), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    key: TenantKey,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    key.require(Action::ExportEvents)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::Malformed(format!("query string: {}", e.body_text())))?;
    let actor = json!({"type": "api_key", "id": key.0.id, "name": key.0.name});
    start(
        state,
        &key.grant(),
        actor,
        key.tenant().clone(),
        pairs,
        None,
    )
    .await
}

/// What an export's file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Verifiable JSON lines, with salts, a trailer and a batch proof.
    Jsonl,
    /// RFC 4180 CSV for spreadsheets (`sealbook_domain::csv`), optionally with a UTF-8 BOM.
    Csv {
        /// Starts the file with a byte order mark, for Excel.
        bom: bool,
    },
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv { .. } => "csv",
        }
    }
}

/// Splits an export's query into its format and its search filters; refuses what an export
/// does not take.
fn parse_query(pairs: Vec<(String, String)>) -> Result<(Format, Vec<(String, String)>), ApiError> {
    let mut format = None;
    let mut bom = None;
    let mut filters = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "format" if format.is_some() => {
                return Err(ApiError::OutOfRange {
                    param: "format",
                    detail: "give format once".into(),
                })
            }
            "format" => match v.as_str() {
                "jsonl" | "csv" => format = Some(v),
                _ => {
                    return Err(ApiError::OutOfRange {
                        param: "format",
                        detail: "format must be jsonl or csv".into(),
                    })
                }
            },
            "bom" => match v.as_str() {
                "true" => bom = Some(true),
                "false" => bom = Some(false),
                _ => {
                    return Err(ApiError::OutOfRange {
                        param: "bom",
                        detail: "bom must be true or false".into(),
                    })
                }
            },
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
    // A BOM only means something at the start of a CSV file; a JSON lines file has none.
    let format = match format.as_deref() {
        Some("csv") => Format::Csv {
            bom: bom.unwrap_or(false),
        },
        _ => Format::Jsonl,
    };
    Ok((format, filters))
}

/// Starts an export for `grant` of `tenant`, recorded under `actor`: checks the grant and the
/// query, takes a slot (and, for a person, `person`'s one export at a time), pins a checkpoint,
/// records the audit event, and answers with the streaming file. Shared by the API and the UI.
pub(crate) async fn start(
    state: AppState,
    grant: &Grant,
    actor: Value,
    tenant: TenantId,
    pairs: Vec<(String, String)>,
    person: Option<String>,
) -> Result<Response, ApiError> {
    grant.require(Action::ExportEvents)?;
    let (format, filters) = parse_query(pairs)?;
    let person_id = person.clone();
    let one = match person {
        Some(p) => Some(OneAtATime::take(&state, p)?),
        None => None,
    };
    // A verifiable export carries every personal value with its salt: the bundle right.
    if format == Format::Jsonl {
        grant.require(Action::ReadPersonalBundles)?;
    }
    let mut filter = EventFilter::from_query(&filters, &state.search_key(&tenant))?;
    filter.limit = PAGE;
    recordable(&filters)?;
    let permit = slot(&state, &tenant)?;
    // Pin the export to a checkpoint signed now (if the log grew), so the trailer can prove every
    // line against it (and a CSV holds exactly what its audit event counted).
    let checkpoint = state.inner.log.sign_now(&tenant).await?;
    let size = checkpoint.size;
    // Fail closed: the record, with how many events the export holds, is durable before the first
    // byte leaves. A failure here is the export's answer, and nothing has been sent. Counting
    // reads the selection once more than streaming it would; an export is rare and audited, and
    // its record is then exact.
    let count = count(&state, &tenant, &filter, size).await?;
    let audit = record(&state, actor, &tenant, &filters, format, count, size).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let catalogs = state.catalogs(&tenant).await?;
    let progress = Arc::new(Progress {
        id: audit.id.clone(),
        tenant: tenant.clone(),
        person: person_id,
        format: format.name(),
        filters: filters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        started_at: crate::people::now().1,
        total: count,
        sent: Default::default(),
        state: Default::default(),
        complete: Default::default(),
        ended: Default::default(),
    });
    // Only people see their exports' progress; a key's export is not listed.
    if progress.person.is_some() {
        track(&state, progress.clone());
    }
    let delivered = Delivered(progress.clone());
    let job = Job {
        progress,
        state,
        tenant,
        filters,
        note: checkpoint.note,
        size,
        audit,
        _permit: permit,
        _one: one,
    };
    let (content_type, file) = match format {
        Format::Jsonl => ("application/x-ndjson", "sealbook-export.jsonl"),
        Format::Csv { .. } => ("text/csv; charset=utf-8", "sealbook-export.csv"),
    };
    match format {
        Format::Jsonl => tokio::spawn(job.produce(filter, tx)),
        Format::Csv { bom } => {
            tokio::spawn(job.produce_csv(filter, catalogs, grant.clone(), bom, tx))
        }
    };
    let body = Body::from_stream(futures_util::stream::unfold(
        (rx, delivered),
        |(mut rx, delivered)| async move {
            match rx.recv().await {
                Some(chunk) => Some((chunk, (rx, delivered))),
                None => {
                    // Everything queued has been taken: finished if the producer said it was
                    // done (a failure has ended the export already).
                    if delivered
                        .0
                        .complete
                        .load(std::sync::atomic::Ordering::Relaxed)
                    {
                        delivered.0.end(Outcome::Finished);
                    }
                    None
                }
            }
        },
    ));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            // How many events the file holds, known before the first byte: a client can show
            // its progress.
            (
                header::HeaderName::from_static("sealbook-export-events"),
                count.to_string(),
            ),
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
    Ok(state.inner.store.count(tenant, &filter).await?)
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

/// How far an export has come, for its progress on the Exports page (`ui/pages.rs`) and in
/// metrics. Kept per node while it runs and for [`PROGRESS_KEPT`] after, at most
/// [`MAX_PROGRESS`] at once (the oldest finished go first).
pub(crate) struct Progress {
    /// The export's audit event: its id names the export.
    pub(crate) id: String,
    pub(crate) tenant: TenantId,
    /// The person who started it (`None`: an API key).
    pub(crate) person: Option<String>,
    pub(crate) format: &'static str,
    /// The filters, as a query string.
    pub(crate) filters: String,
    pub(crate) started_at: String,
    /// Events the export holds (counted before the first byte).
    pub(crate) total: u64,
    /// Events sent so far.
    pub(crate) sent: std::sync::atomic::AtomicU64,
    /// 0 running, 1 finished, 2 stopped (the client went away), 3 failed.
    state: std::sync::atomic::AtomicU8,
    /// Set when the producer has queued everything.
    complete: std::sync::atomic::AtomicBool,
    ended: std::sync::Mutex<Option<std::time::Instant>>,
}

/// What became of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Running,
    Finished,
    Stopped,
    Failed,
}

impl Progress {
    pub(crate) fn outcome(&self) -> Outcome {
        match self.state.load(std::sync::atomic::Ordering::Relaxed) {
            0 => Outcome::Running,
            1 => Outcome::Finished,
            2 => Outcome::Stopped,
            _ => Outcome::Failed,
        }
    }

    fn end(&self, outcome: Outcome) {
        let code = match outcome {
            Outcome::Running => return,
            Outcome::Finished => 1,
            Outcome::Stopped => 2,
            Outcome::Failed => 3,
        };
        // The first end wins (a job that failed is not "stopped" when its sender then drops).
        let first = self
            .state
            .compare_exchange(
                0,
                code,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_ok();
        if first {
            *self
                .ended
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(std::time::Instant::now());
        }
    }

    /// The producer wrote its last chunk: the export is finished once the client has read it
    /// (see [`Delivered`]).
    fn produced(&self) {
        self.complete
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The response body's hold on an export's progress: the export is finished only when the
/// client has taken the last chunk, and stopped if the body is dropped before that (the client
/// went away with chunks still queued).
struct Delivered(Arc<Progress>);

impl Drop for Delivered {
    fn drop(&mut self) {
        self.0.end(Outcome::Stopped);
    }
}

/// Finished exports stay listed this long.
const PROGRESS_KEPT: std::time::Duration = std::time::Duration::from_secs(600);
/// At most this many exports are listed per node.
const MAX_PROGRESS: usize = 1000;

/// Registers an export's progress, dropping what has been finished long enough (or, full, the
/// oldest finished).
fn track(state: &AppState, p: Arc<Progress>) {
    let mut all = state
        .inner
        .export_progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ended_at = |p: &Progress| {
        *p.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    all.retain(|p| ended_at(p).is_none_or(|e| e.elapsed() < PROGRESS_KEPT));
    if all.len() >= MAX_PROGRESS {
        if let Some(oldest) = all
            .iter()
            .enumerate()
            .filter_map(|(i, p)| ended_at(p).map(|e| (i, e)))
            .min_by_key(|(_, e)| *e)
            .map(|(i, _)| i)
        {
            all.remove(oldest);
        }
    }
    // Running exports are bounded by the export slots, so the list stays bounded.
    all.push(p);
}

/// The exports `person` started in `tenant` on this node, newest first.
pub(crate) fn progress_of(state: &AppState, tenant: &TenantId, person: &str) -> Vec<Arc<Progress>> {
    let all = state
        .inner
        .export_progress
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.iter()
        .rev()
        .filter(|p| &p.tenant == tenant && p.person.as_deref() == Some(person))
        .cloned()
        .collect()
}

/// A running export: what its trailer needs, and its slot, released when it ends.
struct Job {
    state: AppState,
    tenant: TenantId,
    filters: Vec<(String, String)>,
    note: String,
    size: u64,
    audit: sealbook_store::Receipt,
    progress: Arc<Progress>,
    _permit: OwnedSemaphorePermit,
    _one: Option<OneAtATime>,
}

impl Drop for Job {
    fn drop(&mut self) {
        // A job that neither failed nor queued everything stopped early (the client went away);
        // one that queued everything is finished or stopped by its body ([`Delivered`]).
        if !self
            .progress
            .complete
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.progress.end(Outcome::Stopped);
        }
    }
}

/// A person's one running export on this node, released when the export ends.
struct OneAtATime {
    state: AppState,
    person: String,
}

impl OneAtATime {
    fn take(state: &AppState, person: String) -> Result<OneAtATime, ApiError> {
        let mut running = state
            .inner
            .exporters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !running.insert(person.clone()) {
            metrics::counter!("sealbook_exports_refused_total", "reason" => "one_per_person")
                .increment(1);
            return Err(ApiError::RateLimited {
                retry_after: RETRY_AFTER_SECS,
            });
        }
        Ok(OneAtATime {
            state: state.clone(),
            person,
        })
    }
}

impl Drop for OneAtATime {
    fn drop(&mut self) {
        self.state
            .inner
            .exporters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.person);
    }
}

/// Sending stopped: the client went away, or accepted nothing for the idle timeout.
struct Stopped;

/// The pages of an export, newest first, each read while the one before it is being written:
/// the store's read and the rendering of rows run side by side, so an export goes at the pace of
/// the slower of the two rather than of their sum. At most one page is read ahead.
struct Pages {
    store: std::sync::Arc<dyn sealbook_store::Store>,
    tenant: TenantId,
    filter: EventFilter,
    ahead: Option<
        tokio::task::JoinHandle<
            Result<Vec<sealbook_store::StoredEvent>, sealbook_store::StoreError>,
        >,
    >,
}

impl Pages {
    /// The pages of `filter` below index `size`.
    fn new(state: &AppState, tenant: &TenantId, mut filter: EventFilter, size: u64) -> Pages {
        filter.cursor = Some(Cursor(size));
        let mut pages = Pages {
            store: state.inner.store.clone(),
            tenant: tenant.clone(),
            filter,
            ahead: None,
        };
        pages.read_ahead();
        pages
    }

    fn read_ahead(&mut self) {
        let (store, tenant, filter) =
            (self.store.clone(), self.tenant.clone(), self.filter.clone());
        self.ahead = Some(tokio::spawn(
            async move { store.query(&tenant, &filter).await },
        ));
    }

    /// The next page; `Ok(None)` after the last.
    async fn next(&mut self) -> Result<Option<Vec<sealbook_store::StoredEvent>>, String> {
        let Some(ahead) = self.ahead.take() else {
            return Ok(None);
        };
        let page = match ahead.await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(format!("the page's read stopped: {e}")),
        };
        let Some(last) = page.last() else {
            return Ok(None);
        };
        // A short page is the last: the store fills a page unless the selection ends.
        if page.len() >= self.filter.limit {
            self.filter.cursor = Some(Cursor(last.index));
            self.read_ahead();
        }
        Ok(Some(page))
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // An export that stopped early reads nothing more.
        if let Some(a) = self.ahead.take() {
            a.abort();
        }
    }
}

/// How many pages are rendered at once, each on a blocking thread: an export's rows are most of
/// its work, and pages are read one after the other (each starts where the last ended).
const RENDERING: usize = 2;

/// The pages of an export rendered by `render` on blocking threads, [`RENDERING`] at a time while
/// the next page is read, handed out in order: an export uses the cores it finds free instead of
/// one. At most [`RENDERING`] rendered pages and one read page are held: memory stays flat.
struct Rendered<R> {
    pages: Pages,
    render: Arc<dyn Fn(Vec<sealbook_store::StoredEvent>) -> R + Send + Sync>,
    busy: std::collections::VecDeque<tokio::task::JoinHandle<R>>,
    failed: Option<String>,
}

impl<R: Send + 'static> Rendered<R> {
    fn new(
        pages: Pages,
        render: impl Fn(Vec<sealbook_store::StoredEvent>) -> R + Send + Sync + 'static,
    ) -> Rendered<R> {
        Rendered {
            pages,
            render: Arc::new(render),
            busy: Default::default(),
            failed: None,
        }
    }

    /// The next rendered page; `Ok(None)` after the last. A failed read is reported after the
    /// pages read before it.
    async fn next(&mut self) -> Result<Option<R>, String> {
        while self.busy.len() < RENDERING && self.failed.is_none() {
            match self.pages.next().await {
                Ok(Some(page)) => {
                    let render = self.render.clone();
                    self.busy
                        .push_back(tokio::task::spawn_blocking(move || render(page)));
                }
                Ok(None) => break,
                Err(e) => self.failed = Some(e),
            }
        }
        match self.busy.pop_front() {
            Some(rendering) => rendering
                .await
                .map(Some)
                .map_err(|e| format!("a page's rendering stopped: {e}")),
            None => self.failed.take().map_or(Ok(None), Err),
        }
    }
}

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
    async fn produce(self, filter: EventFilter, tx: Tx) {
        let header = json!({
            "sealbook_export": 1,
            "format": "jsonl",
            "tenant": self.tenant.as_str(),
            "filters": filters_json(&self.filters),
            "checkpoint_size": self.size,
        });
        if self.send(&tx, line(&header)).await.is_err() {
            return;
        }
        let mut indexes: Vec<u64> = Vec::new();
        let pages = Pages::new(&self.state, &self.tenant, filter, self.size);
        let mut pages = Rendered::new(pages, |page: Vec<sealbook_store::StoredEvent>| {
            let mut chunk = Vec::with_capacity(page.len() * 1024);
            let mut indexes = Vec::with_capacity(page.len());
            for e in &page {
                let l = export_line(&e.leaf, &e.personal, e.index, &e.leaf_hash.to_hex());
                serde_json::to_writer(&mut chunk, &l).expect("JSON values serialize");
                chunk.push(b'\n');
                indexes.push(e.index);
            }
            (Bytes::from(chunk), indexes)
        });
        loop {
            let (chunk, page) = match pages.next().await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, error = %e, "export failed midway");
                    self.progress.end(Outcome::Failed);
                    let _ = self
                        .send(&tx, line(&json!({"error": "the export failed midway; it is incomplete and has no trailer"})))
                        .await;
                    return;
                }
            };
            let n = page.len();
            indexes.extend(page);
            if self.send(&tx, chunk).await.is_err() {
                return;
            }
            self.progress
                .sent
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        let trailer = match self.trailer(indexes).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(tenant = %self.tenant, error = %e, "export trailer failed");
                self.progress.end(Outcome::Failed);
                json!({"error": "the export's proof or claims could not be made; it has no trailer"})
            }
        };
        if self.send(&tx, line(&trailer)).await.is_ok() {
            self.progress.produced();
        }
    }

    /// Streams the CSV export into `tx`: the header row, then one row per event as `grant` may
    /// read it (`events::reader_view`). A failure midway ends the file with a row saying so, in
    /// the `type` column, so a spreadsheet user sees that the file is incomplete.
    async fn produce_csv(
        self,
        filter: EventFilter,
        catalogs: crate::catalog_cache::Catalogs,
        grant: Grant,
        bom: bool,
        tx: Tx,
    ) {
        let mut head = String::new();
        if bom {
            head.push_str(csv::BOM);
        }
        head.push_str(&csv::header());
        if self.send(&tx, Bytes::from(head)).await.is_err() {
            return;
        }
        let pages = Pages::new(&self.state, &self.tenant, filter, self.size);
        let mut pages = Rendered::new(pages, move |page: Vec<sealbook_store::StoredEvent>| {
            let mut chunk = String::with_capacity(page.len() * 512);
            for e in &page {
                let v = crate::events::reader_view(&catalogs, e, &grant);
                csv::row_into(&mut chunk, &v, v.get("label").and_then(Value::as_str));
            }
            (Bytes::from(chunk), page.len())
        });
        loop {
            let (chunk, n) = match pages.next().await {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, error = %e, "export failed midway");
                    self.progress.end(Outcome::Failed);
                    let failed =
                        json!({"type": "ERROR: the export failed midway; this file is incomplete"});
                    let _ = self.send(&tx, Bytes::from(csv::row(&failed, None))).await;
                    return;
                }
            };
            if self.send(&tx, chunk).await.is_err() {
                return;
            }
            self.progress
                .sent
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.progress.produced();
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
    actor: Value,
    tenant: &TenantId,
    filters: Value,
    format: Format,
    count: u64,
    size: u64,
    now: time::OffsetDateTime,
) -> Value {
    json!({
        "type": "audit_log.exported",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": actor,
        "subject": {"type": "audit_log", "id": tenant.as_str()},
        "data": {
            "format": format.name(),
            "filters": filters,
            "count": count,
            "checkpoint_size": size,
        },
    })
}

/// Appends and commits the export's `audit_log.exported` event; returns its receipt.
async fn record(
    state: &AppState,
    actor: Value,
    tenant: &TenantId,
    filters: &[(String, String)],
    format: Format,
    count: u64,
    size: u64,
) -> Result<sealbook_store::Receipt, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let filters = crate::audit::recorded_filters(&state.redaction_key(tenant), filters);
    let event = audit_event(actor, tenant, filters, format, count, size, now);
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
    use sealbook_domain::Scope;
    use sealbook_store::KeyRecord;

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
        let actor = json!({"type": "api_key", "id": k.id, "name": k.name});
        let event = audit_event(
            actor,
            &t,
            filters,
            Format::Csv { bom: true },
            WIDEST,
            WIDEST,
            now,
        );
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
