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
//! State of this module: what is served today is the static assets under `/ui/static/` with the
//! headers above. The layout (`templates/base.html`), [`Chrome`] and [`NavItem`] are the shared
//! substrate of the pages, which are built on the branches named in the progress note
//! (sign-in and sessions, read pages, people and keys) and are not routed yet; until they land,
//! the statements above about pages, forms and CSRF describe the contract they MUST meet.
//!
//! Modules:
//! - this file: the routes of the UI, the static assets, the security headers, [`Chrome`] (what
//!   the layout shows around every page);
//! - the pages, one module per area (as they land).

use crate::state::AppState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// The Content-Security-Policy of every UI page but the embedded viewer.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// One entry of the navigation bar.
#[allow(dead_code)] // built by the page modules as they land
#[derive(Debug, Clone)]
pub(crate) struct NavItem {
    /// Where it leads.
    pub(crate) href: &'static str,
    /// What it says.
    pub(crate) label: &'static str,
    /// True on the page it leads to (`aria-current="page"`).
    pub(crate) current: bool,
}

#[allow(dead_code)] // built by the page modules as they land
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
    /// A banner shown on every page, e.g. an operator's access to this tenant and when it ends.
    pub(crate) banner: Option<String>,
}

/// The UI's static assets, compiled in.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match name.as_str() {
        "app.css" => (
            include_str!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
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
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::CACHE_CONTROL, "no-store");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    res
}

/// The UI's routes, under `/ui/…` (and `/` redirecting to the search page).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/static/{name}", axum::routing::get(asset))
        .layer(axum::middleware::from_fn(security_headers))
}
