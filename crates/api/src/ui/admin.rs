//! Administration pages: people and roles (invite, change a role, deactivate), the tenant's API
//! keys (create with the secret shown once, revoke), and my account (my sessions, sign out of one).
//!
//! Every change is a form post checked for origin and CSRF, allowed by the person's role through
//! the one matrix, and committed with its audit event (`user.invited`, `user.role_assigned`,
//! `user.deactivated`, `api_key.created`, `api_key.revoked`, `user.session_revoked`). A tenant
//! always keeps one active tenant admin: the last one cannot be demoted or deactivated (checked
//! here before the change; two admins demoting each other at the same instant could both pass).

use super::session::{see_other, ClientAddr, UiSession};
use super::{page_error, render, Chrome};
use crate::error::ApiError;
use crate::people::{commit, now, subject, Record};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use sealbook_domain::{Action, Role, Scope};
use sealbook_store::{KeyRecord, PeopleEffect, Session, User};
use serde_json::json;

fn checked(
    state: &AppState,
    session: &UiSession,
    headers: &HeaderMap,
    csrf: &str,
    action: Action,
) -> Result<(), ApiError> {
    session.check_form(state, headers, csrf)?;
    session.require(action)
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    chrome: Chrome,
    people: Vec<User>,
    roles: Vec<(&'static str, &'static str)>,
    me: String,
    invited: Option<(String, String)>,
    error: Option<String>,
}

fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .into_iter()
        .filter(|r| r.is_tenant_role())
        .map(|r| (r.as_str(), r.label()))
        .collect()
}

async fn people_page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    invited: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let people = match state.inner.store.list_users(session.tenant()).await {
        Ok(p) => p,
        Err(e) => return page_error(e.into()),
    };
    render(
        status,
        &PeoplePage {
            chrome: Chrome::new(state, session, "/ui/people"),
            people,
            roles: roles(),
            me: session.user.id.clone(),
            invited,
            error,
        },
    )
}

/// `GET /ui/people`.
pub(crate) async fn people(State(state): State<AppState>, session: UiSession) -> Response {
    if let Err(e) = session.require(Action::ManagePeople) {
        return page_error(e);
    }
    people_page(&state, &session, StatusCode::OK, None, None).await
}

#[derive(serde::Deserialize)]
pub(crate) struct InviteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    email: String,
    name: String,
    role: String,
}

/// `POST /ui/people`: invites a person; the page shows their set-password link once.
pub(crate) async fn invite(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<InviteForm>,
) -> Response {
    if let Err(e) = checked(&state, &session, &headers, &f.csrf, Action::ManagePeople) {
        return page_error(e);
    }
    let email = f.email.trim();
    let name = f.name.trim();
    let role = match f.role.parse::<Role>() {
        Ok(r) if r.is_tenant_role() => r,
        _ => {
            return people_page(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some("Choose one of the roles.".into()),
            )
            .await
        }
    };
    if let Err((field, problem)) = crate::people::check_invite(email, name) {
        return people_page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(format!("{field}: {problem}")),
        )
        .await;
    }
    match crate::people::invite(
        &state,
        session.tenant(),
        session.actor(),
        email,
        name,
        role,
        client,
    )
    .await
    {
        Ok(invited) => {
            let link = crate::people::set_password_path(&invited.token);
            people_page(
                &state,
                &session,
                StatusCode::CREATED,
                Some((invited.user.email, link)),
                None,
            )
            .await
        }
        Err(ApiError::PeopleRefused(r)) => {
            people_page(
                &state,
                &session,
                StatusCode::CONFLICT,
                None,
                Some(format!("Not invited: {r}.")),
            )
            .await
        }
        Err(e) => page_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct RoleForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    role: String,
}

/// Whether `user` is the tenant's last active tenant admin.
pub(crate) async fn last_admin(state: &AppState, user: &User) -> Result<bool, ApiError> {
    if user.role != Role::TenantAdmin || user.disabled_at.is_some() {
        return Ok(false);
    }
    let admins = state
        .inner
        .store
        .list_users(&user.tenant)
        .await?
        .into_iter()
        .filter(|u| u.role == Role::TenantAdmin && u.disabled_at.is_none())
        .count();
    Ok(admins <= 1)
}

/// `POST /ui/people/{id}/role`.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    if let Err(e) = checked(&state, &session, &headers, &f.csrf, Action::ManagePeople) {
        return page_error(e);
    }
    let Ok(role) = f.role.parse::<Role>().map_err(|_| ()).and_then(|r| {
        if r.is_tenant_role() {
            Ok(r)
        } else {
            Err(())
        }
    }) else {
        return people_page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Choose one of the roles.".into()),
        )
        .await;
    };
    let user = match state.inner.store.user(session.tenant(), &id).await {
        Ok(Some(u)) => u,
        Ok(None) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(e.into()),
    };
    if role != Role::TenantAdmin {
        match last_admin(&state, &user).await {
            Ok(true) => return people_page(&state, &session, StatusCode::CONFLICT, None, Some("This is the tenant's last active tenant admin: make someone else tenant admin first.".into())).await,
            Ok(false) => {}
            Err(e) => return page_error(e),
        }
    }
    let done = commit(
        &state,
        session.tenant(),
        Record {
            event_type: "user.role_assigned",
            actor: session.actor(),
            subject: subject(&user),
            data: json!({"role": role.as_str(), "scope": "tenant"}),
            ip: client,
        },
        Some(PeopleEffect::SetRole {
            user_id: user.id.clone(),
            role,
        }),
    )
    .await;
    match done {
        Ok(_) => see_other("/ui/people", None),
        Err(e) => page_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(rename = "_csrf")]
    pub(crate) csrf: String,
}

/// `POST /ui/people/{id}/deactivate`: the person can no longer sign in; their sessions end.
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = checked(&state, &session, &headers, &f.csrf, Action::ManagePeople) {
        return page_error(e);
    }
    let user = match state.inner.store.user(session.tenant(), &id).await {
        Ok(Some(u)) => u,
        Ok(None) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(e.into()),
    };
    if user.id == session.user.id {
        return people_page(
            &state,
            &session,
            StatusCode::CONFLICT,
            None,
            Some("You cannot deactivate yourself.".into()),
        )
        .await;
    }
    match last_admin(&state, &user).await {
        Ok(true) => {
            return people_page(
                &state,
                &session,
                StatusCode::CONFLICT,
                None,
                Some("This is the tenant's last active tenant admin.".into()),
            )
            .await
        }
        Ok(false) => {}
        Err(e) => return page_error(e),
    }
    let (_, at) = now();
    let done = commit(
        &state,
        session.tenant(),
        Record {
            event_type: "user.deactivated",
            actor: session.actor(),
            subject: subject(&user),
            data: json!({}),
            ip: client,
        },
        Some(PeopleEffect::DisableUser {
            user_id: user.id.clone(),
            at,
        }),
    )
    .await;
    match done {
        Ok(_) => see_other("/ui/people", None),
        Err(e) => page_error(e),
    }
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyRecord>,
    scopes: Vec<&'static str>,
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn keys_page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let keys = match state.inner.store.list_keys(session.tenant()).await {
        Ok(k) => k,
        Err(e) => return page_error(e.into()),
    };
    render(
        status,
        &KeysPage {
            chrome: Chrome::new(state, session, "/ui/keys"),
            keys,
            scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            created,
            error,
        },
    )
}

/// `GET /ui/keys`.
pub(crate) async fn keys(State(state): State<AppState>, session: UiSession) -> Response {
    if let Err(e) = session.require(Action::ManageKeys) {
        return page_error(e);
    }
    keys_page(&state, &session, StatusCode::OK, None, None).await
}

/// `POST /ui/keys`: the form (`_csrf`, `name`, one `scope` per box ticked).
pub(crate) async fn create_key(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if let Err(e) = checked(
        &state,
        &session,
        &headers,
        field("_csrf"),
        Action::ManageKeys,
    ) {
        return page_error(e);
    }
    let name = field("name").trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return keys_page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Give the key a name of 1 to 200 printable characters.".into()),
        )
        .await;
    }
    let mut scopes = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "scope") {
        match v.parse::<Scope>() {
            Ok(s) if !scopes.contains(&s) => scopes.push(s),
            Ok(_) => {}
            Err(_) => {
                return keys_page(
                    &state,
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some("Unknown scope.".into()),
                )
                .await
            }
        }
    }
    if scopes.is_empty() {
        return keys_page(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("Tick at least one scope.".into()),
        )
        .await;
    }
    match crate::admin::new_key(&state, session.tenant(), &session.actor(), name, scopes).await {
        Ok((record, secret)) => {
            keys_page(
                &state,
                &session,
                StatusCode::CREATED,
                Some((record.name, secret)),
                None,
            )
            .await
        }
        Err(e) => page_error(e),
    }
}

/// `POST /ui/keys/{id}/revoke`.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = checked(&state, &session, &headers, &f.csrf, Action::ManageKeys) {
        return page_error(e);
    }
    let key = match state.inner.store.key(session.tenant(), &id).await {
        Ok(Some(k)) if k.revoked_at.is_none() => k,
        Ok(_) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(e.into()),
    };
    match crate::admin::revoke(&state, session.tenant(), &session.actor(), &key).await {
        Ok(_) => see_other("/ui/keys", None),
        Err(e) => page_error(e),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    user: User,
    sessions: Vec<(Session, bool)>,
    notice: Option<&'static str>,
}

#[derive(serde::Deserialize)]
pub(crate) struct AccountQuery {
    notice: Option<String>,
}

/// `GET /ui/account`: who I am, my role, my sessions.
pub(crate) async fn account(
    State(state): State<AppState>,
    session: UiSession,
    axum::extract::Query(q): axum::extract::Query<AccountQuery>,
) -> Response {
    let sessions = match state
        .inner
        .store
        .list_sessions(&session.user.tenant, &session.user.id)
        .await
    {
        Ok(s) => s,
        Err(e) => return page_error(e.into()),
    };
    let (now, _) = now();
    let live = |s: &Session| {
        s.revoked_at.is_none() && crate::people::parse_time(&s.expires_at).is_some_and(|t| t > now)
    };
    let sessions = sessions
        .into_iter()
        .filter(live)
        .map(|s| {
            let current = s.id == session.session.id;
            (s, current)
        })
        .collect();
    render(
        StatusCode::OK,
        &AccountPage {
            chrome: Chrome::new(&state, &session, "/ui/account"),
            user: session.user.clone(),
            sessions,
            notice: match q.notice.as_deref() {
                Some("totp_on") => {
                    Some("Two-step sign-in is on: from now on, signing in asks for a code.")
                }
                Some("totp_off") => Some("Two-step sign-in is off."),
                Some("totp_code_wrong") => Some(
                    "That code was not right (or was used already); two-step sign-in is still on.",
                ),
                Some("totp_already") => Some("Two-step sign-in is on already. To move it to another device, turn it off with a code from the current one, then set it up again."),
                _ => None,
            },
        },
    )
}

/// `POST /ui/account/sessions/{id}/revoke`: ends one of my sessions.
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = session.check_form(&state, &headers, &f.csrf) {
        return page_error(e);
    }
    let (_, at) = now();
    let done = commit(
        &state,
        &session.user.tenant,
        Record {
            event_type: "user.session_revoked",
            actor: session.actor(),
            subject: subject(&session.user),
            data: json!({"session": id}),
            ip: client,
        },
        Some(PeopleEffect::RevokeSession {
            session_id: id.clone(),
            user_id: Some(session.user.id.clone()),
            at,
        }),
    )
    .await;
    match done {
        Ok(_) => see_other("/ui/account", None),
        Err(e) => page_error(e),
    }
}
