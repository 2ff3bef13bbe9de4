//! Signing in and out, and setting a password through a one-time link.
//!
//! Sign-in answers alike for an unknown organisation, an unknown e-mail address, a deactivated
//! person and a wrong password ("wrong organisation, e-mail address or password"), and takes as
//! long (a dummy argon2id verification). Failed attempts are budgeted per account and per client
//! address (`UiConfig`): beyond, 429 with `Retry-After` before any password is checked. Each
//! attempt is an event in the tenant's log (`user.login_succeeded`, `user.login_failed`), as are
//! sign-out (`user.logout`) and a password set (`user.password_changed`); none ever holds the
//! password, the session id or the link's token.
//!
//! A person with a second factor gets no session for the right password alone: the answer is the
//! code page, carrying a signed five-minute token of the half-done sign-in (`crate::signed`), and
//! `POST /ui/login/totp` opens the session once a fresh code is right. Wrong and replayed codes
//! spend the same budgets as wrong passwords and are recorded (`bad_code`, `code_reused`).
//! Signing out also ends an operator's access to a tenant (`super::operator`).

use super::render;
use super::session::{
    clear_cookie, new_session_value, safe_next, same_origin, see_other, set_cookie, ClientAddr,
    UiSession,
};
use crate::error::ApiError;
use crate::people::{commit, now, parse_time, Record};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use sealbook_domain::TenantId;
use sealbook_store::{PeopleEffect, Session};
use serde_json::json;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    tenant: String,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    tenant: Option<String>,
    notice: Option<String>,
}

/// `GET /ui/login`.
pub(crate) async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            tenant: q.tenant.unwrap_or_default(),
            email: String::new(),
            next: safe_next(q.next.as_deref()),
            error: None,
            notice: match q.notice.as_deref() {
                Some("password_set") => Some("Your password is set. Sign in with it.".into()),
                Some("signed_out") => Some("You are signed out.".into()),
                Some("too_slow") => Some("Your sign-in took too long. Sign in again.".into()),
                Some("sso_again") => Some(
                    "Single sign-on could not be completed: it took longer than ten minutes, or was started in another browser. Start again.".into(),
                ),
                Some("access_ended") => {
                    Some("Your access to the tenant has ended, and you are signed out.".into())
                }
                _ => None,
            },
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    tenant: String,
    email: String,
    password: String,
    next: Option<String>,
}

/// The sign-in page with an error, for an organisation (single sign-on's failures land here).
pub(crate) fn login_page(status: StatusCode, tenant: &str, next: &str, error: &str) -> Response {
    render(
        status,
        &LoginPage {
            tenant: tenant.to_owned(),
            email: String::new(),
            next: next.to_owned(),
            error: Some(error.to_owned()),
            notice: None,
        },
    )
}

/// `POST /ui/login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return super::page_error(ApiError::Malformed(
            "this form must be sent from Sealbook's own sign-in page".into(),
        ));
    }
    let ip = client;
    let email = f.email.trim().to_lowercase();
    let next = safe_next(f.next.as_deref());
    let again = |status: StatusCode, error: &str| {
        render(
            status,
            &LoginPage {
                tenant: f.tenant.clone(),
                email: email.clone(),
                next: next.clone(),
                error: Some(error.to_owned()),
                notice: None,
            },
        )
    };
    let account_key = format!("{}/{}", f.tenant.trim(), email);
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    if let Err(retry_after) = budget_left(&state, Some(&account_key), &ip_key) {
        return too_many(
            again(StatusCode::TOO_MANY_REQUESTS, &too_many_words(retry_after)),
            retry_after,
        );
    }
    let tenant = TenantId::parse(f.tenant.trim()).ok();
    let result = attempt(&state, tenant.as_ref(), &email, &f.password).await;
    let user = match result {
        Ok(u) => u,
        Err(e) => return super::page_error(e),
    };
    let Some(user) = user else {
        spend(&state, Some(&account_key), &ip_key);
        // Recorded in the tenant's log when the tenant exists; never the address typed (it may
        // be a password typed in the wrong field) unless it names a person of the tenant.
        if let Some(t) = &tenant {
            let known = state
                .inner
                .store
                .user_by_email(t, &email)
                .await
                .ok()
                .flatten();
            let actor = match &known {
                Some(u) => crate::people::actor(u),
                None => json!({"type": "user", "id": "unknown"}),
            };
            let reason = if known.is_some() {
                "bad_credentials"
            } else {
                "unknown_account"
            };
            let recorded = commit(
                &state,
                t,
                Record {
                    event_type: "user.login_failed",
                    subject: actor.clone(),
                    actor,
                    data: json!({"method": "password", "failure_reason": reason}),
                    ip,
                },
                None,
            )
            .await;
            if let Err(ApiError::NotFound) = recorded {
                // No such tenant: nothing to record it in.
            } else if let Err(e) = recorded {
                return super::page_error(e);
            }
        }
        return again(
            StatusCode::UNAUTHORIZED,
            "Wrong organisation, e-mail address or password.",
        );
    };
    if !password_allowed(&state, &user).await {
        let recorded = commit(
            &state,
            &user.tenant,
            Record {
                event_type: "user.login_failed",
                actor: crate::people::actor(&user),
                subject: crate::people::subject(&user),
                data: json!({"method": "password", "failure_reason": "sso_required"}),
                ip,
            },
            None,
        )
        .await;
        if let Err(e) = recorded {
            return super::page_error(e);
        }
        return again(
            StatusCode::FORBIDDEN,
            "Your organisation signs in with single sign-on: use the button below.",
        );
    }
    if user.has_totp {
        let pending = crate::signed::make(
            &state.inner.keyring,
            PENDING,
            &json!({
                "exp": crate::totp::unix_now() + PENDING_SECONDS,
                "t": user.tenant.as_str(),
                "u": user.id,
                "next": next,
            }),
        );
        return render(
            StatusCode::OK,
            &TotpPage {
                pending,
                error: None,
            },
        );
    }
    open_session(&state, &user, &headers, ip, &next, Method::Password).await
}

/// Whether `user` may sign in with a password: always, unless the tenant's single sign-on says
/// only tenant admins may (their way back in when the provider fails).
async fn password_allowed(state: &AppState, user: &sealbook_store::User) -> bool {
    let sso = match state.inner.store.settings(&user.tenant).await {
        Ok(s) => s.and_then(|s| s.sso),
        // Unreadable settings must not lock people out of a store that answers people's rows.
        Err(_) => None,
    };
    sso.is_none_or(|s| s.passwords || user.role == sealbook_domain::Role::TenantAdmin)
}

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// A password alone.
    Password,
    /// A password and a TOTP code.
    PasswordTotp,
    /// Single sign-on through the tenant's OpenID provider.
    Sso,
}

/// The purpose of the token that carries a correct password to the second-factor step.
const PENDING: &[u8] = b"sealbook ui pending sign-in v1\0";
/// How long the second-factor step may take.
const PENDING_SECONDS: u64 = 300;

/// Whether the failed sign-in budgets of this account (if one is named) and address allow
/// another attempt; `Err(seconds)` until they do.
pub(crate) fn budget_left(
    state: &AppState,
    account_key: Option<&str>,
    ip_key: &str,
) -> Result<(), u64> {
    let lf = &state.inner.login_failures;
    lf.per_account
        .as_ref()
        .zip(account_key)
        .map(|(b, a)| b.check(a))
        .unwrap_or(Ok(()))
        .and(
            lf.per_ip
                .as_ref()
                .map(|b| b.check(ip_key))
                .unwrap_or(Ok(())),
        )
}

/// Spends one failed sign-in of this account (if one is named) and address.
pub(crate) fn spend(state: &AppState, account_key: Option<&str>, ip_key: &str) {
    let lf = &state.inner.login_failures;
    if let (Some(b), Some(a)) = (&lf.per_account, account_key) {
        b.spend(a);
    }
    if let Some(b) = &lf.per_ip {
        b.spend(ip_key);
    }
}

pub(crate) fn too_many_words(retry_after: u64) -> String {
    format!(
        "Too many failed sign-ins. Try again in {} minutes.",
        retry_after.div_ceil(60)
    )
}

/// `page` with `Retry-After`.
pub(crate) fn too_many(mut page: Response, retry_after: u64) -> Response {
    if let Ok(v) = retry_after.to_string().parse() {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    page
}

/// Opens a session for `user` (recorded as `user.login_succeeded`, with `extra` added to the
/// event's data) and sends them to `next`.
pub(crate) async fn open_session_with(
    state: &AppState,
    user: &sealbook_store::User,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    next: &str,
    method: Method,
    extra: serde_json::Value,
) -> Response {
    let (at, at_text) = now();
    let ui = &state.inner.config.ui;
    let (value, id_hash) = new_session_value();
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let session = Session {
        id: crate::people::new_id("ses"),
        user_id: user.id.clone(),
        tenant: user.tenant.clone(),
        method: match method {
            Method::Password => "password",
            Method::PasswordTotp => "password+totp",
            Method::Sso => "sso",
        }
        .into(),
        created_at: at_text.clone(),
        last_seen_at: at_text,
        expires_at: sealbook_domain::timestamp::format_utc(at + ui.session_lifetime, 6),
        ip: ip.map(|i| i.to_string()),
        user_agent,
        revoked_at: None,
    };
    let opened = commit(
        state,
        &user.tenant,
        Record {
            event_type: "user.login_succeeded",
            actor: crate::people::actor(user),
            subject: crate::people::subject(user),
            data: {
                let mut d = match method {
                    Method::Sso => json!({"method": "sso"}),
                    _ => json!({"method": "password", "mfa": method == Method::PasswordTotp}),
                };
                if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
                    d.extend(extra.clone());
                }
                d
            },
            ip,
        },
        Some(PeopleEffect::OpenSession { id_hash, session }),
    )
    .await;
    if let Err(e) = opened {
        return super::page_error(e);
    }
    let max_age = std::time::Duration::from_secs(ui.session_lifetime.whole_seconds().max(0) as u64);
    let landing = if user.role == sealbook_domain::Role::Operator && next == "/ui/search" {
        "/ui/operator"
    } else {
        next
    };
    see_other(landing, Some(set_cookie(&value, max_age)))
}

/// [`open_session_with`], nothing added.
async fn open_session(
    state: &AppState,
    user: &sealbook_store::User,
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
    next: &str,
    method: Method,
) -> Response {
    open_session_with(state, user, headers, ip, next, method, json!({})).await
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpPage {
    pending: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub(crate) struct TotpForm {
    pending: String,
    code: String,
}

/// `POST /ui/login/totp`: the second step of a sign-in whose password was right.
pub(crate) async fn login_totp(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<TotpForm>,
) -> Response {
    if !same_origin(&headers) {
        return super::page_error(ApiError::Malformed(
            "this form must be sent from Sealbook's own sign-in page".into(),
        ));
    }
    let start_again = || see_other("/ui/login?notice=too_slow", None);
    let now_unix = crate::totp::unix_now();
    let Some(p) = crate::signed::open(&state.inner.keyring, PENDING, &f.pending, now_unix) else {
        return start_again();
    };
    let (Some(t), Some(u), Some(next)) = (
        p["t"].as_str().and_then(|t| TenantId::parse(t).ok()),
        p["u"].as_str(),
        p["next"].as_str(),
    ) else {
        return start_again();
    };
    let store = &state.inner.store;
    let user = match store.user(&t, u).await {
        Ok(Some(u)) if u.disabled_at.is_none() => u,
        Ok(_) => return start_again(),
        Err(e) => return super::page_error(ApiError::from(e)),
    };
    let account_key = format!("{}/{}", t.as_str(), user.email);
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    let again = |status: StatusCode, error: String| {
        render(
            status,
            &TotpPage {
                pending: f.pending.clone(),
                error: Some(error),
            },
        )
    };
    if let Err(retry_after) = budget_left(&state, Some(&account_key), &ip_key) {
        return too_many(
            again(StatusCode::TOO_MANY_REQUESTS, too_many_words(retry_after)),
            retry_after,
        );
    }
    let sealed = match store.credentials(&t, &user.id).await {
        Ok(c) => c.and_then(|c| c.totp_sealed),
        Err(e) => return super::page_error(ApiError::from(e)),
    };
    let step = sealed
        .and_then(|s| state.inner.keyring.open(&t, user.id.as_bytes(), &s))
        .and_then(|key| crate::totp::matching_step(&key, &f.code, now_unix));
    let used = match step {
        Some(step) => match store.use_totp_step(&t, &user.id, step).await {
            Ok(fresh) => fresh,
            Err(e) => return super::page_error(ApiError::from(e)),
        },
        None => false,
    };
    if !used {
        spend(&state, Some(&account_key), &ip_key);
        let recorded = commit(
            &state,
            &t,
            Record {
                event_type: "user.login_failed",
                actor: crate::people::actor(&user),
                subject: crate::people::subject(&user),
                data: json!({"method": "totp", "failure_reason": if step.is_some() { "code_reused" } else { "bad_code" }}),
                ip,
            },
            None,
        )
        .await;
        if let Err(e) = recorded {
            return super::page_error(e);
        }
        return again(
            StatusCode::UNAUTHORIZED,
            "That code is not right, or was used already. Enter the current code from your authenticator app.".into(),
        );
    }
    open_session(
        &state,
        &user,
        &headers,
        ip,
        &safe_next(Some(next)),
        Method::PasswordTotp,
    )
    .await
}

/// The person whose credentials these are, or `None` (unknown tenant or person, deactivated, no
/// password yet, wrong password), always after one argon2id verification.
async fn attempt(
    state: &AppState,
    tenant: Option<&TenantId>,
    email: &str,
    password: &str,
) -> Result<Option<sealbook_store::User>, ApiError> {
    let store = &state.inner.store;
    let user = match tenant {
        Some(t) => store.user_by_email(t, email).await?,
        None => None,
    }
    .filter(|u| u.disabled_at.is_none());
    let stored = match &user {
        Some(u) => store
            .credentials(&u.tenant, &u.id)
            .await?
            .and_then(|c| c.password_hash),
        None => None,
    };
    let ok = crate::password::verify(password.to_owned(), stored).await;
    Ok(user.filter(|_| ok))
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /ui/logout`: revokes this session and removes its cookie.
pub(crate) async fn logout(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = session.check_form(&state, &headers, &f.csrf) {
        return super::page_error(e);
    }
    if let Some(g) = &session.access {
        if let Err(e) =
            super::operator::end(&state, g, super::operator::EndedBy::SignOut, client).await
        {
            return super::page_error(e);
        }
    }
    let (at, at_text) = now();
    let seconds = parse_time(&session.session.created_at)
        .map(|c| (at - c).whole_seconds().max(0))
        .unwrap_or(0);
    let done = commit(
        &state,
        &session.user.tenant,
        Record {
            event_type: "user.logout",
            actor: session.actor(),
            subject: crate::people::subject(&session.user),
            data: json!({"session_seconds": seconds}),
            ip: client,
        },
        Some(PeopleEffect::RevokeSession {
            session_id: session.session.id.clone(),
            user_id: Some(session.user.id.clone()),
            at: at_text,
        }),
    )
    .await;
    match done {
        Ok(_) | Err(ApiError::PeopleRefused(_)) => {
            let mut r = see_other("/ui/login?notice=signed_out", Some(clear_cookie()));
            if let Ok(v) = super::operator::clear_access_cookie().parse() {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => super::page_error(e),
    }
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    token: String,
    email: String,
    tenant: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// The person a set-password token is valid for now, or `None`.
async fn valid_token(
    state: &AppState,
    token: &str,
) -> Result<Option<(sealbook_store::User, [u8; 32])>, ApiError> {
    if token.len() != 43 {
        return Ok(None);
    }
    let hash = crate::secret::hash(token);
    let store = &state.inner.store;
    let Some(t) = store.password_token_by_hash(&hash).await? else {
        return Ok(None);
    };
    let (now, _) = now();
    if t.used_at.is_some() || parse_time(&t.expires_at).is_none_or(|e| e <= now) {
        return Ok(None);
    }
    Ok(store
        .user(&t.tenant, &t.user_id)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .map(|u| (u, hash)))
}

fn link_invalid() -> Response {
    super::notice(
        StatusCode::GONE,
        "Link not valid",
        "This set-password link was used already, has expired, or never existed. Ask your administrator for a new one.",
    )
}

/// `GET /ui/set-password?token=…`.
pub(crate) async fn set_password_form(
    State(state): State<AppState>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    match valid_token(&state, &token).await {
        Ok(Some((user, _))) => render(
            StatusCode::OK,
            &SetPasswordPage {
                token,
                email: user.email,
                tenant: user.tenant.to_string(),
                error: None,
            },
        ),
        Ok(None) => link_invalid(),
        Err(e) => super::page_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SetPasswordForm {
    token: String,
    password: String,
    confirm: String,
}

/// `POST /ui/set-password`: sets the password and consumes the link, in one transaction with
/// its `user.password_changed` event.
pub(crate) async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<SetPasswordForm>,
) -> Response {
    if !same_origin(&headers) {
        return super::page_error(ApiError::Malformed("cross-origin form post refused".into()));
    }
    let (user, hash) = match valid_token(&state, &f.token).await {
        Ok(Some(v)) => v,
        Ok(None) => return link_invalid(),
        Err(e) => return super::page_error(e),
    };
    let problem = if f.password != f.confirm {
        Some("The two passwords differ.")
    } else {
        crate::password::check_new(&f.password).err()
    };
    if let Some(p) = problem {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SetPasswordPage {
                token: f.token,
                email: user.email,
                tenant: user.tenant.to_string(),
                error: Some(p.to_owned()),
            },
        );
    }
    let phc = crate::password::hash(f.password).await;
    let (_, at) = now();
    let done = commit(
        &state,
        &user.tenant,
        Record {
            event_type: "user.password_changed",
            actor: crate::people::actor(&user),
            subject: crate::people::subject(&user),
            data: json!({"via": "link"}),
            ip: client,
        },
        Some(PeopleEffect::SetPassword {
            user_id: user.id.clone(),
            password_hash: phc,
            token_hash: Some(hash),
            at,
        }),
    )
    .await;
    match done {
        Ok(_) => see_other(
            &format!(
                "/ui/login?notice=password_set&tenant={}",
                user.tenant.as_str()
            ),
            None,
        ),
        Err(ApiError::PeopleRefused(_)) => link_invalid(),
        Err(e) => super::page_error(e),
    }
}

/// `GET /`: the UI's front door.
pub(crate) async fn root() -> Response {
    see_other("/ui/search", None).into_response()
}
