//! The one place where failures become HTTP: every [`ApiError`] maps to a status and an RFC 9457
//! `application/problem+json` body with a stable `type`, in one exhaustive `match`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealbook_domain::{Action, BatchError, Denied, FieldError, FilterError};
use sealbook_pipeline::{LogError, PipelineError};
use sealbook_store::StoreError;

/// Everything that can go wrong in a request, as the client needs to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed.
    #[error("{0}")]
    Malformed(String),
    /// 400: a query parameter is wrong.
    #[error(transparent)]
    BadQuery(#[from] FilterError),
    /// 401: no key, an unknown key or a revoked key; deliberately indistinguishable.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// 403: a valid credential whose grant does not allow this action (`sealbook_domain::allows`).
    #[error("this credential may not {}{}", .0.describe(), .0.scope().map(|s| format!("; an API key needs the {s} scope")).unwrap_or_default())]
    Forbidden(Action),
    /// 404: nothing here, or nothing this caller may see (never 403 for another tenant's data).
    #[error("not found")]
    NotFound,
    /// 405: the route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 409: an event id is already stored with different content.
    #[error("event id already stored with different content")]
    IdConflict(Vec<FieldError>),
    /// 409: the tenant already exists.
    #[error("tenant already exists")]
    TenantExists,
    /// 409: a catalog change lost a race with another change to the same type.
    #[error("{0}")]
    CatalogConflict(String),
    /// 413: a size or count limit.
    #[error("{detail}")]
    TooLarge {
        /// Which limit.
        detail: String,
        /// The offending event, if one.
        errors: Vec<FieldError>,
    },
    /// 415: the body's content type is not accepted here.
    #[error("unsupported content type")]
    UnsupportedMediaType(&'static str),
    /// 422: events or a request body break the rules.
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// 429: this key's request rate is over its limit.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a request will be accepted.
        retry_after: u64,
    },
    /// 429: this key was answered too many idempotency conflicts (409) lately; its ingest
    /// requests are refused until the budget refills, so resending known ids cannot be used to
    /// test guesses of their content. Same problem type as [`ApiError::RateLimited`]: a client
    /// waits and retries alike.
    #[error("this key was answered {limit} idempotency conflicts (409) within a minute; its ingest requests are refused until then")]
    ConflictsLimited {
        /// The budget of conflicts per minute.
        limit: u32,
        /// Seconds until a request will be accepted.
        retry_after: u64,
    },
    /// 429: too many failed authentications from this client address (or from everywhere).
    #[error("too many failed authentications; retry in {retry_after} s")]
    TooManyFailures {
        /// Seconds until a request will be looked at again.
        retry_after: u64,
    },
    /// 400: a parameter of a log request that no tree can satisfy.
    #[error("{detail}")]
    OutOfRange {
        /// The query parameter or path part at fault.
        param: &'static str,
        /// Why.
        detail: String,
    },
    /// 400: a size beyond what the latest signed checkpoint covers.
    #[error("tree size {requested} is beyond the latest signed checkpoint (size {latest}); POST /v1/log/checkpoint or wait for the next one")]
    BeyondCheckpoint {
        /// The size asked for.
        requested: u64,
        /// The latest checkpoint's size.
        latest: u64,
    },
    /// 404: the tenant's log has no signed checkpoint yet (it has no events).
    #[error("the log has no signed checkpoint yet")]
    NoCheckpoint,
    /// 500: the stored tree is damaged or inconsistent with its checkpoints; nothing was signed.
    #[error("log integrity: {}", .0.cause)]
    LogIntegrity(Integrity),
    /// 503: the ingest queue is full; retry shortly.
    #[error("overloaded")]
    Overloaded,
    /// 503: this tenant already holds its share of the ingest queue; other tenants are unaffected.
    #[error("this tenant's share of the ingest queue is full")]
    TenantOverloaded,
    /// A change to people that does not apply (404 unknown person or session, 409 a conflict,
    /// 410 a used or expired link); nothing was written.
    #[error("{0}")]
    PeopleRefused(sealbook_store::EffectRefusal),
    /// 503: the store cannot be reached, or Sealbook is shutting down.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What an integrity failure is known to concern: logged as fields (never sent to the client,
/// which gets a fixed sentence).
#[derive(Debug)]
pub struct Integrity {
    /// The tenant whose data failed the check, when known.
    pub tenant: Option<String>,
    /// Where in the tenant's data (an index, a tile, the tree head), when known.
    pub at: Option<String>,
    /// What failed, for an operator.
    pub cause: String,
}

impl Integrity {
    /// A failure known only by its description.
    pub fn cause(cause: impl Into<String>) -> Integrity {
        Integrity {
            tenant: None,
            at: None,
            cause: cause.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> ApiError {
        ApiError::Forbidden(d.0)
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> ApiError {
        match e {
            BatchError::Malformed { detail } => ApiError::Malformed(detail),
            BatchError::TooLarge { detail, errors } => ApiError::TooLarge { detail, errors },
            BatchError::Invalid(errors) => ApiError::Invalid(errors),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::TenantExists => ApiError::TenantExists,
            e @ (StoreError::Unavailable(_) | StoreError::Schema(_)) => {
                ApiError::Unavailable(e.to_string())
            }
            // Damaged data is an integrity failure, never "retry later". The tenant and the
            // place stay fields, for the one log line the response writes.
            StoreError::Corrupt(c) => ApiError::LogIntegrity(Integrity {
                tenant: c.tenant.as_ref().map(|t| t.as_str().to_owned()),
                at: c.at.map(|p| p.to_string()),
                cause: match &c.source {
                    Some(source) => format!("{c}: {source}"),
                    None => c.to_string(),
                },
            }),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> ApiError {
        match e {
            LogError::Store(s) => s.into(),
            LogError::NoCheckpoint => ApiError::NoCheckpoint,
            LogError::BeyondCheckpoint { requested, latest } => {
                ApiError::BeyondCheckpoint { requested, latest }
            }
            LogError::OutOfRange(detail) => ApiError::OutOfRange { param: "", detail },
            e @ (LogError::Inconsistent(_) | LogError::Damaged(_) | LogError::Key(_)) => {
                ApiError::LogIntegrity(Integrity::cause(e.to_string()))
            }
        }
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> ApiError {
        match e {
            PipelineError::Overloaded => ApiError::Overloaded,
            PipelineError::TenantOverloaded => ApiError::TenantOverloaded,
            PipelineError::ShuttingDown => ApiError::Unavailable("shutting down".into()),
            PipelineError::Store(s) => s.into(),
        }
    }
}

/// The RFC 9457 body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, e.g. `urn:sealbook:problem:invalid-event`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary of the kind.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What happened in this request, for a human.
    pub detail: String,
    /// Per-event, per-field problems, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = self.to_string();
        let mut retry_after = None;
        let (status, slug, title, detail, errors) = match self {
            ApiError::Malformed(d) => (
                StatusCode::BAD_REQUEST,
                "malformed",
                "Malformed request body",
                d,
                vec![],
            ),
            ApiError::BadQuery(f) => (
                StatusCode::BAD_REQUEST,
                "bad-query",
                "Invalid query parameter",
                detail,
                vec![FieldError {
                    event: None,
                    path: format!("?{}", f.param),
                    problem: f.problem,
                }],
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "send a valid key as 'Authorization: Bearer …'".into(),
                vec![],
            ),
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                detail,
                vec![],
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                detail,
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                detail,
                vec![],
            ),
            ApiError::IdConflict(errors) => (
                StatusCode::CONFLICT,
                "id-conflict",
                "Idempotency conflict",
                detail,
                errors,
            ),
            ApiError::PeopleRefused(r) => {
                use sealbook_store::EffectRefusal as R;
                let (status, kind, title) = match r {
                    R::UnknownUser | R::UnknownSession | R::UnknownAccess => {
                        (StatusCode::NOT_FOUND, "not-found", "Not found")
                    }
                    R::TokenInvalid => (StatusCode::GONE, "link-invalid", "Link not valid"),
                    R::UserDisabled | R::UserExists | R::EmailTaken => {
                        (StatusCode::CONFLICT, "people-conflict", "Conflict")
                    }
                    // The caller built a record for another tenant: Sealbook's bug, not the client's.
                    R::TenantMismatch => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Internal error",
                    ),
                };
                (status, kind, title, detail, vec![])
            }
            ApiError::TenantExists => (
                StatusCode::CONFLICT,
                "tenant-exists",
                "Tenant exists",
                detail,
                vec![],
            ),
            ApiError::CatalogConflict(_) => (
                StatusCode::CONFLICT,
                "catalog-conflict",
                "Concurrent catalog change",
                detail,
                vec![],
            ),
            ApiError::TooLarge { detail, errors } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Too large",
                detail,
                errors,
            ),
            ApiError::UnsupportedMediaType(expected) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!("send Content-Type: {expected}"),
                vec![],
            ),
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-event",
                "Invalid event",
                format!("{} problem(s); nothing was stored", errors.len()),
                errors,
            ),
            ApiError::RateLimited { retry_after: s }
            | ApiError::ConflictsLimited { retry_after: s, .. } => {
                retry_after = Some(s);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Rate limited",
                    detail,
                    vec![],
                )
            }
            ApiError::TooManyFailures { retry_after: s } => {
                retry_after = Some(s);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Rate limited",
                    detail,
                    vec![],
                )
            }
            ApiError::OutOfRange { param, detail } => (
                StatusCode::BAD_REQUEST,
                "out-of-range",
                "Out of range",
                detail.clone(),
                if param.is_empty() {
                    vec![]
                } else {
                    vec![FieldError {
                        event: None,
                        path: format!("?{param}"),
                        problem: detail,
                    }]
                },
            ),
            ApiError::BeyondCheckpoint { .. } => (
                StatusCode::BAD_REQUEST,
                "beyond-checkpoint",
                "Beyond the latest checkpoint",
                detail,
                vec![],
            ),
            ApiError::NoCheckpoint => (
                StatusCode::NOT_FOUND,
                "no-checkpoint",
                "No checkpoint yet",
                "the log has no signed checkpoint yet: it has no events".into(),
                vec![],
            ),
            ApiError::LogIntegrity(i) => {
                tracing::error!(
                    tenant = i.tenant.as_deref(),
                    at = i.at.as_deref(),
                    cause = %i.cause,
                    "log integrity failure"
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "log-integrity",
                    "Log integrity failure",
                    "the stored log failed an integrity check; operators have been alerted".into(),
                    vec![],
                )
            }
            ApiError::Overloaded => {
                retry_after = Some(1);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Overloaded",
                    "the ingest queue is full; nothing was stored, retry shortly".into(),
                    vec![],
                )
            }
            ApiError::TenantOverloaded => {
                retry_after = Some(1);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Overloaded",
                    "this tenant's share of the ingest queue is full; nothing was stored, retry shortly".into(),
                    vec![],
                )
            }
            ApiError::Unavailable(d) => {
                tracing::warn!(cause = %d, "store unavailable");
                retry_after = Some(5);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the store is unavailable; nothing was stored, retry later".into(),
                    vec![],
                )
            }
        };
        let body = Problem {
            kind: format!("urn:sealbook:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}
