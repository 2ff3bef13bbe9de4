//! Operations endpoints: liveness, readiness, Prometheus metrics, and the problem+json answers for
//! unknown routes and methods.

use crate::auth::Operator;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive", body = crate::schema::Status)))]
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "store reachable", body = crate::schema::Status), (status = 503, response = crate::schema::Unavailable)))]
pub(crate) async fn readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.inner.store.ping().await?;
    Ok(Json(serde_json::json!({"status": "ready"})))
}

/// Prometheus metrics (operator token required: the labels name tenants).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("operator" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"), (status = 401, response = crate::schema::Unauthorized), (status = 429, response = crate::schema::RateLimited)))]
pub(crate) async fn metrics(_: Operator, State(state): State<AppState>) -> Response {
    metrics::gauge!("sealbook_ingest_queue_events")
        .set(state.inner.sequencer.queued_events() as f64);
    let text = state
        .inner
        .prometheus
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
