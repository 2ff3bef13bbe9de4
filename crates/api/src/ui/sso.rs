//! Single sign-on: signing in through the tenant's OpenID provider, and the page where a tenant
//! admin sets it up ([`Action::ManageSettings`]).
//!
//! `POST /ui/login/sso` (from this origin) starts the authorization code flow (PKCE `S256`, `state`,
//! `nonce`: `crate::oidc`) and hands the browser to the provider, carrying the flow in a cookie
//! sealed to the tenant (`__Host-sealbook-sso`, ten minutes, `SameSite=Lax` so the provider's
//! redirect brings it back). `GET /ui/login/sso/callback` checks that the `state` is this
//! browser's flow, exchanges the code, validates the ID token and then decides:
//! - the person is the tenant's person with the provider's e-mail address (ASCII, lower-cased);
//!   an address the provider does not say is verified (`email_verified: true`) is refused;
//! - a person the tenant does not know is created when the tenant allows it
//!   (`user.provisioned`), else refused;
//! - when the tenant maps claim values to roles, the role follows the provider at every sign-in
//!   (`user.role_assigned`), except that the last active tenant admin is never demoted this way;
//!   a person without a mapped value (and no default role) is refused;
//! - a deactivated person is refused.
//!
//! Every refusal is a `user.login_failed` event (`method: "sso"`, and why) and spends the client
//! address's failed sign-in budget; success is `user.login_succeeded` with the issuer and the
//! provider's subject. The client secret is sealed at rest (`Keyring::seal`, bound to the tenant)
//! and never shown, logged or recorded.

use super::session::{cookie_named, safe_next, see_other, ClientAddr, UiSession};
use super::signin::{
    budget_left, login_page, open_session_with, spend, too_many, too_many_words, Method,
};
use super::{page_error, render, Chrome};
use crate::oidc::{Flow, Identity};
use crate::people::{commit, now, Record};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use base64::Engine;
use sealbook_domain::{Action, Role, RoleMapping, SsoRole, SsoSettings, TenantId};
use sealbook_store::{PeopleEffect, User};
use serde_json::json;

/// The cookie that carries a flow from its start to the provider's answer.
const FLOW_COOKIE: &str = "__Host-sealbook-sso";
/// How long a person may take at the provider.
const FLOW_SECONDS: u64 = 600;
/// What the flow cookie is sealed to (with the tenant).
const FLOW_CONTEXT: &[u8] = b"sealbook sso flow v1\0";
/// What the client secret is sealed to (with the tenant).
const SECRET_CONTEXT: &[u8] = b"sealbook sso client secret v1\0";
/// The callback's path; the redirect URI is the public URL and this.
pub(crate) const CALLBACK: &str = "/ui/login/sso/callback";

/// The redirect URI of this deployment: `[ui] public_url` and [`CALLBACK`], or, with no public
/// URL, the request's own origin when it names this machine (`http://127.0.0.1:…`).
pub(crate) fn redirect_uri(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(u) = &state.inner.config.ui.public_url {
        return Some(format!("{u}{CALLBACK}"));
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]").then(|| format!("http://{host}{CALLBACK}"))
}

fn flow_cookie(value: &str, max_age: u64) -> String {
    format!("{FLOW_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The tenant's client secret, opened; `None` for a public client (or one that does not open).
fn client_secret(state: &AppState, tenant: &TenantId, sso: &SsoSettings) -> Option<String> {
    if sso.client_secret_sealed.is_empty() {
        return None;
    }
    let sealed = b64().decode(&sso.client_secret_sealed).ok()?;
    let open = state.inner.keyring.open(tenant, SECRET_CONTEXT, &sealed)?;
    String::from_utf8(open.to_vec()).ok()
}

async fn sso_of(
    state: &AppState,
    tenant: &TenantId,
) -> Result<Option<SsoSettings>, crate::error::ApiError> {
    Ok(state
        .inner
        .store
        .settings(tenant)
        .await?
        .and_then(|s| s.sso))
}

/// The 429 sign-in page when the address has spent its failed sign-in budget.
fn over_budget(state: &AppState, ip_key: &str, tenant: &str, next: &str) -> Option<Response> {
    let retry_after = budget_left(state, None, ip_key).err()?;
    Some(too_many(
        login_page(
            StatusCode::TOO_MANY_REQUESTS,
            tenant,
            next,
            &too_many_words(retry_after),
        ),
        retry_after,
    ))
}

#[derive(serde::Deserialize)]
pub(crate) struct StartQuery {
    tenant: Option<String>,
    next: Option<String>,
}

/// `POST /ui/login/sso` (`tenant`, `next`): to the tenant's provider. A post from this origin
/// only, so no other site can start a sign-on in a visitor's browser (and swap their session for
/// one of its own choosing); it waits out the address's failed sign-in budget like any sign-in.
pub(crate) async fn start(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(q): Form<StartQuery>,
) -> Response {
    if !super::session::same_origin(&headers) {
        return page_error(crate::error::ApiError::Malformed(
            "this form must be sent from Sealbook's own sign-in page".into(),
        ));
    }
    let typed = q.tenant.unwrap_or_default().trim().to_owned();
    let next = safe_next(q.next.as_deref());
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    if let Some(refused) = over_budget(&state, &ip_key, &typed, &next) {
        return refused;
    }
    // An unknown organisation and one without single sign-on answer alike.
    let none = || {
        login_page(
            StatusCode::NOT_FOUND,
            &typed,
            &next,
            "This organisation does not sign in with single sign-on. Sign in with your password, or check the organisation's name.",
        )
    };
    // Platform operators sign in with a password and a second factor only: no provider of a
    // tenant's choosing may vouch for one.
    let Ok(tenant) = TenantId::parse(&typed) else {
        return none();
    };
    if tenant.is_platform() {
        return none();
    }
    let sso = match sso_of(&state, &tenant).await {
        Ok(Some(s)) => s,
        Ok(None) => return none(),
        Err(e) => return page_error(e),
    };
    let Some(redirect) = redirect_uri(&state, &headers) else {
        return login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &typed,
            &next,
            "Single sign-on is not available: the operator must set [ui] public_url (docs/configuration.md).",
        );
    };
    let (url, flow) = match state.inner.oidc.start(&sso, &redirect).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(tenant = %tenant, error = %e, "single sign-on could not start");
            return login_page(
                StatusCode::BAD_GATEWAY,
                &typed,
                &next,
                &format!("Your organisation's identity provider cannot be used now: {e}."),
            );
        }
    };
    let carried = json!({
        "flow": flow,
        "next": next,
        "exp": crate::totp::unix_now() + FLOW_SECONDS,
    });
    let sealed = state
        .inner
        .keyring
        .seal(&tenant, FLOW_CONTEXT, carried.to_string().as_bytes());
    let value = format!("{}.{}", tenant.as_str(), b64().encode(sealed));
    see_other(&url, Some(flow_cookie(&value, FLOW_SECONDS)))
}

#[derive(serde::Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The flow this browser started (its tenant, the flow, and where to go after), if the cookie is
/// there, opens, has not expired and `state` is its own.
fn carried_flow(
    app: &AppState,
    headers: &HeaderMap,
    presented_state: Option<&str>,
) -> Option<(TenantId, Flow, String)> {
    let value = cookie_named(headers, FLOW_COOKIE)?;
    let (t, sealed) = value.split_once('.')?;
    let tenant = TenantId::parse(t).ok()?;
    let sealed = b64().decode(sealed).ok()?;
    let open = app.inner.keyring.open(&tenant, FLOW_CONTEXT, &sealed)?;
    let v: serde_json::Value = serde_json::from_slice(&open).ok()?;
    if v["exp"]
        .as_u64()
        .is_none_or(|e| e < crate::totp::unix_now())
    {
        return None;
    }
    let flow: Flow = serde_json::from_value(v["flow"].clone()).ok()?;
    let same = presented_state.is_some_and(|s| {
        crate::secret::hashes_equal(&crate::secret::hash(s), &crate::secret::hash(&flow.state))
    });
    same.then(|| (tenant, flow, safe_next(v["next"].as_str())))
}

/// `GET /ui/login/sso/callback`: the provider's answer.
pub(crate) async fn callback(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let mut r = finish(&state, ip, &headers, &q).await;
    // The flow is spent whatever happened.
    if let Ok(v) = flow_cookie("", 0).parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn finish(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    q: &CallbackQuery,
) -> Response {
    let ip_key = ip.map(|i| i.to_string()).unwrap_or_default();
    let Some((tenant, flow, next)) = carried_flow(state, headers, q.state.as_deref()) else {
        // No flow of this browser's: too slow, another browser, or a forged answer.
        return see_other("/ui/login?notice=sso_again", None);
    };
    let typed = tenant.as_str().to_owned();
    if let Some(refused) = over_budget(state, &ip_key, &typed, &next) {
        return refused;
    }
    let sso = match sso_of(state, &tenant).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return login_page(
                StatusCode::NOT_FOUND,
                &typed,
                &next,
                "This organisation no longer signs in with single sign-on.",
            )
        }
        Err(e) => return page_error(e),
    };
    let refuse = |reason: &'static str, detail: serde_json::Value, words: String| {
        let state = state.clone();
        let tenant = tenant.clone();
        let typed = typed.clone();
        let next = next.clone();
        let ip_key = ip_key.clone();
        async move {
            spend(&state, None, &ip_key);
            let actor = detail
                .get("actor")
                .filter(|a| !a.is_null())
                .cloned()
                .unwrap_or_else(|| json!({"type": "user", "id": "unknown"}));
            let mut data = json!({"method": "sso", "failure_reason": reason});
            if let (Some(d), Some(extra)) = (
                data.as_object_mut(),
                detail.get("data").and_then(|v| v.as_object()),
            ) {
                d.extend(extra.clone());
            }
            let recorded = commit(
                &state,
                &tenant,
                Record {
                    event_type: "user.login_failed",
                    subject: actor.clone(),
                    actor,
                    data,
                    ip,
                },
                None,
            )
            .await;
            if let Err(e) = recorded {
                return page_error(e);
            }
            login_page(StatusCode::UNAUTHORIZED, &typed, &next, &words)
        }
    };
    if !state.inner.oidc.iss_ok(&sso, &flow, q.iss.as_deref()).await {
        return refuse(
            "wrong_issuer",
            json!({}),
            "The answer did not come from your organisation's identity provider.".into(),
        )
        .await;
    }
    if let Some(error) = &q.error {
        let clipped: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(100)
            .collect();
        let said: String = q
            .error_description
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        return refuse(
            "provider_refused",
            json!({"data": {"provider_error": clipped}}),
            format!(
                "Your identity provider did not sign you in ({clipped}{}).",
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            ),
        )
        .await;
    }
    let Some(code) = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
    else {
        return refuse(
            "no_code",
            json!({}),
            "Your identity provider sent no authorization code.".into(),
        )
        .await;
    };
    let secret = client_secret(state, &tenant, &sso);
    let id = match state
        .inner
        .oidc
        .finish(&sso, secret.as_deref(), &flow, code)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(tenant = %tenant, error = %e, "single sign-on failed");
            return refuse(
                "provider_error",
                json!({}),
                format!("Single sign-on failed: {e}."),
            )
            .await;
        }
    };
    let who = json!({"issuer": id.issuer, "sub": id.sub});
    // ASCII only: lower-casing other scripts folds addresses the provider holds apart (the
    // Kelvin sign is a `k`).
    let Some(email) = id
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.is_ascii())
        .map(str::to_ascii_lowercase)
        .filter(|e| crate::people::check_invite(e, "").is_ok())
    else {
        return refuse(
            "no_email",
            json!({"data": who}),
            "Your identity provider did not say your e-mail address (ask for the email scope and claim).".into(),
        )
        .await;
    };
    // A provider that does not say the address is verified vouches for nothing: whoever could
    // set that address there would be that person here.
    if id.email_verified != Some(true) {
        return refuse(
            "email_unverified",
            json!({"data": who}),
            "Your identity provider does not say your e-mail address is verified (email_verified)."
                .into(),
        )
        .await;
    }
    let store = &state.inner.store;
    let known = match store.user_by_email(&tenant, &email).await {
        Ok(u) => u,
        Err(e) => return page_error(e.into()),
    };
    let decided = sso.role_for(&id.roles);
    if decided == SsoRole::Refused {
        let actor = known.as_ref().map(crate::people::actor);
        return refuse(
            "no_role",
            json!({"actor": actor, "data": {"issuer": id.issuer, "sub": id.sub, "claim_values": clip_values(&id.roles)}}),
            "Your identity provider gives you no role in this organisation's audit log. Ask your administrator.".into(),
        )
        .await;
    }
    let user = match known {
        Some(u) if u.disabled_at.is_some() => {
            return refuse(
                "deactivated",
                json!({"actor": crate::people::actor(&u), "data": who}),
                "Your account in this organisation's audit log is deactivated.".into(),
            )
            .await;
        }
        Some(u) => match sync_role(state, u, decided, &id, ip).await {
            Ok(u) => u,
            Err(e) => return page_error(e),
        },
        None => {
            let role = match decided {
                SsoRole::Role(r) => Some(r),
                _ => sso.default_role(),
            };
            let (true, Some(role)) = (sso.create_people, role) else {
                return refuse(
                    "unknown_account",
                    json!({"data": who}),
                    "This organisation's audit log has no account for you. Ask your administrator to invite you.".into(),
                )
                .await;
            };
            match provision(state, &tenant, &email, &id, role, ip).await {
                Ok(u) => u,
                Err(e) => return page_error(e),
            }
        }
    };
    open_session_with(state, &user, headers, ip, &next, Method::Sso, who).await
}

fn clip_values(v: &[String]) -> Vec<String> {
    v.iter()
        .take(20)
        .map(|s| s.chars().take(100).collect())
        .collect()
}

/// `user` with the role the provider gives, recorded as `user.role_assigned` when it changes
/// (never demoting the last active tenant admin).
async fn sync_role(
    state: &AppState,
    user: User,
    decided: SsoRole,
    id: &Identity,
    ip: Option<std::net::IpAddr>,
) -> Result<User, crate::error::ApiError> {
    let SsoRole::Role(role) = decided else {
        return Ok(user);
    };
    if role == user.role {
        return Ok(user);
    }
    if user.role == Role::TenantAdmin && super::admin::last_admin(state, &user).await? {
        tracing::warn!(tenant = %user.tenant, "single sign-on would demote the last tenant admin; role kept");
        return Ok(user);
    }
    commit(
        state,
        &user.tenant,
        Record {
            event_type: "user.role_assigned",
            actor: json!({"type": "system", "id": "sso", "name": "Single sign-on"}),
            subject: crate::people::subject(&user),
            data: json!({"role": role.as_str(), "scope": "tenant", "via": "sso",
                         "issuer": id.issuer, "claim_values": clip_values(&id.roles)}),
            ip,
        },
        Some(PeopleEffect::SetRole {
            user_id: user.id.clone(),
            role,
        }),
    )
    .await?;
    Ok(User { role, ..user })
}

/// A new person of `tenant`, created at their first sign-on (`user.provisioned`).
async fn provision(
    state: &AppState,
    tenant: &TenantId,
    email: &str,
    id: &Identity,
    role: Role,
    ip: Option<std::net::IpAddr>,
) -> Result<User, crate::error::ApiError> {
    let (_, created_at) = now();
    let name = id
        .name
        .as_deref()
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| email.to_owned());
    let user = User {
        id: crate::people::new_id("usr"),
        tenant: tenant.clone(),
        email: email.to_owned(),
        name,
        role,
        created_at,
        disabled_at: None,
        has_password: false,
        has_totp: false,
    };
    commit(
        state,
        tenant,
        Record {
            event_type: "user.provisioned",
            actor: crate::people::actor(&user),
            subject: crate::people::subject(&user),
            data: json!({"role": role.as_str(), "email": email, "issuer": id.issuer,
                         "claim_values": clip_values(&id.roles)}),
            ip,
        },
        Some(PeopleEffect::CreateUser {
            user: user.clone(),
            password_token: None,
        }),
    )
    .await?;
    Ok(user)
}

#[derive(Template)]
#[template(path = "sso.html")]
struct SsoPage {
    chrome: Chrome,
    redirect_uri: Option<String>,
    form: SsoForm,
    secret_set: bool,
    roles: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    notice: Option<&'static str>,
}

/// The single sign-on form, as shown and as posted.
#[derive(serde::Deserialize, Default, Clone)]
pub(crate) struct SsoForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    forget_secret: Option<String>,
    #[serde(default)]
    extra_scopes: String,
    #[serde(default)]
    role_claim: String,
    #[serde(default)]
    role_map: String,
    #[serde(default)]
    default_role: String,
    #[serde(default)]
    create_people: Option<String>,
    #[serde(default)]
    passwords: Option<String>,
    #[serde(default)]
    remove: Option<String>,
}

impl SsoForm {
    fn of(s: &SsoSettings) -> SsoForm {
        SsoForm {
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            extra_scopes: s.extra_scopes.clone(),
            role_claim: s.role_claim.clone(),
            role_map: s
                .role_map
                .iter()
                .map(|m| format!("{} = {}", m.value, m.role))
                .collect::<Vec<_>>()
                .join("\n"),
            default_role: s.default_role.clone().unwrap_or_default(),
            create_people: s.create_people.then(|| "on".into()),
            passwords: s.passwords.then(|| "on".into()),
            ..SsoForm::default()
        }
    }

    fn blank() -> SsoForm {
        SsoForm {
            role_claim: "groups".into(),
            passwords: Some("on".into()),
            ..SsoForm::default()
        }
    }
}

async fn show(
    state: &AppState,
    session: &UiSession,
    headers: &HeaderMap,
    status: StatusCode,
    form: Option<SsoForm>,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let current = match sso_of(state, session.tenant()).await {
        Ok(s) => s,
        Err(e) => return page_error(e),
    };
    let secret_set = current
        .as_ref()
        .is_some_and(|s| !s.client_secret_sealed.is_empty());
    let form = form.unwrap_or_else(|| {
        current
            .as_ref()
            .map(SsoForm::of)
            .unwrap_or_else(SsoForm::blank)
    });
    render(
        status,
        &SsoPage {
            chrome: Chrome::new(state, session, "/ui/settings"),
            redirect_uri: redirect_uri(state, headers),
            form,
            secret_set,
            roles: Role::ALL
                .into_iter()
                .filter(|r| r.is_tenant_role())
                .map(|r| (r.as_str(), r.label()))
                .collect(),
            error,
            notice,
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

/// `GET /ui/sso`.
pub(crate) async fn page(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Err(e) = session.require(Action::ManageSettings) {
        return page_error(e);
    }
    let notice = match q.notice.as_deref() {
        Some("saved") => {
            Some("Single sign-on saved. People can now use “Sign in with single sign-on”.")
        }
        Some("removed") => Some("Single sign-on is off: people sign in with passwords."),
        _ => None,
    };
    show(
        &state,
        &session,
        &headers,
        StatusCode::OK,
        None,
        None,
        notice,
    )
    .await
}

/// The settings a form describes (the secret sealed, or kept from `old`), or what is wrong.
fn parse(
    state: &AppState,
    tenant: &TenantId,
    f: &SsoForm,
    old: Option<&SsoSettings>,
) -> Result<SsoSettings, String> {
    let mut role_map = Vec::new();
    for line in f.role_map.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((value, role)) = line.rsplit_once('=') else {
            return Err(format!("Roles: {line:?} is not \"claim value = role\""));
        };
        role_map.push(RoleMapping {
            value: value.trim().to_owned(),
            role: role.trim().to_owned(),
        });
    }
    let secret = f.client_secret.trim();
    let client_secret_sealed = if !secret.is_empty() {
        if secret.len() > 1000 {
            return Err("Client secret: at most 1,000 characters.".into());
        }
        b64().encode(
            state
                .inner
                .keyring
                .seal(tenant, SECRET_CONTEXT, secret.as_bytes()),
        )
    } else if f.forget_secret.is_some() {
        String::new()
    } else {
        // A kept secret goes only to the provider and client it was entered for: never to a new
        // issuer (which would receive it at its token endpoint).
        match old.filter(|o| !o.client_secret_sealed.is_empty()) {
            Some(o)
                if o.issuer == f.issuer.trim().trim_end_matches('/')
                    && o.client_id == f.client_id.trim() =>
            {
                o.client_secret_sealed.clone()
            }
            Some(_) => {
                return Err("Client secret: the issuer or client id changed, so enter the client secret again (or forget it, for a public client).".into())
            }
            None => String::new(),
        }
    };
    let s = SsoSettings {
        issuer: f.issuer.trim().trim_end_matches('/').to_owned(),
        client_id: f.client_id.trim().to_owned(),
        client_secret_sealed,
        extra_scopes: f
            .extra_scopes
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        role_claim: f.role_claim.trim().to_owned(),
        role_map,
        default_role: Some(f.default_role.trim().to_owned()).filter(|r| !r.is_empty()),
        create_people: f.create_people.is_some(),
        passwords: f.passwords.is_some(),
    };
    s.check().map_err(|e| e.to_string())?;
    if !state.inner.oidc.url_allowed(&s.issuer) {
        return Err("sso.issuer: must be an https:// URL".into());
    }
    Ok(s)
}

/// `POST /ui/sso`: save (after checking that the provider answers), or remove.
pub(crate) async fn save(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<SsoForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| session.require(Action::ManageSettings))
    {
        return page_error(e);
    }
    let old = match state.inner.store.settings(session.tenant()).await {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return page_error(e.into()),
    };
    let sso = if f.remove.is_some() {
        None
    } else {
        let parsed = match parse(&state, session.tenant(), &f, old.sso.as_ref()) {
            Ok(s) => s,
            Err(problem) => {
                return show(
                    &state,
                    &session,
                    &headers,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(SsoForm {
                        client_secret: String::new(),
                        ..f
                    }),
                    Some(problem),
                    None,
                )
                .await
            }
        };
        if let Err(e) = state.inner.oidc.check(&parsed.issuer).await {
            return show(
                &state,
                &session,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(SsoForm {
                    client_secret: String::new(),
                    ..f
                }),
                Some(format!("Not saved: {e}.")),
                None,
            )
            .await;
        }
        Some(parsed)
    };
    if sso == old.sso {
        return see_other("/ui/sso?notice=saved", None);
    }
    let removed = sso.is_none();
    let new = sealbook_domain::TenantSettings { sso, ..old };
    let done = super::settings::commit_settings(&state, &session, client, &["sso"], new).await;
    match done {
        Ok(_) if removed => see_other("/ui/sso?notice=removed", None),
        Ok(_) => see_other("/ui/sso?notice=saved", None),
        Err(e) => page_error(e),
    }
}
