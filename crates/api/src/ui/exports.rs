//! "My exports": the exports a person started on this node in the last ten minutes, with how
//! many of their events have been sent (`export::Progress`), so a large export shows its
//! progress while the browser saves it. Refreshes itself while one runs (no script needed).
//! A person sees their own exports in the current tenant only.

use super::session::UiSession;
use super::{page_error, render, Chrome};
use crate::export::{progress_of, Outcome};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use sealbook_domain::Action;
use std::sync::atomic::Ordering;

struct Row {
    /// The export's audit event (`audit_log.exported`).
    record: String,
    started_at: String,
    format: &'static str,
    filters: String,
    sent: u64,
    total: u64,
    /// `max` of the progress bar: at least 1, so an empty export shows as complete.
    total_for_bar: u64,
    state: &'static str,
    badge: &'static str,
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    running: bool,
}

/// `GET /ui/exports`.
pub(crate) async fn exports(State(state): State<AppState>, session: UiSession) -> Response {
    if let Err(e) = session.require(Action::ExportEvents) {
        return page_error(e);
    }
    let rows: Vec<Row> = progress_of(&state, session.tenant(), &session.user.id)
        .iter()
        .map(|p| {
            let outcome = p.outcome();
            let sent = p.sent.load(Ordering::Relaxed);
            let (state, badge) = match outcome {
                Outcome::Running => ("Running", "warn"),
                Outcome::Finished => ("Done", "ok"),
                Outcome::Stopped => ("Stopped: the download was cancelled", "bad"),
                Outcome::Failed => ("Failed: the file is incomplete", "bad"),
            };
            Row {
                record: p.id.clone(),
                started_at: p.started_at.clone(),
                format: if p.format == "csv" {
                    "CSV"
                } else {
                    "Verifiable JSON lines"
                },
                filters: p.filters.clone(),
                sent,
                total: p.total,
                total_for_bar: p.total.max(1),
                state,
                badge,
            }
        })
        .collect();
    let running = rows.iter().any(|r| r.state == "Running");
    render(
        StatusCode::OK,
        &ExportsPage {
            chrome: Chrome::new(&state, &session, "/ui/exports"),
            rows,
            running,
        },
    )
}
