//! The second factor of a local account (TOTP, RFC 6238: `crate::totp`): set it up from my
//! account page, remove it with a current code, and, for a tenant admin, reset a person's lost
//! one.
//!
//! Setting up shows a new key (as a QR-ready `otpauth://` link and as base32 to type in) and asks
//! for a code from it: the key travels in the form only sealed to this person
//! ([`crate::keyring::Keyring::seal`]), so nothing is stored until a correct code proves the app
//! holds it. Every change is `user.mfa_changed` in the tenant's log, committed with it.

use super::admin::CsrfForm;
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
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealbook_domain::Action;
use sealbook_store::PeopleEffect;
use serde_json::json;

/// What a sealed set-up key is bound to, beside the person's id.
const SETUP: &[u8] = b"totp set-up\0";

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct SetupPage {
    chrome: Chrome,
    sealed: String,
    base32: String,
    uri: String,
    /// The set-up link as a QR code image (`data:` URL).
    qr: Option<String>,
    error: Option<String>,
}

fn setup_context(session: &UiSession) -> Vec<u8> {
    [SETUP, session.user.id.as_bytes()].concat()
}

fn setup_page(
    state: &AppState,
    session: &UiSession,
    key: &[u8],
    sealed: String,
    error: Option<String>,
) -> SetupPage {
    let uri = crate::totp::uri(
        key,
        &format!("Sealbook {}", session.user.tenant),
        &session.user.email,
    );
    SetupPage {
        chrome: Chrome::new(state, session, "/ui/account"),
        sealed,
        base32: crate::totp::base32(key),
        qr: crate::totp::qr_data_url(&uri),
        uri,
        error,
    }
}

/// `GET /ui/account/totp`: a new key to set up (only while none is on: replacing a factor
/// takes removing it first, with a code from it).
pub(crate) async fn setup(State(state): State<AppState>, session: UiSession) -> Response {
    if session.user.has_totp {
        return see_other("/ui/account?notice=totp_already", None);
    }
    let key = crate::totp::new_key();
    let sealed = state
        .inner
        .keyring
        .seal(&session.user.tenant, &setup_context(&session), &key);
    let page = setup_page(&state, &session, &key, URL_SAFE_NO_PAD.encode(sealed), None);
    render(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
pub(crate) struct ConfirmForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    sealed: String,
    code: String,
}

/// `POST /ui/account/totp`: enables the key once a code from it is right.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<ConfirmForm>,
) -> Response {
    if let Err(e) = session.check_form(&state, &headers, &f.csrf) {
        return page_error(e);
    }
    if session.user.has_totp {
        return see_other("/ui/account?notice=totp_already", None);
    }
    let keyring = &state.inner.keyring;
    let tenant = session.user.tenant.clone();
    let Some(key) = URL_SAFE_NO_PAD
        .decode(&f.sealed)
        .ok()
        .and_then(|s| keyring.open(&tenant, &setup_context(&session), &s))
    else {
        return page_error(ApiError::Malformed(
            "the set-up form was altered; start again".into(),
        ));
    };
    let Some(step) = crate::totp::matching_step(&key, &f.code, crate::totp::unix_now()) else {
        let page = setup_page(
            &state,
            &session,
            &key,
            f.sealed.clone(),
            Some("That code is not right. Check that your device's clock is set automatically, and enter the current code.".into()),
        );
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let (_, at) = now();
    let sealed = keyring.seal(&tenant, session.user.id.as_bytes(), &key);
    let done = commit(
        &state,
        &tenant,
        Record {
            event_type: "user.mfa_changed",
            actor: session.actor(),
            subject: subject(&session.user),
            data: json!({"factor": "totp", "enabled": true}),
            ip: client,
        },
        Some(PeopleEffect::SetTotp {
            user_id: session.user.id.clone(),
            sealed: Some(sealed),
            at,
        }),
    )
    .await;
    if let Err(e) = done {
        return page_error(e);
    }
    // The code that proved the set-up is spent: it cannot also sign in.
    if let Err(e) = state
        .inner
        .store
        .use_totp_step(&tenant, &session.user.id, step)
        .await
    {
        return page_error(e.into());
    }
    see_other("/ui/account?notice=totp_on", None)
}

#[derive(serde::Deserialize)]
pub(crate) struct RemoveForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    code: String,
}

/// `POST /ui/account/totp/remove`: removes my second factor, given a current code from it.
pub(crate) async fn remove(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(f): Form<RemoveForm>,
) -> Response {
    if let Err(e) = session.check_form(&state, &headers, &f.csrf) {
        return page_error(e);
    }
    let tenant = session.user.tenant.clone();
    // Wrong codes spend the sign-in budgets: a stolen session cannot guess its way to removing
    // the factor.
    let account_key = format!("{}/{}", tenant.as_str(), session.user.email);
    let ip_key = client.map(|i| i.to_string()).unwrap_or_default();
    if super::signin::budget_left(&state, Some(&account_key), &ip_key).is_err() {
        return see_other("/ui/account?notice=totp_code_wrong", None);
    }
    let store = &state.inner.store;
    let sealed = match store.credentials(&tenant, &session.user.id).await {
        Ok(c) => c.and_then(|c| c.totp_sealed),
        Err(e) => return page_error(e.into()),
    };
    let step = sealed
        .and_then(|s| {
            state
                .inner
                .keyring
                .open(&tenant, session.user.id.as_bytes(), &s)
        })
        .and_then(|key| crate::totp::matching_step(&key, &f.code, crate::totp::unix_now()));
    let fresh = match step {
        Some(step) => store
            .use_totp_step(&tenant, &session.user.id, step)
            .await
            .unwrap_or(false),
        None => false,
    };
    if !fresh {
        super::signin::spend(&state, Some(&account_key), &ip_key);
        return see_other("/ui/account?notice=totp_code_wrong", None);
    }
    let done = change(&state, &session, &session.user, client).await;
    match done {
        Ok(()) => see_other("/ui/account?notice=totp_off", None),
        Err(e) => page_error(e),
    }
}

/// Removes `user`'s second factor, recorded as done by `session`'s person.
async fn change(
    state: &AppState,
    session: &UiSession,
    user: &sealbook_store::User,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    let (_, at) = now();
    commit(
        state,
        &user.tenant,
        Record {
            event_type: "user.mfa_changed",
            actor: session.actor(),
            subject: subject(user),
            data: json!({"factor": "totp", "enabled": false}),
            ip,
        },
        Some(PeopleEffect::SetTotp {
            user_id: user.id.clone(),
            sealed: None,
            at,
        }),
    )
    .await
    .map(|_| ())
}

/// `POST /ui/people/{id}/totp/reset`: a tenant admin removes a person's second factor (a lost
/// device); the person sets up a new one after signing in with their password.
pub(crate) async fn reset(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(e) = session
        .check_form(&state, &headers, &f.csrf)
        .and_then(|()| session.require(Action::ManagePeople))
    {
        return page_error(e);
    }
    let user = match state.inner.store.user(session.tenant(), &id).await {
        Ok(Some(u)) if u.has_totp => u,
        Ok(_) => return page_error(ApiError::NotFound),
        Err(e) => return page_error(e.into()),
    };
    match change(&state, &session, &user, client).await {
        Ok(()) => see_other("/ui/people", None),
        Err(e) => page_error(e),
    }
}
