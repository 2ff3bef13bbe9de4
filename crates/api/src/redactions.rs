//! `POST /v1/redactions/match`: lets an investigator ask whether a redacted value was X, without
//! Sealbook ever storing X. The candidate is fingerprinted under the tenant's key and compared with
//! the fingerprint stored in the event; the answer is yes or no. Every request is itself audited
//! (`audit_log.redaction_matched`: who asked, about which event and path, and the answer; never the
//! candidate).

use crate::append::append;
use crate::auth::TenantKey;
use crate::error::ApiError;
use crate::extract::Body;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use sealbook_domain::redact::{fingerprint, REDACTED_KEY};
use sealbook_domain::view::event_view;
use sealbook_domain::{Action, FieldError};

/// The question.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchRequest {
    /// The candidate value (any JSON: a string, a number, …). Never stored or logged.
    #[schema(value_type = Object)]
    value: serde_json::Value,
    /// The event holding the redacted value.
    event_id: String,
    /// JSON pointer of the redacted value in the event, e.g. `/data/password`.
    path: String,
}

/// The answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct MatchResult {
    /// True when the candidate is the value that was redacted.
    r#match: bool,
}

fn invalid(path: &str, problem: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        event: None,
        path: path.to_owned(),
        problem: problem.to_owned(),
    }])
}

/// Ask whether a redacted value was a given candidate (audited).
#[utoipa::path(post, path = "/v1/redactions/match", tag = "events", security(("tenant_key" = ["tenant:admin"])), request_body = MatchRequest,
    responses((status = 200, body = MatchResult), (status = 400, response = crate::schema::BadRequest), (status = 401, response = crate::schema::Unauthorized), (status = 403, response = crate::schema::Forbidden), (status = 429, response = crate::schema::RateLimited), (status = 404, response = crate::schema::NotFound), (status = 413, response = crate::schema::TooLarge),
        (status = 422, description = "the event has no redacted value at this path", body = crate::error::Problem, content_type = "application/problem+json"), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn match_value(
    State(state): State<AppState>,
    key: TenantKey,
    Body(body): Body,
) -> Result<Json<MatchResult>, ApiError> {
    key.require(Action::MatchRedaction)?;
    let req: MatchRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Malformed(format!("request body: {e}")))?;
    let tenant = key.tenant().clone();
    let event = state
        .inner
        .store
        .event(&tenant, &req.event_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = event_view(&event.leaf, &event.personal, event.index, "");
    let slot = view
        .pointer(&req.path)
        .ok_or_else(|| invalid("/path", "the event has no value at this path"))?;
    if slot.get(REDACTED_KEY).is_none() {
        return Err(invalid("/path", "the value at this path is not redacted"));
    }
    let stored = slot
        .get("fingerprint")
        .and_then(|f| f.as_str())
        .unwrap_or("");
    let candidate = fingerprint(&state.redaction_key(&tenant), &req.value);
    // Compared as hashes of equal length, in constant time.
    let matched = crate::secret::hashes_equal(
        &crate::secret::hash(stored),
        &crate::secret::hash(&candidate),
    );

    let now = time::OffsetDateTime::now_utc();
    let audit = serde_json::json!({
        "type": "audit_log.redaction_matched",
        "occurred_at": sealbook_domain::timestamp::format_utc(now, 6),
        "actor": {"type": "api_key", "id": key.0.id, "name": key.0.name},
        "subject": {"type": "event", "id": req.event_id},
        "data": {"path": req.path, "matched": matched},
    });
    let shaped = vec![crate::audit::event(
        &state.keys(&tenant),
        &tenant,
        &audit,
        now,
    )?];
    append(&state, tenant, shaped, None).await?;
    Ok(Json(MatchResult { r#match: matched }))
}
