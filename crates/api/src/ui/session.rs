//! Signed-in people: the session cookie, the [`UiSession`] extractor every signed-in page takes,
//! CSRF tokens, and the same-origin check of every form post.
//!
//! The cookie `__Host-sealbook` holds 32 random bytes (base64url); the store keeps only their
//! SHA-256. It is `HttpOnly` (no script reads it), `Secure` and `__Host-` (sent only over HTTPS,
//! or to localhost, never to a sibling domain), `SameSite=Lax` and `Path=/`. A session ends at its
//! absolute expiry, after the idle time without a request, at sign-out, when revoked from the
//! account page, or when its person is deactivated; an ended session and no session look alike:
//! the sign-in page.
//!
//! Every form that changes something carries `_csrf`, an HMAC of the session's id hash under a key
//! derived from the deployment secret: a page of another origin can neither read it nor forge it.
//! Every form post must also come from this origin (`Sec-Fetch-Site` / `Origin`), the sign-in
//! form included.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sealbook_domain::{Action, Grant, Role, TenantId};
use sealbook_store::{AccessGrant, Session, User};

/// The session cookie's name (the `__Host-` prefix: Secure, Path=/, no Domain).
pub(crate) const COOKIE: &str = "__Host-sealbook";
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY: time::Duration = time::Duration::seconds(60);

/// The `Set-Cookie` value opening a session with cookie value `value`, for `max_age`.
pub(crate) fn set_cookie(value: &str, max_age: std::time::Duration) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0")
}

/// The session cookie's value in a request, if any.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_named(headers, COOKIE).filter(|v| v.len() == 43)
}

/// The value of the cookie `name` in a request, if any.
pub(crate) fn cookie_named<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Whether a form post comes from this origin: browsers send `Sec-Fetch-Site` (it must be
/// `same-origin`, or `none` for a user's own navigation); older ones send `Origin`, whose host
/// must be this request's `Host`. A post with neither (not a browser) passes: CSRF needs a
/// browser carrying a victim's cookie.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'));
            origin_host.is_some() && origin_host == host
        }
    }
}

/// A signed-in person: the session, the person, what this request is granted, and the tenant it
/// acts on (the person's own, or for an operator inside an access, the tenant accessed).
pub(crate) struct UiSession {
    pub(crate) user: User,
    pub(crate) session: Session,
    pub(crate) grant: Grant,
    pub(crate) tenant_name: String,
    /// An operator's current access to a tenant, if any (`super::operator`).
    pub(crate) access: Option<AccessGrant>,
    tenant: TenantId,
    id_hash: [u8; 32],
}

impl UiSession {
    /// The tenant every read and write of this request's pages is scoped to: the person's, or
    /// the tenant an operator's access opened. What concerns the person themselves (their
    /// sessions, their second factor, signing out) uses `user.tenant`.
    pub(crate) fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Refuses with 403 unless the person's role allows `action`.
    pub(crate) fn require(&self, action: Action) -> Result<(), ApiError> {
        self.grant.require(action).map_err(ApiError::from)
    }

    /// Whether the person's role allows `action`.
    pub(crate) fn may(&self, action: Action) -> bool {
        self.grant.may(action)
    }

    /// This session's CSRF token.
    pub(crate) fn csrf(&self, state: &AppState) -> String {
        state.inner.keyring.csrf(&self.id_hash)
    }

    /// Refuses a form whose `_csrf` is not this session's (403, nothing done).
    pub(crate) fn check_csrf(&self, state: &AppState, presented: &str) -> Result<(), ApiError> {
        let expected = self.csrf(state);
        if crate::secret::hashes_equal(
            &crate::secret::hash(&expected),
            &crate::secret::hash(presented),
        ) {
            Ok(())
        } else {
            Err(ApiError::Malformed(
                "the form's CSRF token is not this session's; reload the page and try again".into(),
            ))
        }
    }

    /// Refuses a form post that did not come from this origin or does not carry this session's
    /// CSRF token (nothing done); every signed-in form handler calls it first.
    pub(crate) fn check_form(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<(), ApiError> {
        if !same_origin(headers) {
            return Err(ApiError::Malformed("cross-origin form post refused".into()));
        }
        self.check_csrf(state, csrf)
    }

    /// The person as the actor of an event.
    pub(crate) fn actor(&self) -> serde_json::Value {
        crate::people::actor(&self.user)
    }
}

/// Where a request without a live session is sent: the sign-in page, back here afterwards.
fn to_sign_in(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/ui/search");
    let mut r = Redirect::to(&format!(
        "/ui/login?next={}",
        urlencoding(if parts.method == axum::http::Method::GET {
            next
        } else {
            "/ui/search"
        })
    ))
    .into_response();
    // An ended session's cookie is removed, so the browser stops sending it.
    if cookie(&parts.headers).is_some() {
        if let Ok(v) = clear_cookie().parse() {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    r
}

/// Percent-encodes a path segment or query value (one function for the whole UI).
pub(crate) use sealbook_domain::settings::percent_encode as urlencoding;

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(value) = cookie(&parts.headers) else {
            return Err(to_sign_in(parts));
        };
        let id_hash = crate::secret::hash(value);
        let store = &state.inner.store;
        let found = store
            .session_by_hash(&id_hash)
            .await
            .map_err(|e| super::page_error(ApiError::from(e)))?;
        let Some(session) = found else {
            return Err(to_sign_in(parts));
        };
        let ui = &state.inner.config.ui;
        let (now, now_text) = crate::people::now();
        let alive = session.revoked_at.is_none()
            && crate::people::parse_time(&session.expires_at).is_some_and(|t| t > now)
            && crate::people::parse_time(&session.last_seen_at)
                .is_some_and(|t| t + ui.session_idle > now);
        if !alive {
            return Err(to_sign_in(parts));
        }
        let user = store
            .user(&session.tenant, &session.user_id)
            .await
            .map_err(|e| super::page_error(ApiError::from(e)))?
            .filter(|u| u.disabled_at.is_none());
        let Some(user) = user else {
            return Err(to_sign_in(parts));
        };
        // Only the platform's people are operators (the API and the people page refuse the role
        // elsewhere); checked again here, where it opens another tenant.
        let access = if user.role == Role::Operator && user.tenant.is_platform() {
            super::operator::current(state, &parts.headers, &user)
                .await
                .map_err(super::page_error)?
        } else {
            None
        };
        let (tenant, grant) = match &access {
            Some(g) => (g.tenant.clone(), Grant::OperatorAccess),
            None => (user.tenant.clone(), Grant::Person(user.role)),
        };
        let tenant_name = store
            .tenant(&tenant)
            .await
            .map_err(|e| super::page_error(ApiError::from(e)))?
            .map(|t| t.name)
            .unwrap_or_else(|| tenant.to_string());
        if crate::people::parse_time(&session.last_seen_at).is_some_and(|t| t + TOUCH_EVERY < now) {
            store
                .touch_session(&user.tenant, &session.id, &now_text)
                .await
                .map_err(|e| super::page_error(ApiError::from(e)))?;
        }
        Ok(UiSession {
            grant,
            user,
            session,
            tenant_name,
            access,
            tenant,
            id_hash,
        })
    }
}

/// The client's address, when the server passed one (always, outside in-process tests).
pub(crate) struct ClientAddr(pub(crate) Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// A new session's cookie value and its SHA-256.
pub(crate) fn new_session_value() -> (String, [u8; 32]) {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random generator failed");
    let value = URL_SAFE_NO_PAD.encode(b);
    let hash = crate::secret::hash(&value);
    (value, hash)
}

/// A 303 to `to`, with `Set-Cookie` when given.
pub(crate) fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// `next` if it is a path of the UI (so a sign-in link can never send anyone elsewhere), else
/// the search page.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui/")
                && !n.starts_with("/ui/login")
                && !n.contains("//")
                && !n.contains('\\')
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/ui/search".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_never_leaves_the_ui() {
        assert_eq!(safe_next(Some("/ui/events/e1?x=1")), "/ui/events/e1?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/ui//evil.example",
            "/ui/\\evil",
            "/v1/events",
            "/ui/login?next=x",
            "/ui/a b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/search", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/search");
    }

    #[test]
    fn form_posts_must_come_from_this_origin() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert!(same_origin(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&h(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&h(&[
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&h(&[
            ("origin", "http://evil"),
            ("host", "a:1")
        ])));
        assert!(!same_origin(&h(&[("origin", "null"), ("host", "a:1")])));
    }

    #[test]
    fn only_a_well_formed_session_cookie_is_read() {
        let mut m = HeaderMap::new();
        let v = "A".repeat(43);
        m.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={v}").parse().unwrap(),
        );
        assert_eq!(cookie(&m), Some(v.as_str()));
        m.insert(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        assert_eq!(cookie(&m), None);
    }
}
