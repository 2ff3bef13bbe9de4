//! Embeddable viewer tokens: `POST /v1/viewer-tokens` (a `tenant:admin` key) mints a short-lived
//! token that opens a read-only view of one tenant's audit log (`/ui/embed?token=…`), optionally
//! limited to one actor, one subject or one type prefix, so a B2B product can show its customer
//! their audit log inside its own pages (an iframe or a link).
//!
//! A token is signed and expires ([`crate::signed`], its own purpose): nothing is stored, and it
//! cannot be widened, moved to another tenant or made to last longer without the deployment
//! secret. It grants [`Grant::ViewerToken`] only (search and read, personal values masked), within
//! its limits and the tenant's viewer types (`TenantSettings::viewer_types`); it may be framed
//! only by the tenant's allowed origins (`TenantSettings::frame_ancestors`). Because a token sits
//! in a URL, its pages send no referrer, and its lifetime is short: 15 minutes unless asked,
//! [`MAX_TTL_SECONDS`] at most.

use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::extract::Body;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sealbook_domain::{Action, FieldError, TenantId};
use serde_json::{json, Value};

/// The purpose of viewer tokens' MAC.
const PURPOSE: &[u8] = b"sealbook viewer token v1\0";
/// A token's lifetime unless asked.
pub(crate) const DEFAULT_TTL_SECONDS: u64 = 900;
/// The longest lifetime a token may ask for.
pub(crate) const MAX_TTL_SECONDS: u64 = 86_400;

/// What a token may be limited to.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewerTokenRequest {
    /// Only events by this actor id (printable, at most 256 characters).
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,256}$")]
    actor: Option<String>,
    /// Only events about this subject: `type:id` (or a bare id; printable, at most 512 characters).
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,512}$")]
    subject: Option<String>,
    /// Only event types under this prefix, which ends with a dot (`order.`).
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9_.-]{1,127}\.$")]
    type_prefix: Option<String>,
    /// Lifetime in seconds (60 to 86400; 900 unless given).
    #[serde(default)]
    /// (Read as a number: JSON Schema's integers include `900.0`.)
    #[schema(value_type = Option<u64>, minimum = 60, maximum = 86400)]
    ttl_seconds: Option<f64>,
}

/// A minted token.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ViewerToken {
    /// The token (a bearer credential: whoever holds it sees what it allows until it expires).
    token: String,
    /// The embedded view's path on this server, with the token: `/ui/embed?token=…`.
    url: String,
    /// RFC 3339 UTC expiry.
    expires_at: String,
    /// The tenant it shows.
    tenant: String,
    /// Its limits, as asked.
    #[schema(value_type = Object)]
    limits: Value,
}

/// An opened token: the tenant and the limits every page of the view applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViewerScope {
    pub(crate) tenant: TenantId,
    pub(crate) actor: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) type_prefix: Option<String>,
    /// Public id of the token (`vwt_…`), for the `audit_log.viewed` record.
    pub(crate) id: String,
    /// RFC 3339 expiry.
    pub(crate) expires_at: String,
}

fn field(path: &str, problem: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        event: None,
        path: path.to_owned(),
        problem: problem.to_owned(),
    }])
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Checks a request's limits; the token's payload.
fn payload(tenant: &TenantId, req: &ViewerTokenRequest, now: u64) -> Result<Value, ApiError> {
    if let Some(a) = &req.actor {
        if !printable(a, 256) {
            return Err(field(
                "/actor",
                "an actor id of 1 to 256 printable characters",
            ));
        }
    }
    if let Some(s) = &req.subject {
        if !printable(s, 512) {
            return Err(field(
                "/subject",
                "a subject (type:id or id) of 1 to 512 printable characters",
            ));
        }
    }
    if let Some(p) = &req.type_prefix {
        let ok = p.len() <= 128
            && p.ends_with('.')
            && p.len() > 1
            && p.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if !ok {
            return Err(field(
                "/type_prefix",
                "a type prefix ending with a dot, e.g. order.",
            ));
        }
    }
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS as f64);
    if ttl.fract() != 0.0 || !(60.0..=MAX_TTL_SECONDS as f64).contains(&ttl) {
        return Err(field(
            "/ttl_seconds",
            "a whole number of seconds from 60 to 86400",
        ));
    }
    let ttl = ttl as u64;
    Ok(json!({
        "t": tenant.as_str(),
        "exp": now + ttl,
        "id": crate::people::new_id("vwt"),
        "actor": req.actor,
        "subject": req.subject,
        "type_prefix": req.type_prefix,
    }))
}

/// The scope of `token` if it is a live viewer token of this deployment.
pub(crate) fn open(state: &AppState, token: &str) -> Option<ViewerScope> {
    let p = crate::signed::open(
        &state.inner.keyring,
        PURPOSE,
        token,
        crate::totp::unix_now(),
    )?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
    let exp = p.get("exp")?.as_u64()?;
    Some(ViewerScope {
        tenant: TenantId::parse(p.get("t")?.as_str()?).ok()?,
        actor: s("actor"),
        subject: s("subject"),
        type_prefix: s("type_prefix"),
        id: s("id")?,
        expires_at: expiry_text(exp),
    })
}

fn expiry_text(exp: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(exp as i64)
        .map(|t| sealbook_domain::timestamp::format_utc(t, 0))
        .unwrap_or_default()
}

impl ViewerScope {
    /// The search filters the token imposes (they replace any the reader gives for the same
    /// field).
    pub(crate) fn filters(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(a) = &self.actor {
            out.push(("actor".into(), a.clone()));
        }
        if let Some(s) = &self.subject {
            out.push(("subject".into(), s.clone()));
        }
        if let Some(p) = &self.type_prefix {
            out.push(("type".into(), format!("{p}*")));
        }
        out
    }

    /// Whether one event (its reader's view) is within the token's limits.
    pub(crate) fn covers(&self, view: &Value) -> bool {
        let s = |p: &str| view.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let actor_ok = self.actor.as_deref().is_none_or(|a| s("/actor/id") == a);
        let subject_ok = self.subject.as_deref().is_none_or(|want| {
            let (ty, id) = (s("/subject/type"), s("/subject/id"));
            want == id || want == format!("{ty}:{id}")
        });
        let type_ok = self
            .type_prefix
            .as_deref()
            .is_none_or(|p| s("/type").starts_with(p));
        actor_ok && subject_ok && type_ok
    }
}

/// Mint a short-lived token for the embedded, read-only view of this tenant's audit log.
#[utoipa::path(post, path = "/v1/viewer-tokens", tag = "tenants", security(("tenant_key" = ["tenant:admin"])), request_body = ViewerTokenRequest,
    responses((status = 201, body = ViewerToken), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 413, response = crate::schema::TooLarge),
        (status = 422, response = crate::schema::Unprocessable), (status = 429, response = crate::schema::RateLimited), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn mint(
    State(state): State<AppState>,
    key: TenantKey,
    Body(body): Body,
) -> Result<(StatusCode, Json<ViewerToken>), ApiError> {
    key.require(Action::MintViewerTokens)?;
    // A body is required, a JSON object (`{}` for a token without limits), as the document
    // says: serde alone would also read a struct from an array.
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::Malformed(
            "request body: must be a JSON object".into(),
        ));
    }
    let req: ViewerTokenRequest = serde_json::from_value(value)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(mint_for(&state, key.tenant(), &req)?),
    ))
}

/// Mints a token for `tenant` (the API's and the settings page's).
pub(crate) fn mint_for(
    state: &AppState,
    tenant: &TenantId,
    req: &ViewerTokenRequest,
) -> Result<ViewerToken, ApiError> {
    let p = payload(tenant, req, crate::totp::unix_now())?;
    let token = crate::signed::make(&state.inner.keyring, PURPOSE, &p);
    Ok(ViewerToken {
        url: format!("/ui/embed?token={token}"),
        token,
        expires_at: expiry_text(p["exp"].as_u64().unwrap_or(0)),
        tenant: tenant.to_string(),
        limits: json!({"actor": req.actor, "subject": req.subject, "type_prefix": req.type_prefix}),
    })
}

impl ViewerTokenRequest {
    /// A request with these limits (the settings page's form).
    pub(crate) fn new(
        actor: Option<String>,
        subject: Option<String>,
        type_prefix: Option<String>,
        ttl_seconds: Option<u64>,
    ) -> ViewerTokenRequest {
        ViewerTokenRequest {
            actor,
            subject,
            type_prefix,
            ttl_seconds: ttl_seconds.map(|t| t as f64),
        }
    }
}

impl ViewerToken {
    /// The view's path with the token.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
    /// When it expires.
    pub(crate) fn expires_at(&self) -> &str {
        &self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(actor: Option<&str>, subject: Option<&str>, prefix: Option<&str>) -> ViewerScope {
        ViewerScope {
            tenant: TenantId::parse("a").unwrap(),
            actor: actor.map(Into::into),
            subject: subject.map(Into::into),
            type_prefix: prefix.map(Into::into),
            id: "vwt_1".into(),
            expires_at: String::new(),
        }
    }

    #[test]
    fn limits_cover_only_their_events() {
        let e = json!({"type": "order.created", "actor": {"id": "u1"}, "subject": {"type": "order", "id": "4472"}});
        assert!(scope(None, None, None).covers(&e));
        assert!(scope(Some("u1"), Some("order:4472"), Some("order.")).covers(&e));
        assert!(scope(None, Some("4472"), None).covers(&e));
        assert!(!scope(Some("u2"), None, None).covers(&e));
        assert!(!scope(None, Some("order:4473"), None).covers(&e));
        assert!(!scope(None, Some("shipment:4472"), None).covers(&e));
        assert!(!scope(None, None, Some("user.")).covers(&e));
        assert_eq!(
            scope(Some("u1"), None, Some("order.")).filters(),
            vec![
                ("actor".into(), "u1".into()),
                ("type".into(), "order.*".into())
            ]
        );
    }

    #[test]
    fn requests_are_checked() {
        let t = TenantId::parse("a").unwrap();
        let ok = ViewerTokenRequest::new(Some("u1".into()), None, Some("order.".into()), Some(600));
        let p = payload(&t, &ok, 1000).unwrap();
        assert_eq!(p["exp"], 1600);
        assert_eq!(p["t"], "a");
        for (bad, path) in [
            (
                ViewerTokenRequest::new(None, None, Some("order".into()), None),
                "/type_prefix",
            ),
            (
                ViewerTokenRequest::new(None, None, Some("Order.".into()), None),
                "/type_prefix",
            ),
            (
                ViewerTokenRequest::new(None, None, None, Some(86_401)),
                "/ttl_seconds",
            ),
            (
                ViewerTokenRequest::new(None, None, None, Some(10)),
                "/ttl_seconds",
            ),
            (
                ViewerTokenRequest::new(Some("a\nb".into()), None, None, None),
                "/actor",
            ),
            (
                ViewerTokenRequest::new(None, Some(String::new()), None, None),
                "/subject",
            ),
        ] {
            match payload(&t, &bad, 0) {
                Err(ApiError::Invalid(f)) => assert_eq!(f[0].path, path),
                other => panic!("{path}: {:?}", other.map(|_| ())),
            }
        }
    }
}
