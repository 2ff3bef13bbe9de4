//! The tenant's settings page (tenant admins: [`Action::ManageSettings`]): links from a subject to
//! its business record, the origins allowed to embed the viewer, and the event types viewers see;
//! and a viewer link minted for trying the embedded view ([`Action::MintViewerTokens`]).
//!
//! Settings are checked whole (`TenantSettings::check`) and committed with their
//! `audit_log.settings_changed` event (what changed, and the new settings).

use super::session::{see_other, ClientAddr, UiSession};
use super::{page_error, render, Chrome};
use crate::error::ApiError;
use crate::people::{commit, now, Record};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use sealbook_domain::{Action, TenantSettings};
use sealbook_store::PeopleEffect;
use serde_json::json;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    record_links: String,
    frame_ancestors: String,
    viewer_types: String,
    error: Option<String>,
    notice: Option<&'static str>,
    may_mint: bool,
    minted: Option<(String, String)>,
}

fn lines(v: &[String]) -> String {
    v.join("\n")
}

fn as_form(s: &TenantSettings) -> (String, String, String) {
    (
        s.record_links
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join("\n"),
        lines(&s.frame_ancestors),
        lines(&s.viewer_types),
    )
}

async fn show(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    form: Option<(String, String, String)>,
    error: Option<String>,
    notice: Option<&'static str>,
    minted: Option<(String, String)>,
) -> Response {
    let form = match form {
        Some(f) => f,
        None => match state.inner.store.settings(session.tenant()).await {
            Ok(s) => as_form(&s.unwrap_or_default()),
            Err(e) => return page_error(e.into()),
        },
    };
    render(
        status,
        &SettingsPage {
            chrome: Chrome::new(state, session, "/ui/settings"),
            record_links: form.0,
            frame_ancestors: form.1,
            viewer_types: form.2,
            error,
            notice,
            may_mint: session.may(Action::MintViewerTokens),
            minted,
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct SettingsQuery {
    notice: Option<String>,
}

/// `GET /ui/settings`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: UiSession,
    Query(q): Query<SettingsQuery>,
) -> Response {
    if let Err(e) = session.require(Action::ManageSettings) {
        return page_error(e);
    }
    let notice = (q.notice.as_deref() == Some("saved")).then_some("Settings saved.");
    show(&state, &session, StatusCode::OK, None, None, notice, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    record_links: String,
    frame_ancestors: String,
    viewer_types: String,
}

fn non_empty_lines(s: &str) -> impl Iterator<Item = &str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The settings a form describes, or which line is wrong.
fn parse(f: &SettingsForm) -> Result<TenantSettings, String> {
    let mut s = TenantSettings::default();
    for line in non_empty_lines(&f.record_links) {
        let Some((ty, template)) = line.split_once('=') else {
            return Err(format!(
                "Record links: {line:?} is not \"subject type = URL template\""
            ));
        };
        s.record_links
            .insert(ty.trim().to_owned(), template.trim().to_owned());
    }
    s.frame_ancestors = non_empty_lines(&f.frame_ancestors)
        .map(str::to_owned)
        .collect();
    s.viewer_types = non_empty_lines(&f.viewer_types)
        .map(str::to_owned)
        .collect();
    s.check().map_err(|e| e.to_string())?;
    Ok(s)
}

/// Replaces the tenant's settings with `new`, recorded as `audit_log.settings_changed` (which
/// settings changed, and the new ones without secrets: `TenantSettings::for_record`). Shared by
/// this page and single sign-on's (`super::sso`).
pub(crate) async fn commit_settings(
    state: &AppState,
    session: &UiSession,
    client: Option<std::net::IpAddr>,
    changed: &[&str],
    new: TenantSettings,
) -> Result<(), ApiError> {
    let (_, at) = now();
    commit(
        state,
        session.tenant(),
        Record {
            event_type: "audit_log.settings_changed",
            actor: session.actor(),
            subject: json!({"type": "tenant", "id": session.tenant().as_str()}),
            data: json!({"changed": changed, "settings": new.for_record()}),
            ip: client,
        },
        Some(PeopleEffect::SetSettings { settings: new, at }),
    )
    .await
    .map(|_| ())
}

/// `POST /ui/settings`.
pub(crate) async fn save(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<SettingsForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| session.require(Action::ManageSettings))
    {
        return page_error(e);
    }
    let new = match parse(&f) {
        Ok(s) => s,
        Err(problem) => {
            let form = (f.record_links, f.frame_ancestors, f.viewer_types);
            return show(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                Some(problem),
                None,
                None,
            )
            .await;
        }
    };
    let old = match state.inner.store.settings(session.tenant()).await {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return page_error(e.into()),
    };
    // Single sign-on has its own page (`super::sso`); this form leaves it as it is.
    let new = TenantSettings {
        sso: old.sso.clone(),
        ..new
    };
    let mut changed = Vec::new();
    if old.record_links != new.record_links {
        changed.push("record_links");
    }
    if old.frame_ancestors != new.frame_ancestors {
        changed.push("frame_ancestors");
    }
    if old.viewer_types != new.viewer_types {
        changed.push("viewer_types");
    }
    if changed.is_empty() {
        return see_other("/ui/settings?notice=saved", None);
    }
    let done = commit_settings(&state, &session, client, &changed, new).await;
    match done {
        Ok(_) => see_other("/ui/settings?notice=saved", None),
        Err(e) => page_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct MintForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    type_prefix: String,
}

/// `POST /ui/settings/viewer-link`: a 15-minute viewer link, to try the embedded view.
pub(crate) async fn viewer_link(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Form(f): Form<MintForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| session.require(Action::MintViewerTokens))
    {
        return page_error(e);
    }
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let req = crate::viewer::ViewerTokenRequest::new(
        opt(&f.actor),
        opt(&f.subject),
        opt(&f.type_prefix),
        None,
    );
    match crate::viewer::mint_for(&state, session.tenant(), &req) {
        Ok(t) => {
            let minted = Some((t.url().to_owned(), t.expires_at().to_owned()));
            show(&state, &session, StatusCode::OK, None, None, None, minted).await
        }
        Err(ApiError::Invalid(problems)) => {
            let words = problems
                .iter()
                .map(|p| format!("{}: {}", p.path.trim_start_matches('/'), p.problem))
                .collect::<Vec<_>>()
                .join("; ");
            show(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(words),
                None,
                None,
            )
            .await
        }
        Err(e) => page_error(e),
    }
}
