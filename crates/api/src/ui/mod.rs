//! The admin web UI: server-rendered pages for tenant admins, compliance officers, auditors,
//! support and viewers, and for platform operators.
//!
//! Pages are askama templates (`crates/api/templates/`, auto-escaped HTML: every value that came
//! from an event is escaped where it is shown) over the same store, pipeline and authorisation as
//! the JSON API: a page handler turns its session into a [`sealbook_domain::Grant`] and asks
//! [`sealbook_domain::access::allows`], like every API handler does. Reading works without
//! JavaScript; the one script (`static/app.js`, served from here, no inline script anywhere) only
//! shows times in the reader's time zone.
//!
//! Every UI response carries the headers of [`security_headers`]: a strict Content-Security-Policy
//! (no inline script or style, nothing from another origin), `frame-ancestors 'none'` (the
//! embedded viewer sets its own from the tenant's allow-list), `nosniff`, no referrer, and
//! `Cache-Control: no-store` on pages (they hold audit data). Every form that changes something
//! carries the session's CSRF token, checked before the handler runs.
//!
//! Modules:
//! - this file: the routes of the UI, the static assets, the security headers, [`Chrome`] (what
//!   the layout shows around every page), rendering and the error page;
//! - `session`: the session cookie, the signed-in person ([`session::UiSession`]), CSRF and the
//!   same-origin check;
//! - `signin`: sign-in, sign-out, set-password links;
//! - `signin` also takes the second step of a sign-in with a second factor; `factor`: setting up,
//!   removing and resetting that factor (TOTP);
//! - `pages`: search (with saved searches), event detail (with the verified badge and the link to
//!   the business record), subject history, exports; the [`pages::Reader`] every reading page uses;
//! - `embed`: the embedded viewer, opened with a viewer token and framed by the tenant's sites;
//! - `admin`: people and roles, API keys, my account and sessions;
//! - `settings`: the tenant's settings and a viewer link to try the embed;
//! - `catalog`: the catalog browser;
//! - `operator`: platform operators' tenants page and their audited access to a tenant.

mod admin;
mod catalog;
mod embed;
mod exports;
mod factor;
mod operator;
mod pages;
mod session;
mod settings;
mod signin;
mod sso;

use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sealbook_domain::Action;

/// The Content-Security-Policy of every UI page but the embedded viewer.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// One entry of the navigation bar.
#[derive(Debug, Clone)]
pub(crate) struct NavItem {
    /// Where it leads.
    pub(crate) href: &'static str,
    /// What it says.
    pub(crate) label: &'static str,
    /// True on the page it leads to (`aria-current="page"`).
    pub(crate) current: bool,
}

/// What the layout (`templates/base.html`) shows around every signed-in page: who is signed in,
/// in which tenant, the navigation their role allows, and the CSRF token of the sign-out form.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    /// The tenant's display name.
    pub(crate) tenant_name: String,
    /// The tenant's id.
    pub(crate) tenant_id: String,
    /// Who is signed in (e-mail address or display name).
    pub(crate) person: String,
    /// Their role's label.
    pub(crate) role_label: &'static str,
    /// The navigation their grant allows.
    pub(crate) nav: Vec<NavItem>,
    /// The session's CSRF token, for the sign-out form (and every other form of the page).
    pub(crate) csrf: String,
    /// A banner shown on every page: an operator's access to this tenant, why, and when it ends.
    pub(crate) banner: Option<String>,
    /// True inside an operator's access: the banner carries the form that ends it.
    pub(crate) in_access: bool,
}

/// The UI's static assets, compiled in.
/// `GET /favicon.ico`: what a browser asks for on a page that names no icon (a file opened
/// from Sealbook, an error page of another layer): the same icon.
async fn favicon() -> Response {
    asset(axum::extract::Path("icon.svg".to_owned())).await
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match name.as_str() {
        "app.css" => (
            include_str!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "icon.svg" => (include_str!("../../static/icon.svg"), "image/svg+xml"),
        "app.js" => (
            include_str!("../../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return crate::ops::not_found().await.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Adds the UI's security headers to a response that has none of its own.
pub(crate) async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let frameable = res.extensions().get::<embed::Frameable>().is_some();
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    if !frameable {
        set(h, header::X_FRAME_OPTIONS, "DENY");
    }
    set(h, header::CACHE_CONTROL, "no-store");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    res
}

impl Chrome {
    /// The chrome of a page of `session`, with `current` (a nav `href`) marked.
    pub(crate) fn new(state: &AppState, session: &session::UiSession, current: &str) -> Chrome {
        let own = sealbook_domain::Grant::Person(session.user.role);
        let nav = [
            ("/ui/search", "Search", Action::SearchEvents, &session.grant),
            (
                "/ui/catalog",
                "Catalog",
                Action::ReadCatalog,
                &session.grant,
            ),
            ("/ui/people", "People", Action::ManagePeople, &session.grant),
            ("/ui/keys", "API keys", Action::ManageKeys, &session.grant),
            (
                "/ui/settings",
                "Settings",
                Action::ManageSettings,
                &session.grant,
            ),
            ("/ui/operator", "Tenants", Action::AccessTenants, &own),
        ];
        let banner = session.access.as_ref().map(|g| {
            format!(
                "Platform operator access to {} ({}) until {} UTC. Reason: {} Ticket: {}. Read only, recorded in this tenant's audit log.",
                session.tenant_name,
                g.tenant,
                g.expires_at.get(..16).unwrap_or(&g.expires_at).replace('T', " "),
                g.reason,
                g.ticket
            )
        });
        Chrome {
            tenant_name: session.tenant_name.clone(),
            tenant_id: session.tenant().to_string(),
            person: session.user.email.clone(),
            role_label: session.user.role.label(),
            nav: nav
                .into_iter()
                .filter(|(_, _, a, grant)| grant.may(*a))
                .map(|(href, label, _, _)| (href, label))
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: href == current,
                })
                .chain(std::iter::once(NavItem {
                    href: "/ui/account",
                    label: "My account",
                    current: current == "/ui/account",
                }))
                .collect(),
            csrf: session.csrf(state),
            in_access: banner.is_some(),
            banner,
        }
    }
}

/// A rendered page with `status`.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page failed to render.</p>"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    title: &'a str,
    detail: &'a str,
}

/// A page saying one thing, with `status`.
pub(crate) fn notice(status: StatusCode, title: &str, detail: &str) -> Response {
    render(status, &NoticePage { title, detail })
}

/// The page of a failure: the API's status and words (a 404 for what does not exist and for what
/// belongs to another tenant alike), as HTML.
pub(crate) fn page_error(e: ApiError) -> Response {
    let api = e.into_response();
    let status = api.status();
    let (title, detail) = match status {
        StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or nothing you may see."),
        StatusCode::FORBIDDEN => ("Not allowed", "Your role does not allow this. Ask a tenant admin if you need it."),
        StatusCode::TOO_MANY_REQUESTS => ("Too many requests", "Wait a moment and try again."),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ("Not accepted", "Something in this request was not accepted; go back and check it."),
        StatusCode::CONFLICT => ("Conflict", "This conflicts with what exists already (an e-mail address in use, a deactivated person)."),
        StatusCode::GONE => ("No longer valid", "This link was used already or has expired."),
        s if s.is_server_error() => ("Sealbook could not do this", "The store is unavailable or failed a check; try again shortly. Operators find the cause in the server log."),
        _ => ("Not accepted", "This request was not accepted."),
    };
    let mut r = notice(status, title, detail);
    if let Some(v) = api.headers().get(header::RETRY_AFTER) {
        r.headers_mut().insert(header::RETRY_AFTER, v.clone());
    }
    r
}

/// The UI's routes, under `/ui/…` (and `/` redirecting to the search page).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::root))
        .route("/ui/static/{name}", get(asset))
        .route("/favicon.ico", get(favicon))
        .route("/ui/login", get(signin::login_form).post(signin::login))
        .route("/ui/logout", post(signin::logout))
        .route(
            "/ui/set-password",
            get(signin::set_password_form).post(signin::set_password),
        )
        .route("/ui/search", get(pages::search))
        .route("/ui/searches", post(pages::save_search))
        .route("/ui/searches/{id}/delete", post(pages::delete_search))
        .route("/ui/events/{id}", get(pages::event))
        .route("/ui/subjects/{type}/{id}", get(pages::subject))
        .route("/ui/export", get(pages::export))
        .route("/ui/exports", get(exports::exports))
        .route("/ui/people", get(admin::people).post(admin::invite))
        .route("/ui/people/{id}/role", post(admin::set_role))
        .route("/ui/people/{id}/deactivate", post(admin::deactivate))
        .route("/ui/keys", get(admin::keys).post(admin::create_key))
        .route("/ui/keys/{id}/revoke", post(admin::revoke_key))
        .route("/ui/login/totp", post(signin::login_totp))
        .route("/ui/login/sso", post(sso::start))
        .route(sso::CALLBACK, get(sso::callback))
        .route("/ui/sso", get(sso::page).post(sso::save))
        .route("/ui/account", get(admin::account))
        .route("/ui/account/totp", get(factor::setup).post(factor::confirm))
        .route("/ui/account/totp/remove", post(factor::remove))
        .route("/ui/people/{id}/totp/reset", post(factor::reset))
        .route("/ui/operator", get(operator::tenants))
        .route("/ui/operator/access", post(operator::start))
        .route("/ui/operator/access/end", post(operator::stop))
        .route("/ui/catalog", get(catalog::catalog))
        .route("/ui/settings", get(settings::page).post(settings::save))
        .route("/ui/settings/viewer-link", post(settings::viewer_link))
        .route("/ui/embed", get(embed::search))
        .route("/ui/embed/events/{id}", get(embed::event))
        .route(
            "/ui/account/sessions/{id}/revoke",
            post(admin::revoke_session),
        )
        .layer(axum::middleware::from_fn(security_headers))
}
