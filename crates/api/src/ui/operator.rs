//! Platform operators: the tenants page and the audited "access tenant T" step.
//!
//! An operator (a person of the platform tenant with the `operator` role) sees no tenant's events.
//! To look into tenant T they open an access: a reason, a ticket and a duration (at most
//! [`MAX_MINUTES`]). The access is stored in T and recorded in T's own log as
//! `operator.access_started`, committed together, so T's admins see who looked, why and until when.
//! While it lasts, the operator's pages read T with [`Grant::OperatorAccess`] (search, verify, the
//! catalog: read only, no export, no personal values), under a banner saying so. It ends with
//! `operator.access_ended`: when the operator ends it, signs out, or, at its time limit, at the
//! operator's next request or by the platform's sweep ([`AppState::end_lapsed_access`]),
//! whichever comes first; an ended access never reopens.
//!
//! Which access a session uses is named by the cookie `__Host-sealbook-access` (`T.acc_…`): not
//! a credential (the session cookie is), only a pointer that is checked on every request against
//! the stored access (same operator, not ended, not expired).

use super::admin::CsrfForm;
use super::session::{see_other, ClientAddr, UiSession};
use super::{page_error, render, Chrome};
use crate::error::ApiError;
use crate::people::{commit_with, now, parse_time, Record};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use sealbook_domain::{Action, Grant, TenantId};
use sealbook_store::{AccessGrant, PeopleEffect, Tenant, User};
use serde_json::json;

/// The cookie naming a session's current access.
pub(crate) const ACCESS_COOKIE: &str = "__Host-sealbook-access";
/// The longest access an operator may open.
pub(crate) const MAX_MINUTES: i64 = 240;
/// The durations offered.
const DURATIONS: [i64; 5] = [15, 30, 60, 120, 240];

fn access_cookie(headers: &HeaderMap) -> Option<(TenantId, String)> {
    let value = super::session::cookie_named(headers, ACCESS_COOKIE)?;
    let (t, id) = value.split_once('.')?;
    let ok_id = id.starts_with("acc_")
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok_id.then(|| Some((TenantId::parse(t).ok()?, id.to_owned())))?
}

fn set_access_cookie(g: &AccessGrant, minutes: i64) -> String {
    format!(
        "{ACCESS_COOKIE}={}.{}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        g.tenant.as_str(),
        g.id,
        minutes * 60
    )
}

/// The `Set-Cookie` value that removes the access cookie.
pub(crate) fn clear_access_cookie() -> String {
    format!("{ACCESS_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

/// How an access ended, as `operator.access_ended` records it.
#[derive(Clone, Copy)]
pub(crate) enum EndedBy {
    /// The operator ended it.
    Operator,
    /// The operator signed out.
    SignOut,
    /// Its time ran out.
    TimeLimit,
}

impl EndedBy {
    fn as_str(self) -> &'static str {
        match self {
            EndedBy::Operator => "operator",
            EndedBy::SignOut => "sign_out",
            EndedBy::TimeLimit => "time_limit",
        }
    }
}

fn operator_party(g: &AccessGrant) -> serde_json::Value {
    json!({"type": "user", "id": g.operator_id, "name": g.operator_email})
}

/// Ends `g` in its tenant with `operator.access_ended`; an access ended already is left alone.
pub(crate) async fn end(
    state: &AppState,
    g: &AccessGrant,
    by: EndedBy,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    let (_, at) = now();
    let actor = match by {
        EndedBy::TimeLimit => crate::people::operator_actor(),
        _ => operator_party(g),
    };
    let done = commit_with(
        state,
        &g.tenant,
        Record {
            event_type: "operator.access_ended",
            actor,
            subject: json!({"type": "tenant", "id": g.tenant.as_str()}),
            data: json!({"access": g.id, "ended_by": by.as_str()}),
            ip,
        },
        None,
        Some(PeopleEffect::EndAccess {
            grant_id: g.id.clone(),
            at,
        }),
    )
    .await;
    match done {
        Ok(_) | Err(ApiError::PeopleRefused(sealbook_store::EffectRefusal::UnknownAccess)) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The live access of operator `user`'s request, if its cookie names one; an access found past
/// its time limit is ended (recorded) on the way.
pub(crate) async fn current(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
) -> Result<Option<AccessGrant>, ApiError> {
    let Some((tenant, id)) = access_cookie(headers) else {
        return Ok(None);
    };
    let Some(g) = state.inner.store.access_grant(&tenant, &id).await? else {
        return Ok(None);
    };
    if g.operator_id != user.id || g.ended_at.is_some() {
        return Ok(None);
    }
    let (now, _) = now();
    if parse_time(&g.expires_at).is_none_or(|e| e <= now) {
        end(state, &g, EndedBy::TimeLimit, None).await?;
        return Ok(None);
    }
    Ok(Some(g))
}

impl AppState {
    /// Records the end of every access whose time ran out without an end (at most 100 a call);
    /// returns how many. The server calls it every 30 seconds.
    pub async fn end_lapsed_access(&self) -> Result<usize, ApiError> {
        let (_, now) = now();
        let lapsed = self.inner.store.lapsed_access_grants(&now, 100).await?;
        for g in &lapsed {
            end(self, g, EndedBy::TimeLimit, None).await?;
        }
        Ok(lapsed.len())
    }
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    chrome: Chrome,
    tenants: Vec<Tenant>,
    durations: Vec<i64>,
    current: Option<AccessGrant>,
    error: Option<String>,
}

/// Refuses unless the signed-in person's own role may open accesses (whatever access they hold).
fn operator_only(session: &UiSession) -> Result<(), ApiError> {
    Grant::Person(session.user.role)
        .require(Action::AccessTenants)
        .map_err(ApiError::from)?;
    if session.user.tenant.is_platform() {
        Ok(())
    } else {
        Err(ApiError::from(sealbook_domain::Denied(
            Action::AccessTenants,
        )))
    }
}

async fn page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let tenants = match state.inner.store.list_tenants().await {
        Ok(t) => t.into_iter().filter(|t| !t.id.is_platform()).collect(),
        Err(e) => return page_error(e.into()),
    };
    render(
        status,
        &OperatorPage {
            chrome: Chrome::new(state, session, "/ui/operator"),
            tenants,
            durations: DURATIONS.to_vec(),
            current: session.access.clone(),
            error,
        },
    )
}

/// `GET /ui/operator`: the tenants, and the form that opens an access to one.
pub(crate) async fn tenants(State(state): State<AppState>, session: UiSession) -> Response {
    if let Err(e) = operator_only(&session) {
        return page_error(e);
    }
    page(&state, &session, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct AccessForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    tenant: String,
    reason: String,
    ticket: String,
    minutes: i64,
}

/// `POST /ui/operator/access`: opens an access to a tenant, recorded in that tenant's log.
pub(crate) async fn start(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<AccessForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| operator_only(&session))
    {
        return page_error(e);
    }
    let reason = f.reason.trim();
    let ticket = f.ticket.trim();
    let problem = if reason.chars().count() < 10 || reason.chars().count() > 500 {
        Some("Give a reason of 10 to 500 characters: what you need to look at, and why.")
    } else if ticket.is_empty() || ticket.chars().count() > 100 {
        Some("Give the ticket this access answers (at most 100 characters).")
    } else if !(1..=MAX_MINUTES).contains(&f.minutes) {
        Some("Choose a duration of at most 4 hours.")
    } else if reason.chars().chain(ticket.chars()).any(char::is_control) {
        Some("The reason and the ticket may not hold control characters.")
    } else {
        None
    };
    if let Some(p) = problem {
        return page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(p.into()),
        )
        .await;
    }
    let tenant = match TenantId::parse(f.tenant.trim()) {
        Ok(t) if !t.is_platform() => t,
        _ => return page_error(ApiError::NotFound),
    };
    match state.inner.store.tenant(&tenant).await {
        Ok(Some(_)) => {}
        Ok(None) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(e.into()),
    }
    // One access at a time: opening another ends the current one.
    if let Some(g) = &session.access {
        if let Err(e) = end(&state, g, EndedBy::Operator, client).await {
            return page_error(e);
        }
    }
    let (at, at_text) = now();
    let expires_at =
        sealbook_domain::timestamp::format_utc(at + time::Duration::minutes(f.minutes), 6);
    let g = AccessGrant {
        id: crate::people::new_id("acc"),
        tenant: tenant.clone(),
        operator_id: session.user.id.clone(),
        operator_email: session.user.email.clone(),
        reason: reason.to_owned(),
        ticket: ticket.to_owned(),
        started_at: at_text,
        expires_at: expires_at.clone(),
        ended_at: None,
    };
    let done = commit_with(
        &state,
        &tenant,
        Record {
            event_type: "operator.access_started",
            actor: operator_party(&g),
            subject: json!({"type": "tenant", "id": tenant.as_str()}),
            data: json!({"access": g.id, "expires_at": expires_at, "minutes": f.minutes}),
            ip: client,
        },
        Some(json!({"code": "operator_access", "ticket": ticket, "note": reason})),
        Some(PeopleEffect::StartAccess(g.clone())),
    )
    .await;
    match done {
        Ok(_) => see_other("/ui/search", Some(set_access_cookie(&g, f.minutes))),
        Err(e) => page_error(e),
    }
}

/// `POST /ui/operator/access/end`: ends the current access.
pub(crate) async fn stop(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| operator_only(&session))
    {
        return page_error(e);
    }
    if let Some(g) = &session.access {
        if let Err(e) = end(&state, g, EndedBy::Operator, client).await {
            return page_error(e);
        }
    }
    see_other("/ui/operator", Some(clear_access_cookie()))
}
